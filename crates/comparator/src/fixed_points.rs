//! Fixed points of the reduced ODE, their stability, and the uninformative state with its
//! growth rates (MODEL.md §4, §7).

use mfcl_model::{Activation, OrderParameters, Problem};
use nalgebra::{DMatrix, DVector, Schur};
use rayon::prelude::*;

use crate::{ComparatorError, ReducedOde, Tolerance, max_abs};

/// The uninformative state `Q = 0, R = R_0 I` and the growth rate of each feature there.
#[derive(Debug, Clone, PartialEq)]
pub struct Uninformative {
    /// `R_0`: `R = R_0 I`, where `R_0` is the stable root of the norm equation at `Q = 0`,
    /// for one neuron `2 (g_0(0, R) − λ) R + τ v(0, R)`. For a layer every `R_kk` obeys that
    /// equation with the layer's `(G_0)_kk` and `V_kk` (which depend on `β`), and `R` stays
    /// diagonal: with an odd activation, flipping one neuron's sign is a symmetry that maps
    /// `R_kl` to `−R_kl` and fixes `Q = 0`, so `dR_kl/dt` vanishes at `R_kl = 0`; permuting
    /// neurons makes every `R_kk` equal.
    pub norm2: f64,
    /// The growth rate of `Q_{j·}`, one per feature. One neuron: `κ_j = τ (g_0(0, R_0) − λ −
    /// ⟨c_j²⟩ K(R_0))` (MODEL.md §4), from the curvature integral. A layer: the eigenvalue of
    /// the Jacobian's block of `Q_{j1}, …, Q_{jK}`, which the same two symmetries make
    /// diagonal with `K` equal entries (the largest real part of that block is reported).
    /// Feature `j` is learnable from an uninformative start iff its rate is positive.
    pub growth_rates: Vec<f64>,
    /// Eigenvalues `(re, im)` of the Jacobian of the full system at the uninformative state,
    /// by decreasing real part: each growth rate `K` times (the overlaps decouple there),
    /// then those of the Gram block.
    pub eigenvalues: Vec<(f64, f64)>,
}

/// A fixed point of the reduced ODE with its linear stability.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPoint {
    /// The point.
    pub state: OrderParameters,
    /// Eigenvalues `(re, im)` of the Jacobian of the full `(Q, R)` system (`pK + K(K+1)/2`
    /// unknowns), by decreasing real part.
    pub eigenvalues: Vec<(f64, f64)>,
    /// Whether every eigenvalue has a negative real part.
    pub stable: bool,
    /// Per neuron: the feature `j` (0-based) with the largest `|m_jk|`, if that cosine is at
    /// least [`LEARNED_COSINE`]; `None` otherwise.
    pub learned: Vec<Option<usize>>,
}

/// The smallest `|m_jk|` at which neuron `k` counts as having learned feature `j`.
///
/// The features are orthonormal in the limit, so `Σ_j m_jk² ≤ 1` (`R − QᵀQ` is a Gram
/// matrix): a neuron has at most `1/0.3² ≈ 11` such features, and the one labelled carries
/// at least 9% of the neuron's squared norm, far above the `O(1/n)` share of a random
/// direction. The fixed points computed so far lie well on either side: unlearned overlaps
/// are zero (on the invariant planes of symmetric hidden laws) and learned ones at least
/// 0.54 (MODEL.md §6: 0.90; §7's worked example: 0.76 to 0.90; the single neuron's mixed
/// saddle of `data/configs/two_features.toml`: 0.54 and 0.61, labelled by the larger).
pub const LEARNED_COSINE: f64 = 0.3;

/// Everything `mfcl fixed-points` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedPointReport {
    /// The uninformative state.
    pub uninformative: Uninformative,
    /// Distinct fixed points up to the symmetries (see [`fixed_points`]), the uninformative
    /// one first, then by decreasing `Σ_k max_j |m_jk|` (for one neuron, its largest cosine).
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
/// Two points are the same when every coordinate agrees to this, relative to `1 + |y|`.
const SAME_POINT: f64 = 1e-7;

