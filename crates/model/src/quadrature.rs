//! One-dimensional rules: a truncated trapezoidal rule for a standard Gaussian variable
//! and Gauss–Legendre nodes.
//!
//! The trapezoidal rule in standardised coordinates converges geometrically in the width
//! of the strip around the real axis in which the integrand is analytic (MODEL.md §5),
//! so its spacing is chosen from the activation's singularities and the scale at which
//! the variable enters `h`.

use crate::Activation;

/// Half-width of the truncated range: the Gaussian mass beyond ±8 is 1.2e-15.
const HALF_WIDTH: f64 = 8.0;

/// Largest spacing used: the rule integrates `e^{−u²/2}` times a polynomial with relative
/// error about `e^{−2π²/h²}`, 3e-18 at `h = 0.7`.
const MAX_STEP: f64 = 0.7;

/// Trapezoidal error on a strip of half-width `d` is about `exp(−2π d' / h)` with
/// `d' = 0.9 d` kept clear of the poles: `h = 2π · 0.9 d / 36` makes it e^{−36} ≈ 2e-16.
const STRIP_FRACTION: f64 = 2.0 * std::f64::consts::PI * 0.9 / 36.0;

/// A quadrature rule for `E[F(u)]`, `u ~ N(0, 1)`: symmetric nodes, normalised weights.
#[derive(Debug, Clone, Default)]
pub(crate) struct GaussianRule {
    /// Nodes `u_k = k h`, symmetric about 0, in increasing order.
    pub nodes: Vec<f64>,
    /// Weights summing to exactly 1 (up to rounding), so constants integrate exactly.
    pub weights: Vec<f64>,
}

impl GaussianRule {
    /// Makes this a rule accurate for `E[F(μ + σ u)]` when `F` is built from `f`, `f'`, `f''`
    /// of `activation`; `resolution > 1` refines the spacing by that factor. Keeps the
    /// buffers.
    pub fn set(&mut self, activation: Activation, sigma: f64, resolution: f64) {
        self.nodes.clear();
        self.weights.clear();
        if sigma == 0.0 {
            self.nodes.push(0.0);
            self.weights.push(1.0);
            return;
        }
        let step = match activation.pole_distance() {
            Some(d) => (STRIP_FRACTION * d / sigma).min(MAX_STEP),
            // erf(h/√2) and its derivative grow like e^{y²/2} at imaginary offset y, and the
            // noise variance integrates products of four such factors: the error is about
            // exp(−2π² / (h² (1 + 4σ²))), e^{−36} at h = 0.74 / √(1 + 4σ²).
            None if activation == Activation::Erf => {
                (0.74 / (1.0 + 4.0 * sigma * sigma).sqrt()).min(MAX_STEP)
            }
            None => MAX_STEP,
        } / resolution;
        let half = (HALF_WIDTH / step).ceil() as i64;
        self.nodes.extend((-half..=half).map(|k| k as f64 * step));
        self.weights
            .extend(self.nodes.iter().map(|u| (-0.5 * u * u).exp()));
        let total: f64 = self.weights.iter().sum();
        self.weights.iter_mut().for_each(|w| *w /= total);
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// Gauss–Legendre nodes and weights on `[−1, 1]` (weights sum to 2).
pub(crate) fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    let mut rule = Vec::with_capacity(n);
    for i in 0..n {
        // Tricomi's initial guess, then Newton on P_n.
        let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(n, x);
            let dx = p / dp;
            x -= dx;
            if dx.abs() < 1e-16 {
                break;
            }
        }
        let (_, dp) = legendre(n, x);
        rule.push((x, 2.0 / ((1.0 - x * x) * dp * dp)));
    }
    rule.reverse();
    rule
}

/// `(P_n(x), P_n'(x))` by the three-term recurrence.
fn legendre(n: usize, x: f64) -> (f64, f64) {
    let (mut p0, mut p1) = (1.0, x);
    for k in 2..=n {
        let k = k as f64;
        let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
        p0 = p1;
        p1 = p2;
    }
    if n == 0 {
        return (1.0, 0.0);
    }
    let n = n as f64;
    (p1, n * (x * p1 - p0) / (x * x - 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl GaussianRule {
        fn for_scale(activation: Activation, sigma: f64, resolution: f64) -> GaussianRule {
            let mut rule = GaussianRule::default();
            rule.set(activation, sigma, resolution);
            rule
        }
    }

    #[test]
    fn gauss_legendre_is_exact_for_polynomials_of_degree_2n_minus_1() {
        for n in [1, 2, 5, 16, 40] {
            let rule = gauss_legendre(n);
            for k in 0..2 * n {
                let got: f64 = rule.iter().map(|(x, w)| w * x.powi(k as i32)).sum();
                let want = if k % 2 == 1 {
                    0.0
                } else {
                    2.0 / (k as f64 + 1.0)
                };
                assert!((got - want).abs() < 1e-13, "n={n} k={k}: {got} vs {want}");
            }
        }
    }

    /// The integrands are bounded (tanh, erf) or at most quadratic in `u` (linear
    /// activation), so moments up to 2 must be exact to rounding; higher moments only
    /// show the truncation at ±8 (`∫_8^∞ u⁴ φ` is 2e-12).
    #[test]
    fn gaussian_rule_reproduces_gaussian_moments() {
        for sigma in [0.1, 1.0, 5.0] {
            let rule = GaussianRule::for_scale(Activation::Tanh, sigma, 1.0);
            let moment = |k: i32| -> f64 {
                rule.nodes
                    .iter()
                    .zip(&rule.weights)
                    .map(|(u, w)| w * u.powi(k))
                    .sum()
            };
            assert!((moment(0) - 1.0).abs() < 1e-15);
            assert!(moment(1).abs() < 1e-15);
            assert!((moment(2) - 1.0).abs() < 1e-13, "sigma {sigma}");
            assert!((moment(4) - 3.0).abs() < 1e-11, "sigma {sigma}");
        }
    }

    /// `E[cos(a u)] = e^{−a²/2}`: an analytic check of the spacing rule for an entire
    /// integrand that oscillates at the scale `a`.
    #[test]
    fn gaussian_rule_integrates_characteristic_function() {
        for a in [0.5, 2.0, 4.0] {
            let rule = GaussianRule::for_scale(Activation::Erf, a, 1.0);
            let got: f64 = rule
                .nodes
                .iter()
                .zip(&rule.weights)
                .map(|(u, w)| w * (a * u).cos())
                .sum();
            assert!((got - (-a * a / 2.0).exp()).abs() < 1e-14, "a={a}: {got}");
        }
    }
}
