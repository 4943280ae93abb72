//! The closed ODE for `(Q, R)` under L2 or no regularization (MODEL.md §3; for a layer §7).

use mfcl_model::{Coefficients, OrderParameters, Problem, QuadratureOptions, Trajectory};
use nalgebra::DMatrix;

use crate::dopri::{Dopri5, StepError, Tolerance};
use crate::{ComparatorError, max_abs};

/// Beyond this squared norm (of any neuron) a trajectory is declared divergent.
const NORM2_BOUND: f64 = 1e8;

/// How far below zero the smallest eigenvalue of the neurons' correlation matrix
/// `R_kl / √(R_kk R_ll)` may fall before a state counts as outside the domain. Two neurons
/// that learn the same feature approach `|R_kl| = √(R_kk R_ll)` (a singular `R`, which the
/// coefficients handle), and an integration step may overshoot it by its local error; a
/// clearly indefinite `R` is no Gram matrix, and the coefficients there would be wrong.
const GRAM_SLACK: f64 = 1e-10;

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
/// State vectors are [`OrderParameters::coordinates`]: every `Q_{jk}` (row-major, `p × K`),
/// then `R_{kl}` for `k ≤ l` row by row; for a single neuron `[Q_1, …, Q_p, R]`.
#[derive(Debug, Clone, Copy)]
pub struct ReducedOde<'a> {
    problem: &'a Problem,
    strength: f64,
    quadrature: QuadratureOptions,
}

impl<'a> ReducedOde<'a> {
    /// Refuses `l1` and `elastic`, for which the moments do not close.
    pub fn new(problem: &'a Problem) -> Result<Self, ComparatorError> {
        let strength = problem
            .regularizer
            .quadratic_strength()
            .ok_or(ComparatorError::NoClosedOde(problem.regularizer.name()))?;
        Ok(ReducedOde {
            problem,
            strength,
            quadrature: QuadratureOptions::default(),
        })
    }

    /// The same ODE with its right-hand side evaluated at the quadrature `options` (the
    /// Jacobian keeps the default): a cheaper, slightly less accurate vector field for
    /// following many trajectories, as the basins of a layer do.
    pub fn with_quadrature(self, options: QuadratureOptions) -> Self {
        ReducedOde {
            quadrature: options,
            ..self
        }
    }

    /// The problem this ODE describes.
    pub fn problem(&self) -> &Problem {
        self.problem
    }

    /// `K`, the number of neurons.
    pub fn neurons(&self) -> usize {
        self.problem.neurons
    }

    /// Number of state components, `pK + K(K+1)/2` (`p + 1` for a single neuron).
    pub fn dimension(&self) -> usize {
        let k = self.neurons();
        self.problem.features() * k + k * (k + 1) / 2
    }

    /// The order parameters of a state vector.
    pub fn state(&self, y: &[f64]) -> OrderParameters {
        OrderParameters::from_coordinates(self.neurons(), y)
    }

    /// `dQ/dt = τ (g + Q (G_0 − λ I))`, `dR/dt = τ (gᵀQ + Qᵀg + (G_0 − λ I) R + R (G_0 − λ I)) + τ² V`
    /// (MODEL.md §7; for one neuron §3: `τ (g_j + (g_0 − λ) Q_j)` and
    /// `τ (2 Σ Q_j g_j + 2 (g_0 − λ) R) + τ² v`, to the last bit).
    ///
    /// A state outside the domain (some `R_kk ≤ 0`, or `R` not positive semi-definite)
    /// yields NaN, which the integrator rejects.
    pub fn rhs(&self, state: &[f64], derivative: &mut [f64]) {
        let order = self.state(state);
        if !in_domain(&order) {
            derivative.fill(f64::NAN);
            return;
        }
        let c = self.problem.coefficients_with(&order, self.quadrature);
        let (k, p) = (order.neurons, order.features());
        let tau = self.problem.learning_rate;
        let decay = self.decay(&c.self_term);
        let (q, g, r) = (&order.overlaps, &c.drive, &order.norm2);
        for j in 0..p {
            for a in 0..k {
                let coupling: f64 = (0..k).map(|l| decay[l * k + a] * q[j * k + l]).sum();
                derivative[j * k + a] = tau * (g[j * k + a] + coupling);
            }
        }
        // (gᵀQ)_ab and ((G_0 − λ) R)_ab; the transposed terms are their transposes, so each
        // diagonal entry is x + x = 2x exactly, as in the single-neuron formula.
        let alignment = product_transpose(g, q, p, k);
        let norm_term = product(&decay, r, k);
        for (i, (a, b)) in upper_triangle(k).enumerate() {
            derivative[p * k + i] = tau
                * ((alignment[a * k + b] + alignment[b * k + a])
                    + (norm_term[a * k + b] + norm_term[b * k + a]))
                + tau * tau * c.noise[a * k + b];
        }
    }

