//! Accuracy of the particle solver and of SGD against the mathematics of MODEL.md:
//! agreement with the closed ODE under L2 (§3), second order in `dt` (§5), the `1/√N`
//! statistical error (§5), SGD and the particles describing the same limit (§1, §2), also
//! under L1 where no ODE exists, and divergence reported as an error.
//!
//! The fast tests run by default. The heavy ones are `#[ignore]`d; each says how to run it,
//! e.g. `cargo test --release -p mfcl-solver --test accuracy -- --ignored --nocapture`
//! (one at a time is better on a small machine: append the test name).
//!
//! # Statistical scale used for the tolerances
//!
//! On the quickstart (start `Q = 0.1`, escape from the unstable uninformative state), the
//! seed-to-seed standard deviation of `m(t)` of the particles, measured over 20 seeds at
//! `N = 2·10⁵`, `dt = 0.01`, is `σ(t) ≈ C(t)/√N` with `C(0.5) ≈ 0.67`, `C(1) ≈ 1.1`,
//! `C(1.5) ≈ 1.2` (the peak), `C(2) ≈ 1.05`, `C(3) ≈ 0.5`, `C(4) ≈ 0.2`: fluctuations
//! are amplified while the state escapes and damped once it settles. [`SIGMA_PEAK`] is
//! this peak. The measurement is repeated (and the `1/√N` law checked) by
//! `statistical_error_scales_as_inverse_sqrt_n`.
//!
//! The bias of the scheme on the same problem is that of its moment map (see
//! [`moment_map`]): `max_{t≤4} |m − m_ODE| ≈ 4.6e-2, 1.33e-2, 3.5e-3, 9.1e-4, 2.3e-4` at
//! `dt = 0.4, 0.2, 0.1, 0.05, 0.025`, hence about `3.6e-5` at `dt = 0.01`.

use std::time::Instant;

use mfcl_comparator::{ComparatorError, ReducedOde, Tolerance};
use mfcl_model::{
    Activation, Coefficients, Config, OrderParameters, Problem, Regularizer, Trajectory,
};
use mfcl_solver::{
    Interrupted, NORM2_BOUND, ParticleSystem, Schedule, Sgd, Silent, SolverError, drive,
};

const QUICKSTART: &str = include_str!("../../../data/configs/quickstart.toml");

/// `sup_t √N · sd(m(t))` of the particles on the quickstart (module docs).
const SIGMA_PEAK: f64 = 1.2;

fn config(overrides: &[&str]) -> Config {
    Config::parse_with(QUICKSTART, overrides).expect("valid test config")
}

fn particles(config: &Config, n: usize, dt: f64, t_end: f64, every: f64, seed: u64) -> Trajectory {
    let mut system = ParticleSystem::new(&config.problem, &config.init, n, dt, seed);
    drive(&mut system, &Schedule::new(t_end, dt, every), &mut Silent).expect("no divergence")
}

fn sgd(config: &Config, n: usize, t_end: f64, every: f64, seed: u64) -> Trajectory {
    let mut sgd = Sgd::new(&config.problem, &config.init, n, seed);
    let schedule = Schedule {
        total_steps: (t_end * n as f64).round() as u64,
        record_every: (every * n as f64).round() as u64,
    };
    drive(&mut sgd, &schedule, &mut Silent).expect("no divergence")
}

/// The ODE on the trajectory's own time grid.
fn ode_on(config: &Config, times: &[f64]) -> Trajectory {
    ReducedOde::new(&config.problem)
        .expect("L2 or none")
        .integrate_at(&config.init, times, Tolerance::default())
        .expect("the ODE integrates")
}

/// `m_1(t)` at every sample.
fn cosine1(trajectory: &Trajectory) -> Vec<f64> {
    trajectory.cosine().iter().map(|m| m[0]).collect()
}

/// `R_11(t)` at every sample.
fn norm1(trajectory: &Trajectory) -> Vec<f64> {
    trajectory.norm2.iter().map(|r| r[0]).collect()
}

fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m: f64, x| m.max(x.abs()))
}

/// Elementwise mean of equally long series.
fn mean(series: &[Vec<f64>]) -> Vec<f64> {
    let n = series.len() as f64;
    (0..series[0].len())
        .map(|k| series.iter().map(|s| s[k]).sum::<f64>() / n)
        .collect()
}

/// Elementwise sample standard deviation of equally long series.
fn spread(series: &[Vec<f64>]) -> Vec<f64> {
    let centre = mean(series);
    let n = series.len() as f64;
    (0..centre.len())
        .map(|k| {
            let ss: f64 = series.iter().map(|s| (s[k] - centre[k]).powi(2)).sum();
            (ss / (n - 1.0)).sqrt()
        })
        .collect()
}

fn short(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:+.2e}")).collect();
    format!("[{}]", parts.join(", "))
}

// ---------------------------------------------------------------------------------------
// (a) particles against the ODE
// ---------------------------------------------------------------------------------------

