//! Mathematical checks of the coefficient functionals `g_j`, `g_0`, `v` and of the curvature
//! `K` (MODEL.md §2 and §4): the worked example, convergence of the quadrature, an
//! independent Monte Carlo, closed forms for the linear and erf activations, and the
//! symmetries of the problem.
//!
//! Accuracy required of the library: absolute error ≤ 1e-10 when every hidden law is
//! discrete, ≤ 1e-8 when a Gaussian or uniform law is involved, at any `(Q, R)` with `R > 0`.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

use mfcl_model::{
    Activation, Coefficients, HiddenLaw, HiddenShape, Noise, OrderParameters, Problem,
    QuadratureOptions, Regularizer,
};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

mod common;
use common::{assert_close, atoms, law, noise, problem, skewed};

const ACTIVATIONS: [Activation; 3] = [Activation::Tanh, Activation::Erf, Activation::Linear];

// ---------------------------------------------------------------------------------------
// Building problems
// ---------------------------------------------------------------------------------------

/// A skewed three-atom law.
fn skewed_three() -> HiddenShape {
    atoms(&[0.0, 1.0, 5.0], &[3.0, 2.0, 1.0])
}

/// A point `(Q, R)` of a problem family, with everything but the activation and `γ` fixed.
#[derive(Clone)]
struct Case {
    label: &'static str,
    hidden: Vec<HiddenLaw>,
    noise: Noise,
    overlaps: Vec<f64>,
    norm2: f64,
}

impl Case {
    fn problem(&self, activation: Activation, negative: bool) -> Problem {
        problem(activation, negative, self.hidden.clone(), self.noise)
    }

    /// The accuracy the library promises for this case.
    fn tolerance(&self) -> f64 {
        let continuous = self
            .hidden
            .iter()
            .any(|l| matches!(l.shape, HiddenShape::Gaussian | HiddenShape::Uniform));
        if continuous { 1e-8 } else { 1e-10 }
    }

    fn has_symmetric_laws(&self) -> bool {
        self.hidden.iter().all(|l| l.shape.is_symmetric())
    }
}

fn case(
    label: &'static str,
    hidden: Vec<HiddenLaw>,
    noise: Noise,
    overlaps: &[f64],
    norm2: f64,
) -> Case {
    Case {
        label,
        hidden,
        noise,
        overlaps: overlaps.to_vec(),
        norm2,
    }
}