    /// The Jacobian of [`ReducedOde::rhs`], assembled from the coefficients' derivatives
    /// ([`Problem::coefficient_derivatives`], one per coordinate; moving the coordinate
    /// `R_kl`, `k < l`, moves both `R_kl` and `R_lk`).
    pub fn jacobian(&self, state: &[f64]) -> DMatrix<f64> {
        let order = self.state(state);
        let (k, p) = (order.neurons, order.features());
        let c = self.problem.coefficients(&order);
        let mut derivatives = self.problem.coefficient_derivatives(&order);
        self.mend_at_boundary(state, &c, &mut derivatives);
        let tau = self.problem.learning_rate;
        let decay = self.decay(&c.self_term);
        let (q, g, r) = (&order.overlaps, &c.drive, &order.norm2);
        let n = self.dimension();
        let triangle: Vec<(usize, usize)> = upper_triangle(k).collect();
        let mut jac = DMatrix::zeros(n, n);
        for (column, dc) in derivatives.iter().enumerate() {
            // The direction moved: Q_{j'k'}, or R_{kl} together with R_{lk}.
            let moved = if column < p * k {
                Moved::Overlap(column / k, column % k)
            } else {
                let (a, b) = triangle[column - p * k];
                Moved::Gram(a, b)
            };
            for j in 0..p {
                for a in 0..k {
                    let d_coupling: f64 =
                        (0..k).map(|l| dc.self_term[l * k + a] * q[j * k + l]).sum();
                    let moved_coupling = match moved {
                        Moved::Overlap(jm, l) if jm == j => decay[l * k + a],
                        _ => 0.0,
                    };
                    jac[(j * k + a, column)] =
                        tau * (dc.drive[j * k + a] + d_coupling + moved_coupling);
                }
            }
            // d(gᵀQ)_ab = (dg ᵀQ)_ab + (gᵀ dQ)_ab; d((G_0 − λ) R)_ab = (dG_0 R)_ab + ((G_0 − λ) dR)_ab.
            let d_alignment = product_transpose(&dc.drive, q, p, k);
            let d_norm_term = product(&dc.self_term, r, k);
            let alignment = |a: usize, b: usize| {
                d_alignment[a * k + b]
                    + match moved {
                        Moved::Overlap(j, l) if l == b => g[j * k + a],
                        _ => 0.0,
                    }
            };
            let norm_term = |a: usize, b: usize| {
                d_norm_term[a * k + b]
                    + match moved {
                        // (D dR)_ab with dR = E_cd + E_dc (once for c = d).
                        Moved::Gram(c, d) if c == d => {
                            if b == c {
                                decay[a * k + c]
                            } else {
                                0.0
                            }
                        }
                        Moved::Gram(c, d) => {
                            (if b == d { decay[a * k + c] } else { 0.0 })
                                + (if b == c { decay[a * k + d] } else { 0.0 })
                        }
                        Moved::Overlap(..) => 0.0,
                    }
            };
            for (i, &(a, b)) in triangle.iter().enumerate() {
                jac[(p * k + i, column)] = tau
                    * ((alignment(a, b) + alignment(b, a)) + (norm_term(a, b) + norm_term(b, a)))
                    + tau * tau * dc.noise[a * k + b];
            }
        }
        jac
    }

