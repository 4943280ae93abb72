//! The McKean–Vlasov particle system (MODEL.md §2).
//!
//! # Time stepping
//!
//! Given the coefficients, each particle follows a linear SDE: an Ornstein–Uhlenbeck
//! process with rate `a = τ (g_0 − λ₂)`, which is integrated exactly over a step. The
//! coefficients are frozen at their midpoint value, extrapolated from this step's and the
//! previous step's evaluations, `(3 c_n − c_{n−1}) / 2`. Under L2 the particles' moments then
//! follow the exact flow of the ODE with midpoint coefficients: a second-order scheme for
//! `(Q, R)` that costs one coefficient evaluation per step. `l1` and the `l1` part of
//! `elastic` take a proximal step (soft thresholding by `τ λ₁ dt`) after it, which is first
//! order.

use mfcl_model::{Coefficients, OrderParameters, Problem, Regularizer};
use rand::RngExt;
use rand_distr::StandardNormal;
use rayon::prelude::*;

use crate::SolverError;
use crate::driver::Stepper;
use crate::labels;
use crate::population::{CHUNK, Population, reduce_into, set_moments};

/// Everything that evolves, and nothing that defines the problem: what a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticleState {
    /// Steps taken.
    pub step: u64,
    /// Labels, positions and chunk streams.
    pub population: Population,
    /// The coefficients evaluated at the previous step, for the extrapolation.
    pub previous: Option<Coefficients>,
}

/// The particle stepper: a problem, a step size, and a [`ParticleState`].
pub struct ParticleSystem {
    problem: Problem,
    dt: f64,
    state: ParticleState,
    /// `(Q, R)` of `state`, kept in step with it.
    order: OrderParameters,
    // Buffers reused by every step, so the step loop allocates nothing.
    partial: Vec<f64>,
    sums: Vec<f64>,
    now: Coefficients,
    midpoint: Coefficients,
}

/// The per-step constants of the exact OU update `x ← e x + Σ_j b_j ξ_j + s η`.
#[derive(Debug, Clone, Copy)]
struct Update<const P: usize> {
    decay: f64,
    drive: [f64; P],
    noise: f64,
    /// Soft-threshold level (0 without an `l1` part).
    threshold: f64,
}

impl ParticleSystem {
    /// `N` particles with stratified labels and the exact initial moments `init`.
    pub fn new(
        problem: &Problem,
        init: &OrderParameters,
        particles: usize,
        dt: f64,
        seed: u64,
    ) -> ParticleSystem {
        let p = problem.features();
        let xi = labels::stratified(problem.feature_law, p, particles, seed);
        let mut population = Population::new(p, xi, seed);
        population.initialise(init);
        let state = ParticleState {
            step: 0,
            population,
            previous: None,
        };
        ParticleSystem::resume(problem, dt, state)
    }

    /// Continues from a saved state.
    pub fn resume(problem: &Problem, dt: f64, state: ParticleState) -> ParticleSystem {
        let order = state.population.order_parameters();
        let width = problem.features() + 1;
        ParticleSystem {
            problem: problem.clone(),
            dt,
            partial: vec![0.0; state.population.chunks() * width],
            sums: vec![0.0; width],
            now: Coefficients::default(),
            midpoint: Coefficients::default(),
            state,
            order,
        }
    }

    /// The state, for checkpoints and snapshots.
    pub fn state(&self) -> &ParticleState {
        &self.state
    }

    fn update<const P: usize>(&self, c: &Coefficients) -> Update<P> {
        let tau = self.problem.learning_rate;
        let (l1, l2) = match self.problem.regularizer {
            Regularizer::None => (0.0, 0.0),
            Regularizer::L2(l) => (0.0, l),
            Regularizer::L1(l) => (l, 0.0),
            Regularizer::Elastic { l1, l2 } => (l1, l2),
        };
        let rate = tau * (c.self_term - l2);
        let dt = self.dt;
        // ∫_0^dt e^{a s} ds and ∫_0^dt e^{2 a s} ds, without cancellation when a dt is small.
        let mean_gain = if rate == 0.0 {
            dt
        } else {
            (rate * dt).exp_m1() / rate
        };
        let variance_gain = if rate == 0.0 {
            dt
        } else {
            (2.0 * rate * dt).exp_m1() / (2.0 * rate)
        };
        let mut drive = [0.0; P];
        for (d, g) in drive.iter_mut().zip(&c.drive) {
            *d = tau * g * mean_gain;
        }
        Update {
            decay: (rate * dt).exp(),
            drive,
            noise: tau * (c.noise_variance.max(0.0) * variance_gain).sqrt(),
            threshold: tau * l1 * dt,
        }
    }

