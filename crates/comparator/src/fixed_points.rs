//! Fixed points of the reduced ODE, their stability, and the uninformative state with its
//! growth rates (MODEL.md §4).

use mfcl_model::{OrderParameters, Problem};
use nalgebra::{DMatrix, DVector};

use crate::{ComparatorError, ReducedOde, max_abs};

/// The uninformative state `Q = 0, R = R_0` and the growth rate of each feature there.
#[derive(Debug, Clone, PartialEq)]
pub struct Uninformative {
    /// `R_0`, the stable root of `2 (g_0(0, R) − λ) R + τ v(0, R)`.
    pub norm2: f64,
    /// `κ_j = τ (g_0(0, R_0) − λ − ⟨c_j²⟩ K(R_0))`: feature `j` is learnable iff `κ_j > 0`.
    pub growth_rates: Vec<f64>,
}

/// A fixed point of the reduced ODE with its linear stability.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPoint {
    /// The point.
    pub state: OrderParameters,
    /// Eigenvalues `(re, im)` of the Jacobian of the full `(Q, R)` system, by decreasing
    /// real part.
    pub eigenvalues: Vec<(f64, f64)>,
    /// Whether every eigenvalue has a negative real part.
    pub stable: bool,
}

/// Everything `mfcl fixed-points` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointReport {
    /// The uninformative state.
    pub uninformative: Uninformative,
    /// Distinct fixed points up to the sign symmetries, the uninformative one first, then
    /// by decreasing largest cosine.
    pub fixed_points: Vec<FixedPoint>,
}

/// Search range for `R_0`, scanned upwards on a geometric grid. The quadrature's cost grows
/// like `R` (tanh must be resolved across a Gaussian of width `√R`), so the scan stops at the
/// first bracket and does not go beyond 1e4.
const NORM2_RANGE: (f64, f64) = (1e-6, 1e4);
/// Grid points per decade of the scan.
const SCAN_PER_DECADE: f64 = 12.0;
/// A real part above `−STABILITY_MARGIN` counts as not stable (marginal cases included).
const STABILITY_MARGIN: f64 = 1e-9;
/// Residual (max norm of the ODE's right-hand side) accepted as a fixed point.
const RESIDUAL: f64 = 1e-11;

/// `dR/dt` at the cosines `m` (so `Q = m √R`) and the squared norm `r`; at `m = 0` it is
/// `τ (2 (g_0(0, R) − λ) R + τ v(0, R))`.
fn norm_drift(ode: &ReducedOde, cosines: &[f64], r: f64) -> f64 {
    let mut state: Vec<f64> = cosines.iter().map(|m| m * r.sqrt()).collect();
    state.push(r);
    let mut derivative = vec![0.0; state.len()];
    ode.rhs(&state, &mut derivative);
    derivative[cosines.len()]
}

/// The squared norm at which the norm is at rest, `dR/dt = 0`, at fixed cosines `m`: the
/// first root, from small `R`, where `dR/dt` turns from positive to negative, i.e. the
/// smallest root that attracts `R`. Scanned upwards over [`NORM2_RANGE`], then Brent's
/// method; `None` if there is no such root there.
pub fn rest_norm(ode: &ReducedOde, cosines: &[f64]) -> Option<f64> {
    let (lo, hi) = NORM2_RANGE;
    let ratio = 10f64.powf(1.0 / SCAN_PER_DECADE);
    let drift = |r: f64| norm_drift(ode, cosines, r);
    let (mut a, mut fa) = (lo, drift(lo));
    loop {
        let b = a * ratio;
        if b > hi * (1.0 + 1e-9) {
            return None;
        }
        let fb = drift(b);
        if fa > 0.0 && fb <= 0.0 {
            return Some(brent(drift, a, b, fa, fb));
        }
        (a, fa) = (b, fb);
    }
}

/// Finds `R_0`, the [`rest_norm`] at `Q = 0`, and the growth rates.
pub fn uninformative(problem: &Problem) -> Result<Uninformative, ComparatorError> {
    let ode = ReducedOde::new(problem)?;
    let (lo, hi) = NORM2_RANGE;
    let norm2 = rest_norm(&ode, &vec![0.0; problem.features()])
        .ok_or(ComparatorError::NoSteadyNorm { lo, hi })?;
    let tau = problem.learning_rate;
    let lambda = problem
        .regularizer
        .quadratic_strength()
        .expect("checked by ReducedOde::new");
    let self_term = problem
        .coefficients(&vec![0.0; problem.features()], norm2)
        .self_term;
    let curvature = problem.curvature(norm2);
    let growth_rates = problem
        .hidden
        .iter()
        .map(|law| tau * (self_term - lambda - law.second_moment() * curvature))
        .collect();
    Ok(Uninformative {
        norm2,
        growth_rates,
    })
}

