//! Snapshots of the measure: the weights themselves (all of them, or a regular subsample
//! for large populations) and a density histogram of each neuron's `x_k` for each atom
//! pattern of `ξ`.

use mfcl_model::FeatureLaw;
use rayon::prelude::*;

use crate::population::{CHUNK, Population};

/// Populations up to this size are stored whole; larger ones keep every `stride`-th
/// coordinate, `stride = ⌈len / SNAPSHOT_LIMIT⌉`. Labels are stratified in pattern order, so
/// a regular subsample keeps each pattern's share.
pub const SNAPSHOT_LIMIT: usize = 1 << 16;

/// Bins of each histogram, spanning `[min x_k, max x_k]` of the whole population for
/// neuron `k`.
pub const HISTOGRAM_BINS: usize = 100;

/// The measure at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Step at which it was taken.
    pub step: u64,
    /// Model time.
    pub t: f64,
    /// Coordinates `0, stride, 2·stride, …` are stored.
    pub stride: usize,
    /// `K`, values per coordinate.
    pub neurons: usize,
    /// Their `x`, `K` per coordinate (`M × K` row-major).
    pub x: Vec<f64>,
    /// Their `ξ`, `p` per coordinate.
    pub xi: Vec<f32>,
    /// One histogram per atom pattern of `ξ` (one pattern in all for a Gaussian feature
    /// law) and neuron, over the whole population, ordered pattern-major then neuron.
    pub histograms: Vec<Histogram>,
}

/// Counts of `x_k` (`k = neuron`) among the coordinates whose `ξ` equals `atom`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The pattern `(ξ_1, …, ξ_p)`; empty when the feature law is continuous.
    pub atom: Vec<f32>,
    /// The neuron `k` whose values are counted.
    pub neuron: usize,
    /// `HISTOGRAM_BINS + 1` increasing edges.
    pub edges: Vec<f64>,
    /// `HISTOGRAM_BINS` counts.
    pub counts: Vec<u64>,
}