    /// One pass: the exact OU update, the soft threshold of an `l1` part, and the moment
    /// sums (kept in registers, then stored once per chunk).
    fn sweep<const P: usize>(&mut self, update: Update<P>) {
        let population = &mut self.state.population;
        population
            .x
            .par_chunks_mut(CHUNK)
            .zip(population.xi.par_chunks(CHUNK * P))
            .zip(population.streams.par_iter_mut())
            .zip(self.partial.par_chunks_mut(P + 1))
            .for_each(|(((x, xi), rng), sums)| {
                let (mut overlaps, mut norm2) = ([0.0; P], 0.0);
                for (x, xi) in x.iter_mut().zip(xi.chunks_exact(P)) {
                    let eta: f64 = rng.sample(StandardNormal);
                    let mut next = update.decay * *x + update.noise * eta;
                    for (drive, xi) in update.drive.iter().zip(xi) {
                        next += drive * f64::from(*xi);
                    }
                    if update.threshold > 0.0 {
                        next = next.signum() * (next.abs() - update.threshold).max(0.0);
                    }
                    *x = next;
                    for (q, xi) in overlaps.iter_mut().zip(xi) {
                        *q += f64::from(*xi) * next;
                    }
                    norm2 += next * next;
                }
                sums[..P].copy_from_slice(&overlaps);
                sums[P] = norm2;
            });
    }
}

impl Stepper for ParticleSystem {
    fn step(&mut self) -> Result<(), SolverError> {
        self.problem
            .coefficients_into(&self.order.overlaps, self.order.norm2, &mut self.now);
        match &self.state.previous {
            Some(before) => extrapolate(&self.now, before, &mut self.midpoint),
            None => self.midpoint.clone_from(&self.now),
        }
        let midpoint = &self.midpoint;
        // Monomorphised for the feature counts met in practice, so the inner loop unrolls.
        match self.problem.features() {
            1 => self.sweep(self.update::<1>(midpoint)),
            2 => self.sweep(self.update::<2>(midpoint)),
            3 => self.sweep(self.update::<3>(midpoint)),
            4 => self.sweep(self.update::<4>(midpoint)),
            5 => self.sweep(self.update::<5>(midpoint)),
            6 => self.sweep(self.update::<6>(midpoint)),
            7 => self.sweep(self.update::<7>(midpoint)),
            8 => self.sweep(self.update::<8>(midpoint)),
            p => return Err(SolverError::TooManyFeatures(p)),
        }
        reduce_into(&self.partial, &mut self.sums);
        set_moments(&mut self.order, &self.sums, self.state.population.len());
        match &mut self.state.previous {
            Some(before) => std::mem::swap(before, &mut self.now),
            None => self.state.previous = Some(self.now.clone()),
        }
        self.state.step += 1;
        Ok(())
    }

    fn steps_taken(&self) -> u64 {
        self.state.step
    }

    fn time_of(&self, k: u64) -> f64 {
        k as f64 * self.dt
    }

    fn order_parameters(&self) -> &OrderParameters {
        &self.order
    }

    fn size(&self) -> usize {
        self.state.population.len()
    }
}

/// `(3 c_n − c_{n−1}) / 2`, the midpoint value to second order.
fn extrapolate(now: &Coefficients, before: &Coefficients, midpoint: &mut Coefficients) {
    let mid = |a: f64, b: f64| 1.5 * a - 0.5 * b;
    midpoint.drive.clear();
    midpoint.drive.extend(
        now.drive
            .iter()
            .zip(&before.drive)
            .map(|(a, b)| mid(*a, *b)),
    );
    midpoint.self_term = mid(now.self_term, before.self_term);
    midpoint.noise_variance = mid(now.noise_variance, before.noise_variance);
}
