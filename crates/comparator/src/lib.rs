//! mfcl-comparator: the reduced ODE for the overlaps and the Gram matrix of a layer of `K`
//! neurons (exact under L2), its fixed points and their stability, the growth rates at the
//! uninformative state, the steady states reached from an initial condition (parameter
//! sweeps) and, for a single neuron, the basins of attraction of the informative states.
//!
//! It works on plain [`mfcl_model::Trajectory`] values and reads no files.

#![warn(missing_docs)]

mod basins;
mod compare;
mod dopri;
mod fixed_points;
mod ode;
mod steady;

pub use basins::{
    Attractors, BASIN_TOLERANCE, BasinSample, CONFIDENCE, DECISION_FRACTION, DECISION_RADIUS,
    DEFAULT_START_RADIUS, ODE_HORIZON, REST, Selection, Tally, basins, dominant_feature,
    sphere_starts, wilson_interval,
};
pub use compare::{Deviation, deviation};
pub use dopri::{Dopri5, Tolerance};
pub use fixed_points::{
    FixedPoint, FixedPointReport, LEARNED_COSINE, Uninformative, fixed_points, rest_norm,
    uninformative,
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
    /// An analysis that is defined for a single neuron only was asked of a layer.
    #[error(
        "{0} are computed for a single neuron (model.neurons = 1) only; this config has several neurons"
    )]
    SingleNeuronOnly(&'static str),
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

/// `Ok` for a single neuron; for a layer the error saying that `what` (a plural noun, e.g.
/// "basins of attraction") is single-neuron only. Callers can check before any expensive
/// work.
pub fn single_neuron_only(
    problem: &mfcl_model::Problem,
    what: &'static str,
) -> Result<(), ComparatorError> {
    if problem.neurons == 1 {
        Ok(())
    } else {
        Err(ComparatorError::SingleNeuronOnly(what))
    }
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
