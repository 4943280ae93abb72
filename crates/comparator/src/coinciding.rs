//! Coinciding neurons (MODEL.md §7, Finding 4): the fixed point where every neuron of a layer
//! has learned the same feature with the same weights, `w_1 = … = w_K`, and the value of a
//! parameter at which it changes stability.
//!
//! Identical neurons stay identical (permuting neurons is a symmetry of the ODE), so this
//! state is a fixed point of the layer whatever `β`; there `R` is singular (every entry the
//! same). Without decorrelation (`β = 0`) the neurons are independent and it is the single
//! neuron's informative point, stable when that is; the decorrelation penalty pushes the
//! neurons apart and, strong enough, makes it a saddle: then the neurons split across
//! features.

use mfcl_model::{OrderParameters, Problem};

use crate::fixed_points::{START_HORIZON, START_REST, START_TOLERANCE, classify, polish};
use crate::{ComparatorError, FixedPoint, ReducedOde};

/// The coinciding state of a layer on feature `feature` (0-based): `Q_{jk} = q` for every
/// neuron `k` and `Q_{ik} = 0` for the other features, `R_{kl} = r` for every `k, l`.
///
/// Newton's method starts from `near` (the coordinates of a nearby such state, e.g. at a
/// nearby parameter value) or else from `q = 0.5`, `r = 1` relaxed within the invariant set
/// with the ODE. Errors if Newton's method does not converge.
pub fn coinciding_point(
    problem: &Problem,
    feature: usize,
    near: Option<&[f64]>,
) -> Result<FixedPoint, ComparatorError> {
    let ode = ReducedOde::new(problem)?;
    let (p, k) = (problem.features(), problem.neurons);
    assert!(feature < p, "feature {feature} of {p}");
    let start = match near {
        Some(y) => y.to_vec(),
        None => {
            let mut overlaps = vec![0.0; p * k];
            overlaps[feature * k..(feature + 1) * k].fill(0.5);
            let identical = OrderParameters {
                neurons: k,
                overlaps,
                norm2: vec![1.0; k * k],
            };
            ode.relax_with(
                &identical.coordinates(),
                START_HORIZON,
                START_REST,
                START_TOLERANCE,
            )?
            .0
        }
    };
    let point = polish(&ode, start).ok_or_else(|| ComparatorError::NotConverged {
        t: 0.0,
        reason: format!(
            "Newton's method found no state of coinciding neurons on feature {}",
            feature + 1
        ),
    })?;
    Ok(classify(&ode, point))
}

/// Where the coinciding state changes stability along a parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct StabilityThreshold {
    /// The parameter value: the midpoint of `bracket`.
    pub value: f64,
    /// The final bracket, `|hi − lo| ≤` the requested resolution; the state is stable at
    /// one end and not at the other.
    pub bracket: (f64, f64),
    /// Whether the state is stable below the threshold (at the smaller end).
    pub stable_below: bool,
}

/// The largest real part of the Jacobian's eigenvalues at a fixed point: negative for a
/// stable point.
pub fn largest_real_part(point: &FixedPoint) -> f64 {
    point
        .eigenvalues
        .first()
        .map_or(f64::NEG_INFINITY, |&(re, _)| re)
}

/// Bisects `[a, b]` for the parameter value where the coinciding state on `feature` changes
/// stability, to a bracket no wider than `resolution`: `problem_at(x)` is the problem at
/// parameter value `x` (`None` where the value makes no problem, e.g. between two integers),
/// and each step follows the state by Newton's method from the previous one. `None` if the
/// state has the same stability at both ends, or a value on the way makes no problem.
pub fn coinciding_threshold(
    problem_at: &dyn Fn(f64) -> Option<Problem>,
    feature: usize,
    (a, b): (f64, f64),
    resolution: f64,
) -> Result<Option<StabilityThreshold>, ComparatorError> {
    let (mut lo, mut hi) = (a.min(b), a.max(b));
    let (Some(low), Some(high)) = (problem_at(lo), problem_at(hi)) else {
        return Ok(None);
    };
    let at_lo = coinciding_point(&low, feature, None)?;
    let stable_below = at_lo.stable;
    if coinciding_point(&high, feature, None)?.stable == stable_below {
        return Ok(None);
    }
    let mut near = at_lo.state.coordinates();
    while hi - lo > resolution {
        let mid = 0.5 * (lo + hi);
        let Some(problem) = problem_at(mid) else {
            return Ok(None);
        };
        let point = coinciding_point(&problem, feature, Some(&near))?;
        near = point.state.coordinates();
        if point.stable == stable_below {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(StabilityThreshold {
        value: 0.5 * (lo + hi),
        bracket: (lo, hi),
        stable_below,
    }))
}
