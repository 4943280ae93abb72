//! A population of coordinates `(ξ_i, x_i)`: the particles of the mean-field system, or the
//! coordinates of the SGD weight vector. Both are split into fixed-size chunks, each with
//! its own random stream, and every moment is a sum of per-chunk partial sums taken in
//! chunk order, so results do not depend on the number of threads.
//!
//! This is the one place where the population is reduced to its moments (a future
//! multi-node run would all-reduce the same vector here).

use std::collections::HashMap;

use rayon::prelude::*;

use crate::linalg;
use crate::stream::{ChunkStream, Generator};
use mfcl_model::OrderParameters;

/// Coordinates per chunk: large enough to amortise scheduling, small enough to balance two
/// to sixteen threads at a million coordinates.
pub const CHUNK: usize = 1 << 14;

/// Labels `ξ` and values `x ∈ R^K` of `len` coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Population {
    /// `p`, labels per coordinate.
    pub features: usize,
    /// `K`, values per coordinate (neurons).
    pub neurons: usize,
    /// `x_{i,k}` at `[i · K + k]`.
    pub x: Vec<f64>,
    /// `ξ_{i,j}`: one byte per coordinate when the rows take at most 256 patterns (discrete
    /// feature laws), `p` single-precision values otherwise.
    pub labels: Labels,
    /// How the chunks draw their normal deviates and sum their moments.
    pub generator: Generator,
    /// One stream of `generator` per chunk of `CHUNK` coordinates.
    pub streams: Vec<ChunkStream>,
}

impl Population {
    /// A population with the given labels (`ξ_{i,j}` at `[i · p + j]`, stored as
    /// [`Labels::compact`] does), `x = 0` in `R^neurons`, and chunk streams of `generator`
    /// derived from `seed`.
    pub fn new(
        features: usize,
        neurons: usize,
        xi: Vec<f32>,
        seed: u64,
        generator: Generator,
    ) -> Population {
        let labels = Labels::compact(xi, features);
        let len = labels.len(features);
        let chunks = len.div_ceil(CHUNK);
        Population {
            features,
            neurons,
            x: vec![0.0; len * neurons],
            labels,
            generator,
            streams: (0..chunks as u64)
                .map(|k| generator.chunk_stream(seed, k))
                .collect(),
        }
    }