/// A layer's starts: the cosine of each neuron with its assigned feature.
const START_COSINE: f64 = 0.5;
/// A layer's starts are relaxed with the ODE for this model time (or until at rest to
/// [`START_REST`]) before Newton's method polishes them: long enough to leave the start's
/// transients behind (rates are of order one), short enough to stay near the saddles of the
/// invariant sets the starts lie in (e.g. two neurons on one feature, exchangeable).
pub(crate) const START_HORIZON: f64 = 8.0;
/// Rest threshold of a layer's relaxations: Newton's method converges from there.
pub(crate) const START_REST: f64 = 1e-3;
/// Local tolerance of a layer's relaxations: a start for Newton's method needs to lie in
/// the right basin, not to be accurate, and a layer's coefficients are expensive (about
/// 50 evaluations for the whole relaxation instead of 1000 at the default tolerance).
pub(crate) const START_TOLERANCE: Tolerance = Tolerance {
    absolute: 1e-4,
    relative: 1e-4,
};
/// Local tolerance of a layer's run from the config's `init`: this run may pass close to
/// saddles, where a looser one could end in another basin.
const INIT_TOLERANCE: Tolerance = Tolerance {
    absolute: 1e-6,
    relative: 1e-6,
};

/// `dR_11/dt` at the cosines `m` (`p × K`, so `Q = m √r`) and `R = r I`; at `m = 0` it is
/// `τ (2 ((G_0)_11(0, r I) − λ) r + τ V_11(0, r I))`, for one neuron
/// `τ (2 (g_0(0, r) − λ) r + τ v(0, r))`.
fn norm_drift(ode: &ReducedOde, cosines: &[f64], r: f64) -> f64 {
    let mut state: Vec<f64> = cosines.iter().map(|m| m * r.sqrt()).collect();
    let k = ode.neurons();
    for a in 0..k {
        state.extend((a..k).map(|b| if a == b { r } else { 0.0 }));
    }
    let mut derivative = vec![0.0; state.len()];
    ode.rhs(&state, &mut derivative);
    derivative[cosines.len()]
}

/// The squared norm at which the norm is at rest, `dR/dt = 0`, at fixed cosines `m`
/// (`p × K` row-major; a layer is taken at `R = r I` and the rest of `R_11` is found): the
/// first root, from small `R`, where `dR/dt` turns from positive to negative, i.e. the
/// smallest root that attracts `R`. Scanned upwards over `[1e-6, 1e4]`, then Brent's
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

/// `[0, …, 0, R_0 I]` in coordinates.
fn origin(problem: &Problem, norm2: f64) -> Vec<f64> {
    let k = problem.neurons;
    OrderParameters::isotropic(k, vec![0.0; problem.features() * k], norm2).coordinates()
}

/// Finds `R_0`, the [`rest_norm`] at `Q = 0`, the growth rates and the eigenvalues there.
pub fn uninformative(problem: &Problem) -> Result<Uninformative, ComparatorError> {
    let ode = ReducedOde::new(problem)?;
    let (lo, hi) = NORM2_RANGE;
    let (p, k) = (problem.features(), problem.neurons);
    let norm2 =
        rest_norm(&ode, &vec![0.0; p * k]).ok_or(ComparatorError::NoSteadyNorm { lo, hi })?;
    let jacobian = ode.jacobian(&origin(problem, norm2));
    let growth_rates = if k == 1 {
        let tau = problem.learning_rate;
        let lambda = problem
            .regularizer
            .quadratic_strength()
            .expect("checked by ReducedOde::new");
        let self_term = problem
            .coefficients(&OrderParameters::single(vec![0.0; p], norm2))
            .self_term[0];
        let curvature = problem.curvature(norm2);
        problem
            .hidden
            .iter()
            .map(|law| tau * (self_term - lambda - law.second_moment() * curvature))
            .collect()
    } else {
        (0..p)
            .map(|j| {
                let block = jacobian.view((j * k, j * k), (k, k)).clone_owned();
                sorted_eigenvalues(block)[0].0
            })
            .collect()
    };
    Ok(Uninformative {
        norm2,
        growth_rates,
        eigenvalues: sorted_eigenvalues(jacobian),
    })
}

/// Where Newton's method starts, and whether the ODE first relaxes the start.
struct Start {
    y: Vec<f64>,
    relax: Option<Relaxation>,
}

/// An integration of the ODE before Newton's method.
#[derive(Clone, Copy)]
struct Relaxation {
    horizon: f64,
    rest: f64,
    tolerance: Tolerance,
}

