//! The steady state reached from an initial condition: what `mfcl sweep` reports.

use mfcl_model::{OrderParameters, Problem};

use crate::fixed_points::{classify, polish};
use crate::{ComparatorError, FixedPoint, ReducedOde, Tolerance, max_abs, max_distance};

/// Model time within which the ODE must come to rest.
pub const STEADY_HORIZON: f64 = 1e4;
/// A single neuron's ODE is at rest when every component of `d(Q, R)/dt` is below this;
/// Newton's method then polishes the state to a residual of 1e-11.
pub const STEADY_REST: f64 = 1e-8;
/// A layer's ODE is at rest when every component of `d(Q, R)/dt` is below this. A layer's
/// coefficients are expensive (about 5 ms an evaluation for `p = K = 2`), so its
/// integration stops earlier and leaves more to Newton's method; near a fixed point whose
/// slowest rate is `μ` the state at rest lies about `STEADY_LAYER_REST / μ` from it, far
/// inside [`POLISH_DISTANCE`] for rates down to 1e-3.
pub const STEADY_LAYER_REST: f64 = 1e-5;
/// Newton's method may move the state at rest by at most this (max norm over `(Q, R)`);
/// a larger jump means it found another fixed point, not the one the ODE was approaching.
/// It is not smaller because at a degenerate fixed point (a zero eigenvalue) the ODE comes
/// to rest only algebraically, up to about 1e-3 away.
pub const POLISH_DISTANCE: f64 = 1e-2;

/// Local tolerance of a layer's integration: as for the run from `init` in
/// [`crate::fixed_points`], loose enough to keep the number of coefficient evaluations in
/// the hundreds, tight enough not to be carried into another basin near a saddle.
const LAYER_TOLERANCE: Tolerance = Tolerance {
    absolute: 1e-6,
    relative: 1e-6,
};

/// Integrates the reduced ODE from `init` until it comes to rest, then polishes the state
/// with Newton's method. The result is the fixed point with its stability; it is unstable
/// only when `init` lies on an invariant set (e.g. `Q_j = 0`, or for a layer two
/// exchangeable neurons) of an unstable point.
///
/// A single neuron is integrated at the default tolerance to [`STEADY_REST`], a layer at a
/// looser tolerance to [`STEADY_LAYER_REST`]; either way Newton's method must not move
/// the state at rest by more than [`POLISH_DISTANCE`].
pub fn steady_state(
    problem: &Problem,
    init: &OrderParameters,
) -> Result<FixedPoint, ComparatorError> {
    let ode = ReducedOde::new(problem)?;
    let (rest_threshold, tolerance) = if problem.neurons == 1 {
        (STEADY_REST, Tolerance::default())
    } else {
        (STEADY_LAYER_REST, LAYER_TOLERANCE)
    };
    let (rest, t) = ode.relax_with(
        &init.coordinates(),
        STEADY_HORIZON,
        rest_threshold,
        tolerance,
    )?;
    let mut derivative = vec![0.0; rest.len()];
    ode.rhs(&rest, &mut derivative);
    let residual = max_abs(derivative);
    if residual >= rest_threshold {
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
