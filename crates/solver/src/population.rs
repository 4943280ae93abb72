//! A population of coordinates `(ξ_i, x_i)`: the particles of the mean-field system, or the
//! coordinates of the SGD weight vector. Both are split into fixed-size chunks, each with
//! its own random stream, and every moment is a sum of per-chunk partial sums taken in
//! chunk order, so results do not depend on the number of threads.
//!
//! This is the one place where the population is reduced to its moments (a future
//! multi-node run would all-reduce the same vector here).

use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::stream::{Stream, stream};
use mfcl_model::OrderParameters;

/// Coordinates per chunk: large enough to amortise scheduling, small enough to balance two
/// to sixteen threads at a million coordinates.
pub const CHUNK: usize = 1 << 14;

/// Labels `ξ` and values `x` of `len` coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// `p`, labels per coordinate.
    pub features: usize,
    /// `x_i`.
    pub x: Vec<f64>,
    /// `ξ_{i,j}` at `[i · p + j]`. Stored in single precision: they are static labels, and
    /// this keeps a one-feature particle at 12 bytes.
    pub xi: Vec<f32>,
    /// One stream per chunk of `CHUNK` coordinates.
    pub streams: Vec<Stream>,
}

impl Population {
    /// A population with the given labels, `x = 0`, and chunk streams derived from `seed`.
    pub fn new(features: usize, xi: Vec<f32>, seed: u64) -> Population {
        let len = xi.len() / features;
        let chunks = len.div_ceil(CHUNK);
        Population {
            features,
            x: vec![0.0; len],
            xi,
            streams: (0..chunks as u64).map(|k| stream(seed, k)).collect(),
        }
    }

    /// Number of coordinates.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Number of chunks.
    pub fn chunks(&self) -> usize {
        self.streams.len()
    }

    /// `(Q, R)`: `Q_j = ⟨ξ_j x⟩`, `R = ⟨x²⟩` over the population.
    pub fn order_parameters(&self) -> OrderParameters {
        let p = self.features;
        let mut partial = vec![0.0; self.chunks() * (p + 1)];
        self.x
            .par_chunks(CHUNK)
            .zip(self.xi.par_chunks(CHUNK * p))
            .zip(partial.par_chunks_mut(p + 1))
            .for_each(|((x, xi), sums)| {
                for (x, xi) in x.iter().zip(xi.chunks_exact(p)) {
                    accumulate_moments(sums, *x, xi);
                }
            });
        let mut order = OrderParameters {
            overlaps: vec![0.0; p],
            norm2: 0.0,
        };
        set_moments(&mut order, &reduce(&partial, p + 1), self.len());
        order
    }

    /// Sets `x = Σ_l b_l ξ_l + s w` with Gaussian `w` made orthogonal to the labels and `b`, `s`
    /// chosen so that the population's `Q` and `R` equal `target` exactly (MODEL.md §2,
    /// initial law). Draws `w` from the chunk streams.
    pub fn initialise(&mut self, target: &OrderParameters) {
        let p = self.features;
        let n = self.len() as f64;
        // Gram matrix of the labels, then the raw noise and its projections on them.
        let gram = self.label_sums(
            |_, xi, out| {
                for j in 0..p {
                    for l in 0..p {
                        out[j * p + l] += f64::from(xi[j]) * f64::from(xi[l]);
                    }
                }
            },
            p * p,
        );
        let gram: Vec<f64> = gram.iter().map(|g| g / n).collect();
        self.x
            .par_chunks_mut(CHUNK)
            .zip(self.streams.par_iter_mut())
            .for_each(|(x, rng)| x.iter_mut().for_each(|x| *x = rng.sample(StandardNormal)));
        let projections: Vec<f64> = self
            .label_sums(
                |x, xi, out| {
                    for j in 0..p {
                        out[j] += f64::from(xi[j]) * x;
                    }
                },
                p,
            )
            .iter()
            .map(|s| s / n)
            .collect();
        let along = solve(&gram, &projections, p);
        self.axpy_labels(&along, -1.0, 1.0);
        let noise2 = self.label_sums(|x, _, out| out[0] += x * x, 1)[0] / n;
        // x = Σ b_l ξ_l + s w: Q = G b, R = bᵀ G b + s² ⟨w²⟩ since w ⟂ ξ.
        let b = solve(&gram, &target.overlaps, p);
        let signal: f64 = (0..p)
            .map(|j| (0..p).map(|l| b[j] * gram[j * p + l] * b[l]).sum::<f64>())
            .sum();
        let scale = if noise2 > 0.0 {
            ((target.norm2 - signal).max(0.0) / noise2).sqrt()
        } else {
            0.0
        };
        self.axpy_labels(&b, 1.0, scale);
    }