impl Start {
    fn at(y: Vec<f64>) -> Start {
        Start { y, relax: None }
    }

    fn relaxed(y: Vec<f64>, horizon: f64, rest: f64, tolerance: Tolerance) -> Start {
        Start {
            y,
            relax: Some(Relaxation {
                horizon,
                rest,
                tolerance,
            }),
        }
    }

    /// The fixed point found from here; `None` if the relaxation fails or Newton's method
    /// does not converge.
    fn polish(&self, ode: &ReducedOde) -> Option<Vec<f64>> {
        let y = match self.relax {
            None => self.y.clone(),
            Some(r) => {
                ode.relax_with(&self.y, r.horizon, r.rest, r.tolerance)
                    .ok()?
                    .0
            }
        };
        polish(ode, y)
    }
}

/// Fixed points reached by Newton's method from:
///
/// - the uninformative state;
/// - one neuron: points on each feature axis (±), both directly and after relaxing along
///   the axis with the ODE, and points between two axes (the saddles between basins);
/// - a layer: every assignment of the neurons to features or to none (several neurons may
///   share a feature; all to none is the uninformative state), each assigned neuron with
///   cosine 0.5 with its feature and its remaining weight orthogonal to
///   everything else (`R = QᵀQ + (1 − m²) R_0 I`), relaxed with the ODE for `t ≤ 8` at a
///   loose tolerance. Assignments that differ by a permutation of the neurons or by their
///   signs are images of each other under the symmetries below and lead to images of the
///   same fixed points, so one start per multiset of assignments is run;
/// - the state reached by integrating the ODE from `init` for `horizon`.
///
/// Points related by a symmetry are merged: flipping the sign of feature `j`'s row of `Q`
/// when its hidden law is symmetric, and for a layer permuting neurons and (the activation
/// being odd) flipping one neuron's sign (its column of `Q`, its row and column of `R`).
/// The representative reported has every overlap of a symmetric feature non-negative (one
/// neuron), or (a layer) each neuron's largest overlap positive, neurons in decreasing
/// lexicographic order of their overlaps, and the remaining signs chosen to make the
/// overlaps lexicographically largest.
pub fn fixed_points(
    problem: &Problem,
    init: &OrderParameters,
    horizon: f64,
) -> Result<FixedPointReport, ComparatorError> {
    let ode = ReducedOde::new(problem)?;
    let uninformative = uninformative(problem)?;
    let r0 = uninformative.norm2;
    let origin = origin(problem, r0);
    let (more, init_tolerance) = if problem.neurons == 1 {
        (
            single_neuron_starts(problem.features(), r0),
            Tolerance::default(),
        )
    } else {
        (layer_starts(problem, r0), INIT_TOLERANCE)
    };
    let mut starts = vec![Start::at(origin.clone())];
    starts.extend(more);
    starts.push(Start::relaxed(
        init.coordinates(),
        horizon,
        0.0,
        init_tolerance,
    ));
    // Each start is independent; collecting in order keeps the result independent of the
    // number of threads.
    let polished: Vec<Option<Vec<f64>>> = starts.par_iter().map(|s| s.polish(&ode)).collect();

    let symmetries = Symmetries::new(problem);
    let mut found: Vec<Vec<f64>> = Vec::new();
    for point in polished.into_iter().flatten() {
        if !found.iter().any(|f| symmetries.related(f, &point)) {
            found.push(symmetries.canonical(&point));
        }
    }
    let mut fixed_points: Vec<FixedPoint> = found
        .into_par_iter()
        .map(|y| {
            if y == origin {
                fixed_point(&ode, y, uninformative.eigenvalues.clone())
            } else {
                classify(&ode, y)
            }
        })
        .collect();
    let learned = |f: &FixedPoint| -> f64 {
        let (k, m) = (f.state.neurons, f.state.cosine());
        (0..k)
            .map(|a| max_abs(m.iter().skip(a).step_by(k).copied()))
            .sum()
    };
    fixed_points.sort_by(|a, b| learned(a).total_cmp(&learned(b)));
    // The uninformative point (cosine 0) is first; the informative ones follow by decreasing cosine.
    if fixed_points.len() > 1 {
        fixed_points[1..].reverse();
    }
    Ok(FixedPointReport {
        uninformative,
        fixed_points,
    })
}

