//! Online SGD on the real model in dimension `n` (MODEL.md §1, §7), exactly as written
//! there: `W ∈ R^{n×K}`, features drawn from their law, fresh `c`, `c'` and noise vectors
//! at every step, and the same exact initial overlaps and Gram matrix as the particles.
//!
//! One step is one pass over the coordinates (rows `x_i ∈ R^K` of `W`): it applies the
//! update, then draws the next step's noise vectors and accumulates everything the next
//! step needs (`Ξ W`, `WᵀW` and `Wᵀν_s`), so the pre-activations are known before the next
//! pass starts.

use mfcl_model::{OrderParameters, Problem, Regularizer};
use rayon::prelude::*;

use crate::driver::Stepper;
use crate::population::{
    BLOCK, CHUNK, InPlace, LabelRows, Labels, Population, Table, accumulate_moments, chunk_sums,
    moment_width, reduce_into, set_moments, table,
};
use crate::stream::{ChunkStream, ChunkWork, Deviates, Generator, SAMPLES, Stream, stream};
use crate::{MAX_NEURONS, SolverError, labels};

/// Everything that evolves: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdState {
    /// Steps taken (`t = step / n`).
    pub step: u64,
    /// Features `ξ_{j,i}` and weights `x_{i,k}`, with the chunk streams that draw the noise.
    pub population: Population,
    /// This step's noise vectors, `ν_{s,i}` at `[i · views + s]` (shared by the neurons).
    pub noise: Vec<f64>,
    /// The stream of the hidden variables `c`, `c'`.
    pub samples: Stream,
}

/// The SGD stepper.
pub struct Sgd {
    problem: Problem,
    state: SgdState,
    views: usize,
    /// `[Σ ξ_j x_k (p × K), Σ x_k x_l (k ≤ l), Σ x_k ν_s (K × views)]` of the current state.
    sums: Vec<f64>,
    partial: Vec<f64>,
    order: OrderParameters,
    /// Rows of the Cholesky factor of the pair's noise covariance, and the negative's sd.
    cholesky: [f64; 3],
    negative_sd: f64,
}

/// Per-step constants of the coordinate update, for `K` neurons.
struct Update<const K: usize> {
    /// `τ Σ_s ∂ℓ/∂h_{s,k} c_{s,j} / n`, row `j`.
    along: [[f64; K]; 8],
    /// `τ ∂ℓ/∂h_{s,k} / √n`, row `s`.
    noise: [[f64; K]; 3],
    /// `τ / n`, the weight of `φ'(x_{i,k})`; 0 for the pass that only draws the first noise.
    regularize: f64,
}

impl<const K: usize> Update<K> {
    /// The update that leaves `W` unchanged.
    fn none() -> Self {
        Update {
            along: [[0.0; K]; 8],
            noise: [[0.0; K]; 3],
            regularize: 0.0,
        }
    }
}

impl Sgd {
    /// Dimension `n`, i.i.d. features, `W(0)` with exact overlaps and Gram matrix, one
    /// column per neuron (`problem.neurons` of them), drawing with [`Generator::CURRENT`].
    pub fn new(problem: &Problem, init: &OrderParameters, dimension: usize, seed: u64) -> Sgd {
        Sgd::with_generator(problem, init, dimension, seed, Generator::CURRENT)
    }

    /// [`Sgd::new`] with another generator (an older one, to repeat an older release's
    /// runs).
    pub fn with_generator(
        problem: &Problem,
        init: &OrderParameters,
        dimension: usize,
        seed: u64,
        generator: Generator,
    ) -> Sgd {
        let p = problem.features();
        let xi = labels::independent(problem.feature_law, p, dimension, seed);
        let mut population = Population::new(p, problem.neurons, xi, seed, generator);
        population.initialise(init);
        let views = if problem.negative { 3 } else { 2 };
        let state = SgdState {
            step: 0,
            population,
            noise: vec![0.0; dimension * views],
            samples: stream(seed, SAMPLES),
        };
        let mut sgd = Sgd::resume_without_moments(problem, state);
        // Draw the first noise vectors and take the moments, leaving W unchanged. A neuron
        // count beyond MAX_NEURONS leaves W as it is here, and the first step reports it.
        let _ = sgd.pass(Pass::First);
        sgd
    }

