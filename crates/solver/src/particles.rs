//! The McKean–Vlasov particle system (MODEL.md §2, §7).
//!
//! # Time stepping
//!
//! Given the coefficients, each particle `x ∈ R^K` follows a linear SDE: a `K`-dimensional
//! Ornstein–Uhlenbeck process with the symmetric drift matrix `M = τ (G_0 − λ₂ I)`, which is
//! integrated exactly over a step in the eigenbasis `M = U diag(μ) Uᵀ`:
//!
//! ```text
//!   x ← A x + Σ_j ξ_j b_j + S η,   η ~ N(0, I_K),
//!   A   = e^{M dt} = U diag(e^{μ_a dt}) Uᵀ,
//!   b_j = τ ∫_0^dt e^{M s} ds g_j = τ U diag((e^{μ_a dt} − 1)/μ_a) Uᵀ g_j,
//!   S Sᵀ = τ² ∫_0^dt e^{M s} V e^{M s} ds = τ² U C Uᵀ,
//!   C_ab = (UᵀVU)_ab (e^{(μ_a+μ_b) dt} − 1)/(μ_a + μ_b),
//! ```
//!
//! with `S = τ U C^{1/2}` (symmetric square root, robust to a semidefinite `V`). The
//! coefficients are frozen at their midpoint value, extrapolated from this step's and the
//! previous step's evaluations, `(3 c_n − c_{n−1}) / 2`. Under L2 the particles' moments
//! then follow the exact flow of the ODE with midpoint coefficients: a second-order scheme
//! for `(Q, R)` that costs one coefficient evaluation per step. `l1` and the `l1` part of
//! `elastic` take a proximal step (entrywise soft thresholding by `τ λ₁ dt`) after it,
//! which is first order. For `K = 1` every formula reduces to scalar arithmetic on the same
//! operands in the same order as the single-neuron stepper had, so `K = 1` runs repeat it
//! to the bit.

use mfcl_model::{Coefficients, OrderParameters, Problem, QuadratureOptions, Regularizer};
use rayon::prelude::*;

use crate::driver::Stepper;
use crate::linalg;
use crate::population::{
    BLOCK, CHUNK, InPlace, LabelRows, Labels, Population, Table, combine, moment_width,
    reduce_into, set_moments, table,
};
use crate::stream::{ACCUMULATORS, ChunkStream, ChunkWork, Deviates, Generator};
use crate::{MAX_NEURONS, SolverError, labels};

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

/// The per-step constants of the exact OU update `x ← A x + Σ_j ξ_j b_j + S η`.
#[derive(Debug, Clone, Copy)]
struct Update<const P: usize, const K: usize> {
    /// `A = e^{M dt}`, `A[k][l]`.
    transition: [[f64; K]; K],
    /// `b_j`, row `j`.
    drive: [[f64; K]; P],
    /// `S`, `S[k][l]`.
    noise: [[f64; K]; K],
    /// Soft-threshold level (0 without an `l1` part).
    threshold: f64,
}

impl ParticleSystem {
    /// `N` particles with stratified labels and the exact initial moments `init`, one value
    /// per neuron (`problem.neurons` of them), drawing with [`Generator::CURRENT`].
    pub fn new(
        problem: &Problem,
        init: &OrderParameters,
        particles: usize,
        dt: f64,
        seed: u64,
    ) -> ParticleSystem {
        ParticleSystem::with_generator(problem, init, particles, dt, seed, Generator::CURRENT)
    }