/// Quickstart, `N = 2·10⁵`, `dt = 0.01`, `T = 4`: `max_t |m − m_ODE|` within the
/// statistical error.
///
/// Bound: the deviation is a Gaussian process with `sd ≤ SIGMA_PEAK/√N = 2.7e-3` (module
/// docs), strongly correlated in time (its maximum over 20 seeds was 5.2e-3, the median
/// 2.5e-3); the bias at `dt = 0.01` (≈ 4e-5) is negligible. The bound `4.5 · 2.7e-3 =
/// 1.2e-2` is exceeded by such a process with probability of order 1e-4. A wrong
/// coefficient shows up far above it: the ODE's `m` moves by 0.1 and more over `t ≤ 4`.
#[test]
fn particles_match_the_ode_on_the_quickstart() {
    let start = Instant::now();
    let config = config(&[]);
    let n = 200_000;
    let trajectory = particles(&config, n, 0.01, 4.0, 0.1, 1);
    let reference = ode_on(&config, &trajectory.t);
    let error = difference(&cosine1(&trajectory), &cosine1(&reference));
    let norm_error = difference(&norm1(&trajectory), &norm1(&reference));
    let bound = 4.5 * SIGMA_PEAK / (n as f64).sqrt();
    println!(
        "N = {n}: max |m − m_ODE| = {:.3e} (bound {bound:.2e}), max |R − R_ODE| = {:.3e}, {:.1} s",
        max_abs(&error),
        max_abs(&norm_error),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(trajectory.len(), 41);
    assert!(max_abs(&error) <= bound, "m error {}", short(&error));
    // R fluctuates less than m here (σ_R·√N ≲ 1 over t ≤ 4); the same bound is generous.
    assert!(
        max_abs(&norm_error) <= bound,
        "R error {}",
        short(&norm_error)
    );
}

// ---------------------------------------------------------------------------------------
// (b) second order in dt
// ---------------------------------------------------------------------------------------

/// The right-hand side of the closed ODE (MODEL.md §3, §7) at `state` with the
/// coefficients `c` given:
/// `dQ/dt = τ (g + Q G_0 − λ Q)`, `dR/dt = τ (gᵀQ + Qᵀg + G_0 R + R G_0 − 2λR) + τ² V`.
fn ode_rhs(problem: &Problem, c: &Coefficients, state: &OrderParameters) -> OrderParameters {
    let k = state.neurons;
    let p = state.features();
    let lambda = problem
        .regularizer
        .quadratic_strength()
        .expect("L2 or none");
    let tau = problem.learning_rate;
    let q = |j: usize, a: usize| state.overlaps[j * k + a];
    let (g, g0) = (
        |j: usize, a: usize| c.drive[j * k + a],
        |a: usize, b: usize| c.self_term[a * k + b],
    );
    let overlaps = (0..p * k)
        .map(|i| {
            let (j, a) = (i / k, i % k);
            let coupling: f64 = (0..k).map(|b| q(j, b) * g0(b, a)).sum();
            tau * (g(j, a) + coupling - lambda * q(j, a))
        })
        .collect();
    let norm2 = (0..k * k)
        .map(|i| {
            let (a, b) = (i / k, i % k);
            let r = |a: usize, b: usize| state.norm2[a * k + b];
            let alignment: f64 = (0..p).map(|j| g(j, a) * q(j, b) + q(j, a) * g(j, b)).sum();
            let coupling: f64 = (0..k)
                .map(|e| g0(a, e) * r(e, b) + r(a, e) * g0(e, b))
                .sum();
            tau * (alignment + coupling - 2.0 * lambda * r(a, b)) + tau * tau * c.noise[i]
        })
        .collect();
    OrderParameters {
        neurons: k,
        overlaps,
        norm2,
    }
}

/// The particle scheme in the `N → ∞` limit, derived from its documented definition
/// (particles.rs and MODEL.md §5, §7), not from its code: with coefficients frozen at
/// `c* = (3 c(y_n) − c(y_{n−1}))/2` (`c* = c(y_0)` on the first step), each particle
/// follows the linear SDE `dx = (M x + τ Σ_j ξ_j g_j) dt + τ V^{1/2} dB`,
/// `M = τ(G_0 − λ)`, solved exactly. With `⟨ξ ξᵀ⟩ = I` its moments then follow, over the
/// step, the closed ODE with the coefficients frozen at `c*`: a linear ODE, integrated here
/// by 32 classical Runge–Kutta substeps (error below 1e-9 at the steps used, far below the
/// bias), independently of the solver's eigendecomposition.
///
/// The particles' `(Q, R)` are this map plus `O(1/√N)` noise, so its distance to the ODE
/// is the bias of the particle solver, free of statistics.
fn moment_map(config: &Config, dt: f64, steps: u64, record_every: u64) -> Trajectory {
    const SUBSTEPS: usize = 32;
    let problem = &config.problem;
    let mut state = config.init.clone();
    let mut previous: Option<Coefficients> = None;
    let mut trajectory = Trajectory::default();
    trajectory.push(0.0, &state);
    for k in 1..=steps {
        let now = problem.coefficients_with(&state, mfcl_solver::quadrature(problem));
        let mid = |a: &[f64], b: &[f64]| -> Vec<f64> {
            a.iter().zip(b).map(|(a, b)| 1.5 * a - 0.5 * b).collect()
        };
        let frozen = match &previous {
            Some(before) => Coefficients {
                drive: mid(&now.drive, &before.drive),
                self_term: mid(&now.self_term, &before.self_term),
                noise: mid(&now.noise, &before.noise),
            },
            None => now.clone(),
        };
        let h = dt / SUBSTEPS as f64;
        let axpy = |y: &OrderParameters, f: f64, d: &OrderParameters| OrderParameters {
            neurons: y.neurons,
            overlaps: y
                .overlaps
                .iter()
                .zip(&d.overlaps)
                .map(|(y, d)| y + f * d)
                .collect(),
            norm2: y
                .norm2
                .iter()
                .zip(&d.norm2)
                .map(|(y, d)| y + f * d)
                .collect(),
        };
        for _ in 0..SUBSTEPS {
            let k1 = ode_rhs(problem, &frozen, &state);
            let k2 = ode_rhs(problem, &frozen, &axpy(&state, h / 2.0, &k1));
            let k3 = ode_rhs(problem, &frozen, &axpy(&state, h / 2.0, &k2));
            let k4 = ode_rhs(problem, &frozen, &axpy(&state, h, &k3));
            for d in [(&k1, 1.0), (&k2, 2.0), (&k3, 2.0), (&k4, 1.0)] {
                state = axpy(&state, h / 6.0 * d.1, d.0);
            }
        }
        previous = Some(now);
        if k % record_every == 0 {
            trajectory.push(k as f64 * dt, &state);
        }
    }
    trajectory
}

/// The bias of the scheme at each of `dts`: `max_{t ≤ 4}` of `|measure(map) −
/// measure(ODE)|` on the grid of 0.4.
fn map_bias(config: &Config, dts: &[f64], measure: fn(&Trajectory) -> Vec<f64>) -> Vec<f64> {
    let grid: Vec<f64> = (0..=10).map(|k| k as f64 * 0.4).collect();
    let reference = measure(&ode_on(config, &grid));
    dts.iter()
        .map(|&dt| {
            let every = (0.4 / dt).round() as u64;
            let map = moment_map(config, dt, every * 10, every);
            max_abs(&difference(&measure(&map), &reference))
        })
        .collect()
}

/// The scheme's moment map is second order: halving `dt` divides the bias by a ratio that
/// tends to 4 (measured: 3.44, 3.75, 3.89, 3.95, 3.98 for dt = 0.4 → 0.2 → … → 0.0125 →
/// 0.00625, approaching 4 like `4(1 − c·dt)`, as an `A dt² + B dt³` error does). A first
/// order scheme would give 2.
#[test]
fn moment_map_of_the_scheme_is_second_order() {
    let start = Instant::now();
    let config = config(&[]);
    let dts = [0.4, 0.2, 0.1, 0.05, 0.025, 0.0125];
    let bias = map_bias(&config, &dts, cosine1);
    let ratios: Vec<f64> = bias.windows(2).map(|w| w[0] / w[1]).collect();
    println!(
        "bias {}, ratios {ratios:.3?}, {:.1} s",
        short(&bias),
        start.elapsed().as_secs_f64()
    );
    // Increasing towards 4 from below, within 3 % of it at the smallest steps.
    for w in ratios.windows(2) {
        assert!(w[0] < w[1] + 0.01, "ratios {ratios:?}");
    }
    assert!(ratios.iter().all(|r| (3.3..4.05).contains(r)), "{ratios:?}");
    assert!((ratios[ratios.len() - 1] - 4.0).abs() < 0.12, "{ratios:?}");
    // Richardson: the observed order from three consecutive steps.
    let order = ((bias[3] - bias[4]) / (bias[4] - bias[5])).log2();
    assert!((order - 2.0).abs() < 0.1, "observed order {order}");
}

/// Mean over seeds of `m(t) − m_ODE(t)` on the grid of 0.4 up to `t = 4`, and its spread.
fn particle_bias(config: &Config, n: usize, dt: f64, seeds: &[u64]) -> (Vec<f64>, Vec<f64>) {
    let errors: Vec<Vec<f64>> = seeds
        .iter()
        .map(|&seed| {
            let trajectory = particles(config, n, dt, 4.0, 0.4, seed);
            let reference = ode_on(config, &trajectory.t);
            difference(&cosine1(&trajectory), &cosine1(&reference))
        })
        .collect();
    (mean(&errors), spread(&errors))
}

/// Halving `dt` from 0.4 to 0.2 divides the particles' error against the ODE by about 4.
///
/// At these steps the bias (≈ 4.6e-2 and 1.33e-2, see [`moment_map`]) dwarfs the noise of
/// the mean of 2 runs of `N = 4·10⁶` (sd ≤ 1.2/√(8·10⁶) ≈ 4.2e-4), so the measured ratio
/// is the bias ratio 3.44 ± 0.11 (1 sd). `[3, 5]` separates second order (→ 4; 3.44 at
/// this large step) from first order (→ 2) with a margin of four standard deviations.
/// The particles' mean error must also match the moment map's, time by time, within
/// 5 sd: the bias is the documented scheme's and nothing else's.
#[test]
fn halving_dt_quarters_the_error() {
    let start = Instant::now();
    let config = config(&[]);
    let (n, seeds) = (4_000_000, [1, 2]);
    let noise = SIGMA_PEAK / ((n * seeds.len()) as f64).sqrt();
    let mut worst = Vec::new();
    for dt in [0.4, 0.2] {
        let (error, sd) = particle_bias(&config, n, dt, &seeds);
        let every = (0.4 / dt).round() as u64;
        let map = moment_map(&config, dt, every * 10, every);
        let map_error = difference(&cosine1(&map), &cosine1(&ode_on(&config, &map.t)));
        let gap = difference(&error, &map_error);
        println!(
            "dt = {dt}: mean error {}, seed sd {}, particles − map {}",
            short(&error),
            short(&sd),
            short(&gap)
        );
        assert!(
            max_abs(&gap) < 5.0 * noise,
            "particles off their moment map at dt = {dt}"
        );
        worst.push(max_abs(&error));
    }
    let ratio = worst[0] / worst[1];
    println!(
        "max error {}, ratio {ratio:.3} (map: 3.44), {:.1} s",
        short(&worst),
        start.elapsed().as_secs_f64()
    );
    assert!((3.0..=5.0).contains(&ratio), "err(0.4)/err(0.2) = {ratio}");
}

/// Thorough version: `dt = 0.4, 0.2, 0.1`, `N = 1.6·10⁷`, 4 seeds.
///
/// The mean of 4 runs has sd ≤ 1.2/√(6.4·10⁷) = 1.5e-4 against a bias of 3.5e-3 at
/// `dt = 0.1`, so `err(0.2)/err(0.1)` is `3.75 ± 0.16` (the moment map's 3.75) and
/// `err(0.4)/err(0.2)` is `3.44 ± 0.05`; both must lie in `[3.2, 4.6]`, at least 3 sd
/// from either end, with first order (2) far outside.
///
/// `cargo test --release -p mfcl-solver --test accuracy -- --ignored --nocapture halving_dt_thorough`
/// (about 20 s on 2 cores, 200 MB).
#[test]
#[ignore = "heavy: 4.5e9 particle steps"]
fn halving_dt_thorough() {
    let start = Instant::now();
    let config = config(&[]);
    let (n, seeds) = (16_000_000, [11, 12, 13, 14]);
    let worst: Vec<f64> = [0.4, 0.2, 0.1]
        .iter()
        .map(|&dt| {
            let (error, sd) = particle_bias(&config, n, dt, &seeds);
            println!(
                "dt = {dt}: mean error {}, seed sd {}",
                short(&error),
                short(&sd)
            );
            max_abs(&error)
        })
        .collect();
    let ratios = [worst[0] / worst[1], worst[1] / worst[2]];
    println!(
        "max error {}, ratios {ratios:.3?} (map: 3.44, 3.75), {:.1} s",
        short(&worst),
        start.elapsed().as_secs_f64()
    );
    for r in ratios {
        assert!((3.2..=4.6).contains(&r), "ratios {ratios:?}");
    }
}

// ---------------------------------------------------------------------------------------
// (c) 1/√N
// ---------------------------------------------------------------------------------------

/// Each fourfold increase of `N` halves the statistical error.
///
/// Error: the root mean square over 256 seeds and over `t ∈ {1, 1.5, 2}` (the escape,
/// where it is largest) of `m − m_ODE`, at `dt = 0.01` where the bias (≈ 4e-5) is below 3 %
/// of the noise even at the largest size (≈ 2e-3), i.e. it inflates the RMS by < 0.1 %.
/// Sizes `N = 2·10⁴, 8·10⁴, 3.2·10⁵`, each with its own seeds (runs of different sizes
/// with one seed share chunk streams, hence noise). Measured separately with 200 seeds
/// per point, `√N·rms` is constant within its noise (≈ 4 %) from `N = 5·10³` up:
/// 0.95–1.00, 1.04–1.07, 1.04–1.09, 0.97–1.06 at `N = 5·10³, 10⁴, 2·10⁴, 4·10⁴`.
///
/// Tolerance: with ≥ 256 independent samples per size (the three times are correlated, so
/// count each seed once) the RMS has a relative sd ≤ 1/√512 = 4.4 %, a ratio of two
/// ≤ 6.3 %: `rms(N)/rms(4N) = 2 ± 0.125` → accept `[1.6, 2.5]`; `rms(N)/rms(16N) =
/// 4 ± 0.25` → accept `[3.2, 5.0]` (≥ 3.2 sd each side; a `1/N` law (4, 16) or none
/// (1, 1) is far out).
///
/// `cargo test --release -p mfcl-solver --test accuracy -- --ignored --nocapture statistical_error`
/// (about 100 s on 2 cores).
#[test]
#[ignore = "heavy: 768 runs"]
fn statistical_error_scales_as_inverse_sqrt_n() {
    let start = Instant::now();
    let config = config(&[]);
    let seeds = 256;
    let sizes = [20_000, 80_000, 320_000];
    let times = [1.0, 1.5, 2.0];
    let reference = ode_on(&config, &[0.0, 1.0, 1.5, 2.0]);
    let m_ref = &cosine1(&reference)[1..];
    let rms: Vec<f64> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut sum = 0.0;
            for s in 0..seeds {
                let trajectory = particles(&config, n, 0.01, 2.0, 0.5, 10_000 * (i as u64 + 1) + s);
                let m = cosine1(&trajectory);
                for (t, m_ref) in times.iter().zip(m_ref) {
                    let k = trajectory
                        .t
                        .iter()
                        .position(|s| (s - t).abs() < 1e-9)
                        .unwrap();
                    sum += (m[k] - m_ref).powi(2);
                }
            }
            (sum / (seeds as usize * times.len()) as f64).sqrt()
        })
        .collect();
    let scaled: Vec<f64> = rms
        .iter()
        .zip(sizes)
        .map(|(r, n)| r * (n as f64).sqrt())
        .collect();
    let ratios = [rms[0] / rms[1], rms[1] / rms[2], rms[0] / rms[2]];
    println!(
        "rms {}, √N·rms {scaled:.3?}, ratios {ratios:.3?}, {:.1} s",
        short(&rms),
        start.elapsed().as_secs_f64()
    );
    assert!(
        (1.6..=2.5).contains(&ratios[0]) && (1.6..=2.5).contains(&ratios[1]),
        "{ratios:?}"
    );
    assert!((3.2..=5.0).contains(&ratios[2]), "{ratios:?}");
    // And the constant agrees with the one the tolerances above rely on.
    assert!(scaled.iter().all(|c| (0.7..=1.5).contains(c)), "{scaled:?}");
}

