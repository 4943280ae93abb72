//! Small dense matrices, row-major in slices: the `K × K` per-step constants of the particle
//! update and the `p × p`, `K × K` systems of the initial law. Sizes are a handful, so plain
//! loops do; nothing here allocates, so the step loops stay allocation-free.

/// The symmetric square root `S = U diag(√max(λ, 0)) Uᵀ` of the symmetric positive
/// semi-definite `k × k` matrix `a` (overwritten as workspace), into `out`. Negative
/// eigenvalues, rounding of a semidefinite matrix, count as zero, where a Cholesky
/// factorisation would break down.
pub(crate) fn psd_sqrt(a: &mut [f64], vectors: &mut [f64], out: &mut [f64], k: usize) {
    symmetrise(a, k);
    mfcl_model::symmetric_eigen(a, vectors, k);
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
