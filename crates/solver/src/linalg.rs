//! Small dense matrices, row-major in slices: the `K × K` per-step constants of the particle
//! update and the `p × p`, `K × K` systems of the initial law. Sizes are a handful, so plain
//! loops do; nothing here allocates, so the step loops stay allocation-free.

/// Diagonalises the symmetric `k × k` matrix `a` in place by cyclic Jacobi rotations: on
/// return the diagonal of `a` holds the eigenvalues and column `c` of `vectors` (entries
/// `vectors[r * k + c]`) the matching unit eigenvector, so `a_in = U diag(a) Uᵀ`.
///
/// Jacobi keeps the eigenvectors orthonormal to rounding whatever the spectrum, repeated
/// or semidefinite eigenvalues included, which an iteration on a characteristic
/// polynomial would not. A `1 × 1` matrix takes no rotation, so scalar callers see exactly
/// their own arithmetic.
pub(crate) fn symmetric_eigen(a: &mut [f64], vectors: &mut [f64], k: usize) {
    vectors.fill(0.0);
    for r in 0..k {
        vectors[r * k + r] = 1.0;
    }
    // Quadratic convergence: a handful of sweeps reach rounding for k ≤ 8; the bound only
    // guards against non-finite input.
    for _ in 0..64 {
        let mut rotated = false;
        for p in 0..k {
            for q in p + 1..k {
                let apq = a[p * k + q];
                let (app, aqq) = (a[p * k + p], a[q * k + q]);
                // An off-diagonal entry below rounding of both diagonal ones is zero.
                if 1e3 * apq.abs() + app.abs() == app.abs()
                    && 1e3 * apq.abs() + aqq.abs() == aqq.abs()
                {
                    a[p * k + q] = 0.0;
                    a[q * k + p] = 0.0;
                    continue;
                }
                if !apq.is_finite() {
                    return;
                }
                rotated = true;
                // The smaller root t = tan φ of t² + 2θ t − 1 = 0 zeroes a_pq.
                let theta = (aqq - app) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + theta.hypot(1.0));
                let c = 1.0 / t.hypot(1.0);
                let s = t * c;
                for r in 0..k {
                    let (arp, arq) = (a[r * k + p], a[r * k + q]);
                    a[r * k + p] = c * arp - s * arq;
                    a[r * k + q] = s * arp + c * arq;
                }
                for r in 0..k {
                    let (apr, aqr) = (a[p * k + r], a[q * k + r]);
                    a[p * k + r] = c * apr - s * aqr;
                    a[q * k + r] = s * apr + c * aqr;
                }
                a[p * k + q] = 0.0;
                a[q * k + p] = 0.0;
                for r in 0..k {
                    let (vrp, vrq) = (vectors[r * k + p], vectors[r * k + q]);
                    vectors[r * k + p] = c * vrp - s * vrq;
                    vectors[r * k + q] = s * vrp + c * vrq;
                }
            }
        }
        if !rotated {
            return;
        }
    }
}

/// The symmetric square root `S = U diag(√max(λ, 0)) Uᵀ` of the symmetric positive
/// semi-definite `k × k` matrix `a` (overwritten as workspace), into `out`. Negative
/// eigenvalues, rounding of a semidefinite matrix, count as zero, where a Cholesky
/// factorisation would break down.
pub(crate) fn psd_sqrt(a: &mut [f64], vectors: &mut [f64], out: &mut [f64], k: usize) {
    symmetrise(a, k);
    symmetric_eigen(a, vectors, k);
    for r in 0..k {
        for c in 0..k {
            out[r * k + c] = (0..k)
                .map(|e| vectors[r * k + e] * (a[e * k + e].max(0.0).sqrt() * vectors[c * k + e]))
                .sum();
        }
    }
}

/// Replaces the off-diagonal pairs of `a` by their mean, so that rounding in how a caller
/// formed a symmetric matrix cannot upset a routine that assumes symmetry.
pub(crate) fn symmetrise(a: &mut [f64], k: usize) {
    for r in 0..k {
        for c in r + 1..k {
            let mean = 0.5 * (a[r * k + c] + a[c * k + r]);
            a[r * k + c] = mean;
            a[c * k + r] = mean;
        }
    }
}

/// The lower Cholesky factor `L` (`a = L Lᵀ`) of the symmetric positive definite `k × k`
/// matrix `a`, or `None` when a pivot is not positive.
pub(crate) fn cholesky(a: &[f64], k: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; k * k];
    for r in 0..k {
        for c in 0..=r {
            let dot: f64 = (0..c).map(|e| l[r * k + e] * l[c * k + e]).sum();
            let v = a[r * k + c] - dot;
            if r == c {
                if v.is_nan() || v <= 0.0 {
                    return None;
                }
                l[r * k + r] = v.sqrt();
            } else {
                l[r * k + c] = v / l[c * k + c];
            }
        }
    }
    Some(l)
}

/// `L⁻¹` of a lower-triangular `k × k` matrix with a non-zero diagonal.
pub(crate) fn lower_inverse(l: &[f64], k: usize) -> Vec<f64> {
    let mut inverse = vec![0.0; k * k];
    for c in 0..k {
        // Forward substitution for column c of L⁻¹ (L y = e_c).
        for r in c..k {
            let rest: f64 = (c..r).map(|e| l[r * k + e] * inverse[e * k + c]).sum();
            let rhs = if r == c { 1.0 } else { 0.0 };
            inverse[r * k + c] = (rhs - rest) / l[r * k + r];
        }
    }
    inverse
}