    /// Continues from a saved state.
    pub fn resume(problem: &Problem, state: SgdState) -> Sgd {
        let mut sgd = Sgd::resume_without_moments(problem, state);
        let (k, views) = (sgd.state.population.neurons, sgd.views);
        let width = sgd.sums.len();
        let population = &sgd.state.population;
        population
            .x
            .par_chunks(CHUNK * k)
            .enumerate()
            .zip(sgd.state.noise.par_chunks(CHUNK * views))
            .zip(sgd.partial.par_chunks_mut(width))
            .for_each(|(((c, x), nu), sums)| {
                let accumulators = population.generator.accumulators(width);
                chunk_sums(sums, x.len() / k, accumulators, |i, lane| {
                    let (x, nu) = (&x[i * k..][..k], &nu[i * views..][..views]);
                    accumulate(lane, x, population.row(c * CHUNK + i), nu)
                });
            });
        sgd.collect();
        sgd
    }

    fn resume_without_moments(problem: &Problem, state: SgdState) -> Sgd {
        let p = problem.features();
        let k = state.population.neurons;
        let views = if problem.negative { 3 } else { 2 };
        let width = moment_width(p, k) + k * views;
        let (s2, r) = (
            problem.noise.view_variance(),
            problem.noise.pair_covariance(),
        );
        let l11 = s2.sqrt();
        let l21 = if l11 > 0.0 { r / l11 } else { 0.0 };
        let l22 = (s2 - l21 * l21).max(0.0).sqrt();
        Sgd {
            problem: problem.clone(),
            views,
            sums: vec![0.0; width],
            partial: vec![0.0; state.population.chunks() * width],
            order: OrderParameters {
                neurons: k,
                overlaps: vec![0.0; p * k],
                norm2: vec![0.0; k * k],
            },
            cholesky: [l11, l21, l22],
            negative_sd: l11,
            state,
        }
    }

    /// The state, for checkpoints and snapshots.
    pub fn state(&self) -> &SgdState {
        &self.state
    }

    /// One pass over the coordinates, with the neuron count as a constant so that the
    /// per-coordinate loops unroll.
    fn pass(&mut self, pass: Pass) -> Result<(), SolverError> {
        let p = self.problem.features();
        if p > 8 {
            return Err(SolverError::TooManyFeatures(p));
        }
        match self.state.population.neurons {
            1 => self.pass_for::<1>(pass),
            2 => self.pass_for::<2>(pass),
            3 => self.pass_for::<3>(pass),
            4 => self.pass_for::<4>(pass),
            k => return Err(SolverError::TooManyNeurons(k, MAX_NEURONS)),
        }
        Ok(())
    }

    fn pass_for<const K: usize>(&mut self, pass: Pass) {
        let update = match pass {
            Pass::First => Update::none(),
            Pass::Step => self.update::<K>(),
        };
        self.sweep(&update);
    }

    /// Draws this step's hidden variables and turns the loss gradient at the current
    /// pre-activations into the coordinate update.
    fn update<const K: usize>(&mut self) -> Update<K> {
        let p = self.problem.features();
        let n = self.state.population.len() as f64;
        let root_n = n.sqrt();
        let tau = self.problem.learning_rate;
        // c for the pair (both views), then c' for the negative.
        let mut c = [[0.0; 8]; 3];
        for (c, law) in c[0].iter_mut().zip(&self.problem.hidden) {
            *c = law.sample(&mut self.state.samples);
        }
        c[1] = c[0];
        if self.problem.negative {
            for (c, law) in c[2].iter_mut().zip(&self.problem.hidden) {
                *c = law.sample(&mut self.state.samples);
            }
        }
        // h_{s,k} = w_kᵀ y_s / √n = Σ_j c_{s,j} Q_{jk} + w_kᵀ ν_s / √n.
        let noise_sums = moment_width(p, K);
        let mut h = [[0.0; K]; 3];
        for (s, h) in h.iter_mut().enumerate().take(self.views) {
            for (k, h) in h.iter_mut().enumerate() {
                let signal: f64 = (0..p)
                    .map(|j| c[s][j] * self.order.overlaps[j * K + k])
                    .sum();
                *h = signal + self.sums[noise_sums + k * self.views + s] / root_n;
            }
        }
        let gradient = layer_gradient(&self.problem, &h);
        let mut update = Update {
            along: [[0.0; K]; 8],
            noise: [[0.0; K]; 3],
            regularize: tau / n,
        };
        for s in 0..self.views {
            for k in 0..K {
                update.noise[s][k] = tau * gradient[s][k] / root_n;
                for (along, c) in update.along.iter_mut().zip(&c[s]) {
                    along[k] += tau * gradient[s][k] * c / n;
                }
            }
        }
        update
    }

