//! Activations `f` of the single neuron, with the first two derivatives that the
//! coefficient functionals need.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// The neuron's activation `f` (MODEL.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `f(h) = tanh(h)`.
    Tanh,
    /// `f(h) = erf(h / √2)`.
    Erf,
    /// `f(h) = h`.
    Linear,
}

impl Activation {
    /// `[f(h), f'(h), f''(h)]`.
    #[inline]
    pub fn derivatives(self, h: f64) -> [f64; 3] {
        match self {
            Activation::Tanh => {
                let t = h.tanh();
                let d1 = 1.0 - t * t;
                [t, d1, -2.0 * t * d1]
            }
            Activation::Erf => {
                let d1 = (2.0 / PI).sqrt() * (-0.5 * h * h).exp();
                [libm::erf(h * FRAC_1_SQRT_2), d1, -h * d1]
            }
            Activation::Linear => [h, 1.0, 0.0],
        }
    }

    /// `f(h)` alone.
    #[inline]
    pub fn value(self, h: f64) -> f64 {
        self.derivatives(h)[0]
    }

    /// Half-width, in units of `h`, of the strip around the real axis in which `f` is
    /// analytic (`None` for entire functions). It sets the trapezoidal spacing.
    pub(crate) fn pole_distance(self) -> Option<f64> {
        match self {
            Activation::Tanh => Some(PI / 2.0),
            Activation::Erf | Activation::Linear => None,
        }
    }

    /// The config name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Erf => "erf",
            Activation::Linear => "linear",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic derivatives agree with central differences of `f` and `f'`.
    #[test]
    fn derivatives_match_finite_differences() {
        let eps = 1e-5;
        for act in [Activation::Tanh, Activation::Erf, Activation::Linear] {
            for &h in &[-2.3, -0.4, 0.0, 0.7, 3.1] {
                let [_, d1, d2] = act.derivatives(h);
                let [fp, d1p, _] = act.derivatives(h + eps);
                let [fm, d1m, _] = act.derivatives(h - eps);
                assert!(
                    ((fp - fm) / (2.0 * eps) - d1).abs() < 1e-9,
                    "{act:?} f' at {h}"
                );
                assert!(
                    ((d1p - d1m) / (2.0 * eps) - d2).abs() < 1e-9,
                    "{act:?} f'' at {h}"
                );
            }
        }
    }
}