/// Points chosen to stress every branch of the quadrature: asymmetric atoms with `p = 2`,
/// singular `Σ_ν` (no augmentation noise, `ρ = ±1`), negative covariance of the views,
/// small and large `R`, and continuous hidden laws in each of those geometries.
fn stress_cases() -> Vec<Case> {
    use HiddenShape::{Gaussian, Rademacher, Sparse, Uniform};
    vec![
        case(
            "p=2 asymmetric atoms",
            vec![law(skewed(), 1.5), law(skewed_three(), 0.7)],
            noise(1.0, 0.5, 0.3),
            &[0.4, -0.7],
            1.3,
        ),
        case(
            "no augmentation noise",
            vec![law(Rademacher, 2.0)],
            noise(0.8, 0.0, 0.0),
            &[0.3],
            1.0,
        ),
        case(
            "identical augmentations (rho=+1)",
            vec![law(Sparse(0.3), 1.0)],
            noise(0.5, 1.0, 1.0),
            &[0.6],
            0.7,
        ),
        case(
            "opposite augmentations (rho=-1, no base)",
            vec![law(Rademacher, 1.0)],
            noise(0.0, 1.0, -1.0),
            &[0.5],
            1.1,
        ),
        case(
            "negative pair covariance",
            vec![law(Rademacher, 1.2), law(Sparse(0.5), 0.6)],
            noise(0.2, 1.5, -0.8),
            &[0.2, 0.5],
            0.9,
        ),
        case(
            "small norm",
            vec![law(Rademacher, 1.0)],
            noise(1.0, 0.5, 0.0),
            &[0.1],
            0.05,
        ),
        case(
            "large norm",
            vec![law(skewed(), 1.0)],
            noise(1.0, 0.5, 0.2),
            &[1.5],
            4.0,
        ),
        case(
            "gaussian and uniform laws",
            vec![law(Gaussian, 1.5), law(Uniform, 1.0)],
            noise(0.7, 0.6, 0.4),
            &[0.5, -0.4],
            1.2,
        ),
        case(
            "gaussian, negative pair covariance",
            vec![law(Gaussian, 1.0)],
            noise(0.2, 1.5, -0.8),
            &[0.3],
            0.8,
        ),
        case(
            "gaussian, opposite augmentations",
            vec![law(Gaussian, 1.0)],
            noise(0.0, 1.0, -1.0),
            &[0.5],
            1.0,
        ),
        case(
            "uniform and gaussian, identical augmentations",
            vec![law(Uniform, 1.0), law(Gaussian, 0.5)],
            noise(0.5, 1.0, 1.0),
            &[0.7, 0.3],
            0.6,
        ),
        case(
            "uniform, small norm",
            vec![law(Uniform, 2.0)],
            noise(1.0, 0.5, 0.0),
            &[0.1],
            0.05,
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Comparing coefficients
// ---------------------------------------------------------------------------------------

/// `[g_1, …, g_p, g_0, v]`.
fn flatten(c: &Coefficients) -> Vec<f64> {
    c.drive
        .iter()
        .copied()
        .chain([c.self_term[0], c.noise[0]])
        .collect()
}

fn names(p: usize) -> Vec<String> {
    (1..=p)
        .map(|j| format!("g_{j}"))
        .chain(["g_0".into(), "v".into()])
        .collect()
}

fn max_difference(a: &Coefficients, b: &Coefficients) -> f64 {
    flatten(a)
        .iter()
        .zip(flatten(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn assert_coefficients_close(what: &str, got: &Coefficients, want: &Coefficients, tolerance: f64) {
    let p = got.drive.len();
    assert_eq!(p, want.drive.len(), "{what}: number of features");
    for ((name, g), w) in names(p).iter().zip(flatten(got)).zip(flatten(want)) {
        assert_close(&format!("{what}: {name}"), g, w, tolerance);
    }
}

/// The single neuron's coefficients at `Q = overlaps`, `R = norm2`, through the one entry
/// point [`Problem::coefficients`].
fn coefficients(problem: &Problem, overlaps: &[f64], norm2: f64) -> Coefficients {
    problem.coefficients(&OrderParameters::single(overlaps.to_vec(), norm2))
}

fn at_resolution(problem: &Problem, overlaps: &[f64], norm2: f64, resolution: f64) -> Coefficients {
    problem.coefficients_with(
        &OrderParameters::single(overlaps.to_vec(), norm2),
        QuadratureOptions { resolution },
    )
}

// ---------------------------------------------------------------------------------------
// Independent ingredients: Σ_ν, the activations and the loss derivatives
// ---------------------------------------------------------------------------------------

/// `Σ_ν[1][1] = Σ_ν[2][2] = Σ_ν[3][3] = σ_a² + σ_e²` (MODEL.md §1).
fn view_variance(n: Noise) -> f64 {
    n.base * n.base + n.augment * n.augment
}

/// `Σ_ν[1][2] = σ_a² + ρ σ_e²`.
fn pair_covariance(n: Noise) -> f64 {
    n.base * n.base + n.correlation * n.augment * n.augment
}

/// `[f, f', f'']` written out from the definitions of MODEL.md §1.
fn activation(act: Activation, h: f64) -> [f64; 3] {
    match act {
        Activation::Tanh => {
            let t = h.tanh();
            let sech2 = 1.0 - t * t;
            [t, sech2, -2.0 * t * sech2]
        }
        Activation::Erf => {
            // d/dh erf(h/√2) = (2/√π) e^{−h²/2} / √2.
            let density = (2.0 / PI).sqrt() * (-h * h / 2.0).exp();
            [libm::erf(h * FRAC_1_SQRT_2), density, -h * density]
        }
        Activation::Linear => [h, 1.0, 0.0],
    }
}

/// Gradient and the Hessian entries that `Σ_ν` sees, of
/// `ℓ = −f(h_1) f(h_2) + γ/2 f(h_3) (f(h_1) + f(h_2))`.
struct LossDerivatives {
    grad: [f64; 3],
    d11: f64,
    d22: f64,
    d33: f64,
    d12: f64,
}

fn loss_derivatives(act: Activation, gamma: f64, h: [f64; 3]) -> LossDerivatives {
    let [[f1, d1, dd1], [f2, d2, dd2], [f3, d3, dd3]] = h.map(|h| activation(act, h));
    let half = gamma / 2.0;
    LossDerivatives {
        grad: [
            d1 * (-f2 + half * f3),
            d2 * (-f1 + half * f3),
            half * d3 * (f1 + f2),
        ],
        d11: dd1 * (-f2 + half * f3),
        d22: dd2 * (-f1 + half * f3),
        d33: half * dd3 * (f1 + f2),
        d12: -d1 * d2,
    }
}

// ---------------------------------------------------------------------------------------
// 1. The worked example
// ---------------------------------------------------------------------------------------

/// MODEL.md §6: the quickstart's coefficients at `Q = 0.3`, `R = 1.2` to every digit quoted.
#[test]
fn worked_example_matches_the_model_document() {
    let quickstart = |negative| Problem {
        regularizer: Regularizer::L2(0.5),
        ..problem(
            Activation::Tanh,
            negative,
            vec![law(HiddenShape::Rademacher, 2.0)],
            noise(1.0, 0.5, 0.0),
        )
    };
    let c = coefficients(&quickstart(false), &[0.3], 1.2);
    // g_1 is quoted to 8 digits, g_0 and v to 11.
    assert!(
        (c.drive[0] - 0.33492895).abs() < 1e-8,
        "g_1 = {}",
        c.drive[0]
    );
    assert_close("g_0", c.self_term[0], 0.13498243087, 1e-11);
    assert_close("v", c.noise[0], 0.36650801591, 1e-11);
    let with_negative = coefficients(&quickstart(true), &[0.3], 1.2);
    assert_close(
        "v with a negative",
        with_negative.noise[0],
        0.76412750249,
        1e-11,
    );
}

// ---------------------------------------------------------------------------------------
// 2. Convergence of the quadrature
// ---------------------------------------------------------------------------------------

/// Refining the quadrature (resolution 2 and 3) changes the default coefficients and `K`
/// by less than the promised accuracy, in every geometry of `Σ_ν` and for every activation;
/// halving the resolution for tanh, whose poles limit the trapezoidal rule, visibly degrades
/// it, so the refinement does probe the rule's error.
#[test]
fn quadrature_is_converged_at_default_resolution() {
    for case in stress_cases() {
        for activation in ACTIVATIONS {
            for negative in [false, true] {
                let problem = case.problem(activation, negative);
                let what = format!("{} / {activation:?} / negative={negative}", case.label);
                let at =
                    |resolution| at_resolution(&problem, &case.overlaps, case.norm2, resolution);
                let default = at(1.0);
                let curvature = |resolution| {
                    problem.curvature_with(case.norm2, QuadratureOptions { resolution })
                };
                for resolution in [2.0, 3.0] {
                    let at_resolution = format!("{what}, resolution {resolution}");
                    assert_coefficients_close(
                        &at_resolution,
                        &default,
                        &at(resolution),
                        case.tolerance(),
                    );
                    assert_close(
                        &format!("{at_resolution}: K"),
                        curvature(1.0),
                        curvature(resolution),
                        case.tolerance(),
                    );
                }
                if activation == Activation::Tanh {
                    let coarse = max_difference(&at(0.5), &default);
                    assert!(
                        coarse > 20.0 * case.tolerance(),
                        "{what}: resolution 0.5 is already within {coarse:.1e}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 3. Monte Carlo
// ---------------------------------------------------------------------------------------

/// Draws `u` of unit variance from a hidden shape, as MODEL.md §1 defines it.
enum ShapeSampler {
    Gaussian,
    Uniform,
    /// Cumulative probabilities and values.
    Finite(Vec<(f64, f64)>),
}

impl ShapeSampler {
    fn new(shape: &HiddenShape) -> Self {
        let finite = |atoms: Vec<(f64, f64)>| {
            let mut total = 0.0;
            ShapeSampler::Finite(
                atoms
                    .into_iter()
                    .map(|(value, weight)| {
                        total += weight;
                        (total, value)
                    })
                    .collect(),
            )
        };
        match shape {
            HiddenShape::Gaussian => ShapeSampler::Gaussian,
            HiddenShape::Uniform => ShapeSampler::Uniform,
            HiddenShape::Rademacher => finite(vec![(-1.0, 0.5), (1.0, 0.5)]),
            HiddenShape::Sparse(s) => finite(vec![
                (0.0, 1.0 - s),
                (-1.0 / s.sqrt(), s / 2.0),
                (1.0 / s.sqrt(), s / 2.0),
            ]),
            HiddenShape::Atoms { values, weights } => finite(
                values
                    .iter()
                    .copied()
                    .zip(weights.iter().copied())
                    .collect(),
            ),
        }
    }

    fn draw(&self, rng: &mut Xoshiro256PlusPlus) -> f64 {
        match self {
            ShapeSampler::Gaussian => rng.sample(StandardNormal),
            ShapeSampler::Uniform => rng.random_range(-(3f64.sqrt())..3f64.sqrt()),
            ShapeSampler::Finite(cumulative) => {
                let u: f64 = rng.random();
                cumulative
                    .iter()
                    .find(|(c, _)| u < *c)
                    .unwrap_or(cumulative.last().unwrap())
                    .1
            }
        }
    }
}

/// Running sums of a vector of per-sample values and of their squares.
#[derive(Clone)]
struct RunningSums {
    count: f64,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl RunningSums {
    fn new(k: usize) -> Self {
        RunningSums {
            count: 0.0,
            sum: vec![0.0; k],
            sum_sq: vec![0.0; k],
        }
    }

    fn add(&mut self, x: &[f64]) {
        self.count += 1.0;
        for ((s, q), x) in self.sum.iter_mut().zip(&mut self.sum_sq).zip(x) {
            *s += x;
            *q += x * x;
        }
    }

    fn merge(mut self, other: RunningSums) -> RunningSums {
        self.count += other.count;
        for (a, b) in self.sum.iter_mut().zip(other.sum) {
            *a += b;
        }
        for (a, b) in self.sum_sq.iter_mut().zip(other.sum_sq) {
            *a += b;
        }
        self
    }

    /// Sample means and their standard errors.
    fn estimate(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.count;
        self.sum
            .iter()
            .zip(&self.sum_sq)
            .map(|(s, q)| {
                let mean = s / n;
                let variance = (q / n - mean * mean).max(0.0) * n / (n - 1.0);
                (mean, (variance / n).sqrt())
            })
            .unzip()
    }
}

/// Monte Carlo estimates of `[g_1, …, g_p, g_0, v]` straight from their definitions in
/// MODEL.md §2, with standard errors. Sampling is chunked over rayon, each chunk with its
/// own deterministically seeded generator.
fn monte_carlo(problem: &Problem, overlaps: &[f64], norm2: f64, seed: u64) -> (Vec<f64>, Vec<f64>) {
    const SAMPLES: u64 = 10_000_000;
    const CHUNK: u64 = 50_000;
    let p = problem.hidden.len();
    let samplers: Vec<ShapeSampler> = problem
        .hidden
        .iter()
        .map(|l| ShapeSampler::new(&l.shape))
        .collect();
    let scales: Vec<f64> = problem.hidden.iter().map(|l| l.scale).collect();
    let gamma = if problem.negative { 1.0 } else { 0.0 };
    let (s2, r) = (view_variance(problem.noise), pair_covariance(problem.noise));
    // Cholesky factor of R Σ_ν: the pair block, possibly singular, and the independent negative.
    assert!(s2 > 0.0);
    let l11 = (norm2 * s2).sqrt();
    let l21 = norm2 * r / l11;
    let l22 = (norm2 * s2 - l21 * l21).max(0.0).sqrt();

    let sums = (0..SAMPLES / CHUNK)
        .into_par_iter()
        .map(|chunk| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_mul(1 << 32) + chunk);
            let mut sums = RunningSums::new(p + 2);
            let (mut c, mut c_neg, mut x) = (vec![0.0; p], vec![0.0; p], vec![0.0; p + 2]);
            for _ in 0..CHUNK {
                for j in 0..p {
                    c[j] = scales[j] * samplers[j].draw(&mut rng);
                    c_neg[j] = scales[j] * samplers[j].draw(&mut rng);
                }
                let [u1, u2, u3]: [f64; 3] = std::array::from_fn(|_| rng.sample(StandardNormal));
                let signal: f64 = c.iter().zip(overlaps).map(|(c, q)| c * q).sum();
                let signal_neg: f64 = c_neg.iter().zip(overlaps).map(|(c, q)| c * q).sum();
                let h = [
                    signal + l11 * u1,
                    signal + l21 * u1 + l22 * u2,
                    signal_neg + l11 * u3,
                ];
                let d = loss_derivatives(problem.activation, gamma, h);
                let [d1, d2, d3] = d.grad;
                for j in 0..p {
                    x[j] = -(c[j] * (d1 + d2) + c_neg[j] * d3);
                }
                x[p] = -(s2 * (d.d11 + d.d22 + d.d33) + 2.0 * r * d.d12);
                x[p + 1] = s2 * (d1 * d1 + d2 * d2 + d3 * d3) + 2.0 * r * d1 * d2;
                sums.add(&x);
            }
            sums
        })
        .reduce(|| RunningSums::new(p + 2), RunningSums::merge);
    sums.estimate()
}

/// The quadrature agrees with a plain Monte Carlo of the definitions of `g_j`, `g_0`, `v`
/// (10⁷ samples of `c`, `c'`, `z ~ N(0, R Σ_ν)`, with the loss derivatives taken by hand)
/// within four standard errors, for every activation with and without a negative, with
/// discrete, Gaussian and uniform hidden laws, correlated and singular view noise.
#[test]
fn quadrature_agrees_with_monte_carlo() {
    use HiddenShape::{Gaussian, Rademacher, Sparse, Uniform};
    let cases = [
        (
            Activation::Tanh,
            false,
            case(
                "tanh p=1",
                vec![law(Rademacher, 2.0)],
                noise(1.0, 0.5, 0.3),
                &[0.5],
                1.2,
            ),
        ),
        (
            Activation::Tanh,
            true,
            case(
                "tanh p=2",
                vec![law(Gaussian, 1.5), law(skewed(), 1.0)],
                noise(0.8, 0.6, -0.5),
                &[0.4, -0.3],
                0.9,
            ),
        ),
        (
            Activation::Erf,
            false,
            case(
                "erf p=2",
                vec![law(Uniform, 1.2), law(Sparse(0.3), 0.8)],
                noise(0.5, 1.0, 0.7),
                &[0.6, 0.9],
                1.5,
            ),
        ),
        (
            Activation::Erf,
            true,
            case(
                "erf p=1 singular",
                vec![law(skewed_three(), 1.3)],
                noise(0.6, 0.8, 1.0),
                &[0.7],
                0.8,
            ),
        ),
        (
            Activation::Linear,
            false,
            case(
                "linear p=2",
                vec![law(skewed(), 0.9), law(Gaussian, 1.1)],
                noise(0.3, 1.0, -0.6),
                &[-0.5, 0.4],
                0.7,
            ),
        ),
        (
            Activation::Linear,
            true,
            case(
                "linear p=1",
                vec![law(Uniform, 1.4)],
                noise(0.9, 0.4, 0.5),
                &[0.8],
                1.1,
            ),
        ),
    ];
    for (seed, (activation, negative, case)) in cases.into_iter().enumerate() {
        let problem = case.problem(activation, negative);
        let quadrature = flatten(&coefficients(&problem, &case.overlaps, case.norm2));
        let (mean, se) = monte_carlo(&problem, &case.overlaps, case.norm2, seed as u64 + 1);
        let names = names(case.overlaps.len());
        for k in 0..quadrature.len() {
            let what = format!("{} / negative={negative}: {}", case.label, names[k]);
            assert_close(
                &format!("{what} (MC ± {:.1e})", se[k]),
                quadrature[k],
                mean[k],
                4.0 * se[k] + 1e-12,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 4. The linear activation in closed form
// ---------------------------------------------------------------------------------------

/// Closed forms for `f(h) = h`. With `S_j = ⟨c_j²⟩`, `s2 = σ_a² + σ_e²`, `r = σ_a² + ρσ_e²`,
/// `q = Σ S_j Q_j²`, the pre-activations are centred with `E[h_1²] = E[h_3²] = q + R s2`,
/// `E[h_1 h_2] = q + R r`, `h_3` independent of the pair, and
/// `∂_1ℓ = −h_2 + γ/2 h_3`, `∂_2ℓ = −h_1 + γ/2 h_3`, `∂_3ℓ = γ/2 (h_1 + h_2)`, `∂_12ℓ = −1`:
///
/// ```text
///   g_j = 2 S_j Q_j,   g_0 = 2r,   K = −2,
///   v   = s2 [2(1 + γ²/4)(q + R s2) + γ²/2 (2q + R(s2 + r))] + 2r [(q + R r) + γ²/4 (q + R s2)].
/// ```
struct Linear {
    second_moments: Vec<f64>,
    s2: f64,
    r: f64,
    gamma: f64,
}

impl Linear {
    fn new(problem: &Problem) -> Self {
        Linear {
            second_moments: problem.hidden.iter().map(|l| l.scale * l.scale).collect(),
            s2: view_variance(problem.noise),
            r: pair_covariance(problem.noise),
            gamma: if problem.negative { 1.0 } else { 0.0 },
        }
    }

    fn coefficients(&self, overlaps: &[f64], norm2: f64) -> Coefficients {
        let Linear { s2, r, gamma, .. } = *self;
        let g2 = gamma * gamma;
        let q: f64 = self
            .second_moments
            .iter()
            .zip(overlaps)
            .map(|(s, q)| s * q * q)
            .sum();
        let v = s2
            * (2.0 * (1.0 + g2 / 4.0) * (q + norm2 * s2) + g2 / 2.0 * (2.0 * q + norm2 * (s2 + r)))
            + 2.0 * r * ((q + norm2 * r) + g2 / 4.0 * (q + norm2 * s2));
        Coefficients {
            drive: self
                .second_moments
                .iter()
                .zip(overlaps)
                .map(|(s, q)| 2.0 * s * q)
                .collect(),
            self_term: vec![2.0 * r],
            noise: vec![v],
        }
    }

    /// `∂/∂Q_l` of [`Linear::coefficients`]: `∂g_j/∂Q_l = 2 S_j δ_jl`, `∂g_0 = 0`,
    /// `∂v/∂Q_l = ∂q/∂Q_l · (s2 [2(1 + γ²/4) + γ²] + 2r (1 + γ²/4))` with `∂q/∂Q_l = 2 S_l Q_l`.
    fn d_overlap(&self, overlaps: &[f64], l: usize) -> Coefficients {
        let Linear { s2, r, gamma, .. } = *self;
        let g2 = gamma * gamma;
        let dq = 2.0 * self.second_moments[l] * overlaps[l];
        Coefficients {
            drive: (0..overlaps.len())
                .map(|j| {
                    if j == l {
                        2.0 * self.second_moments[j]
                    } else {
                        0.0
                    }
                })
                .collect(),
            self_term: vec![0.0],
            noise: vec![dq * (s2 * (2.0 * (1.0 + g2 / 4.0) + g2) + 2.0 * r * (1.0 + g2 / 4.0))],
        }
    }

    /// `∂/∂R`: only `v` depends on `R`.
    fn d_norm2(&self, p: usize) -> Coefficients {
        let Linear { s2, r, gamma, .. } = *self;
        let g2 = gamma * gamma;
        Coefficients {
            drive: vec![0.0; p],
            self_term: vec![0.0],
            noise: vec![
                s2 * (2.0 * (1.0 + g2 / 4.0) * s2 + g2 / 2.0 * (s2 + r))
                    + 2.0 * r * (r + g2 / 4.0 * s2),
            ],
        }
    }
}

/// The hidden-law families of the closed-form tests: every shape, `p = 1` and `p = 2`.
fn linear_law_sets() -> Vec<Vec<HiddenLaw>> {
    use HiddenShape::{Gaussian, Rademacher, Sparse, Uniform};
    vec![
        vec![law(Rademacher, 2.0)],
        vec![law(Gaussian, 1.3)],
        vec![law(Uniform, 0.8)],
        vec![law(skewed(), 1.1)],
        vec![law(Sparse(0.2), 0.7), law(Gaussian, 1.5)],
        vec![law(Uniform, 1.2), law(skewed_three(), 0.6)],
    ]
}

fn linear_points() -> Vec<(Noise, Vec<f64>, f64)> {
    vec![
        (noise(1.0, 0.5, 0.0), vec![0.3, -0.6], 1.2),
        (noise(0.2, 1.5, -0.8), vec![-1.1, 0.4], 0.3),
        (noise(0.7, 0.9, 1.0), vec![0.05, 2.0], 3.0),
    ]
}

/// With `f(h) = h` the coefficients and `K` equal the closed forms above to 1e-12 (relative
/// to the size of `v`).
#[test]
fn linear_activation_matches_closed_form() {
    for hidden in linear_law_sets() {
        for (noise, overlaps, norm2) in linear_points() {
            let overlaps = &overlaps[..hidden.len()];
            for negative in [false, true] {
                let problem = problem(Activation::Linear, negative, hidden.clone(), noise);
                let what = format!(
                    "{hidden:?} / {noise:?} / Q={overlaps:?} R={norm2} / negative={negative}"
                );
                let want = Linear::new(&problem).coefficients(overlaps, norm2);
                // 1e-12 relative to the size of v, which reaches ~70 here: beyond that is rounding.
                let tolerance = 1e-12 * want.noise[0].max(1.0);
                assert_coefficients_close(
                    &what,
                    &coefficients(&problem, overlaps, norm2),
                    &want,
                    tolerance,
                );
                assert_close(&format!("{what}: K"), problem.curvature(norm2), -2.0, 1e-12);
            }
        }
    }
}

/// `coefficient_derivatives` reproduces the derivatives of the linear closed forms in every
/// `Q_l` and in `R` to 1e-8.
#[test]
fn linear_coefficient_derivatives_match_closed_form() {
    for hidden in linear_law_sets() {
        for (noise, overlaps, norm2) in linear_points() {
            let overlaps = &overlaps[..hidden.len()];
            for negative in [false, true] {
                let problem = problem(Activation::Linear, negative, hidden.clone(), noise);
                let what = format!(
                    "{hidden:?} / {noise:?} / Q={overlaps:?} R={norm2} / negative={negative}"
                );
                let linear = Linear::new(&problem);
                let state = OrderParameters::single(overlaps.to_vec(), norm2);
                // One derivative per coordinate of the ODE: every Q_l, then R.
                let got = problem.coefficient_derivatives(&state);
                let (d_overlaps, d_norm2) = got.split_at(overlaps.len());
                for (l, d) in d_overlaps.iter().enumerate() {
                    assert_coefficients_close(
                        &format!("{what}: d/dQ_{}", l + 1),
                        d,
                        &linear.d_overlap(overlaps, l),
                        1e-8,
                    );
                }
                assert_coefficients_close(
                    &format!("{what}: d/dR"),
                    &d_norm2[0],
                    &linear.d_norm2(hidden.len()),
                    1e-8,
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. The erf activation with Gaussian hidden laws in closed form
// ---------------------------------------------------------------------------------------

/// For `f(h) = erf(h/√2)`, centred jointly Gaussian `(h_1, h_2)` with `C_11 = C_22 = C`,
/// `C_12`: from `E[f(h_1) f(h_2)] = (2/π) arcsin(C_12 / (1 + C))` and Price's theorem
/// (`∂/∂C_12 → E[f'_1 f'_2]`, `2 ∂/∂C_11 → E[f''_1 f_2]`),
///
/// ```text
///   E[f'_1 f'_2]  = (2/π) / √((1 + C)² − C_12²),
///   E[f''_1 f_2]  = −(2/π) x / ((1 + C) √(1 − x²)),   x = C_12 / (1 + C).
/// ```
fn erf_pair_moments(c: f64, c12: f64) -> (f64, f64) {
    let fp_fp = (2.0 / PI) / ((1.0 + c).powi(2) - c12 * c12).sqrt();
    let x = c12 / (1.0 + c);
    let fpp_f = -(2.0 / PI) * x / ((1.0 + c) * (1.0 - x * x).sqrt());
    (fp_fp, fpp_f)
}

/// erf activation, Gaussian hidden laws, no negative: the pair is jointly Gaussian with
/// `C = q + R s2`, `C_12 = q + R r`, so `g_0 = 2 s2 E[f''_1 f_2] + 2r E[f'_1 f'_2]`, and by
/// Stein's lemma (`Cov(c_j, h_s) = S_j Q_j`) `g_j = 2 S_j Q_j (E[f''_1 f_2] + E[f'_1 f'_2])`.
/// At `Q = 0` the same moments give `K = −2 (E[f''_1 f_2] + E[f'_1 f'_2])`.
#[test]
fn erf_with_gaussian_hidden_laws_matches_closed_form() {
    let law_sets = [
        vec![law(HiddenShape::Gaussian, 1.4)],
        vec![
            law(HiddenShape::Gaussian, 0.6),
            law(HiddenShape::Gaussian, 1.7),
        ],
    ];
    let points = [
        (noise(1.0, 0.5, 0.0), [0.3, -0.5], 1.2),
        (noise(0.6, 0.8, -0.9), [0.8, 0.2], 0.5),
        (noise(0.6, 0.8, 1.0), [-0.4, 1.1], 2.5),
        (noise(0.0, 1.0, -1.0), [0.2, 0.3], 0.1),
    ];
    for hidden in &law_sets {
        for (noise, overlaps, norm2) in points {
            let overlaps = &overlaps[..hidden.len()];
            let problem = problem(Activation::Erf, false, hidden.clone(), noise);
            let what = format!("{hidden:?} / {noise:?} / Q={overlaps:?} R={norm2}");
            let (s2, r) = (view_variance(noise), pair_covariance(noise));
            let second: Vec<f64> = hidden.iter().map(|l| l.scale * l.scale).collect();
            let q: f64 = second.iter().zip(overlaps).map(|(s, q)| s * q * q).sum();
            let (fp_fp, fpp_f) = erf_pair_moments(q + norm2 * s2, q + norm2 * r);
            let got = coefficients(&problem, overlaps, norm2);
            for (j, (s, q)) in second.iter().zip(overlaps).enumerate() {
                assert_close(
                    &format!("{what}: g_{}", j + 1),
                    got.drive[j],
                    2.0 * s * q * (fpp_f + fp_fp),
                    1e-9,
                );
            }
            assert_close(
                &format!("{what}: g_0"),
                got.self_term[0],
                2.0 * s2 * fpp_f + 2.0 * r * fp_fp,
                1e-9,
            );
            let (fp_fp, fpp_f) = erf_pair_moments(norm2 * s2, norm2 * r);
            assert_close(
                &format!("{what}: K"),
                problem.curvature(norm2),
                -2.0 * (fpp_f + fp_fp),
                1e-9,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 6. The negative sample under an odd activation
// ---------------------------------------------------------------------------------------

/// For odd `f` (all three activations) and symmetric hidden laws, `E[f(h_s)] = E[f''(h_s)] = 0`, and every term
/// the negative adds to `g_j`, `g_0` (and `K`) carries such a factor through the negative's
/// independence: they are unchanged by it (1e-13), while `v` gains `E[(∂_3ℓ)²]` and more.
#[test]
fn negative_leaves_drift_unchanged_for_odd_activation_and_symmetric_laws() {
    for case in stress_cases().into_iter().filter(Case::has_symmetric_laws) {
        for activation in ACTIVATIONS {
            let what = format!("{} / {activation:?}", case.label);
            let without = case.problem(activation, false);
            let with = case.problem(activation, true);
            let (a, b) = (
                coefficients(&without, &case.overlaps, case.norm2),
                coefficients(&with, &case.overlaps, case.norm2),
            );
            for (j, (x, y)) in a.drive.iter().zip(&b.drive).enumerate() {
                assert_close(&format!("{what}: g_{}", j + 1), *y, *x, 1e-13);
            }
            assert_close(
                &format!("{what}: g_0"),
                b.self_term[0],
                a.self_term[0],
                1e-13,
            );
            assert_close(
                &format!("{what}: K"),
                with.curvature(case.norm2),
                without.curvature(case.norm2),
                1e-13,
            );
            assert!(
                b.noise[0] - a.noise[0] > 1e-3,
                "{what}: v {} vs {}",
                b.noise[0],
                a.noise[0]
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 7. Growth rates see only ⟨c²⟩ (Finding 1)
// ---------------------------------------------------------------------------------------

/// At `Q = 0` the pre-activations are `h = z`, free of the hidden variables, so `K(R)` does
/// not depend on the hidden laws; differentiating `g_j = −Σ_s E[c_{s,j} ∂_sℓ(c·Q + z)]` at
/// `Q = 0` gives `∂g_j/∂Q_l = −E[c_j c_l] K(R) = −δ_jl ⟨c_j²⟩ K(R)` (`c_3 = c'` is
/// independent of the pair): only the second moment enters, whatever `⟨c⁴⟩`.
#[test]
fn growth_rate_depends_only_on_second_moment() {
    use HiddenShape::{Gaussian, Rademacher, Sparse, Uniform};
    let shapes = [Rademacher, Sparse(0.3), skewed(), Gaussian, Uniform];
    let fourth: Vec<f64> = shapes
        .iter()
        .map(|s| law(s.clone(), 1.0).fourth_moment())
        .collect();
    for (k, a) in fourth.iter().enumerate() {
        assert!(
            fourth[k + 1..].iter().all(|b| (a - b).abs() > 0.1),
            "fourth moments must differ: {fourth:?}"
        );
    }
    let (norm2, scales) = (0.9, [1.3, 0.8]);
    for activation in ACTIVATIONS {
        for negative in [false, true] {
            for noise in [noise(1.0, 0.5, 0.3), noise(0.2, 1.5, -0.8)] {
                let reference = problem(activation, negative, vec![law(Rademacher, 1.0)], noise)
                    .curvature(norm2);
                for k in 0..shapes.len() {
                    let hidden = vec![
                        law(shapes[k].clone(), scales[0]),
                        law(shapes[(k + 1) % shapes.len()].clone(), scales[1]),
                    ];
                    let problem = problem(activation, negative, hidden, noise);
                    let what = format!(
                        "{activation:?} / negative={negative} / {noise:?} / {:?}",
                        problem.hidden
                    );
                    let curvature = problem.curvature(norm2);
                    assert_close(&format!("{what}: K"), curvature, reference, 1e-13);
                    let d = problem
                        .coefficient_derivatives(&OrderParameters::single(vec![0.0, 0.0], norm2));
                    // The first p derivatives are in Q_1, …, Q_p (the last in R).
                    for (l, d_l) in d[..2].iter().enumerate() {
                        for (j, (&got, scale)) in d_l.drive.iter().zip(scales).enumerate() {
                            let want = if j == l {
                                -scale * scale * curvature
                            } else {
                                0.0
                            };
                            assert_close(
                                &format!("{what}: dg_{}/dQ_{}", j + 1, l + 1),
                                got,
                                want,
                                1e-8,
                            );
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 8. Sign symmetry
// ---------------------------------------------------------------------------------------

/// For symmetric hidden laws `c_j ↦ −c_j` preserves the law of the samples and maps
/// `Q_j ↦ −Q_j`: `g_j` changes sign, every other `g_l`, `g_0` and `v` are unchanged (1e-13).
#[test]
fn flipping_an_overlap_flips_only_its_drive() {
    for case in stress_cases().into_iter().filter(Case::has_symmetric_laws) {
        for activation in ACTIVATIONS {
            for negative in [false, true] {
                let problem = case.problem(activation, negative);
                let base = coefficients(&problem, &case.overlaps, case.norm2);
                for j in 0..case.overlaps.len() {
                    let what = format!(
                        "{} / {activation:?} / negative={negative}: flip Q_{}",
                        case.label,
                        j + 1
                    );
                    let mut flipped_q = case.overlaps.clone();
                    flipped_q[j] = -flipped_q[j];
                    let mut want = base.clone();
                    want.drive[j] = -want.drive[j];
                    assert_coefficients_close(
                        &what,
                        &coefficients(&problem, &flipped_q, case.norm2),
                        &want,
                        1e-13,
                    );
                }
            }
        }
    }
}