    /// One pass with the update, monomorphised for the feature counts (at most 8, checked
    /// by [`Sgd::pass`]) so that the label rows have a constant length.
    fn sweep<const K: usize>(&mut self, update: &Update<K>) {
        match self.problem.features() {
            1 => self.sweep_features::<1, K>(update),
            2 => self.sweep_features::<2, K>(update),
            3 => self.sweep_features::<3, K>(update),
            4 => self.sweep_features::<4, K>(update),
            5 => self.sweep_features::<5, K>(update),
            6 => self.sweep_features::<6, K>(update),
            7 => self.sweep_features::<7, K>(update),
            _ => self.sweep_features::<8, K>(update),
        }
        self.collect();
    }

    fn sweep_features<const P: usize, const K: usize>(&mut self, update: &Update<K>) {
        let shape = Shape {
            views: self.views,
            cholesky: self.cholesky,
            negative_sd: self.negative_sd,
            regularizer: self.problem.regularizer,
        };
        let Population {
            x, labels, streams, ..
        } = &mut self.state.population;
        let chunk = Chunk {
            shape: &shape,
            update,
            x,
            nu: &mut self.state.noise,
            streams,
            partial: &mut self.partial,
            width: self.sums.len(),
        };
        match labels {
            Labels::Patterns { codes, rows } => {
                let table = table::<P>(rows);
                chunk.sweep(codes, Table(&table));
            }
            Labels::Values(values) => chunk.sweep::<P, _>(values, InPlace),
        }
    }

    /// Reduces the chunk sums and refreshes `(Q, R)`.
    fn collect(&mut self) {
        reduce_into(&self.partial, &mut self.sums);
        set_moments(&mut self.order, &self.sums, self.state.population.len());
    }
}

/// Which pass over the coordinates.
#[derive(Clone, Copy)]
enum Pass {
    /// The first, which only draws the noise vectors and takes the moments.
    First,
    /// A training step.
    Step,
}

/// `∂ℓ/∂h_{s,k}` of the layer loss (MODEL.md §7), rows `s`:
///
/// ```text
///   ∂ℓ/∂h_{s,k} = f'(h_{s,k}) [ −F_{s̄,k} + (γ/2) F_{3,k} + β F_{s,k} Σ_{l≠k} F_{s̄,l}² ]  (s = 1, 2)
///   ∂ℓ/∂h_{3,k} = (γ/2) f'(h_{3,k}) (F_{1,k} + F_{2,k})
/// ```
///
/// For `K = 1` the decorrelation sum is empty and this is [`Problem::loss_gradient`], with
/// the same operations on the same operands (`−a + b` is `b − a` in floating point too).
fn layer_gradient<const K: usize>(problem: &Problem, h: &[[f64; K]; 3]) -> [[f64; K]; 3] {
    let views = if problem.negative { 3 } else { 2 };
    let mut f = [[0.0; K]; 3];
    let mut d = [[0.0; K]; 3];
    for s in 0..views {
        for k in 0..K {
            let [value, slope, _] = problem.activation.derivatives(h[s][k]);
            f[s][k] = value;
            d[s][k] = slope;
        }
    }
    let beta = problem.decorrelation;
    let mut gradient = [[0.0; K]; 3];
    for (s, other) in [(0, 1), (1, 0)] {
        for k in 0..K {
            let mut inner = -f[other][k];
            if problem.negative {
                inner += 0.5 * f[2][k];
            }
            if K > 1 {
                let spread: f64 = (0..K)
                    .filter(|&l| l != k)
                    .map(|l| f[other][l].powi(2))
                    .sum();
                inner += beta * f[s][k] * spread;
            }
            gradient[s][k] = d[s][k] * inner;
        }
    }
    if problem.negative {
        for k in 0..K {
            gradient[2][k] = 0.5 * d[2][k] * (f[0][k] + f[1][k]);
        }
    }
    gradient
}

/// What the coordinate update needs besides the [`Update`].
struct Shape {
    views: usize,
    cholesky: [f64; 3],
    negative_sd: f64,
    regularizer: Regularizer,
}

/// What [`Sgd::sweep`] splits into chunks, besides the labels.
struct Chunk<'a, const K: usize> {
    shape: &'a Shape,
    update: &'a Update<K>,
    x: &'a mut [f64],
    nu: &'a mut [f64],
    streams: &'a mut [ChunkStream],
    partial: &'a mut [f64],
    /// Sums per chunk.
    width: usize,
}