// ---------------------------------------------------------------------------------------
// (d) the acceptance check
// ---------------------------------------------------------------------------------------

/// The acceptance check: quickstart, `N = 10⁶`, `dt = 0.01`, `t ∈ [0, 10]`:
/// `max_t |m − m_ODE| ≤ 6e-3` for each of 4 seeds and `≤ 3e-3` for their mean trajectory.
/// (Expected: per seed sd ≤ 1.2e-3, mean of 4 ≤ 6e-4, bias ≈ 4e-5.)
///
/// `cargo test --release -p mfcl-solver --test accuracy -- --ignored --nocapture acceptance`
/// (about 10 s on 2 cores).
#[test]
#[ignore = "heavy: 4 runs of 10⁶ particles × 1000 steps"]
fn acceptance_quickstart_million_particles() {
    let start = Instant::now();
    let config = config(&[]);
    let runs: Vec<Vec<f64>> = (1..=4)
        .map(|seed| cosine1(&particles(&config, 1_000_000, 0.01, 10.0, 0.1, seed)))
        .collect();
    let grid: Vec<f64> = (0..=100).map(|k| k as f64 * 0.1).collect();
    let reference = cosine1(&ode_on(&config, &grid));
    let per_seed: Vec<f64> = runs
        .iter()
        .map(|m| max_abs(&difference(m, &reference)))
        .collect();
    let of_mean = max_abs(&difference(&mean(&runs), &reference));
    println!(
        "max |m − m_ODE| per seed {}, of the mean {of_mean:.3e}, {:.1} s",
        short(&per_seed),
        start.elapsed().as_secs_f64()
    );
    assert!(per_seed.iter().all(|e| *e <= 6e-3), "{per_seed:?}");
    assert!(of_mean <= 3e-3, "{of_mean}");
}