    /// `x ← scale · x + sign · Σ_l coefficient_l ξ_l`.
    fn axpy_labels(&mut self, coefficients: &[f64], sign: f64, scale: f64) {
        let p = self.features;
        self.x
            .par_chunks_mut(CHUNK)
            .zip(self.xi.par_chunks(CHUNK * p))
            .for_each(|(x, xi)| {
                for (x, xi) in x.iter_mut().zip(xi.chunks_exact(p)) {
                    let along: f64 = coefficients
                        .iter()
                        .zip(xi)
                        .map(|(c, xi)| c * f64::from(*xi))
                        .sum();
                    *x = scale * *x + sign * along;
                }
            });
    }

    /// Chunk-ordered sums of `visit(x_i, ξ_i, out)` over the population.
    fn label_sums(&self, visit: impl Fn(f64, &[f32], &mut [f64]) + Sync, width: usize) -> Vec<f64> {
        let p = self.features;
        let mut partial = vec![0.0; self.chunks() * width];
        self.x
            .par_chunks(CHUNK)
            .zip(self.xi.par_chunks(CHUNK * p))
            .zip(partial.par_chunks_mut(width))
            .for_each(|((x, xi), out)| {
                for (x, xi) in x.iter().zip(xi.chunks_exact(p)) {
                    visit(*x, xi, out);
                }
            });
        reduce(&partial, width)
    }
}

/// Adds `ξ_j x` for each `j` and `x²` to `sums` (length `p + 1`).
#[inline(always)]
pub(crate) fn accumulate_moments(sums: &mut [f64], x: f64, xi: &[f32]) {
    let p = xi.len();
    for j in 0..p {
        sums[j] += f64::from(xi[j]) * x;
    }
    sums[p] += x * x;
}

/// `(Q, R)` from the summed `[Σ ξ_j x, Σ x², …]` of `len` coordinates, in place.
pub(crate) fn set_moments(order: &mut OrderParameters, sums: &[f64], len: usize) {
    let n = len as f64;
    let p = order.overlaps.len();
    for (q, s) in order.overlaps.iter_mut().zip(sums) {
        *q = s / n;
    }
    order.norm2 = sums[p] / n;
}

/// Sums rows of `partial` (one row of `width` per chunk) in chunk order.
pub(crate) fn reduce(partial: &[f64], width: usize) -> Vec<f64> {
    let mut total = vec![0.0; width];
    reduce_into(partial, &mut total);
    total
}

/// [`reduce`] into a caller's buffer, for the allocation-free step loops.
pub(crate) fn reduce_into(partial: &[f64], total: &mut [f64]) {
    total.fill(0.0);
    for row in partial.chunks_exact(total.len()) {
        for (t, v) in total.iter_mut().zip(row) {
            *t += v;
        }
    }
}

/// Solves the small symmetric positive definite system `G b = rhs` by Gaussian elimination
/// with partial pivoting (`p ≤ 8`).
fn solve(gram: &[f64], rhs: &[f64], p: usize) -> Vec<f64> {
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

    /// The initial law's requested `Q` and `R` hold to rounding, for any labels.
    #[test]
    fn initial_moments_are_exact() {
        let n = 3 * CHUNK + 17;
        let xi: Vec<f32> = (0..2 * n)
            .map(|k| ((k * 7919 % 13) as f32 - 6.0) / 3.7)
            .collect();
        let mut population = Population::new(2, xi, 5);
        let target = OrderParameters {
            overlaps: vec![0.4, -0.25],
            norm2: 1.3,
        };
        population.initialise(&target);
        let got = population.order_parameters();
        assert!((got.norm2 - 1.3).abs() < 1e-13);
        assert!((got.overlaps[0] - 0.4).abs() < 1e-13 && (got.overlaps[1] + 0.25).abs() < 1e-13);
    }
}