/// A single neuron's starts besides the origin and the run from `init`.
fn single_neuron_starts(p: usize, r0: f64) -> Vec<Start> {
    let mut origin = vec![0.0; p + 1];
    origin[p] = r0;
    let mut starts = Vec::new();
    for j in 0..p {
        for sign in [1.0, -1.0] {
            // The axis Q_k = 0 (k ≠ j) is invariant, so relaxing there finds the informative
            // point of feature j whenever it attracts within its axis, stable or saddle.
            let mut axis = origin.clone();
            axis[j] = sign * 0.5 * r0.sqrt();
            starts.push(Start::relaxed(axis, 200.0, 1e-8, Tolerance::default()));
            for cosine in [0.25, 0.5, 0.75, 0.95] {
                let mut start = origin.clone();
                start[j] = sign * cosine * r0.sqrt();
                starts.push(Start::at(start));
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
                        starts.push(Start::at(start));
                    }
                }
            }
        }
    }
    starts
}

/// A layer's starts: one per multiset of the neurons' assignments, each to a feature or to
/// none (an uninformative neuron), except all to none (the uninformative state).
fn layer_starts(problem: &Problem, r0: f64) -> Vec<Start> {
    let (p, k) = (problem.features(), problem.neurons);
    let q0 = START_COSINE * r0.sqrt();
    // Feature `p` stands for none.
    let feature = |j: usize| (j < p).then_some(j);
    // R = QᵀQ + the rest of each neuron's norm R_0, orthogonal to everything else.
    let start = |overlaps: Vec<f64>| {
        let gram = |a: usize, b: usize| -> f64 {
            let shared: f64 = (0..p)
                .map(|j| overlaps[j * k + a] * overlaps[j * k + b])
                .sum();
            shared + if a == b { r0 - shared } else { 0.0 }
        };
        let state = OrderParameters {
            neurons: k,
            norm2: (0..k * k).map(|i| gram(i / k, i % k)).collect(),
            overlaps,
        };
        Start::relaxed(
            state.coordinates(),
            START_HORIZON,
            START_REST,
            START_TOLERANCE,
        )
    };
    let mut starts = Vec::new();
    let mut assignment = vec![0usize; k];
    loop {
        let mut overlaps = vec![0.0; p * k];
        for (a, &j) in assignment.iter().enumerate() {
            if let Some(j) = feature(j) {
                overlaps[j * k + a] = q0;
            }
        }
        // Two neurons on one feature may also settle apart, tilted in opposite directions
        // towards another feature (with decorrelation just above the threshold where they
        // stop coinciding). Such a pair lies on an invariant set (exchanging the two neurons
        // and flipping the other feature's sign), which a start of that shape stays on.
        let shared = (0..k).find_map(|a| {
            (a + 1..k)
                .find(|&b| assignment[b] == assignment[a] && assignment[a] < p)
                .map(|b| (a, b, assignment[a]))
        });
        if let Some((a, b, j)) = shared {
            for other in (0..p).filter(|&i| i != j) {
                let mut tilted = overlaps.clone();
                tilted[other * k + a] = 0.5 * q0;
                tilted[other * k + b] = -0.5 * q0;
                starts.push(start(tilted));
            }
        }
        starts.push(start(overlaps));
        // The next non-decreasing assignment; the last one, all to none, is the origin.
        let Some(last) = (0..k).rev().find(|&a| assignment[a] < p) else {
            break;
        };
        let next = assignment[last] + 1;
        assignment[last..].fill(next);
        if assignment.iter().all(|&j| j == p) {
            break;
        }
    }
    starts
}

/// The symmetries of the reduced ODE that the fixed points are merged under.
pub(crate) struct Symmetries {
    features: usize,
    neurons: usize,
    /// Per feature: whether `c_j ↦ −c_j` (flipping row `j` of `Q`) is a symmetry.
    row_flips: Vec<bool>,
    /// Whether flipping one neuron's sign is (an odd activation; only used for a layer,
    /// so that a single neuron's report is as it always was).
    neuron_flips: bool,
}