    /// [`ParticleSystem::new`] with another generator (an older one, to repeat an older
    /// release's runs).
    pub fn with_generator(
        problem: &Problem,
        init: &OrderParameters,
        particles: usize,
        dt: f64,
        seed: u64,
        generator: Generator,
    ) -> ParticleSystem {
        let p = problem.features();
        let xi = labels::stratified(problem.feature_law, p, particles, seed);
        let mut population = Population::new(p, problem.neurons, xi, seed, generator);
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
        let width = moment_width(problem.features(), state.population.neurons);
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

    /// The midpoint coefficients, the update for `P` features and `K` neurons, and the sweep
    /// with it. Reached only for supported sizes, so an unsupported one costs no
    /// coefficient evaluation.
    fn advance<const P: usize, const K: usize>(&mut self) {
        self.problem
            .coefficients_into_with(&self.order, quadrature(&self.problem), &mut self.now);
        match &self.state.previous {
            Some(before) => extrapolate(&self.now, before, &mut self.midpoint),
            None => self.midpoint.clone_from(&self.now),
        }
        let update = update::<P, K>(&self.problem, self.dt, &self.midpoint);
        self.sweep(update);
    }

    /// One pass: the exact OU update, the soft threshold of an `l1` part, and the moment
    /// sums (kept in registers, then stored once per chunk), with as many accumulators per
    /// moment as the run's generator says.
    fn sweep<const P: usize, const K: usize>(&mut self, update: Update<P, K>) {
        let Population {
            x, labels, streams, ..
        } = &mut self.state.population;
        let partial = &mut self.partial;
        match labels {
            Labels::Patterns { codes, rows } => {
                let table = table::<P>(rows);
                sweep_with(&update, x, codes, Table(&table), streams, partial);
            }
            Labels::Values(values) => sweep_with(&update, x, values, InPlace, streams, partial),
        }
    }

    /// [`ParticleSystem::advance`] for `K` neurons, monomorphised for the feature counts met
    /// in practice so that the inner loop unrolls.
    fn advance_features<const K: usize>(&mut self) -> Result<(), SolverError> {
        match self.problem.features() {
            1 => self.advance::<1, K>(),
            2 => self.advance::<2, K>(),
            3 => self.advance::<3, K>(),
            4 => self.advance::<4, K>(),
            5 => self.advance::<5, K>(),
            6 => self.advance::<6, K>(),
            7 => self.advance::<7, K>(),
            8 => self.advance::<8, K>(),
            p => return Err(SolverError::TooManyFeatures(p)),
        }
        Ok(())
    }
}

impl Stepper for ParticleSystem {
    fn step(&mut self) -> Result<(), SolverError> {
        match self.state.population.neurons {
            1 => self.advance_features::<1>()?,
            2 => self.advance_features::<2>()?,
            3 => self.advance_features::<3>()?,
            4 => self.advance_features::<4>()?,
            k => return Err(SolverError::TooManyNeurons(k, MAX_NEURONS)),
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

/// [`ParticleSystem::sweep`] with the labels read through `rows` from `codes`.
fn sweep_with<const P: usize, const K: usize, L: LabelRows<P>>(
    update: &Update<P, K>,
    x: &mut [f64],
    codes: &[L::Code],
    rows: L,
    streams: &mut [ChunkStream],
    partial: &mut [f64],
) {
    x.par_chunks_mut(CHUNK * K)
        .zip(codes.par_chunks(CHUNK * L::WIDTH))
        .zip(streams.par_iter_mut())
        .zip(partial.par_chunks_mut(moment_width(P, K)))
        .for_each(|(((x, xi), rng), sums)| {
            rng.run(Sweep {
                update,
                x,
                xi,
                rows,
                sums,
            })
        });
}

/// [`ParticleSystem::sweep`]'s work on one chunk.
struct Sweep<'a, const P: usize, const K: usize, L: LabelRows<P>> {
    update: &'a Update<P, K>,
    x: &'a mut [f64],
    xi: &'a [L::Code],
    rows: L,
    sums: &'a mut [f64],
}

impl<const P: usize, const K: usize, L: LabelRows<P>> ChunkWork for Sweep<'_, P, K, L> {
    #[inline(always)]
    fn run<D: Deviates>(self, deviates: &mut D) {
        if D::ACCUMULATORS == ACCUMULATORS && moment_width(P, K) < ACCUMULATORS {
            sweep_chunk::<P, K, L, ACCUMULATORS, D>(self, deviates);
        } else {
            sweep_chunk::<P, K, L, 1, D>(self, deviates);
        }
    }
}

/// [`ParticleSystem::sweep`] over one chunk, block by block, with `A` accumulators per
/// moment: particle `A g + a` of a block adds to accumulator `a`, and the particles after
/// the last whole group of `A` to accumulator 0.
#[inline(always)]
fn sweep_chunk<const P: usize, const K: usize, L: LabelRows<P>, const A: usize, D: Deviates>(
    sweep: Sweep<P, K, L>,
    deviates: &mut D,
) {
    let Sweep {
        update,
        x,
        xi,
        rows,
        sums,
    } = sweep;
    let width = L::WIDTH;
    let mut moments = [Moments::<P, K>::default(); A];
    let mut eta = [0.0; BLOCK * MAX_NEURONS];
    for (x, xi) in x.chunks_mut(BLOCK * K).zip(xi.chunks(BLOCK * width)) {
        let eta = &mut eta[..x.len()];
        deviates.fill(eta);
        let mut groups = x.chunks_exact_mut(A * K);
        let mut labels = xi.chunks_exact(A * width);
        let mut noise = eta.chunks_exact(A * K);
        for ((x, xi), eta) in (&mut groups).zip(&mut labels).zip(&mut noise) {
            for (a, moments) in moments.iter_mut().enumerate() {
                particle(
                    update,
                    &mut x[a * K..][..K],
                    rows.row(&xi[a * width..][..width]),
                    &eta[a * K..][..K],
                    moments,
                );
            }
        }
        // A block's last particles that do not fill a group (in the population's last block
        // only) add to the first accumulator, which a constant index keeps in registers.
        let rest = groups.into_remainder();
        let (xi, eta) = (labels.remainder(), noise.remainder());
        for ((x, xi), eta) in rest
            .chunks_exact_mut(K)
            .zip(xi.chunks_exact(width))
            .zip(eta.chunks_exact(K))
        {
            particle(update, x, rows.row(xi), eta, &mut moments[0]);
        }
    }
    combine(&mut moments, Moments::add);
    moments[0].store(sums);
}

/// The moment sums of one accumulator: `Σ ξ_j x_k`, and `Σ x_k x_l` kept as a full matrix
/// for unrolling, of which the upper triangle (`k ≤ l`) is used.
#[derive(Clone, Copy)]
struct Moments<const P: usize, const K: usize> {
    overlaps: [[f64; K]; P],
    norm2: [[f64; K]; K],
}

impl<const P: usize, const K: usize> Default for Moments<P, K> {
    fn default() -> Self {
        Moments {
            overlaps: [[0.0; K]; P],
            norm2: [[0.0; K]; K],
        }
    }
}

impl<const P: usize, const K: usize> Moments<P, K> {
    #[inline(always)]
    fn add(&mut self, other: &Self) {
        let pairs = self
            .overlaps
            .as_flattened_mut()
            .iter_mut()
            .chain(self.norm2.as_flattened_mut());
        let values = other
            .overlaps
            .as_flattened()
            .iter()
            .chain(other.norm2.as_flattened());
        for (s, o) in pairs.zip(values) {
            *s += o;
        }
    }