// ---------------------------------------------------------------------------------------
// (e) SGD against the ODE
// ---------------------------------------------------------------------------------------

/// SGD at `n = 2·10⁴` from `Q = 0.6`, `T = 10`, mean of 2 seeds: within 0.02 of the ODE in
/// `m` (its fluctuations are `O(1/√n)`, about 3e-3 per seed here; a start away from the
/// unstable state keeps them from being amplified).
///
/// `cargo test --release -p mfcl-solver --test accuracy -- --ignored --nocapture sgd_matches`
/// (about 2 minutes on 2 cores: 4·10⁵ SGD steps).
#[test]
#[ignore = "heavy: 4e5 SGD steps in dimension 2e4"]
fn sgd_matches_the_ode() {
    let start = Instant::now();
    let config = config(&["init.overlaps=[0.6]"]);
    let n = 20_000;
    let runs: Vec<Trajectory> = [1, 2]
        .iter()
        .map(|&seed| sgd(&config, n, 10.0, 0.1, seed))
        .collect();
    let reference = cosine1(&ode_on(&config, &runs[0].t));
    let m: Vec<Vec<f64>> = runs.iter().map(cosine1).collect();
    let per_seed: Vec<f64> = m
        .iter()
        .map(|m| max_abs(&difference(m, &reference)))
        .collect();
    let error = difference(&mean(&m), &reference);
    println!(
        "max |m − m_ODE| per seed {}, of the mean {:.3e}; final m {:.4} vs {:.4}; {:.1} s",
        short(&per_seed),
        max_abs(&error),
        mean(&m).last().unwrap(),
        reference.last().unwrap(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(runs[0].len(), 101);
    assert!(max_abs(&error) <= 0.02, "{}", short(&error));
}

// ---------------------------------------------------------------------------------------
// (f) L1: particles against SGD
// ---------------------------------------------------------------------------------------

/// L1 with sparse features, where no ODE exists: SGD (the definition, §1) and the particles
/// (the limit, §2) must agree within SGD's statistical error.
///
/// Problem: the quickstart with `feature_law = "sparse:0.2"`, `l1` with `λ = 0.1` instead
/// of L2, start `Q = 0.3`, `T = 5`. With λ = 0.1 the regularizer matters: at `t = 5` the
/// particles give `(m, R) ≈ (0.864, 2.87)`, against `(0.843, 3.29)` at λ = 0.05 and
/// `(0.898, 2.24)` at λ = 0.2. The start at 0.3 limits the amplification of SGD's noise
/// during the escape.
///
/// Particles: `N = 2·10⁶`, `dt = 0.01` (the L1 prox step is first order, but halving `dt`
/// changes `m(5)` by < 1e-4, far below SGD's noise). SGD: `n = 2·10⁴`, 6 seeds. At each
/// recorded time the difference of the means is compared with the standard error of the
/// SGD mean, `s/√6` where `s` is the largest seed standard deviation over the times (one
/// conservative scale, instead of 6-sample estimates at each time, which are unreliable):
/// `|mean_SGD − particles| ≤ 4 s/√6 + 4 s/10` (the second term for the particles' own
/// noise: `N = 100 n`). Power: the same SGD runs must be clearly (3× the bound) away in `R`
/// from the particles at λ/2, so the check would notice a factor 2 in either level's L1.
///
/// `cargo test --release -p mfcl-solver --test accuracy -- --ignored --nocapture l1_particles`
/// (about 3 minutes on 2 cores).
#[test]
#[ignore = "heavy: 6 SGD runs of 1e5 steps in dimension 2e4"]
fn l1_particles_agree_with_sgd() {
    let start = Instant::now();
    let config = config(&[
        "model.feature_law=\"sparse:0.2\"",
        "train.regularizer=\"l1\"",
        "train.strength=0.1",
        "init.overlaps=[0.3]",
    ]);
    assert!(matches!(
        ReducedOde::new(&config.problem),
        Err(ComparatorError::NoClosedOde("l1"))
    ));
    let (t_end, every) = (5.0, 0.5);
    let n = 20_000;
    let seeds = 6;
    let reference = particles(&config, 2_000_000, 0.01, t_end, every, 1);
    let runs: Vec<Trajectory> = (1..=seeds)
        .map(|seed| sgd(&config, n, t_end, every, seed))
        .collect();
    assert!(runs.iter().all(|r| r.t.len() == reference.t.len()));
    for (name, of) in [("m", cosine1 as fn(&Trajectory) -> Vec<f64>), ("R", norm1)] {
        let series: Vec<Vec<f64>> = runs.iter().map(of).collect();
        let gap = difference(&mean(&series), &of(&reference));
        let sd = spread(&series);
        let scale = max_abs(&sd) / (seeds as f64).sqrt();
        // Particle noise: N = 100 n, so a tenth of SGD's single-run noise.
        let particle_noise = max_abs(&sd) / 10.0;
        println!(
            "{name}: particles {}, SGD mean − particles {}, SGD sd {}, bound {:.2e}",
            short(&of(&reference)),
            short(&gap),
            short(&sd),
            4.0 * scale + 4.0 * particle_noise
        );
        assert!(
            max_abs(&gap) <= 4.0 * scale + 4.0 * particle_noise,
            "{name}: {}",
            short(&gap)
        );
    }
    // Power: λ/2 in the particles is rejected by a wide margin in R.
    let mut halved = config.clone();
    halved.problem.regularizer = Regularizer::L1(0.05);
    let other = particles(&halved, 2_000_000, 0.01, t_end, every, 1);
    let series: Vec<Vec<f64>> = runs.iter().map(norm1).collect();
    let sd = max_abs(&spread(&series));
    let bound = 4.0 * sd / (seeds as f64).sqrt() + 4.0 * sd / 10.0;
    let gap = max_abs(&difference(&mean(&series), &norm1(&other)));
    println!("R against the particles at λ/2: max gap {gap:.3e} (bound {bound:.2e})");
    assert!(
        gap > 3.0 * bound,
        "SGD cannot tell λ from λ/2: {gap} vs {bound}"
    );
    println!("{:.1} s", start.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------
// (g) divergence
// ---------------------------------------------------------------------------------------

/// Linear activation, no regularizer, `τ = 5`: `g_0 = 2 σ_a² > 0` and `g_1 = 2⟨c²⟩ Q`, so
/// `Q` grows like `e^{τ (g_1/Q + g_0) t} = e^{50 t}` and `R ≥ Q²` passes `NORM2_BOUND` well
/// before `t = 1`. The driver must stop with `SolverError::Diverged`, keeping what it
/// recorded (at least `t = 0`), every recorded sample finite and within the bound.
#[test]
fn divergence_is_reported_with_the_trajectory_so_far() {
    // `train.strength` cannot be removed by an override: edit the parsed problem.
    let mut config = config(&["model.activation=\"linear\"", "train.learning_rate=5.0"]);
    config.problem.regularizer = Regularizer::None;
    assert_eq!(config.problem.activation, Activation::Linear);
    let check = |outcome: Result<Trajectory, Interrupted>, what: &str| -> f64 {
        let Err(Interrupted { error, trajectory }) = outcome else {
            panic!("{what}: the run did not diverge");
        };
        let SolverError::Diverged { t, reason } = &error else {
            panic!("{what}: {error:?}");
        };
        println!("{what}: {error} ({} samples)", trajectory.len());
        assert!(!trajectory.is_empty(), "{what}: nothing recorded");
        assert_eq!(trajectory.t[0], 0.0);
        assert!(*t > 0.0 && *t < 1.0, "{what}: t = {t}");
        assert!(
            trajectory.t.iter().all(|s| s < t),
            "{what}: samples after the failure"
        );
        assert!(
            trajectory
                .norm2
                .iter()
                .flatten()
                .all(|r| r.is_finite() && *r <= NORM2_BOUND),
            "{what}: a divergent sample was recorded"
        );
        assert!(
            reason.contains("exceeds") || reason.contains("non-finite"),
            "{reason}"
        );
        *t
    };

    let mut system = ParticleSystem::new(&config.problem, &config.init, 20_000, 0.01, 1);
    let t_particles = check(
        drive(&mut system, &Schedule::new(10.0, 0.01, 0.05), &mut Silent),
        "particles",
    );
    let mut sgd = Sgd::new(&config.problem, &config.init, 2_000, 1);
    let schedule = Schedule {
        total_steps: 20_000,
        record_every: 20,
    };
    check(drive(&mut sgd, &schedule, &mut Silent), "sgd");

    // The ODE blows up too, at about the same time.
    let ode = ReducedOde::new(&config.problem).unwrap();
    let Err(ComparatorError::Diverged { t: t_ode, .. }) =
        ode.integrate(&config.init, 10.0, 0.05, Tolerance::default())
    else {
        panic!("the ODE did not diverge");
    };
    println!("divergence: particles at t = {t_particles}, ODE at t = {t_ode}");
    assert!(
        (t_particles - t_ode).abs() < 0.05 + 0.2 * t_ode,
        "{t_particles} vs {t_ode}"
    );
}

// ---------------------------------------------------------------------------------------
// (h) several neurons (MODEL.md §7)
// ---------------------------------------------------------------------------------------

const TWO_FEATURES: &str = include_str!("../../../data/configs/two_features.toml");

/// MODEL.md §7's worked example as a run (`data/configs/layer.toml`): `p = 2`, `K = 2`,
/// `β = 1`, from `Q(0) = [[0.3, 0.05], [0.05, 0.3]]`, `R(0) = I` (the start of its SGD
/// check).
fn layer(overrides: &[&str]) -> Config {
    Config::parse_with(include_str!("../../../data/configs/layer.toml"), overrides)
        .expect("valid test config")
}

/// Every `m_jk` (row-major) and `R_kl` (`k ≤ l`) at each sample: what the checks
/// bound.
fn components(trajectory: &Trajectory) -> Vec<Vec<f64>> {
    (0..trajectory.len())
        .map(|i| {
            let state = trajectory.state(i);
            let mut row = state.cosine();
            row.extend(state.coordinates()[state.overlaps.len()..].iter().copied());
            row
        })
        .collect()
}

/// [`components`] of every sample, flattened.
fn all_components(trajectory: &Trajectory) -> Vec<f64> {
    components(trajectory).concat()
}

/// `max_t |a − b|` per component of [`components`].
fn deviation(a: &Trajectory, b: &Trajectory) -> Vec<f64> {
    let (a, b) = (components(a), components(b));
    assert_eq!(a.len(), b.len());
    (0..a[0].len())
        .map(|c| {
            a.iter()
                .zip(&b)
                .fold(0.0f64, |m, (a, b)| m.max((a[c] - b[c]).abs()))
        })
        .collect()
}

/// The scheme's moment map for `K = 2` is second order: halving `dt` divides its distance to
/// the ODE (every `m_jk` and `R_kl`, `t ≤ 4`) by a ratio that tends to 4.
#[test]
fn moment_map_of_the_scheme_is_second_order_k2() {
    let start = Instant::now();
    let config = layer(&[]);
    let dts = [0.4, 0.2, 0.1, 0.05];
    let bias = map_bias(&config, &dts, all_components);
    let ratios: Vec<f64> = bias.windows(2).map(|w| w[0] / w[1]).collect();
    println!(
        "K = 2: bias {}, ratios {ratios:.3?}, {:.1} s",
        short(&bias),
        start.elapsed().as_secs_f64()
    );
    assert!(ratios.iter().all(|r| (3.0..4.6).contains(r)), "{ratios:?}");
}

/// `sup_t √N · sd` of every `m_jk` and `R_kl` of the particles on [`layer`] (`dt = 0.05`,
/// `t ≤ 4`): 1.05–1.11 measured over 64 seeds at each of `N = 2·10⁴, 8·10⁴, 3.2·10⁵` by
/// `statistical_error_k2` (the RMS over components and times is `0.50/√N`). This start is
/// away from the unstable uninformative state, so fluctuations are not amplified much.
const SIGMA_PEAK_K2: f64 = 1.15;

/// `K = 2` particles, `N = 2·10⁵`, `dt = 0.05`, `t ≤ 4`: every `m_jk` and `R_kl` within
/// the statistical error of the ODE.
///
/// Bound: each deviation is a Gaussian process with `sd ≤ SIGMA_PEAK_K2/√N = 2.6e-3`,
/// correlated in time; the bias at `dt = 0.05` is 2.3e-4 (see
/// `moment_map_of_the_scheme_is_second_order_k2`). `4.5 sd = 1.16e-2` is exceeded by one
/// of the 7 components with probability of order 1e-4; a wrong coefficient or a wrong
/// coupling between neurons moves the state by 0.1 and more over `t ≤ 4`.
#[test]
fn particles_match_the_ode_k2() {
    let start = Instant::now();
    let config = layer(&[]);
    let n = 200_000;
    let trajectory = particles(&config, n, 0.05, 4.0, 0.4, 1);
    let reference = ode_on(&config, &trajectory.t);
    let error = deviation(&trajectory, &reference);
    let bound = 4.5 * SIGMA_PEAK_K2 / (n as f64).sqrt();
    println!(
        "K = 2, N = {n}: max |Δ| per m_jk, R_kl {} (bound {bound:.2e}), final {:.4?}, {:.1} s",
        short(&error),
        components(&reference).last().unwrap(),
        start.elapsed().as_secs_f64()
    );
    assert!(error.iter().all(|e| *e <= bound), "{}", short(&error));
    // MODEL.md §7: neuron 1 ends on feature 1, neuron 2 on feature 2.
    let last = trajectory.state(trajectory.len() - 1).cosine();
    assert!(last[0] > 0.8 && last[3] > 0.8 && last[1].abs() < 0.1 && last[2].abs() < 0.1);
}

/// Halving `dt` from 0.4 to 0.2 divides the `K = 2` particles' error against the ODE by
/// about 4, and the particles' mean error is that of the documented scheme's moment map
/// ([`moment_map`]) within the noise: the `K`-dimensional Ornstein–Uhlenbeck step is exact
/// and second order.
///
/// At these steps the bias (1.39e-2 and 3.61e-3, map ratio 3.84) dwarfs the noise of the
/// mean of 4 runs of `N = 4·10⁶` (sd ≤ 1.15/√(1.6·10⁷) = 2.9e-4), so the measured ratio is
/// `3.84 ± 0.3` (1 sd, from the noise on the smaller error); `[3, 5]` separates second order
/// from first (→ 2) by 3 sd. The gap to the map must stay within 5 sd at every time and
/// component.
#[test]
fn halving_dt_quarters_the_error_k2() {
    let start = Instant::now();
    let config = layer(&[]);
    let (n, seeds) = (4_000_000, [1, 2, 3, 4]);
    let noise = SIGMA_PEAK_K2 / ((n * seeds.len()) as f64).sqrt();
    let grid: Vec<f64> = (0..=10).map(|k| k as f64 * 0.4).collect();
    let reference = all_components(&ode_on(&config, &grid));
    let mut worst = Vec::new();
    for dt in [0.4, 0.2] {
        let runs: Vec<Vec<f64>> = seeds
            .iter()
            .map(|&seed| all_components(&particles(&config, n, dt, 4.0, 0.4, seed)))
            .collect();
        let error = difference(&mean(&runs), &reference);
        let every = (0.4 / dt).round() as u64;
        let map = all_components(&moment_map(&config, dt, every * 10, every));
        let gap = difference(&mean(&runs), &map);
        println!(
            "K = 2, dt = {dt}: max error {:.3e}, max |particles − map| {:.3e} (5 sd = {:.2e})",
            max_abs(&error),
            max_abs(&gap),
            5.0 * noise
        );
        assert!(
            max_abs(&gap) < 5.0 * noise,
            "particles off their moment map at dt = {dt}: {}",
            short(&gap)
        );
        worst.push(max_abs(&error));
    }
    let ratio = worst[0] / worst[1];
    println!(
        "K = 2: ratio {ratio:.3} (map: 3.84), {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!((3.0..=5.0).contains(&ratio), "err(0.4)/err(0.2) = {ratio}");
}

/// The acceptance check for `K = 2`, `p = 2`: `N = 10⁶`, `dt = 0.01`, `t ≤ 10`: the
/// maximum deviation from the ODE of every `m_jk` and `R_kl` is ≤ 6e-3, for each of 2
/// seeds. (Expected: sd ≤ 1.15/√N = 1.2e-3 per component, bias ≈ 1e-5; measured: 2.0e-3
/// and 1.3e-3 at most.)
///
/// `cargo test -p mfcl-solver --test accuracy -- --ignored --nocapture acceptance_k2`
#[test]
#[ignore = "heavy: 2 runs of 10⁶ particles × 1000 steps, K = 2"]
fn acceptance_k2_million_particles() {
    let start = Instant::now();
    let config = layer(&[]);
    let grid: Vec<f64> = (0..=100).map(|k| k as f64 * 0.1).collect();
    let reference = ode_on(&config, &grid);
    for seed in [1, 2] {
        let run = Instant::now();
        let trajectory = particles(&config, 1_000_000, 0.01, 10.0, 0.1, seed);
        let error = deviation(&trajectory, &reference);
        println!(
            "K = 2, N = 10⁶, seed {seed}: max |Δ| per m_jk, R_kl {} ({:.1} s)",
            short(&error),
            run.elapsed().as_secs_f64()
        );
        assert!(error.iter().all(|e| *e <= 6e-3), "{}", short(&error));
    }
    println!(
        "final state {:.4?}, {:.1} s",
        components(&reference).last().unwrap(),
        start.elapsed().as_secs_f64()
    );
}

/// For `K = 2`, each fourfold increase of `N` halves the statistical error.
///
/// Error: the root mean square over 64 seeds, the 7 components and `t ∈ {1, 2, 3, 4}` of
/// the particles' deviation from the scheme's own moment map at the same `dt = 0.05` (so
/// that the bias, 2.3e-4 here, does not enter). Sizes `N = 2·10⁴, 8·10⁴, 3.2·10⁵`, each
/// with its own seeds. With 64 seeds the RMS has a relative sd of about 4–9 % (the samples
/// are correlated across components and times, so at least 64 are independent), a ratio of
/// two at most 13 %: `rms(N)/rms(4N) = 2` is accepted in `[1.5, 2.6]`, `rms(N)/rms(16N) = 4`
/// in `[3, 5.3]`. Also prints `sup √N · sd` over components and times (the constant
/// [`SIGMA_PEAK_K2`] bounds).
///
/// `cargo test -p mfcl-solver --test accuracy -- --ignored --nocapture statistical_error_k2`
#[test]
#[ignore = "heavy: 192 runs with K = 2"]
fn statistical_error_k2() {
    let start = Instant::now();
    let config = layer(&[]);
    let (seeds, dt) = (64, 0.05);
    let sizes = [20_000, 80_000, 320_000];
    let map = components(&moment_map(&config, dt, 80, 20));
    let mut peaks = Vec::new();
    let rms: Vec<f64> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let runs: Vec<Vec<f64>> = (0..seeds)
                .map(|s| {
                    let seed = 10_000 * (i as u64 + 1) + s;
                    let trajectory = particles(&config, n, dt, 4.0, 1.0, seed);
                    difference(&components(&trajectory)[1..].concat(), &map[1..].concat())
                })
                .collect();
            peaks.push(max_abs(&spread(&runs)) * (n as f64).sqrt());
            let squares: f64 = runs.iter().flatten().map(|e| e * e).sum();
            (squares / (runs.len() * runs[0].len()) as f64).sqrt()
        })
        .collect();
    let scaled: Vec<f64> = rms
        .iter()
        .zip(sizes)
        .map(|(r, n)| r * (n as f64).sqrt())
        .collect();
    let ratios = [rms[0] / rms[1], rms[1] / rms[2], rms[0] / rms[2]];
    println!(
        "K = 2: rms {}, √N·rms {scaled:.3?}, ratios {ratios:.3?}, sup √N·sd {peaks:.3?}, {:.1} s",
        short(&rms),
        start.elapsed().as_secs_f64()
    );
    assert!(
        (1.5..=2.6).contains(&ratios[0]) && (1.5..=2.6).contains(&ratios[1]),
        "{ratios:?}"
    );
    assert!((3.0..=5.3).contains(&ratios[2]), "{ratios:?}");
}

/// SGD runs of a layer at dimension `n` up to `t_end` (recorded every 0.1), one per seed,
/// and the ODE on their grid.
fn sgd_runs(config: &Config, n: usize, t_end: f64, seeds: &[u64]) -> (Vec<Trajectory>, Trajectory) {
    let runs: Vec<Trajectory> = seeds
        .iter()
        .map(|&seed| sgd(config, n, t_end, 0.1, seed))
        .collect();
    let reference = ode_on(config, &runs[0].t);
    (runs, reference)
}

/// `K = 2` SGD at `n = 2·10⁴` stays within 0.03 of the ODE in every `m_jk` and `R_kl` over
/// `t ≤ 10`, for each of 2 seeds (measured: 0.013 and 0.010 at most).
///
/// `cargo test -p mfcl-solver --test accuracy -- --ignored --nocapture sgd_k2`
#[test]
#[ignore = "heavy: 2 SGD runs of 2·10⁵ steps, K = 2"]
fn sgd_k2_matches_the_ode() {
    let start = Instant::now();
    let config = layer(&[]);
    let (runs, reference) = sgd_runs(&config, 20_000, 10.0, &[1, 2]);
    for (seed, run) in [1, 2].iter().zip(&runs) {
        let error = deviation(run, &reference);
        println!(
            "K = 2 SGD, n = 2·10⁴, seed {seed}: max |Δ| per m_jk, R_kl {}",
            short(&error)
        );
        assert!(error.iter().all(|e| *e <= 0.03), "{}", short(&error));
    }
    println!("{:.1} s", start.elapsed().as_secs_f64());
}

/// MODEL.md §7's SGD check: from `Q(0) = [[0.3, 0.05], [0.05, 0.3]]`, `R(0) = I`, the max
/// deviation from the ODE over `t ≤ 4` is about 0.02 at `n = 5000` and 0.011 at
/// `n = 20000`; with a negative sample (`t ≤ 3`) 0.038 and 0.018.
///
/// Errors here are the largest over every `m_jk` and `R_kl` on the grid of 0.1, per seed,
/// then averaged over 4 seeds. Single-run maxima are noise: they scatter by ±50 % between
/// seeds (with a negative at `n = 20000`, 0.011 to 0.043 over 12 seeds, mean 0.027, while
/// the mean of 8 seeds sits within 3 standard errors of the ODE everywhere: no bias). So the
/// checks are: each mean maximum within a factor 2 of the documented figure; the fall from
/// `n = 5000` to `20000` in `[1.3, 3]` (`1/√n`: 2); the mean trajectory at `n = 20000` within
/// `4 s/√4` of the ODE (`s` the largest seed standard deviation); and neuron 1 ending on
/// feature 1, neuron 2 on feature 2.
///
/// `cargo test -p mfcl-solver --test accuracy -- --ignored --nocapture model_section_7`
/// (about 10 minutes on 2 cores).
#[test]
#[ignore = "heavy: 16 SGD runs, K = 2"]
fn sgd_check_of_model_section_7() {
    let start = Instant::now();
    let seeds = [1, 2, 3, 4];
    for (overrides, t_end, documented) in [
        (&[][..], 4.0, [0.02, 0.011]),
        (&["model.negatives=1"][..], 3.0, [0.038, 0.018]),
    ] {
        let config = layer(overrides);
        let mut errors = Vec::new();
        for n in [5_000, 20_000] {
            let (runs, reference) = sgd_runs(&config, n, t_end, &seeds);
            let worst: Vec<f64> = runs
                .iter()
                .map(|r| max_abs(&deviation(r, &reference)))
                .collect();
            let series: Vec<Vec<f64>> = runs.iter().map(all_components).collect();
            let gap = max_abs(&difference(&mean(&series), &all_components(&reference)));
            let scale = max_abs(&spread(&series)) / (seeds.len() as f64).sqrt();
            println!(
                "{overrides:?}, n = {n}: max error per seed {}, mean {:.3e}; mean of seeds − ODE {gap:.3e} (4 se {:.3e})",
                short(&worst),
                worst.iter().sum::<f64>() / worst.len() as f64,
                4.0 * scale
            );
            errors.push(worst.iter().sum::<f64>() / worst.len() as f64);
            if n == 20_000 {
                assert!(gap <= 4.0 * scale, "{gap} vs {}", 4.0 * scale);
                let end = runs.iter().map(|r| r.state(r.len() - 1).cosine());
                for m in end.chain([reference.state(reference.len() - 1).cosine()]) {
                    assert!(
                        m[0] > 0.5 && m[3] > 0.5 && m[1].abs() < 0.1 && m[2].abs() < 0.1,
                        "{m:?}"
                    );
                }
            }
        }
        let ratio = errors[0] / errors[1];
        println!(
            "{overrides:?}: mean max error {} (MODEL.md: {documented:?}), ratio {ratio:.2}",
            short(&errors)
        );
        for (e, d) in errors.iter().zip(documented) {
            assert!(*e <= 2.0 * d && *e >= d / 2.0, "{e} vs {d}");
        }
        assert!((1.3..=3.0).contains(&ratio), "{ratio}");
    }
    println!("{:.1} s", start.elapsed().as_secs_f64());
}

/// `K = 3`, `p = 3`: SGD stays within its statistical error of the ODE.
///
/// Three rademacher-like features (rademacher, `sparse:0.6`, rademacher; scale 2), `β = 1`,
/// start `Q_jk = 0.3 δ_jk + 0.05 (1 − δ_jk)`, `R = I`, `n = 5000`, `t ≤ 3`, 6 seeds. At every
/// time and component the mean of the seeds must lie within `4 s/√6` of the ODE, with `s`
/// the largest seed standard deviation over times (one conservative scale), plus 0.004
/// for SGD's own `O(1/n)` bias.
///
/// `cargo test -p mfcl-solver --test accuracy -- --ignored --nocapture sgd_k3`
#[test]
#[ignore = "heavy: 6 SGD runs with K = 3 and a K = 3 ODE"]
fn sgd_k3_within_statistical_error() {
    let start = Instant::now();
    let mut config = Config::parse(
        &TWO_FEATURES
            .replace("features = 2", "features = 3")
            .replace(
                "[model.noise]",
                "[[model.hidden]]\nlaw = \"rademacher\"\nscale = 2.0\n\n[model.noise]",
            )
            .replace("overlaps = [0.1, 0.05]", "overlaps = [0.1, 0.05, 0.0]"),
    )
    .expect("valid K = 3 config");
    config.problem.neurons = 3;
    config.problem.decorrelation = 1.0;
    config.init = OrderParameters {
        neurons: 3,
        overlaps: (0..9)
            .map(|i| if i % 4 == 0 { 0.3 } else { 0.05 })
            .collect(),
        norm2: (0..9).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect(),
    };
    let (n, t_end, seeds) = (5_000, 3.0, 6);
    let runs: Vec<Vec<f64>> = (1..=seeds)
        .map(|seed| all_components(&sgd(&config, n, t_end, 0.1, seed)))
        .collect();
    let grid: Vec<f64> = (0..=30).map(|k| k as f64 * 0.1).collect();
    let reference = ode_on(&config, &grid);
    let gap = difference(&mean(&runs), &all_components(&reference));
    let s = max_abs(&spread(&runs));
    let bound = 4.0 * s / (seeds as f64).sqrt() + 0.004;
    println!(
        "K = 3 SGD, n = {n}: max |mean − ODE| {:.3e}, seed sd {s:.3e}, bound {bound:.3e}, final {:.3?}, {:.1} s",
        max_abs(&gap),
        components(&reference).last().unwrap(),
        start.elapsed().as_secs_f64()
    );
    assert!(max_abs(&gap) <= bound, "{}", short(&gap));
}
