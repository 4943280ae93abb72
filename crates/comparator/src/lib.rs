//! mfcl-comparator: the reduced ODE for the overlaps and the Gram matrix of a layer of `K`
//! neurons (exact under L2), its fixed points and their stability, the growth rates at the
//! uninformative state, the basins of attraction of the informative states, and steady
//! states for parameter sweeps.
//!
//! It works on plain [`mfcl_model::Trajectory`] values and reads no files.

#![warn(missing_docs)]

mod basins;
mod coinciding;
mod compare;
mod dopri;
mod fixed_points;
mod ode;
mod steady;

pub use basins::{
    Attractors, BASIN_TOLERANCE, BasinSample, CONFIDENCE, DECISION_FRACTION, DECISION_RADIUS,
    DEFAULT_START_RADIUS, Fraction, LAYER_BASIN_QUADRATURE, LAYER_BASIN_TOLERANCE, LAYER_REST,
    ODE_HORIZON, REST, Selection, Tally, basins, dominant_feature, selection_at, sphere_starts,
    wilson_interval,
};
pub use coinciding::{
    StabilityThreshold, coinciding_point, coinciding_threshold, largest_real_part,
};
pub use compare::{Deviation, deviation};
pub use dopri::{Dopri5, Tolerance};
pub use fixed_points::{
    FixedPoint, FixedPointReport, LEARNED_COSINE, Uninformative, fixed_points, learned_features,
    rest_norm, uninformative,
};
pub use ode::{OdeStopped, ReducedOde, recording_times};
pub use steady::{POLISH_DISTANCE, STEADY_HORIZON, STEADY_REST, steady_state};

/// Why the comparator could not answer.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ComparatorError {
    /// `l1` and `elastic` regularizers: `∫ ξ φ'(x) dP` is not a function of `(Q, R)`.
    #[error(
        "no closed ODE exists for regularizer \"{0}\": the moments of the measure do not close \
         (MODEL.md §3); use the particle solver (`mfcl run`) instead"
    )]
    NoClosedOde(&'static str),
    /// The state left the domain (non-finite values, or `R` beyond the bound).
    #[error("the ODE diverged at t = {time}: {reason}", time = mfcl_model::Time(*.t))]
    Diverged {
        /// Model time reached.
        t: f64,
        /// What went wrong.
        reason: String,
    },
    /// The adaptive step collapsed.
    #[error("the ODE step size fell below {step:e} at t = {time}: the problem is too stiff or singular there", time = mfcl_model::Time(*.t))]
    StepTooSmall {
        /// Model time reached.
        t: f64,
        /// The rejected step.
        step: f64,
    },
    /// The ODE did not settle on a fixed point.
    #[error("no steady state: the ODE did not settle by t = {time}: {reason}", time = mfcl_model::Time(*.t))]
    NotConverged {
        /// Model time reached.
        t: f64,
        /// What was left unsettled.
        reason: String,
    },
    /// `2 (g_0(0, R) − λ) R + τ v(0, R)` has no stable root.
    #[error(
        "the uninformative state has no steady norm: 2 (g0 - lambda) R + tau v never turns negative for R in [{lo:e}, {hi:e}]"
    )]
    NoSteadyNorm {
        /// Lower end of the searched range.
        lo: f64,
        /// Upper end of the searched range.
        hi: f64,
    },
}

/// The largest absolute value, 0 for none: the max norm that residuals, distances between
/// states and cosines are measured in throughout this crate.
pub(crate) fn max_abs(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// The max-norm distance between two states.
pub(crate) fn max_distance(a: &[f64], b: &[f64]) -> f64 {
    max_abs(a.iter().zip(b).map(|(a, b)| a - b))
}