/// Fixed points reached by Newton's method from: the uninformative state; points on each
/// feature axis (±), both directly and after relaxing along the axis with the ODE; and the
/// state reached by integrating the ODE from `init` for `horizon`.
pub fn fixed_points(
    problem: &Problem,
    init: &OrderParameters,
    horizon: f64,
) -> Result<FixedPointReport, ComparatorError> {
    let ode = ReducedOde::new(problem)?;
    let uninformative = uninformative(problem)?;
    let p = problem.features();
    let r0 = uninformative.norm2;

    let mut starts: Vec<Vec<f64>> = Vec::new();
    let mut origin = vec![0.0; p + 1];
    origin[p] = r0;
    starts.push(origin.clone());
    for j in 0..p {
        for sign in [1.0, -1.0] {
            // The axis Q_k = 0 (k ≠ j) is invariant, so relaxing there finds the informative
            // point of feature j whenever it attracts within its axis, stable or saddle.
            let mut axis = origin.clone();
            axis[j] = sign * 0.5 * r0.sqrt();
            if let Ok((relaxed, _)) = ode.relax(&axis, 200.0, 1e-8) {
                starts.push(relaxed);
            }
            for cosine in [0.25, 0.5, 0.75, 0.95] {
                let mut start = origin.clone();
                start[j] = sign * cosine * r0.sqrt();
                starts.push(start);
            }
        }
    }
    // Mixed points, where two features are learned at once: the saddles that separate the
    // basins of the informative points lie between two axes.
    for j in 0..p {
        for k in j + 1..p {
            for sign in [1.0, -1.0] {
                for cosine in [0.3, 0.6, 0.9] {
                    for angle in [0.25, 0.5, 0.75] {
                        let angle: f64 = angle * std::f64::consts::FRAC_PI_2;
                        let mut start = origin.clone();
                        start[j] = cosine * angle.cos() * r0.sqrt();
                        start[k] = sign * cosine * angle.sin() * r0.sqrt();
                        starts.push(start);
                    }
                }
            }
        }
    }
    let mut from_init = init.overlaps.clone();
    from_init.push(init.norm2);
    if let Ok((end, _)) = ode.relax(&from_init, horizon, 0.0) {
        starts.push(end);
    }

    let symmetric: Vec<bool> = problem
        .hidden
        .iter()
        .map(|law| law.shape.is_symmetric())
        .collect();
    let mut found: Vec<Vec<f64>> = Vec::new();
    for start in starts {
        let Some(point) = polish(&ode, start) else {
            continue;
        };
        let canonical: Vec<f64> = point
            .iter()
            .enumerate()
            .map(|(j, &x)| if j < p && symmetric[j] { x.abs() } else { x })
            .collect();
        let duplicate = found.iter().any(|f| {
            f.iter()
                .zip(&canonical)
                .all(|(a, b)| (a - b).abs() <= 1e-7 * (1.0 + a.abs()))
        });
        if !duplicate {
            found.push(canonical);
        }
    }

    let mut fixed_points: Vec<FixedPoint> = found.into_iter().map(|y| classify(&ode, y)).collect();
    let largest_cosine = |f: &FixedPoint| max_abs(f.state.cosine());
    fixed_points.sort_by(|a, b| largest_cosine(a).total_cmp(&largest_cosine(b)));
    // The uninformative point (cosine 0) is first; the informative ones follow by decreasing cosine.
    if fixed_points.len() > 1 {
        fixed_points[1..].reverse();
    }
    Ok(FixedPointReport {
        uninformative,
        fixed_points,
    })
}

/// Below this, an overlap that Newton's method left nonzero is tried at exactly zero.
const SNAP: f64 = 1e-3;

/// Newton's method from `y`, then once more with every overlap below [`SNAP`] held at
/// exactly zero.
///
/// `Q_j = 0` is invariant for centred hidden laws, and some fixed points are degenerate
/// across it (a Gaussian hidden law makes the transverse eigenvalue exactly zero: the
/// rate equals the growth rate of Finding 1). There the residual vanishes like `Q_j³`, so
/// Newton's method stops at `|Q_j| ~ 1e-4` with a residual below tolerance; the point on
/// the invariant plane is the true one. Holding those overlaps fixed also keeps the
/// (singular) transverse block of the Jacobian out of the solve.
pub(crate) fn polish(ode: &ReducedOde, y: Vec<f64>) -> Option<Vec<f64>> {
    let all = vec![true; y.len()];
    let point = newton(ode, y, &all)?;
    let p = point.len() - 1;
    let free: Vec<bool> = (0..=p).map(|j| j == p || point[j].abs() >= SNAP).collect();
    if free.iter().zip(&point).all(|(free, y)| *free || *y == 0.0) {
        return Some(point);
    }
    let snapped: Vec<f64> = point
        .iter()
        .zip(&free)
        .map(|(&y, &free)| if free { y } else { 0.0 })
        .collect();
    newton(ode, snapped, &free).or(Some(point))
}