    /// Into the [`moment_width`] layout.
    fn store(&self, sums: &mut [f64]) {
        sums[..P * K].copy_from_slice(self.overlaps.as_flattened());
        let upper = self.norm2.iter().enumerate().flat_map(|(a, row)| &row[a..]);
        for (sum, value) in sums[P * K..].iter_mut().zip(upper) {
            *sum = *value;
        }
    }
}

/// One particle: `x ← A x + Σ_j ξ_j b_j + S η`, the soft threshold, and its moments.
#[inline(always)]
fn particle<const P: usize, const K: usize>(
    update: &Update<P, K>,
    x: &mut [f64],
    xi: &[f32; P],
    eta: &[f64],
    moments: &mut Moments<P, K>,
) {
    let xi: [f64; P] = std::array::from_fn(|j| f64::from(xi[j]));
    let old: [f64; K] = std::array::from_fn(|k| x[k]);
    for k in 0..K {
        let (a, s) = (&update.transition[k], &update.noise[k]);
        let mut next = a[0] * old[0] + s[0] * eta[0];
        for l in 1..K {
            next += a[l] * old[l];
        }
        for l in 1..K {
            next += s[l] * eta[l];
        }
        for (drive, xi) in update.drive.iter().zip(&xi) {
            next += drive[k] * xi;
        }
        if update.threshold > 0.0 {
            next = next.signum() * (next.abs() - update.threshold).max(0.0);
        }
        x[k] = next;
    }
    for (q, xi) in moments.overlaps.iter_mut().zip(&xi) {
        for (q, x) in q.iter_mut().zip(&*x) {
            *q += xi * x;
        }
    }
    for a in 0..K {
        for b in a..K {
            moments.norm2[a][b] += x[a] * x[b];
        }
    }
}

/// The quadrature of a layer's coefficients in the particle step: coarser than the default
/// that the ODE uses. A particle run's own error, `O(1/√N)` and the scheme's `O(dt²)`
/// bias, is above 1e-4 for any `N` that fits in memory, while this rule stays within about
/// 1e-7 of the default on MODEL.md §7's example (3e-6 late in the run, where `R` is small)
/// and costs 3.6 times less. At the default, a `K = 2`, `N = 10⁶` run on one thread spent
/// about 45 % of its time on coefficients; at this resolution under 20 %.
pub const LAYER_QUADRATURE: QuadratureOptions = QuadratureOptions { resolution: 0.6 };

/// The quadrature of the particle step's coefficients: [`LAYER_QUADRATURE`] for a layer;
/// the default for one neuron, whose coefficients are cheap next to the sweep (and so
/// format-1 runs resume to exactly the earlier release's trajectory).
pub fn quadrature(problem: &Problem) -> QuadratureOptions {
    if problem.neurons == 1 {
        QuadratureOptions::default()
    } else {
        LAYER_QUADRATURE
    }
}

/// The constants of the exact OU step over `dt` for coefficients `c` (module docs).
fn update<const P: usize, const K: usize>(
    problem: &Problem,
    dt: f64,
    c: &Coefficients,
) -> Update<P, K> {
    let tau = problem.learning_rate;
    let (l1, l2) = match problem.regularizer {
        Regularizer::None => (0.0, 0.0),
        Regularizer::L2(l) => (0.0, l),
        Regularizer::L1(l) => (l, 0.0),
        Regularizer::Elastic { l1, l2 } => (l1, l2),
    };
    // G_0 − λ₂ I = U diag(ν) Uᵀ; the rates of M are μ = τ ν.
    let mut eigen = [[0.0; K]; K];
    for (k, row) in eigen.iter_mut().enumerate() {
        for (l, e) in row.iter_mut().enumerate() {
            let g = c.self_term[k * K + l];
            *e = if k == l { g - l2 } else { g };
        }
    }
    let mut u = [[0.0; K]; K];
    linalg::symmetrise(eigen.as_flattened_mut(), K);
    mfcl_model::symmetric_eigen(eigen.as_flattened_mut(), u.as_flattened_mut(), K);
    let rate: [f64; K] = std::array::from_fn(|a| tau * eigen[a][a]);
    // ∫_0^dt e^{μ s} ds without cancellation when μ dt is small.
    let gain = |mu: f64| {
        if mu == 0.0 {
            dt
        } else {
            (mu * dt).exp_m1() / mu
        }
    };
    let decay = rate.map(|mu| (mu * dt).exp());
    let mean_gain = rate.map(gain);
    // In the eigenbasis: x' = Uᵀ x, g'_j = Uᵀ g_j, V' = Uᵀ V U.
    let rotate =
        |v: &dyn Fn(usize) -> f64, a: usize| -> f64 { (0..K).map(|l| u[l][a] * v(l)).sum() };
    let transition = std::array::from_fn(|k| {
        std::array::from_fn(|l| (0..K).map(|a| u[k][a] * (decay[a] * u[l][a])).sum())
    });
    let drive = std::array::from_fn(|j| {
        let along: [f64; K] =
            std::array::from_fn(|a| tau * rotate(&|l| c.drive[j * K + l], a) * mean_gain[a]);
        std::array::from_fn(|k| (0..K).map(|a| u[k][a] * along[a]).sum())
    });
    // C = (UᵀVU) ∘ [(e^{(μ_a+μ_b) dt} − 1)/(μ_a + μ_b)], then S = τ U C^{1/2}.
    let mut covariance = [[0.0; K]; K];
    for (a, row) in covariance.iter_mut().enumerate() {
        for (b, entry) in row.iter_mut().enumerate() {
            let rotated: f64 = (0..K)
                .map(|k| u[k][a] * rotate(&|l| c.noise[k * K + l], b))
                .sum();
            *entry = rotated * gain(rate[a] + rate[b]);
        }
    }
    let (mut vectors, mut root) = ([[0.0; K]; K], [[0.0; K]; K]);
    linalg::psd_sqrt(
        covariance.as_flattened_mut(),
        vectors.as_flattened_mut(),
        root.as_flattened_mut(),
        K,
    );
    let noise = std::array::from_fn(|k| {
        std::array::from_fn(|l| tau * (0..K).map(|a| u[k][a] * root[a][l]).sum::<f64>())
    });
    Update {
        transition,
        drive,
        noise,
        threshold: tau * l1 * dt,
    }
}

/// `(3 c_n − c_{n−1}) / 2`, the midpoint value to second order, entry by entry.
fn extrapolate(now: &Coefficients, before: &Coefficients, midpoint: &mut Coefficients) {
    let mid = |out: &mut Vec<f64>, a: &[f64], b: &[f64]| {
        out.clear();
        out.extend(a.iter().zip(b).map(|(a, b)| 1.5 * a - 0.5 * b));
    };
    mid(&mut midpoint.drive, &now.drive, &before.drive);
    mid(&mut midpoint.self_term, &now.self_term, &before.self_term);
    mid(&mut midpoint.noise, &now.noise, &before.noise);
}

#[cfg(test)]
mod tests {
    use super::*;
    use mfcl_model::Config;