/// One element of the group: neuron `a` of the image is neuron `permutation[a]` of the
/// original times `neuron_signs[a]`, and row `j` is multiplied by `row_signs[j]`.
pub(crate) struct Element {
    permutation: Vec<usize>,
    neuron_signs: Vec<f64>,
    row_signs: Vec<f64>,
}

impl Symmetries {
    pub(crate) fn new(problem: &Problem) -> Symmetries {
        let odd = match problem.activation {
            Activation::Tanh | Activation::Erf | Activation::Linear => true,
        };
        Symmetries {
            features: problem.features(),
            neurons: problem.neurons,
            row_flips: problem
                .hidden
                .iter()
                .map(|l| l.shape.is_symmetric())
                .collect(),
            neuron_flips: odd && problem.neurons > 1,
        }
    }

    /// Every element of the group (the identity first).
    pub(crate) fn elements(&self) -> Vec<Element> {
        let (p, k) = (self.features, self.neurons);
        let signs = |n: usize, allowed: &dyn Fn(usize) -> bool| -> Vec<Vec<f64>> {
            let free: Vec<usize> = (0..n).filter(|&i| allowed(i)).collect();
            (0..1usize << free.len())
                .map(|mask| {
                    let mut s = vec![1.0; n];
                    for (bit, &i) in free.iter().enumerate() {
                        if mask >> bit & 1 == 1 {
                            s[i] = -1.0;
                        }
                    }
                    s
                })
                .collect()
        };
        let rows = signs(p, &|j| self.row_flips[j]);
        let neurons = signs(k, &|_| self.neuron_flips);
        let mut elements = Vec::new();
        for permutation in permutations(k) {
            for neuron_signs in &neurons {
                for row_signs in &rows {
                    elements.push(Element {
                        permutation: permutation.clone(),
                        neuron_signs: neuron_signs.clone(),
                        row_signs: row_signs.clone(),
                    });
                }
            }
        }
        elements
    }

    /// The image of the state `y` under `g`.
    pub(crate) fn apply(&self, g: &Element, y: &[f64]) -> Vec<f64> {
        let (p, k) = (self.features, self.neurons);
        let state = OrderParameters::from_coordinates(k, y);
        let pi = &g.permutation;
        let s = &g.neuron_signs;
        let image = OrderParameters {
            neurons: k,
            overlaps: (0..p * k)
                .map(|i| {
                    let (j, a) = (i / k, i % k);
                    g.row_signs[j] * s[a] * state.overlap(j, pi[a])
                })
                .collect(),
            norm2: (0..k * k)
                .map(|i| {
                    let (a, b) = (i / k, i % k);
                    s[a] * s[b] * state.gram(pi[a], pi[b])
                })
                .collect(),
        };
        // `+ 0.0` turns the −0.0 of a flipped zero into 0.0, which prints as such.
        image.coordinates().into_iter().map(|x| x + 0.0).collect()
    }

    /// Whether some image of `y` is the same point as `found` (a representative). For one
    /// neuron the representative is the closest image, so comparing with it suffices.
    fn related(&self, found: &[f64], y: &[f64]) -> bool {
        same_point(found, &self.canonical(y))
            || (self.neurons > 1
                && self
                    .elements()
                    .iter()
                    .any(|g| same_point(found, &self.apply(g, y))))
    }

    /// The representative of `y`'s orbit that the report shows.
    fn canonical(&self, y: &[f64]) -> Vec<f64> {
        let (p, k) = (self.features, self.neurons);
        if k == 1 {
            return y
                .iter()
                .enumerate()
                .map(|(j, &x)| {
                    if j < p && self.row_flips[j] {
                        x.abs()
                    } else {
                        x
                    }
                })
                .collect();
        }
        // Each neuron's largest overlap positive: its largest entry is at least the
        // magnitude of its most negative one (ties either way are then settled by the
        // lexicographic order).
        let positive = |image: &[f64]| {
            !self.neuron_flips
                || (0..k).all(|a| {
                    let column = || (0..p).map(|j| image[j * k + a]);
                    let top = column().fold(f64::NEG_INFINITY, f64::max);
                    let bottom = column().fold(f64::INFINITY, f64::min);
                    top >= -bottom - SAME_POINT * (1.0 + top.abs())
                })
        };
        // Neuron by neuron (its overlaps with each feature), then the Gram matrix.
        let key = |image: &[f64]| -> Vec<f64> {
            (0..k)
                .flat_map(|a| (0..p).map(move |j| image[j * k + a]))
                .chain(image[p * k..].iter().copied())
                .collect()
        };
        let mut best: Option<(Vec<f64>, Vec<f64>)> = None;
        for g in self.elements() {
            let image = self.apply(&g, y);
            if !positive(&image) {
                continue;
            }
            let image_key = key(&image);
            if best
                .as_ref()
                .is_none_or(|(_, best_key)| lexicographically_larger(&image_key, best_key))
            {
                best = Some((image, image_key));
            }
        }
        best.map_or_else(|| y.to_vec(), |(image, _)| image)
    }
}