impl<const K: usize> Chunk<'_, K> {
    /// The pass over all chunks, with the labels read through `rows` from `codes`.
    fn sweep<const P: usize, L: LabelRows<P>>(self, codes: &[L::Code], rows: L) {
        let (shape, update, width) = (self.shape, self.update, self.width);
        self.x
            .par_chunks_mut(CHUNK * K)
            .zip(codes.par_chunks(CHUNK * L::WIDTH))
            .zip(self.nu.par_chunks_mut(CHUNK * shape.views))
            .zip(self.streams.par_iter_mut())
            .zip(self.partial.par_chunks_mut(width))
            .for_each(|((((x, xi), nu), rng), sums)| {
                rng.run(Sweep {
                    shape,
                    update,
                    x,
                    xi,
                    rows,
                    nu,
                    sums,
                })
            });
    }
}

/// [`Sgd::sweep`]'s work on one chunk: its coordinates, labels, noise vectors and sums.
struct Sweep<'a, const P: usize, const K: usize, L: LabelRows<P>> {
    shape: &'a Shape,
    update: &'a Update<K>,
    x: &'a mut [f64],
    xi: &'a [L::Code],
    rows: L,
    nu: &'a mut [f64],
    sums: &'a mut [f64],
}

/// [`Sgd::sweep`] over one chunk, block by block. Its sums (at least four: `Σ ξ x`, `Σ x²`
/// and two `Σ x ν`) are independent additions enough for one accumulator each
/// ([`Generator::accumulators`]).
impl<const P: usize, const K: usize, L: LabelRows<P>> ChunkWork for Sweep<'_, P, K, L> {
    #[inline(always)]
    fn run<D: Deviates>(self, deviates: &mut D) {
        let Sweep {
            shape,
            update,
            x,
            xi,
            rows,
            nu,
            sums,
        } = self;
        // Codes per coordinate: `P` labels, or one pattern code.
        let (codes, views) = (L::WIDTH, shape.views);
        sums.fill(0.0);
        let mut normals = [0.0; 3 * BLOCK];
        let blocks = x
            .chunks_mut(BLOCK * K)
            .zip(xi.chunks(BLOCK * codes))
            .zip(nu.chunks_mut(BLOCK * views));
        for ((x, xi), nu) in blocks {
            let normals = &mut normals[..nu.len()];
            deviates.fill(normals);
            let coordinates = x
                .chunks_exact_mut(K)
                .zip(xi.chunks_exact(codes))
                .zip(nu.chunks_exact_mut(views))
                .zip(normals.chunks_exact(views));
            for (((x, xi), nu), e) in coordinates {
                coordinate(shape, update, x, rows.row(xi), nu, e, sums);
            }
        }
    }
}

/// One coordinate: the update with this step's noise, the next step's noise from the
/// deviates `e`, and the sums.
#[inline(always)]
fn coordinate<const K: usize>(
    shape: &Shape,
    update: &Update<K>,
    x: &mut [f64],
    xi: &[f32],
    nu: &mut [f64],
    e: &[f64],
    sums: &mut [f64],
) {
    for (k, x) in x.iter_mut().enumerate() {
        let mut step = update.regularize * shape.regularizer.derivative(*x);
        for (along, xi) in update.along.iter().zip(xi) {
            step += along[k] * f64::from(*xi);
        }
        for (weight, nu) in update.noise.iter().zip(nu.iter()) {
            step += weight[k] * nu;
        }
        *x -= step;
    }
    let [l11, l21, l22] = shape.cholesky;
    nu[0] = l11 * e[0];
    nu[1] = l21 * e[0] + l22 * e[1];
    if shape.views == 3 {
        nu[2] = shape.negative_sd * e[2];
    }
    accumulate(sums, x, xi, nu);
}

/// `[Σ ξ_j x_k, Σ x_k x_l (k ≤ l), Σ x_k ν_s]`.
#[inline(always)]
fn accumulate(sums: &mut [f64], x: &[f64], xi: &[f32], nu: &[f64]) {
    let width = moment_width(xi.len(), x.len());
    accumulate_moments(&mut sums[..width], x, xi);
    let views = nu.len();
    for (k, x) in x.iter().enumerate() {
        for (s, nu) in nu.iter().enumerate() {
            sums[width + k * views + s] += x * nu;
        }
    }
}

impl Stepper for Sgd {
    fn step(&mut self) -> Result<(), SolverError> {
        self.pass(Pass::Step)?;
        self.state.step += 1;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.state.step
    }

    fn time_of(&self, k: u64) -> f64 {
        k as f64 / self.state.population.len() as f64
    }

    fn order_parameters(&self) -> &OrderParameters {
        &self.order
    }

    fn size(&self) -> usize {
        self.state.population.len()
    }
}