    /// Replaces the derivatives in the Gram coordinates whose central differences would
    /// straddle the boundary of the domain by one-sided fourth-order differences from inside.
    ///
    /// Neurons that coincide (`R_kl = ±√(R_kk R_ll)`, a fixed point when several neurons
    /// learn one feature) sit on that boundary. Beyond it `R` is no covariance, the
    /// quadrature's pivoted Cholesky factor drops the negative direction, and the
    /// coefficients continue with a kink (in `V`), so a central difference there is off by
    /// O(1). The one-sided stencil `(−25 c_0 + 48 c_1 − 36 c_2 + 16 c_3 − 3 c_4) / (12 h)`
    /// uses the step of [`Problem::coefficient_derivatives`]; its error is about 1e-9. `at`:
    /// the coefficients at `y`.
    fn mend_at_boundary(&self, y: &[f64], at: &Coefficients, derivatives: &mut [Coefficients]) {
        let k = self.neurons();
        let order = self.state(y);
        let step = 1e-3
            * (0..k)
                .map(|a| order.gram(a, a))
                .fold(f64::INFINITY, f64::min)
                .min(1.0);
        let shifted = |column: usize, steps: f64| {
            let mut z = y.to_vec();
            z[column] += steps * step;
            self.state(&z)
        };
        let inside = |column: usize, steps: f64| in_domain(&shifted(column, steps));
        let overlaps = self.problem.features() * k;
        for (column, derivative) in derivatives.iter_mut().enumerate().skip(overlaps) {
            if inside(column, 2.0) && inside(column, -2.0) {
                continue;
            }
            let Some(direction) = [1.0, -1.0]
                .into_iter()
                .find(|&d| (1..=4).all(|i| inside(column, d * i as f64)))
            else {
                continue;
            };
            let values: Vec<Coefficients> = std::iter::once(at.clone())
                .chain((1..=4).map(|i| {
                    self.problem
                        .coefficients(&shifted(column, direction * i as f64))
                }))
                .collect();
            let weights = [-25.0, 48.0, -36.0, 16.0, -3.0];
            let combine = |part: fn(&Coefficients) -> &Vec<f64>| -> Vec<f64> {
                (0..part(&values[0]).len())
                    .map(|e| {
                        weights
                            .iter()
                            .zip(&values)
                            .map(|(w, c)| w * part(c)[e])
                            .sum::<f64>()
                            / (12.0 * step * direction)
                    })
                    .collect()
            };
            *derivative = Coefficients {
                drive: combine(|c| &c.drive),
                self_term: combine(|c| &c.self_term),
                noise: combine(|c| &c.noise),
            };
        }
    }