/// Whether `a` exceeds `b` in the first entry where they differ by more than
/// [`SAME_POINT`] (relative to `1 + |b|`); `false` if none does.
fn lexicographically_larger(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .find(|(x, y)| (*x - *y).abs() > SAME_POINT * (1.0 + y.abs()))
        .is_some_and(|(x, y)| x > y)
}

/// Whether `a` and `b` agree in every coordinate to [`SAME_POINT`] relative to `1 + |a|`.
pub(crate) fn same_point(a: &[f64], b: &[f64]) -> bool {
    a.iter()
        .zip(b)
        .all(|(a, b)| (a - b).abs() <= SAME_POINT * (1.0 + a.abs()))
}

/// All permutations of `0..k`, the identity first.
fn permutations(k: usize) -> Vec<Vec<usize>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut all = Vec::new();
    for rest in permutations(k - 1) {
        for position in (0..k).rev() {
            let mut p = rest.clone();
            p.insert(position, k - 1);
            all.push(p);
        }
    }
    all
}

/// Below this, an overlap that Newton's method left nonzero is tried at exactly zero.
const SNAP: f64 = 1e-3;
/// Newton's method reuses a layer's Jacobian while each step shrinks the residual by at
/// least this factor (a chord iteration); a Jacobian costs `4 (pK + K(K+1)/2)` coefficient
/// evaluations, a step one or two.
const CHORD_CONTRACTION: f64 = 0.25;

