//! The closed ODE for `(Q, R)` under L2 or no regularization (MODEL.md §3).

use mfcl_model::{OrderParameters, Problem, Trajectory};
use nalgebra::DMatrix;

use crate::dopri::{Dopri5, StepError, Tolerance};
use crate::{ComparatorError, max_abs};

/// Beyond this squared norm a trajectory is declared divergent.
const NORM2_BOUND: f64 = 1e8;

/// An integration that stopped early: why, and the samples recorded before.
#[derive(Debug)]
pub struct OdeStopped {
    /// Why it stopped (a divergence, a collapsed step).
    pub error: ComparatorError,
    /// The samples recorded up to then.
    pub trajectory: Trajectory,
}

/// The reduced ODE of a problem whose regularizer is quadratic (or absent).
///
/// State vectors are laid out as `[Q_1, …, Q_p, R]`.
#[derive(Debug, Clone, Copy)]
pub struct ReducedOde<'a> {
    problem: &'a Problem,
    strength: f64,
}

impl<'a> ReducedOde<'a> {
    /// Refuses `l1` and `elastic`, for which the moments do not close.
    pub fn new(problem: &'a Problem) -> Result<Self, ComparatorError> {
        let strength = problem
            .regularizer
            .quadratic_strength()
            .ok_or(ComparatorError::NoClosedOde(problem.regularizer.name()))?;
        Ok(ReducedOde { problem, strength })
    }

    /// The problem this ODE describes.
    pub fn problem(&self) -> &Problem {
        self.problem
    }

    /// Number of state components, `p + 1`.
    pub fn dimension(&self) -> usize {
        self.problem.features() + 1
    }

    /// `dQ_j/dt = τ (g_j + (g_0 − λ) Q_j)`, `dR/dt = τ (2 Σ Q_j g_j + 2 (g_0 − λ) R) + τ² v`.
    ///
    /// A state with `R ≤ 0` (outside the domain) yields NaN, which the integrator rejects.
    pub fn rhs(&self, state: &[f64], derivative: &mut [f64]) {
        let (q, r) = split(state);
        if r.is_nan() || r <= 0.0 {
            derivative.fill(f64::NAN);
            return;
        }
        let c = self.problem.coefficients(q, r);
        let tau = self.problem.learning_rate;
        let decay = c.self_term - self.strength;
        for j in 0..q.len() {
            derivative[j] = tau * (c.drive[j] + decay * q[j]);
        }
        let alignment: f64 = q.iter().zip(&c.drive).map(|(q, g)| q * g).sum();
        derivative[q.len()] =
            tau * (2.0 * alignment + 2.0 * decay * r) + tau * tau * c.noise_variance;
    }

    /// The Jacobian of [`ReducedOde::rhs`], assembled from the coefficients' derivatives.
    pub fn jacobian(&self, state: &[f64]) -> DMatrix<f64> {
        let (q, r) = split(state);
        let p = q.len();
        let c = self.problem.coefficients(q, r);
        let d = self.problem.coefficient_derivatives(q, r);
        let tau = self.problem.learning_rate;
        let decay = c.self_term - self.strength;
        let mut jac = DMatrix::zeros(p + 1, p + 1);
        // Column k: derivative with respect to Q_k (k < p) or R (k = p).
        for k in 0..=p {
            let dc = if k < p { &d.overlaps[k] } else { &d.norm2 };
            for j in 0..p {
                jac[(j, k)] =
                    tau * (dc.drive[j] + dc.self_term * q[j] + if j == k { decay } else { 0.0 });
            }
            let d_alignment: f64 = q.iter().zip(&dc.drive).map(|(q, g)| q * g).sum::<f64>()
                + if k < p { c.drive[k] } else { 0.0 };
            let d_norm_term = dc.self_term * r + if k == p { decay } else { 0.0 };
            jac[(p, k)] =
                tau * (2.0 * d_alignment + 2.0 * d_norm_term) + tau * tau * dc.noise_variance;
        }
        jac
    }

    /// Integrates from `init` and records at `t = k · record_every` (exactly) up to
    /// `t_end`, plus `t_end` itself when it is off the grid.
    pub fn integrate(
        &self,
        init: &OrderParameters,
        t_end: f64,
        record_every: f64,
        tolerance: Tolerance,
    ) -> Result<Trajectory, ComparatorError> {
        self.integrate_at(init, &recording_times(t_end, record_every), tolerance)
    }

    /// Integrates from `init` at `t = times[0]` and records at each of `times` (increasing),
    /// landing on each exactly: the grid of another level's trajectory, for comparisons.
    pub fn integrate_at(
        &self,
        init: &OrderParameters,
        times: &[f64],
        tolerance: Tolerance,
    ) -> Result<Trajectory, ComparatorError> {
        self.integrate_recording(init, times, tolerance)
            .map_err(|stopped| stopped.error)
    }