    /// `A B` for `k × k` matrices.
    fn mul(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
        (0..k * k)
            .map(|i| (0..k).map(|e| a[i / k * k + e] * b[e * k + i % k]).sum())
            .collect()
    }

    /// `Σ_n Mⁿ tⁿ⁺ˢ / (n + s)!` for `s = 0` (`e^{Mt}`) or `s = 1` (`∫_0^t e^{Mu} du`), by
    /// the Taylor series: 60 terms reach rounding for `|M t| ≤ 2`.
    fn series(m: &[f64], k: usize, t: f64, shift: i32) -> Vec<f64> {
        let mut term: Vec<f64> = (0..k * k)
            .map(|i| if i % (k + 1) == 0 { t.powi(shift) } else { 0.0 })
            .collect();
        let mut total = term.clone();
        for n in 1..60 {
            term = mul(&term, m, k)
                .iter()
                .map(|v| v * t / f64::from(n + shift))
                .collect();
            total.iter_mut().zip(&term).for_each(|(s, t)| *s += t);
        }
        total
    }

    /// The update's `A`, `b_j` and `S Sᵀ` against their definitions, computed another
    /// way: `e^{M dt}` and `∫ e^{Ms} ds` by Taylor series, `τ² ∫_0^dt e^{Ms} V e^{Ms} ds` by
    /// composite Simpson over 400 intervals (error ~1e-15 here).
    fn check<const P: usize, const K: usize>(problem: &Problem, dt: f64, c: &Coefficients) {
        let update = update::<P, K>(problem, dt, c);
        let tau = problem.learning_rate;
        let lambda = problem.regularizer.quadratic_strength().unwrap_or(0.0);
        let m: Vec<f64> = (0..K * K)
            .map(|i| tau * (c.self_term[i] - if i % (K + 1) == 0 { lambda } else { 0.0 }))
            .collect();
        let close = |got: f64, want: f64, what: &str| {
            assert!(
                (got - want).abs() <= 1e-13 * want.abs().max(1e-2),
                "K = {K}, {what}: {got} vs {want}"
            );
        };
        let a = series(&m, K, dt, 0);
        let integral = series(&m, K, dt, 1);
        for k in 0..K {
            for l in 0..K {
                close(update.transition[k][l], a[k * K + l], "A");
            }
            for j in 0..P {
                let want: f64 = (0..K)
                    .map(|l| tau * integral[k * K + l] * c.drive[j * K + l])
                    .sum();
                close(update.drive[j][k], want, "b");
            }
        }
        let intervals = 400;
        let h = dt / intervals as f64;
        let mut covariance = vec![0.0; K * K];
        for node in 0..=intervals {
            let e = series(&m, K, node as f64 * h, 0);
            let e_t: Vec<f64> = (0..K * K).map(|i| e[i % K * K + i / K]).collect();
            let weight = match node {
                0 => 1.0,
                n if n == intervals => 1.0,
                n if n % 2 == 1 => 4.0,
                _ => 2.0,
            } * h
                / 3.0;
            let term = mul(&mul(&e, &c.noise, K), &e_t, K);
            covariance
                .iter_mut()
                .zip(&term)
                .for_each(|(c, t)| *c += tau * tau * weight * t);
        }
        for k in 0..K {
            for l in 0..K {
                let got: f64 = (0..K)
                    .map(|e| update.noise[k][e] * update.noise[l][e])
                    .sum();
                close(got, covariance[k * K + l], "S Sᵀ");
            }
        }
    }