/// Newton's method from `y`, then once more with every overlap below [`SNAP`] held at
/// exactly zero.
///
/// `Q_j = 0` is invariant for centred hidden laws, and some fixed points are degenerate
/// across it (a Gaussian hidden law makes the transverse eigenvalue exactly zero: the
/// rate equals the growth rate of Finding 1). There the residual vanishes like `Q_j³`, so
/// Newton's method stops at `|Q_j| ~ 1e-4` with a residual below tolerance; the point on
/// the invariant plane is the true one. Holding those overlaps fixed also keeps the
/// (singular) transverse block of the Jacobian out of the solve. The snapped point is
/// accepted only if the whole right-hand side vanishes there, held components included.
pub(crate) fn polish(ode: &ReducedOde, y: Vec<f64>) -> Option<Vec<f64>> {
    let all = vec![true; y.len()];
    let point = newton(ode, y, &all)?;
    let overlaps = ode.problem().features() * ode.neurons();
    let free: Vec<bool> = (0..point.len())
        .map(|i| i >= overlaps || point[i].abs() >= SNAP)
        .collect();
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
/// others stay as they are); `None` if it does not converge to a point in the domain.
///
/// A single neuron's Jacobian is cheap and is recomputed at every step. A layer's is kept
/// while full steps contract the residual by [`CHORD_CONTRACTION`], and recomputed
/// otherwise; only a line search that fails with a fresh Jacobian gives up.
fn newton(ode: &ReducedOde, mut y: Vec<f64>, free: &[bool]) -> Option<Vec<f64>> {
    let n = y.len();
    let index: Vec<usize> = (0..n).filter(|&i| free[i]).collect();
    let residual = |y: &[f64]| {
        let mut d = vec![0.0; n];
        ode.rhs(y, &mut d);
        d
    };
    let size = |d: &[f64]| max_abs(d.iter().copied());
    let reuse = ode.neurons() > 1;
    let mut f = residual(&y);
    if !f.iter().all(|x| x.is_finite()) {
        return None;
    }
    let mut lu = None;
    for _ in 0..60 {
        if size(&f) < RESIDUAL {
            return Some(y);
        }
        let fresh = lu.is_none();
        let solver = lu.get_or_insert_with(|| {
            ode.jacobian(&y)
                .select_rows(&index)
                .select_columns(&index)
                .lu()
        });
        let rhs = DVector::from_iterator(index.len(), index.iter().map(|&i| f[i]));
        let step = solver.solve(&rhs)?;
        let mut damping = 1.0;
        let accepted = loop {
            let mut trial = y.clone();
            for (&i, s) in index.iter().zip(step.iter()) {
                trial[i] -= damping * s;
            }
            let f_trial = residual(&trial);
            if f_trial.iter().all(|x| x.is_finite()) && size(&f_trial) < size(&f) {
                break Some((trial, f_trial));
            }
            damping /= 2.0;
            if damping < 1e-6 {
                break None;
            }
        };
        let Some((trial, f_trial)) = accepted else {
            if fresh {
                return None;
            }
            lu = None;
            continue;
        };
        let contracted = damping == 1.0 && size(&f_trial) <= CHORD_CONTRACTION * size(&f);
        if !(reuse && contracted) {
            lu = None;
        }
        y = trial;
        f = f_trial;
    }
    (size(&f) < RESIDUAL).then_some(y)
}

/// The fixed point `y` with its eigenvalues and stability.
pub(crate) fn classify(ode: &ReducedOde, y: Vec<f64>) -> FixedPoint {
    let eigenvalues = sorted_eigenvalues(ode.jacobian(&y));
    fixed_point(ode, y, eigenvalues)
}

fn fixed_point(ode: &ReducedOde, y: Vec<f64>, eigenvalues: Vec<(f64, f64)>) -> FixedPoint {
    let stable = eigenvalues.iter().all(|&(re, _)| re < -STABILITY_MARGIN);
    let state = ode.state(&y);
    FixedPoint {
        learned: learned_features(&state),
        state,
        eigenvalues,
        stable,
    }
}

/// Per neuron: the feature `j` (0-based) with the largest `|m_jk|`, if that cosine is at
/// least [`LEARNED_COSINE`]; `None` otherwise ([`FixedPoint::learned`]).
pub fn learned_features(state: &OrderParameters) -> Vec<Option<usize>> {
    let (k, m) = (state.neurons, state.cosine());
    (0..k)
        .map(|a| {
            let column = |j: usize| m[j * k + a].abs();
            let best =
                (0..state.features()).reduce(|x, j| if column(j) > column(x) { j } else { x });
            best.filter(|&j| column(j) >= LEARNED_COSINE)
        })
        .collect()
}

/// Iterations of the Schur decomposition, per row of the matrix, after which it counts as
/// cycling (it needs a few per eigenvalue when it converges).
const SCHUR_ITERATIONS: usize = 1000;
/// Entries below this fraction of a Jacobian's largest entry are rounding residues: the
/// Jacobian comes from finite differences accurate to about 1e-9.
const RESIDUE: f64 = 1e-12;

/// Eigenvalues `(re, im)` by decreasing real part, then decreasing imaginary part.
///
/// nalgebra's QR iteration can cycle forever on a 2 × 2 block with equal diagonal entries
/// and off-diagonal residues of opposite signs (1e-30 and −1e-14 in a layer's Jacobian at
/// the uninformative state, where the overlaps decouple): its eigenvalues are `±1e-22 i`
/// apart. When the decomposition does not converge, it is redone with every entry below
/// [`RESIDUE`] times the largest set to zero, which moves no eigenvalue by more than the
/// Jacobian's own error. A matrix that converges is decomposed exactly as before.
fn sorted_eigenvalues(matrix: DMatrix<f64>) -> Vec<(f64, f64)> {
    let limit = SCHUR_ITERATIONS * matrix.nrows().max(1);
    let values = match Schur::try_new(matrix.clone(), f64::EPSILON, limit) {
        Some(schur) => schur.complex_eigenvalues(),
        None => {
            let floor = RESIDUE * matrix.amax();
            matrix
                .map(|x| if x.abs() < floor { 0.0 } else { x })
                .complex_eigenvalues()
        }
    };
    let mut eigenvalues: Vec<(f64, f64)> = values.iter().map(|z| (z.re, z.im)).collect();
    eigenvalues.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.total_cmp(&a.1)));
    eigenvalues
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
