//! Online SGD on the real model in dimension `n` (MODEL.md §1), exactly as written there:
//! features drawn from their law, fresh `c`, `c'` and noise vectors at every step, and the
//! same exact initial overlaps and norm as the particles.
//!
//! One step is one pass over the coordinates: it applies the update, then draws the next
//! step's noise vectors and accumulates everything the next step needs (`ξ_jᵀx`, `‖x‖²`
//! and `xᵀν_s`), so the pre-activations are known before the next pass starts.

use mfcl_model::{OrderParameters, Problem};
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::SolverError;
use crate::driver::Stepper;
use crate::labels;
use crate::population::{CHUNK, Population, reduce_into, set_moments};
use crate::stream::{SAMPLES, Stream, stream};

/// Everything that evolves: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SgdState {
    /// Steps taken (`t = step / n`).
    pub step: u64,
    /// Features `ξ_{j,i}` and weights `x_i`, with the chunk streams that draw the noise.
    pub population: Population,
    /// This step's noise vectors, `ν_{s,i}` at `[i · views + s]`.
    pub noise: Vec<f64>,
    /// The stream of the hidden variables `c`, `c'`.
    pub samples: Stream,
}

/// The SGD stepper.
pub struct Sgd {
    problem: Problem,
    state: SgdState,
    views: usize,
    /// `[Σ ξ_j x (p), Σ x², Σ x ν_s (views)]` of the current state.
    sums: Vec<f64>,
    partial: Vec<f64>,
    order: OrderParameters,
    /// Rows of the Cholesky factor of the pair's noise covariance, and the negative's sd.
    cholesky: [f64; 3],
    negative_sd: f64,
}

/// Per-step constants of the coordinate update.
struct Update {
    /// `τ Σ_s ∂_sℓ c_{s,j} / n` per feature.
    along: [f64; 8],
    /// `τ ∂_sℓ / √n` per view.
    noise: [f64; 3],
    /// `τ / n`, the weight of `φ'(x_i)`; 0 for the pass that only draws the first noise.
    regularize: f64,
}

impl Sgd {
    /// Dimension `n`, i.i.d. features, `x(0)` with exact overlaps and norm.
    pub fn new(problem: &Problem, init: &OrderParameters, dimension: usize, seed: u64) -> Sgd {
        let p = problem.features();
        let xi = labels::independent(problem.feature_law, p, dimension, seed);
        let mut population = Population::new(p, xi, seed);
        population.initialise(init);
        let views = if problem.negative { 3 } else { 2 };
        let state = SgdState {
            step: 0,
            population,
            noise: vec![0.0; dimension * views],
            samples: stream(seed, SAMPLES),
        };
        let mut sgd = Sgd::resume_without_moments(problem, state);
        // Draw the first noise vectors and take the moments, leaving x unchanged.
        sgd.sweep(&Update {
            along: [0.0; 8],
            noise: [0.0; 3],
            regularize: 0.0,
        });
        sgd
    }

    /// Continues from a saved state.
    pub fn resume(problem: &Problem, state: SgdState) -> Sgd {
        let mut sgd = Sgd::resume_without_moments(problem, state);
        let (p, views) = (problem.features(), sgd.views);
        let population = &sgd.state.population;
        population
            .x
            .par_chunks(CHUNK)
            .zip(population.xi.par_chunks(CHUNK * p))
            .zip(sgd.state.noise.par_chunks(CHUNK * views))
            .zip(sgd.partial.par_chunks_mut(p + 1 + views))
            .for_each(|(((x, xi), nu), sums)| {
                sums.fill(0.0);
                for ((x, xi), nu) in x.iter().zip(xi.chunks_exact(p)).zip(nu.chunks_exact(views)) {
                    accumulate(sums, *x, xi, nu);
                }
            });
        sgd.collect();
        sgd
    }

    fn resume_without_moments(problem: &Problem, state: SgdState) -> Sgd {
        let p = problem.features();
        let views = if problem.negative { 3 } else { 2 };
        let width = p + 1 + views;
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
                overlaps: vec![0.0; p],
                norm2: 0.0,
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

    fn sweep(&mut self, update: &Update) {
        let (p, views) = (self.problem.features(), self.views);
        let [l11, l21, l22] = self.cholesky;
        let negative_sd = self.negative_sd;
        let regularizer = self.problem.regularizer;
        let population = &mut self.state.population;
        population
            .x
            .par_chunks_mut(CHUNK)
            .zip(population.xi.par_chunks(CHUNK * p))
            .zip(self.state.noise.par_chunks_mut(CHUNK * views))
            .zip(population.streams.par_iter_mut())
            .zip(self.partial.par_chunks_mut(p + 1 + views))
            .for_each(|((((x, xi), nu), rng), sums)| {
                sums.fill(0.0);
                for ((x, xi), nu) in x
                    .iter_mut()
                    .zip(xi.chunks_exact(p))
                    .zip(nu.chunks_exact_mut(views))
                {
                    let mut step = update.regularize * regularizer.derivative(*x);
                    for (along, xi) in update.along.iter().zip(xi) {
                        step += along * f64::from(*xi);
                    }
                    for (weight, nu) in update.noise.iter().zip(nu.iter()) {
                        step += weight * nu;
                    }
                    *x -= step;
                    let (e1, e2): (f64, f64) =
                        (rng.sample(StandardNormal), rng.sample(StandardNormal));
                    nu[0] = l11 * e1;
                    nu[1] = l21 * e1 + l22 * e2;
                    if views == 3 {
                        nu[2] = negative_sd * rng.sample::<f64, _>(StandardNormal);
                    }
                    accumulate(sums, *x, xi, nu);
                }
            });
        self.collect();
    }

    /// Reduces the chunk sums and refreshes `(Q, R)`.
    fn collect(&mut self) {
        reduce_into(&self.partial, &mut self.sums);
        set_moments(&mut self.order, &self.sums, self.state.population.len());
    }
}

/// `[Σ ξ_j x, Σ x², Σ x ν_s]`.
#[inline(always)]
fn accumulate(sums: &mut [f64], x: f64, xi: &[f32], nu: &[f64]) {
    let p = xi.len();
    for j in 0..p {
        sums[j] += f64::from(xi[j]) * x;
    }
    sums[p] += x * x;
    for (s, nu) in nu.iter().enumerate() {
        sums[p + 1 + s] += x * nu;
    }
}

impl Stepper for Sgd {
    fn step(&mut self) -> Result<(), SolverError> {
        let p = self.problem.features();
        if p > 8 {
            return Err(SolverError::TooManyFeatures(p));
        }
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
        // h_s = xᵀ y_s / √n = Σ_j c_{s,j} Q_j + xᵀ ν_s / √n.
        let mut h = [0.0; 3];
        for (s, h) in h.iter_mut().enumerate().take(self.views) {
            let signal: f64 = (0..p).map(|j| c[s][j] * self.order.overlaps[j]).sum();
            *h = signal + self.sums[p + 1 + s] / root_n;
        }
        let gradient = self.problem.loss_gradient(h);
        let mut update = Update {
            along: [0.0; 8],
            noise: [0.0; 3],
            regularize: tau / n,
        };
        for s in 0..self.views {
            update.noise[s] = tau * gradient[s] / root_n;
            for (along, c) in update.along.iter_mut().zip(&c[s]) {
                *along += tau * gradient[s] * c / n;
            }
        }
        self.sweep(&update);
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