/// `A B` for `A` of `n × m` and `B` of `m × q`.
pub(crate) fn product(a: &[f64], b: &[f64], n: usize, m: usize, q: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * q];
    for r in 0..n {
        for c in 0..q {
            out[r * q + c] = (0..m).map(|e| a[r * m + e] * b[e * q + c]).sum();
        }
    }
    out
}

/// Solves the small symmetric positive definite system `G b = rhs` by Gaussian elimination
/// with partial pivoting (`p ≤ 8`).
pub(crate) fn solve(gram: &[f64], rhs: &[f64], p: usize) -> Vec<f64> {
    let mut a: Vec<Vec<f64>> = (0..p)
        .map(|j| {
            let mut row = gram[j * p..(j + 1) * p].to_vec();
            row.push(rhs[j]);
            row
        })
        .collect();
    for col in 0..p {
        let pivot = (col..p)
            .max_by(|&i, &k| a[i][col].abs().total_cmp(&a[k][col].abs()))
            .expect("non-empty");
        a.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for row in lower {
            let factor = row[col] / pivot_row[col];
            for (x, y) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= factor * y;
            }
        }
    }
    let mut b = vec![0.0; p];
    for row in (0..p).rev() {
        let rest: f64 = (row + 1..p).map(|k| a[row][k] * b[k]).sum();
        b[row] = (a[row][p] - rest) / a[row][row];
    }
    b
}

/// [`solve`] for each column of the `p × k` right-hand side `rhs`: `G⁻¹ rhs`, `p × k`.
pub(crate) fn solve_columns(gram: &[f64], rhs: &[f64], p: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; p * k];
    for c in 0..k {
        let column: Vec<f64> = (0..p).map(|j| rhs[j * k + c]).collect();
        for (j, v) in solve(gram, &column, p).into_iter().enumerate() {
            out[j * k + c] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_inverts_a_small_system() {
        let gram = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let want = [0.3, -1.2, 2.0];
        let rhs: Vec<f64> = (0..3)
            .map(|j| (0..3).map(|l| gram[j * 3 + l] * want[l]).sum())
            .collect();
        let got = solve(&gram, &rhs, 3);
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-14);
        }
    }

    /// `U diag(λ) Uᵀ` rebuilds the matrix and `UᵀU = I`, for a generic matrix, one with a
    /// repeated eigenvalue and a rank-one (semidefinite) one.
    #[test]
    fn jacobi_diagonalises_symmetric_matrices() {
        let v = [0.5, -0.5, 0.5, 0.5];
        let rank_one: Vec<f64> = (0..16).map(|i| v[i / 4] * v[i % 4]).collect();
        let repeated = [
            2.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.3, 0.0, 0.0, 0.3, 1.0,
        ];
        let generic = [
            4.0, 1.0, 0.5, -0.3, 1.0, 3.0, 0.2, 0.1, 0.5, 0.2, 2.0, 0.7, -0.3, 0.1, 0.7, -1.0,
        ];
        for matrix in [&rank_one[..], &repeated, &generic] {
            let (mut a, mut u) = (matrix.to_vec(), vec![0.0; 16]);
            symmetric_eigen(&mut a, &mut u, 4);
            for r in 0..4 {
                for c in 0..4 {
                    let rebuilt: f64 = (0..4)
                        .map(|e| u[r * 4 + e] * a[e * 4 + e] * u[c * 4 + e])
                        .sum();
                    assert!((rebuilt - matrix[r * 4 + c]).abs() < 1e-14, "{matrix:?}");
                    let gram: f64 = (0..4).map(|e| u[e * 4 + r] * u[e * 4 + c]).sum();
                    assert!((gram - if r == c { 1.0 } else { 0.0 }).abs() < 1e-14);
                }
            }
        }
    }

    /// `S S = A` for a semidefinite `A`, and the Cholesky factor and its inverse check out.
    #[test]
    fn square_roots_and_factors() {
        let a = [1.0, 1.0, 1.0, 1.0];
        let (mut work, mut u, mut s) = (a.to_vec(), [0.0; 4], [0.0; 4]);
        psd_sqrt(&mut work, &mut u, &mut s, 2);
        let squared = product(&s, &s, 2, 2, 2);
        for (x, y) in squared.iter().zip(a) {
            assert!((x - y).abs() < 1e-15);
        }
        assert!(cholesky(&a, 2).is_none());
        let b = [4.0, 1.0, 1.0, 3.0];
        let l = cholesky(&b, 2).unwrap();
        let lt = [l[0], l[2], l[1], l[3]];
        let rebuilt = product(&l, &lt, 2, 2, 2);
        let identity = product(&lower_inverse(&l, 2), &l, 2, 2, 2);
        for i in 0..4 {
            assert!((rebuilt[i] - b[i]).abs() < 1e-15);
            assert!((identity[i] - if i % 3 == 0 { 1.0 } else { 0.0 }).abs() < 1e-15);
        }
    }
}