    #[test]
    fn exact_ornstein_uhlenbeck_constants() {
        let mut problem = Config::quickstart().problem;
        problem.learning_rate = 0.7;
        // K = 1: the scalar step.
        let single = Coefficients {
            drive: vec![0.3],
            self_term: vec![0.1],
            noise: vec![0.2],
        };
        check::<1, 1>(&problem, 0.05, &single);
        // K = 2: G_0 and V that do not commute, a large step.
        let pair = Coefficients {
            drive: vec![0.22, 0.06, 0.014, 0.16],
            self_term: vec![0.04, -0.022, -0.022, 0.063],
            noise: vec![0.21, 0.02, 0.02, 0.198],
        };
        check::<2, 2>(&problem, 0.4, &pair);
        // K = 3: G_0 − λ I with a zero and a repeated rate, and a rank-one V (semidefinite).
        let v = [0.3, -0.2, 0.5];
        let triple = Coefficients {
            drive: vec![0.1, -0.2, 0.3],
            self_term: vec![0.5, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.3],
            noise: (0..9).map(|i| v[i / 3] * v[i % 3]).collect(),
        };
        check::<1, 3>(&problem, 0.1, &triple);
        // K = 4, p = 2: a generic symmetric G_0 and V = L Lᵀ.
        let l = [
            0.5, 0.0, 0.0, 0.0, 0.1, 0.4, 0.0, 0.0, -0.2, 0.05, 0.3, 0.0, 0.0, 0.1, 0.1, 0.2,
        ];
        let g0 = [
            0.1, -0.03, 0.02, 0.0, -0.03, -0.2, 0.05, 0.01, 0.02, 0.05, 0.3, -0.04, 0.0, 0.01,
            -0.04, 0.05,
        ];
        let quad = Coefficients {
            drive: vec![0.2, 0.01, -0.05, 0.1, 0.0, 0.15, 0.02, -0.1],
            self_term: g0.to_vec(),
            noise: (0..16)
                .map(|i| (0..4).map(|e| l[i / 4 * 4 + e] * l[i % 4 * 4 + e]).sum())
                .collect(),
        };
        check::<2, 4>(&problem, 0.2, &quad);
    }

