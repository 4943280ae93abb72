//! The steady state reached from an initial condition: what `mfcl sweep` reports.

use mfcl_model::{OrderParameters, Problem};

use crate::fixed_points::{classify, polish};
use crate::{ComparatorError, FixedPoint, ReducedOde, max_abs, max_distance, single_neuron_only};

/// Model time within which the ODE must come to rest.
pub const STEADY_HORIZON: f64 = 1e4;
/// The ODE is at rest when every component of `d(Q, R)/dt` is below this; Newton's method
/// then polishes the state to a residual of 1e-11.
pub const STEADY_REST: f64 = 1e-8;
/// Newton's method may move the state at rest by at most this (max norm over `(Q, R)`);
/// a larger jump means it found another fixed point, not the one the ODE was approaching.
/// It is not smaller because at a degenerate fixed point (a zero eigenvalue) the ODE comes
/// to rest only algebraically, up to about 1e-3 away.
pub const POLISH_DISTANCE: f64 = 1e-2;

/// Integrates the reduced ODE from `init` until it comes to rest, then polishes the state
/// with Newton's method. The result is the fixed point with its stability; it is unstable
/// only when `init` lies on an invariant set (e.g. `Q_j = 0`) of an unstable point.
///
/// A single neuron only (`mfcl sweep`): a layer gives [`ComparatorError::SingleNeuronOnly`].
pub fn steady_state(
    problem: &Problem,
    init: &OrderParameters,
) -> Result<FixedPoint, ComparatorError> {
    single_neuron_only(problem, "steady states")?;
    let ode = ReducedOde::new(problem)?;
    let (rest, t) = ode.relax(&init.coordinates(), STEADY_HORIZON, STEADY_REST)?;
    let mut derivative = vec![0.0; rest.len()];
    ode.rhs(&rest, &mut derivative);
    let residual = max_abs(derivative);
    if residual >= STEADY_REST {
        return Err(ComparatorError::NotConverged {
            t,
            reason: format!("the largest |d(Q, R)/dt| is still {residual:.1e}"),
        });
    }
    let polished = polish(&ode, rest.clone()).ok_or_else(|| ComparatorError::NotConverged {
        t,
        reason: "Newton's method did not converge from the state at rest".into(),
    })?;
    let moved = max_distance(&polished, &rest);
    if moved > POLISH_DISTANCE {
        return Err(ComparatorError::NotConverged {
            t,
            reason: format!("Newton's method moved the state at rest by {moved:.1e}"),
        });
    }
    Ok(classify(&ode, polished))
}