    /// [`ReducedOde::integrate_at`], keeping the samples recorded before a failure (a
    /// divergence): what led to it is what a user needs to see.
    pub fn integrate_recording(
        &self,
        init: &OrderParameters,
        times: &[f64],
        tolerance: Tolerance,
    ) -> Result<Trajectory, OdeStopped> {
        let mut trajectory = Trajectory::default();
        let Some((&start, rest)) = times.split_first() else {
            return Ok(trajectory);
        };
        trajectory.push(start, &init.overlaps, init.norm2);
        let mut y = init.overlaps.clone();
        y.push(init.norm2);
        let rhs = |s: &[f64], d: &mut [f64]| self.rhs(s, d);
        let mut stepper = Dopri5::new(rhs, start, y, 0.01, tolerance);
        for &target in rest {
            while stepper.t < target {
                if let Err(error) = advance(&mut stepper, target) {
                    return Err(OdeStopped { error, trajectory });
                }
            }
            let (q, r) = split(&stepper.y);
            trajectory.push(target, q, r);
        }
        Ok(trajectory)
    }

    /// Integrates until `|dy/dt| < threshold` (max norm) or `t_max`, returning the final
    /// state and time. Used to relax towards a stable fixed point before Newton polishing.
    pub fn relax(
        &self,
        init: &[f64],
        t_max: f64,
        threshold: f64,
    ) -> Result<(Vec<f64>, f64), ComparatorError> {
        let mut stepper = Dopri5::new(
            |s: &[f64], d: &mut [f64]| self.rhs(s, d),
            0.0,
            init.to_vec(),
            0.01,
            Tolerance::default(),
        );
        while stepper.t < t_max {
            advance(&mut stepper, t_max)?;
            if at_rest(&stepper, threshold) {
                break;
            }
        }
        Ok((stepper.y, stepper.t))
    }
}

/// `0`, then `k · Δ` for `k ≥ 1` up to `t_end`, and `t_end` itself if it is off the grid:
/// the times at which `mfcl ode` records. Times are computed as products, not sums, so
/// they are exact grid values.
pub fn recording_times(t_end: f64, every: f64) -> Vec<f64> {
    // A relative slack so that t_end = 10 with Δ = 0.1 ends on k = 100.
    let last = ((t_end / every) * (1.0 + 1e-12)).floor() as u64;
    let on_grid = (last as f64 * every - t_end).abs() <= 1e-9 * every;
    std::iter::once(0.0)
        .chain((1..=last).map(|k| {
            if k == last && on_grid {
                t_end
            } else {
                k as f64 * every
            }
        }))
        .chain((!on_grid).then_some(t_end))
        .collect()
}

/// One accepted step of the ODE, not past `t_max`, that stays in the domain.
pub(crate) fn advance<F: FnMut(&[f64], &mut [f64])>(
    stepper: &mut Dopri5<F>,
    t_max: f64,
) -> Result<(), ComparatorError> {
    stepper
        .step(t_max)
        .map_err(|StepError::StepTooSmall { t, step }| ComparatorError::StepTooSmall { t, step })?;
    check_domain(stepper.t, &stepper.y)
}

/// Whether every component of the stepper's current derivative is below `threshold`.
pub(crate) fn at_rest<F: FnMut(&[f64], &mut [f64])>(stepper: &Dopri5<F>, threshold: f64) -> bool {
    stepper
        .derivative()
        .is_some_and(|d| max_abs(d.iter().copied()) < threshold)
}

fn split(state: &[f64]) -> (&[f64], f64) {
    let (q, r) = state.split_at(state.len() - 1);
    (q, r[0])
}

fn check_domain(t: f64, y: &[f64]) -> Result<(), ComparatorError> {
    if y.iter().any(|v| !v.is_finite()) {
        return Err(ComparatorError::Diverged {
            t,
            reason: "non-finite state".into(),
        });
    }
    let r = y[y.len() - 1];
    if r > NORM2_BOUND {
        return Err(ComparatorError::Diverged {
            t,
            reason: format!("R = {r:.3e} exceeds {NORM2_BOUND:e}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_grid_is_exact() {
        let times = recording_times(10.0, 0.1);
        assert_eq!(times.len(), 101);
        assert_eq!(times[0], 0.0);
        assert_eq!(times[10], 1.0);
        assert_eq!(*times.last().unwrap(), 10.0);
        let times = recording_times(1.05, 0.1);
        assert_eq!(times.len(), 12);
        assert_eq!(*times.last().unwrap(), 1.05);
        assert_eq!(times[10], 10.0 * 0.1);
    }
}