    /// Number of coordinates.
    pub fn len(&self) -> usize {
        self.labels.len(self.features)
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `ξ_i`, the `p` labels of coordinate `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        self.labels.row(i, self.features)
    }

    /// Number of chunks.
    pub fn chunks(&self) -> usize {
        self.streams.len()
    }

    /// `(Q, R)`: `Q_{jk} = ⟨ξ_j x_k⟩`, `R_{kl} = ⟨x_k x_l⟩` over the population, summed
    /// exactly as the step sums them (so that a resumed run continues to the bit).
    pub fn order_parameters(&self) -> OrderParameters {
        let (p, k) = (self.features, self.neurons);
        let width = moment_width(p, k);
        let mut partial = vec![0.0; self.chunks() * width];
        self.x
            .par_chunks(CHUNK * k)
            .enumerate()
            .zip(partial.par_chunks_mut(width))
            .for_each(|((c, x), sums)| {
                let len = x.len() / k;
                chunk_sums(sums, len, self.generator.accumulators(width), |i, lane| {
                    let x = &x[i * k..][..k];
                    accumulate_moments(lane, x, self.row(c * CHUNK + i))
                });
            });
        let mut order = OrderParameters {
            neurons: k,
            overlaps: vec![0.0; p * k],
            norm2: vec![0.0; k * k],
        };
        set_moments(&mut order, &reduce(&partial, width), self.len());
        order
    }

    /// Sets `x = Σ_j ξ_j B_j + w` (rows in `R^K`) with Gaussian `w` made orthogonal to the
    /// labels and `B`, `w` chosen so that the population's `Q` and `R` equal `target`
    /// exactly (MODEL.md §2 and §7, initial law): `G B = Q` with `G` the labels' Gram
    /// matrix, and `w` the raw noise whitened by its own Gram matrix's Cholesky factor, then
    /// multiplied by a square root of the residual `R − BᵀGB` (positive semi-definite
    /// required; a negative direction counts as zero). Draws the noise from the chunk
    /// streams, `K` per coordinate.
    pub fn initialise(&mut self, target: &OrderParameters) {
        let (p, k) = (self.features, self.neurons);
        debug_assert_eq!((target.features(), target.neurons), (p, k));
        let n = self.len() as f64;
        let mean = |sums: Vec<f64>| -> Vec<f64> { sums.iter().map(|s| s / n).collect() };
        let gram = mean(self.label_sums(
            |_, xi, out| {
                for j in 0..p {
                    for l in 0..p {
                        out[j * p + l] += f64::from(xi[j]) * f64::from(xi[l]);
                    }
                }
            },
            p * p,
        ));
        self.x
            .par_chunks_mut(CHUNK * k)
            .zip(self.streams.par_iter_mut())
            .for_each(|(x, rng)| rng.fill(x));
        // The raw noise's projections on the labels, removed.
        let projections = mean(self.label_sums(
            |x, xi, out| {
                for j in 0..p {
                    for (c, x) in x.iter().enumerate() {
                        out[j * k + c] += f64::from(xi[j]) * x;
                    }
                }
            },
            p * k,
        ));
        let along = linalg::solve_columns(&gram, &projections, p, k);
        let identity: Vec<f64> = (0..k * k)
            .map(|i| if i % (k + 1) == 0 { 1.0 } else { 0.0 })
            .collect();
        self.transform(&identity, &along, -1.0);
        let noise = mean(self.label_sums(
            |x, _, out| {
                for a in 0..k {
                    for b in 0..k {
                        out[a * k + b] += x[a] * x[b];
                    }
                }
            },
            k * k,
        ));
        // x = Σ ξ_j B_j + F w with w ⟂ ξ: Q = G B, R = BᵀGB + F ⟨w wᵀ⟩ Fᵀ.
        let b = linalg::solve_columns(&gram, &target.overlaps, p, k);
        let mut residual: Vec<f64> = (0..k * k)
            .map(|i| {
                let (a, c) = (i / k, i % k);
                let signal: f64 = (0..p)
                    .map(|j| {
                        (0..p)
                            .map(|l| b[j * k + a] * gram[j * p + l] * b[l * k + c])
                            .sum::<f64>()
                    })
                    .sum();
                target.norm2[i] - signal
            })
            .collect();
        let shape = if k == 1 {
            // One neuron: today's scalar arithmetic, so that K = 1 runs repeat to the bit.
            let scale = if noise[0] > 0.0 {
                (residual[0].max(0.0) / noise[0]).sqrt()
            } else {
                0.0
            };
            vec![scale]
        } else {
            match linalg::cholesky(&noise, k) {
                // F = S L⁻¹ with L Lᵀ = ⟨w wᵀ⟩ and S Sᵀ = R − BᵀGB.
                Some(l) => {
                    let (mut vectors, mut root) = (vec![0.0; k * k], vec![0.0; k * k]);
                    linalg::psd_sqrt(&mut residual, &mut vectors, &mut root, k);
                    linalg::product(&root, &linalg::lower_inverse(&l, k), k, k, k)
                }
                // Fewer coordinates than neurons plus features: no noise to shape.
                None => vec![0.0; k * k],
            }
        };
        self.transform(&shape, &b, 1.0);
    }

    /// `x_i ← F x_i + sign · Σ_j ξ_{i,j} C_j` for a `K × K` matrix `F` and the `p × K`
    /// matrix `C` (rows `C_j`).
    fn transform(&mut self, shape: &[f64], coefficients: &[f64], sign: f64) {
        let (p, k) = (self.features, self.neurons);
        let labels = &self.labels;
        self.x
            .par_chunks_mut(CHUNK * k)
            .enumerate()
            .for_each(|(c, x)| {
                let mut old = vec![0.0; k];
                for (i, x) in x.chunks_exact_mut(k).enumerate() {
                    let xi = labels.row(c * CHUNK + i, p);
                    old.copy_from_slice(x);
                    for (c, x) in x.iter_mut().enumerate() {
                        let along: f64 = (0..p)
                            .map(|j| coefficients[j * k + c] * f64::from(xi[j]))
                            .sum();
                        let mut mixed = shape[c * k] * old[0];
                        for l in 1..k {
                            mixed += shape[c * k + l] * old[l];
                        }
                        *x = mixed + sign * along;
                    }
                }
            });
    }

    /// Chunk-ordered sums of `visit(x_i, ξ_i, out)` over the population.
    fn label_sums(
        &self,
        visit: impl Fn(&[f64], &[f32], &mut [f64]) + Sync,
        width: usize,
    ) -> Vec<f64> {
        let k = self.neurons;
        let mut partial = vec![0.0; self.chunks() * width];
        self.x
            .par_chunks(CHUNK * k)
            .enumerate()
            .zip(partial.par_chunks_mut(width))
            .for_each(|((c, x), out)| {
                for (i, x) in x.chunks_exact(k).enumerate() {
                    visit(x, self.row(c * CHUNK + i), out);
                }
            });
        reduce(&partial, width)
    }
}

/// The labels of a population, `p` per coordinate, stored as small as their values allow.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// At most 256 distinct rows (a discrete feature law has `atoms^p` patterns): one byte
    /// per coordinate, `codes[i]`, naming the row `rows[codes[i] · p..][..p]`.
    Patterns {
        /// The pattern of each coordinate.
        codes: Vec<u8>,
        /// The distinct rows, `p` labels each, in order of first appearance.
        rows: Vec<f32>,
    },
    /// `ξ_{i,j}` at `[i · p + j]` (a continuous law: every row is its own).
    Values(Vec<f32>),
}

/// The most patterns that [`Labels::Patterns`] can name.
pub const PATTERNS: usize = 1 << 8;

impl Labels {
    /// `values` (`p` per coordinate) as patterns if they hold at most [`PATTERNS`]
    /// distinct rows, as values otherwise. The rows are compared bit for bit, so decoding
    /// gives back exactly `values`.
    pub fn compact(values: Vec<f32>, p: usize) -> Labels {
        if p == 0 {
            return Labels::Values(values);
        }
        let mut codes = Vec::with_capacity(values.len() / p);
        let mut rows = Vec::new();
        let mut known: HashMap<Vec<u32>, u8> = HashMap::new();
        let mut bits = vec![0; p];
        for row in values.chunks_exact(p) {
            bits.iter_mut().zip(row).for_each(|(b, v)| *b = v.to_bits());
            let code = match known.get(bits.as_slice()) {
                Some(&code) => code,
                None => {
                    let Ok(code) = u8::try_from(known.len()) else {
                        return Labels::Values(values);
                    };
                    known.insert(bits.clone(), code);
                    rows.extend_from_slice(row);
                    code
                }
            };
            codes.push(code);
        }
        Labels::Patterns { codes, rows }
    }

    /// Number of coordinates, for `p` labels each.
    pub fn len(&self, p: usize) -> usize {
        match self {
            Labels::Patterns { codes, .. } => codes.len(),
            Labels::Values(values) => values.len().checked_div(p).unwrap_or(0),
        }
    }

    /// The `p` labels of coordinate `i`.
    pub fn row(&self, i: usize, p: usize) -> &[f32] {
        match self {
            Labels::Patterns { codes, rows } => &rows[usize::from(codes[i]) * p..][..p],
            Labels::Values(values) => &values[i * p..][..p],
        }
    }

    /// All labels, `ξ_{i,j}` at `[i · p + j]`.
    pub fn values(&self, p: usize) -> Vec<f32> {
        match self {
            Labels::Patterns { codes, rows } => codes
                .iter()
                .flat_map(|&c| &rows[usize::from(c) * p..][..p])
                .copied()
                .collect(),
            Labels::Values(values) => values.clone(),
        }
    }

    /// Bytes of label storage per coordinate (the pattern table aside).
    pub fn bytes_per_coordinate(&self, p: usize) -> usize {
        match self {
            Labels::Patterns { .. } => 1,
            Labels::Values(_) => p * size_of::<f32>(),
        }
    }
}

/// A chunk's labels as a sweep reads them, `P` per coordinate, either stored in place
/// ([`InPlace`], codes are the `f32` labels) or looked up ([`Table`], one `u8` code per
/// coordinate): both compile to tight loops.
pub(crate) trait LabelRows<const P: usize>: Copy + Sync {
    /// What the population stores per coordinate, [`LabelRows::WIDTH`] of them.
    type Code: Copy + Sync;
    /// Codes per coordinate.
    const WIDTH: usize;
    /// The labels of a coordinate from its `WIDTH` codes.
    fn row<'a>(&'a self, codes: &'a [Self::Code]) -> &'a [f32; P];
}

/// Labels stored as values.
#[derive(Clone, Copy)]
pub(crate) struct InPlace;

impl<const P: usize> LabelRows<P> for InPlace {
    type Code = f32;
    const WIDTH: usize = P;
    #[inline(always)]
    fn row<'a>(&'a self, codes: &'a [f32]) -> &'a [f32; P] {
        codes.first_chunk().expect("a row of P labels")
    }
}

/// Labels stored as pattern codes, with a table of all 256 codes' rows (so that a lookup
/// needs no bounds check).
#[derive(Clone, Copy)]
pub(crate) struct Table<'a, const P: usize>(pub &'a [[f32; P]; PATTERNS]);

impl<const P: usize> LabelRows<P> for Table<'_, P> {
    type Code = u8;
    const WIDTH: usize = 1;
    #[inline(always)]
    fn row<'a>(&'a self, codes: &'a [u8]) -> &'a [f32; P] {
        &self.0[usize::from(codes[0])]
    }
}

/// The lookup table of [`Labels::Patterns`]' `rows` for `P` features, unused codes zero.
pub(crate) fn table<const P: usize>(rows: &[f32]) -> [[f32; P]; PATTERNS] {
    let mut table = [[0.0; P]; PATTERNS];
    for (entry, row) in table.iter_mut().zip(rows.chunks_exact(P)) {
        entry.copy_from_slice(row);
    }
    table
}

/// Coordinates per block of a step: a block's deviates are made in one batch into a buffer
/// that stays in the L1 cache. (Prefetching the next block's coordinates meanwhile made the
/// step slower.)
pub(crate) const BLOCK: usize = 512;

/// Adds a chunk's accumulators into the first, pairwise: `(a₀ + a₂) + (a₁ + a₃)` for
/// four, `a₀` itself for one.
#[inline(always)]
pub(crate) fn combine<T>(lanes: &mut [T], add: impl Fn(&mut T, &T)) {
    let mut half = lanes.len();
    while half > 1 {
        half /= 2;
        let (low, high) = lanes.split_at_mut(half);
        for (low, high) in low.iter_mut().zip(&*high) {
            add(low, high);
        }
    }
}

/// The accumulator of coordinate `i` of a chunk of `len` coordinates: `i mod A` for the
/// whole groups of `A`, 0 for the rest (the rule of the steps' sweeps, whose blocks hold
/// whole groups).
fn accumulator(i: usize, len: usize, accumulators: usize) -> usize {
    if i < len / accumulators * accumulators {
        i % accumulators
    } else {
        0
    }
}

/// The sums of one chunk of `len` coordinates into `sums`, with `visit(i, lane)` adding
/// coordinate `i` to its accumulator `lane`, summed as the steps sum (not a step loop: it
/// allocates).
pub(crate) fn chunk_sums(
    sums: &mut [f64],
    len: usize,
    accumulators: usize,
    visit: impl Fn(usize, &mut [f64]),
) {
    let mut lanes = vec![vec![0.0; sums.len()]; accumulators];
    for i in 0..len {
        visit(i, &mut lanes[accumulator(i, len, accumulators)]);
    }
    combine(&mut lanes, |sum, other| {
        sum.iter_mut().zip(other).for_each(|(s, o)| *s += o)
    });
    sums.copy_from_slice(&lanes[0]);
}

/// Entries of the moment sums: `Σ ξ_j x_k` (`p × K`), then `Σ x_k x_l` for `k ≤ l`, the
/// layout of [`OrderParameters::coordinates`].
pub(crate) fn moment_width(p: usize, k: usize) -> usize {
    p * k + k * (k + 1) / 2
}

/// Adds `ξ_j x_k` and `x_k x_l` (`k ≤ l`) to `sums`, in the layout of [`moment_width`].
#[inline(always)]
pub(crate) fn accumulate_moments(sums: &mut [f64], x: &[f64], xi: &[f32]) {
    let (p, k) = (xi.len(), x.len());
    for j in 0..p {
        for (c, x) in x.iter().enumerate() {
            sums[j * k + c] += f64::from(xi[j]) * x;
        }
    }
    let mut next = p * k;
    for a in 0..k {
        for b in a..k {
            sums[next] += x[a] * x[b];
            next += 1;
        }
    }
}

/// `(Q, R)` from the summed moments ([`moment_width`] layout) of `len` coordinates, in place.
pub(crate) fn set_moments(order: &mut OrderParameters, sums: &[f64], len: usize) {
    let n = len as f64;
    let k = order.neurons;
    let pk = order.overlaps.len();
    for (q, s) in order.overlaps.iter_mut().zip(sums) {
        *q = s / n;
    }
    let mut next = pk;
    for a in 0..k {
        for b in a..k {
            let r = sums[next] / n;
            order.norm2[a * k + b] = r;
            order.norm2[b * k + a] = r;
            next += 1;
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels;
    use mfcl_model::FeatureLaw;

    /// Discrete laws' labels become one byte per coordinate and decode to exactly the
    /// labels given; Gaussian labels, and more than 256 distinct rows, stay values.
    #[test]
    fn labels_are_as_small_as_their_rows_allow() {
        let n = 3 * CHUNK + 17;
        for (law, p, patterns) in [
            (FeatureLaw::Rademacher, 1, 2),
            (FeatureLaw::Rademacher, 8, 256),
            (FeatureLaw::Sparse(0.3), 3, 27),
            (FeatureLaw::Sparse(0.1), 5, 243),
        ] {
            for values in [
                labels::stratified(law, p, n, 1),
                labels::independent(law, p, n, 2),
            ] {
                let compact = Labels::compact(values.clone(), p);
                let Labels::Patterns { codes, rows } = &compact else {
                    panic!("{law:?}, p = {p}: codes expected");
                };
                assert_eq!(codes.len(), n);
                assert!(rows.len() <= patterns * p, "{law:?}, p = {p}");
                assert_eq!(compact.len(p), n);
                assert_eq!(compact.bytes_per_coordinate(p), 1);
                let decoded = compact.values(p);
                let bits = |v: &[f32]| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&decoded), bits(&values), "{law:?}, p = {p}");
                for i in [0, 1, n / 2, n - 1] {
                    assert_eq!(compact.row(i, p), &values[i * p..][..p]);
                }
            }
        }
        let gaussian = labels::stratified(FeatureLaw::Gaussian, 2, n, 1);
        assert_eq!(
            Labels::compact(gaussian.clone(), 2),
            Labels::Values(gaussian)
        );
        // 256 distinct rows fit a byte, 257 do not; -0.0 and 0.0 are different rows.
        let distinct = |rows: usize| -> Vec<f32> {
            let mut v: Vec<f32> = (0..rows).map(|r| r as f32 - 1.0).collect();
            v[0] = -0.0;
            v.extend_from_within(..);
            v
        };
        let fits = Labels::compact(distinct(256), 1);
        assert!(matches!(&fits, Labels::Patterns { rows, .. } if rows.len() == 256));
        assert_eq!(
            fits.values(1)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            distinct(256)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            Labels::compact(distinct(257), 1),
            Labels::Values(distinct(257))
        );
    }

    /// The initial law's requested `Q` and `R` hold to rounding, for any labels, one to
    /// three neurons.
    #[test]
    fn initial_moments_are_exact() {
        let n = 3 * CHUNK + 17;
        let xi: Vec<f32> = (0..2 * n)
            .map(|k| ((k * 7919 % 13) as f32 - 6.0) / 3.7)
            .collect();
        let targets = [
            OrderParameters::single(vec![0.4, -0.25], 1.3),
            OrderParameters {
                neurons: 2,
                overlaps: vec![0.3, 0.05, -0.1, 0.4],
                norm2: vec![1.0, 0.2, 0.2, 0.7],
            },
            OrderParameters {
                neurons: 3,
                overlaps: vec![0.3, 0.05, 0.0, -0.1, 0.4, 0.2],
                norm2: vec![1.0, 0.2, -0.1, 0.2, 0.7, 0.05, -0.1, 0.05, 0.5],
            },
        ];
        for target in targets {
            let mut population =
                Population::new(2, target.neurons, xi.clone(), 5, Generator::CURRENT);
            population.initialise(&target);
            let got = population.order_parameters();
            for (g, w) in got.overlaps.iter().zip(&target.overlaps) {
                assert!((g - w).abs() < 1e-12, "{got:?} vs {target:?}");
            }
            for (g, w) in got.norm2.iter().zip(&target.norm2) {
                assert!((g - w).abs() < 1e-12, "{got:?} vs {target:?}");
            }
        }
    }
}