    /// The moments a step sums are the moments a resumed run recomputes from the state, to
    /// the bit, for both generators and both accumulator rules (one neuron on one feature:
    /// four accumulators; a layer: one), with a last chunk whose length is not a multiple
    /// of four.
    #[test]
    fn the_step_sums_as_the_population_does() {
        let layer = Config::parse(include_str!("../../../data/configs/layer.toml")).unwrap();
        let single = Config::quickstart();
        for config in [&single, &layer] {
            for generator in Generator::ALL {
                let n = 2 * crate::CHUNK + 1001;
                let mut system = ParticleSystem::with_generator(
                    &config.problem,
                    &config.init,
                    n,
                    0.01,
                    7,
                    generator,
                );
                for _ in 0..3 {
                    system.step().unwrap();
                }
                let recomputed = system.state().population.order_parameters();
                assert_eq!(
                    (recomputed.overlaps.clone(), recomputed.norm2.clone()),
                    (system.order.overlaps.clone(), system.order.norm2.clone()),
                    "{generator}, K = {}",
                    config.problem.neurons
                );
            }
        }
    }

    /// Beyond `MAX_NEURONS` both steppers refuse to step, with a typed error.
    #[test]
    fn too_many_neurons_is_an_error() {
        let mut problem = Config::quickstart().problem;
        let k = MAX_NEURONS + 1;
        problem.neurons = k;
        let init = OrderParameters {
            neurons: k,
            overlaps: vec![0.1; k],
            norm2: (0..k * k)
                .map(|i| if i % (k + 1) == 0 { 1.0 } else { 0.0 })
                .collect(),
        };
        let expected = Err(SolverError::TooManyNeurons(k, MAX_NEURONS));
        let mut particles = ParticleSystem::new(&problem, &init, 1000, 0.01, 1);
        assert_eq!(particles.step(), expected);
        let mut sgd = crate::Sgd::new(&problem, &init, 1000, 1);
        assert_eq!(sgd.step(), expected);
    }
}