impl Population {
    /// The snapshot at `(step, t)`; `law` tells which values of `ξ` are atoms.
    pub fn snapshot(&self, law: FeatureLaw, step: u64, t: f64) -> Snapshot {
        let (p, k) = (self.features, self.neurons);
        let stride = self.len().div_ceil(SNAPSHOT_LIMIT).max(1);
        let kept = (0..self.len()).step_by(stride);
        let x: Vec<f64> = kept
            .clone()
            .flat_map(|i| self.x[i * k..(i + 1) * k].iter().copied())
            .collect();
        let xi: Vec<f32> = kept.flat_map(|i| self.row(i).iter().copied()).collect();

        let atoms: Vec<f32> = law
            .discrete_atoms()
            .map_or_else(Vec::new, |a| a.iter().map(|&(v, _)| v as f32).collect());
        let radix = atoms.len().max(1);
        let patterns = if atoms.is_empty() {
            1
        } else {
            radix.pow(p as u32)
        };
        let pattern = |xi: &[f32]| -> usize {
            xi.iter().rev().fold(0, |id, v| {
                id * radix + atoms.iter().position(|a| a == v).unwrap_or(0)
            })
        };
        // Per-neuron ranges: min and max are exact, so any reduction order gives them.
        let ranges = self
            .x
            .par_chunks(CHUNK * k)
            .map(|x| {
                let mut range = vec![(f64::MAX, f64::MIN); k];
                for row in x.chunks_exact(k) {
                    for ((lo, hi), &x) in range.iter_mut().zip(row) {
                        (*lo, *hi) = (lo.min(x), hi.max(x));
                    }
                }
                range
            })
            .reduce(
                || vec![(f64::MAX, f64::MIN); k],
                |a, b| {
                    a.iter()
                        .zip(&b)
                        .map(|(a, b)| (a.0.min(b.0), a.1.max(b.1)))
                        .collect()
                },
            );
        let bins: Vec<(f64, f64, f64)> = ranges
            .iter()
            .map(|&(lo, hi)| {
                let (lo, hi) = if lo < hi {
                    (lo, hi)
                } else {
                    (lo - 0.5, lo + 0.5)
                };
                let width = (hi - lo) / HISTOGRAM_BINS as f64;
                (lo, width, width.recip())
            })
            .collect();
        // Integer counts: the sum over chunks is exact in any order.
        let counts = self
            .x
            .par_chunks(CHUNK * k)
            .enumerate()
            .map(|(c, x)| {
                let mut counts = vec![0u64; patterns * k * HISTOGRAM_BINS];
                for (i, x) in x.chunks_exact(k).enumerate() {
                    let id = pattern(self.row(c * CHUNK + i));
                    for (neuron, (x, &(lo, _, per_width))) in x.iter().zip(&bins).enumerate() {
                        let bin = (((x - lo) * per_width) as usize).min(HISTOGRAM_BINS - 1);
                        counts[(id * k + neuron) * HISTOGRAM_BINS + bin] += 1;
                    }
                }
                counts
            })
            .reduce(
                || vec![0u64; patterns * k * HISTOGRAM_BINS],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                    a
                },
            );
        let histograms = (0..patterns * k)
            .map(|h| {
                let (id, neuron) = (h / k, h % k);
                let (lo, width, _) = bins[neuron];
                Histogram {
                    atom: if atoms.is_empty() {
                        Vec::new()
                    } else {
                        (0..p)
                            .map(|j| atoms[(id / radix.pow(j as u32)) % radix])
                            .collect()
                    },
                    neuron,
                    edges: (0..=HISTOGRAM_BINS)
                        .map(|b| lo + b as f64 * width)
                        .collect(),
                    counts: counts[h * HISTOGRAM_BINS..(h + 1) * HISTOGRAM_BINS].to_vec(),
                }
            })
            .collect();
        Snapshot {
            step,
            t,
            stride,
            neurons: k,
            x,
            xi,
            histograms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels;
    use crate::stream::Generator;
    use mfcl_model::OrderParameters;

    #[test]
    fn histograms_count_every_particle_by_pattern() {
        let n = 3 * CHUNK + 11;
        let xi = labels::stratified(FeatureLaw::Rademacher, 2, n, 1);
        let mut population = Population::new(2, 1, xi, 1, Generator::CURRENT);
        population.initialise(&OrderParameters::single(vec![0.5, -0.2], 1.0));
        let snapshot = population.snapshot(FeatureLaw::Rademacher, 7, 0.07);
        assert_eq!(snapshot.histograms.len(), 4);
        let total: u64 = snapshot.histograms.iter().flat_map(|h| &h.counts).sum();
        assert_eq!(total as usize, n);
        for h in &snapshot.histograms {
            // Each pattern holds a quarter of the particles, centred near 0.5 ξ_1 − 0.2 ξ_2.
            let count: u64 = h.counts.iter().sum();
            assert!((count as i64 - n as i64 / 4).abs() <= 1);
            let mean = histogram_mean(h);
            let expected = 0.5 * f64::from(h.atom[0]) - 0.2 * f64::from(h.atom[1]);
            assert!((mean - expected).abs() < 0.05, "{:?}: {mean}", h.atom);
        }
        assert_eq!(snapshot.stride, 1);
        assert_eq!(snapshot.x.len(), n);
    }

    /// The mean of `x` over a histogram's bins, each at its centre.
    fn histogram_mean(h: &Histogram) -> f64 {
        let count: u64 = h.counts.iter().sum();
        h.counts
            .iter()
            .zip(h.edges.windows(2))
            .map(|(c, e)| *c as f64 * (e[0] + e[1]) / 2.0)
            .sum::<f64>()
            / count as f64
    }

    /// Two neurons: `x` as `(M, 2)` rows, one histogram per (pattern, neuron) in that order,
    /// each over its own neuron's range and centred on `Σ_j Q_jk ξ_j`.
    #[test]
    fn histograms_per_pattern_and_neuron() {
        let n = 2 * CHUNK + 7;
        let xi = labels::stratified(FeatureLaw::Rademacher, 2, n, 1);
        let mut population = Population::new(2, 2, xi, 1, Generator::CURRENT);
        let overlaps = [0.5, -0.2, 0.1, 0.4];
        population.initialise(&OrderParameters {
            neurons: 2,
            overlaps: overlaps.to_vec(),
            norm2: vec![1.0, 0.1, 0.1, 0.5],
        });
        let snapshot = population.snapshot(FeatureLaw::Rademacher, 3, 0.03);
        assert_eq!((snapshot.neurons, snapshot.x.len()), (2, 2 * n));
        assert_eq!(snapshot.x[2 * 5 + 1], population.x[2 * 5 + 1]);
        assert_eq!(snapshot.histograms.len(), 8);
        for (i, h) in snapshot.histograms.iter().enumerate() {
            assert_eq!(h.neuron, i % 2);
            assert_eq!(h.atom, snapshot.histograms[i - i % 2].atom);
            let count: u64 = h.counts.iter().sum();
            assert!((count as i64 - n as i64 / 4).abs() <= 1);
            let mean = histogram_mean(h);
            let k = h.neuron;
            let expected =
                overlaps[k] * f64::from(h.atom[0]) + overlaps[2 + k] * f64::from(h.atom[1]);
            assert!(
                (mean - expected).abs() < 0.05,
                "{:?}, neuron {k}: {mean}",
                h.atom
            );
            // Each neuron's histograms span that neuron's values only.
            let column = population.x.iter().skip(k).step_by(2);
            let lo = column.clone().fold(f64::MAX, |a, &b| a.min(b));
            let hi = column.fold(f64::MIN, |a, &b| a.max(b));
            assert_eq!(h.edges[0], lo);
            assert!((h.edges[HISTOGRAM_BINS] - hi).abs() < 1e-12);
        }
    }

    #[test]
    fn large_populations_are_subsampled_regularly() {
        let n = 2 * SNAPSHOT_LIMIT + 1;
        let population = Population::new(
            1,
            1,
            labels::stratified(FeatureLaw::Gaussian, 1, n, 1),
            1,
            Generator::CURRENT,
        );
        let snapshot = population.snapshot(FeatureLaw::Gaussian, 0, 0.0);
        assert_eq!(snapshot.stride, 3);
        assert_eq!(snapshot.x.len(), n.div_ceil(3));
        assert_eq!(snapshot.histograms.len(), 1);
        assert!(snapshot.histograms[0].atom.is_empty());
    }
}