    /// `G_0 − λ I`, `K × K` row-major.
    fn decay(&self, self_term: &[f64]) -> Vec<f64> {
        let k = self.neurons();
        let mut decay = self_term.to_vec();
        for a in 0..k {
            decay[a * k + a] -= self.strength;
        }
        decay
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
        assert_eq!(
            (init.neurons, init.coordinates().len()),
            (self.neurons(), self.dimension()),
            "the initial state has the problem's shape (a validated config guarantees it)"
        );
        let mut trajectory = Trajectory::default();
        let Some((&start, rest)) = times.split_first() else {
            return Ok(trajectory);
        };
        trajectory.push(start, init);
        let rhs = |s: &[f64], d: &mut [f64]| self.rhs(s, d);
        let mut stepper = Dopri5::new(rhs, start, init.coordinates(), 0.01, tolerance);
        for &target in rest {
            while stepper.t < target {
                if let Err(error) = advance(&mut stepper, target, self.neurons()) {
                    return Err(OdeStopped { error, trajectory });
                }
            }
            trajectory.push(target, &self.state(&stepper.y));
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
        self.relax_with(init, t_max, threshold, Tolerance::default())
    }

    /// [`ReducedOde::relax`] at a given tolerance: a start for Newton's method needs no
    /// more accuracy than its basin, and a layer's coefficients are expensive.
    pub(crate) fn relax_with(
        &self,
        init: &[f64],
        t_max: f64,
        threshold: f64,
        tolerance: Tolerance,
    ) -> Result<(Vec<f64>, f64), ComparatorError> {
        let mut stepper = Dopri5::new(
            |s: &[f64], d: &mut [f64]| self.rhs(s, d),
            0.0,
            init.to_vec(),
            0.01,
            tolerance,
        );
        while stepper.t < t_max {
            advance(&mut stepper, t_max, self.neurons())?;
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

/// One accepted step of the ODE of `neurons` neurons, not past `t_max`, that stays in the
/// domain.
pub(crate) fn advance<F: FnMut(&[f64], &mut [f64])>(
    stepper: &mut Dopri5<F>,
    t_max: f64,
    neurons: usize,
) -> Result<(), ComparatorError> {
    stepper
        .step(t_max)
        .map_err(|StepError::StepTooSmall { t, step }| ComparatorError::StepTooSmall { t, step })?;
    check_domain(stepper.t, &stepper.y, neurons)
}

/// Whether every component of the stepper's current derivative is below `threshold`.
pub(crate) fn at_rest<F: FnMut(&[f64], &mut [f64])>(stepper: &Dopri5<F>, threshold: f64) -> bool {
    stepper
        .derivative()
        .is_some_and(|d| max_abs(d.iter().copied()) < threshold)
}

/// Which coordinate a column of the Jacobian moves.
#[derive(Clone, Copy)]
enum Moved {
    /// `Q_{jk}`.
    Overlap(usize, usize),
    /// `R_{kl}` and `R_{lk}` together (`k ≤ l`).
    Gram(usize, usize),
}

/// The pairs `(k, l)`, `k ≤ l`, in the order of the coordinates.
fn upper_triangle(k: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..k).flat_map(move |a| (a..k).map(move |b| (a, b)))
}

/// `Aᵀ B` for `A`, `B` both `p × K` row-major: `K × K`, summed over features in order.
fn product_transpose(a: &[f64], b: &[f64], p: usize, k: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * k];
    for x in 0..k {
        for y in 0..k {
            out[x * k + y] = (0..p).map(|j| a[j * k + x] * b[j * k + y]).sum();
        }
    }
    out
}

/// `A B` for `K × K` row-major matrices.
fn product(a: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * k];
    for x in 0..k {
        for y in 0..k {
            out[x * k + y] = (0..k).map(|m| a[x * k + m] * b[m * k + y]).sum();
        }
    }
    out
}

/// Whether `R` is a Gram matrix: every `R_kk > 0` and the correlations `R_kl / √(R_kk R_ll)`
/// positive semi-definite up to [`GRAM_SLACK`].
fn in_domain(state: &OrderParameters) -> bool {
    let k = state.neurons;
    let diagonal: Vec<f64> = (0..k).map(|a| state.gram(a, a)).collect();
    // NaN fails `r > 0` too.
    if !diagonal.iter().all(|&r| r > 0.0) {
        return false;
    }
    if k == 1 {
        return true;
    }
    let correlation = DMatrix::from_fn(k, k, |a, b| {
        state.gram(a, b) / (diagonal[a] * diagonal[b]).sqrt()
            + if a == b { GRAM_SLACK } else { 0.0 }
    });
    correlation.cholesky().is_some()
}

fn check_domain(t: f64, y: &[f64], neurons: usize) -> Result<(), ComparatorError> {
    if y.iter().any(|v| !v.is_finite()) {
        return Err(ComparatorError::Diverged {
            t,
            reason: "non-finite state".into(),
        });
    }
    let state = OrderParameters::from_coordinates(neurons, y);
    for a in 0..neurons {
        let r = state.gram(a, a);
        if r > NORM2_BOUND {
            let name = if neurons == 1 {
                "R".to_owned()
            } else {
                format!("R_{0}{0}", a + 1)
            };
            return Err(ComparatorError::Diverged {
                t,
                reason: format!("{name} = {r:.3e} exceeds {NORM2_BOUND:e}"),
            });
        }
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