/// Damped Newton on the ODE's right-hand side over the components marked `free` (the
/// others stay as they are); `None` if it does not converge to a point with `R > 0`.
fn newton(ode: &ReducedOde, mut y: Vec<f64>, free: &[bool]) -> Option<Vec<f64>> {
    let n = y.len();
    let index: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
    let residual = |y: &[f64]| {
        let mut d = vec![0.0; n];
        ode.rhs(y, &mut d);
        d
    };
    let size = |d: &[f64]| max_abs(d.iter().copied());
    let mut f = residual(&y);
    for _ in 0..60 {
        if size(&f) < RESIDUAL {
            return Some(y);
        }
        let jac = ode.jacobian(&y).select_rows(&index).select_columns(&index);
        let rhs = DVector::from_iterator(index.len(), index.iter().map(|&i| f[i]));
        let step = jac.lu().solve(&rhs)?;
        let mut damping = 1.0;
        loop {
            let mut trial = y.clone();
            for (&i, s) in index.iter().zip(step.iter()) {
                trial[i] -= damping * s;
            }
            let f_trial = residual(&trial);
            if f_trial.iter().all(|x| x.is_finite()) && size(&f_trial) < size(&f) {
                y = trial;
                f = f_trial;
                break;
            }
            damping /= 2.0;
            if damping < 1e-6 {
                return None;
            }
        }
    }
    (size(&f) < RESIDUAL).then_some(y)
}

pub(crate) fn classify(ode: &ReducedOde, y: Vec<f64>) -> FixedPoint {
    let jac: DMatrix<f64> = ode.jacobian(&y);
    let mut eigenvalues: Vec<(f64, f64)> = jac
        .complex_eigenvalues()
        .iter()
        .map(|z| (z.re, z.im))
        .collect();
    eigenvalues.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    let stable = eigenvalues.iter().all(|&(re, _)| re < -STABILITY_MARGIN);
    let norm2 = y[y.len() - 1];
    let overlaps = y[..y.len() - 1].to_vec();
    FixedPoint {
        state: OrderParameters { overlaps, norm2 },
        eigenvalues,
        stable,
    }
}

/// Brent's method on a bracket `[a, b]` with `f(a) f(b) ≤ 0`, to full precision.
fn brent(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64, mut fa: f64, mut fb: f64) -> f64 {
    if fa.abs() < fb.abs() {
        std::mem::swap(&mut a, &mut b);
        std::mem::swap(&mut fa, &mut fb);
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut bisected = true;
    for _ in 0..200 {
        if fb == 0.0 || (b - a).abs() <= 4.0 * f64::EPSILON * b.abs() {
            break;
        }
        let mut s = if fa != fc && fb != fc {
            a * fb * fc / ((fa - fb) * (fa - fc))
                + b * fa * fc / ((fb - fa) * (fb - fc))
                + c * fa * fb / ((fc - fa) * (fc - fb))
        } else {
            b - fb * (b - a) / (fb - fa)
        };
        let between = (s - (3.0 * a + b) / 4.0) * (s - b) < 0.0;
        let slow = if bisected {
            (s - b).abs() >= (b - c).abs() / 2.0
        } else {
            (s - b).abs() >= (c - d).abs() / 2.0
        };
        bisected = !between || slow;
        if bisected {
            s = (a + b) / 2.0;
        }
        let fs = f(s);
        d = c;
        c = b;
        fc = fb;
        if fa * fs < 0.0 {
            b = s;
            fb = fs;
        } else {
            a = s;
            fa = fs;
        }
        if fa.abs() < fb.abs() {
            std::mem::swap(&mut a, &mut b);
            std::mem::swap(&mut fa, &mut fb);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brent_finds_roots_to_full_precision() {
        let root = brent(|x| x * x - 2.0, 1.0, 2.0, -1.0, 2.0);
        assert!((root - 2f64.sqrt()).abs() < 1e-15);
        let root = brent(|x: f64| x.cos() - x, 0.0, 1.0, 1.0, 1f64.cos() - 1.0);
        assert!((root.cos() - root).abs() < 1e-15);
    }
}
