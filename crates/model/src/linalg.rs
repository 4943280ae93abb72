//! Small dense symmetric matrices, row-major in slices: the eigendecomposition that the
//! config's validation (`R(0) − Q(0)ᵀQ(0)` positive semi-definite) and the particles'
//! `K`-dimensional Ornstein–Uhlenbeck step both rely on.

/// Diagonalises the symmetric `k × k` matrix `a` in place by cyclic Jacobi rotations: on
/// return the diagonal of `a` holds the eigenvalues and column `c` of `vectors` (entries
/// `vectors[r * k + c]`) the matching unit eigenvector, so `a_in = U diag(a) Uᵀ`.
///
/// Jacobi keeps the eigenvectors orthonormal to rounding whatever the spectrum, repeated
/// or semidefinite eigenvalues included, which an iteration on a characteristic
/// polynomial would not. A `1 × 1` matrix takes no rotation, so scalar callers see exactly
/// their own arithmetic.
pub fn symmetric_eigen(a: &mut [f64], vectors: &mut [f64], k: usize) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
