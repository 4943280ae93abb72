//! What the coefficient test files share: building problems and comparing numbers.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use mfcl_model::{Activation, FeatureLaw, HiddenLaw, HiddenShape, Noise, Problem, Regularizer};

pub fn law(shape: HiddenShape, scale: f64) -> HiddenLaw {
    HiddenLaw { shape, scale }
}

pub fn atoms(values: &[f64], weights: &[f64]) -> HiddenShape {
    HiddenShape::atoms(values, weights).expect("non-degenerate atoms")
}

/// A skewed two-atom law: `c ↦ −c` is not a symmetry.
pub fn skewed() -> HiddenShape {
    atoms(&[-1.0, 2.0], &[2.0, 1.0])
}

pub fn noise(base: f64, augment: f64, correlation: f64) -> Noise {
    Noise {
        base,
        augment,
        correlation,
    }
}

/// A single-neuron problem with Rademacher features, unit learning rate and no
/// regularizer: the coefficients do not depend on the last two.
pub fn problem(
    activation: Activation,
    negative: bool,
    hidden: Vec<HiddenLaw>,
    noise: Noise,
) -> Problem {
    Problem {
        feature_law: FeatureLaw::Rademacher,
        hidden,
        activation,
        negative,
        noise,
        learning_rate: 1.0,
        regularizer: Regularizer::None,
        neurons: 1,
        decorrelation: 1.0,
    }
}

/// `problem` as a layer of `neurons` neurons with decorrelation strength `β = decorrelation`.
pub fn layer(problem: Problem, neurons: usize, decorrelation: f64) -> Problem {
    Problem {
        neurons,
        decorrelation,
        ..problem
    }
}

pub fn assert_close(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: got {got:.15e}, want {want:.15e}, |diff| = {:.3e} > {tolerance:.0e}",
        (got - want).abs()
    );
}
