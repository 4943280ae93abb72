//! Basins of attraction: which feature a random start near the uninformative state ends up
//! learning (MODEL.md §4, Finding 2), and for a layer which feature each neuron learns
//! (MODEL.md §7, Finding 4).
//!
//! A start is *decided* once its trajectory enters the decision ball of a stable fixed point
//! (see [`Attractors`]), up to the symmetries of the ODE (neuron permutations and signs,
//! signs of symmetric features): it then ends as that point's [`Selection`]. The reduced
//! ODE also decides a start that comes to rest elsewhere, by the state at rest. Starts that
//! reach the uninformative state, a state without a clear assignment, or the time bound are
//! *undecided*.

use std::collections::BTreeMap;

use mfcl_model::{OrderParameters, Problem, QuadratureOptions, Trajectory};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::fixed_points::{Element, Symmetries, learned_features, same_point};
use crate::ode::{advance, at_rest};
use crate::{ComparatorError, Dopri5, FixedPointReport, ReducedOde, Tolerance, max_distance};

/// Default radius `r0` of the starts `Q = r0 · U`.
pub const DEFAULT_START_RADIUS: f64 = 0.02;
/// Largest radius (max norm over `(Q, R)`) of a decision ball.
pub const DECISION_RADIUS: f64 = 0.02;
/// A decision ball is also at most this fraction of the distance from its fixed point to
/// the nearest other fixed point, so that it lies well inside the basin.
pub const DECISION_FRACTION: f64 = 0.25;
/// Model time after which the ODE gives up on a start (undecided).
pub const ODE_HORIZON: f64 = 1e4;
/// The ODE is at rest when every component of `d(Q, R)/dt` is below this.
pub const REST: f64 = 1e-9;
/// Confidence level of the intervals in a [`Tally`].
pub const CONFIDENCE: f64 = 0.95;
/// The largest cosine must exceed the others by this much to name a feature.
const TIE: f64 = 1e-6;
/// Local error tolerance for basin trajectories. Only starts within about 1e-6 of a basin
/// boundary can be classified differently than at the default 1e-11; see the test
/// `classification_does_not_depend_on_the_tolerance`.
pub const BASIN_TOLERANCE: Tolerance = Tolerance {
    absolute: 1e-8,
    relative: 1e-8,
};

/// A layer's basin trajectories: a looser local tolerance and a coarser quadrature of the
/// right-hand side (resolution 0.6, within about 2e-6 of the default; the particles of a
/// layer use the same), together about six times cheaper than [`BASIN_TOLERANCE`] at the
/// default quadrature. A layer's coefficients cost milliseconds, and a start a few hundred
/// of them; only starts within about 1e-5 of a basin boundary can be classified otherwise.
pub const LAYER_BASIN_TOLERANCE: Tolerance = Tolerance {
    absolute: 1e-6,
    relative: 1e-6,
};
/// The quadrature of a layer's basin trajectories; see [`LAYER_BASIN_TOLERANCE`].
pub const LAYER_BASIN_QUADRATURE: QuadratureOptions = QuadratureOptions { resolution: 0.6 };
/// A layer's trajectory is at rest when every component of `d(Q, R)/dt` is below this:
/// [`REST`] lies below what the coarser quadrature and tolerance resolve, and a trajectory
/// that settles on a fixed point outside every decision ball would run to [`ODE_HORIZON`]
/// (thousands of steps). At rates of order 0.1 the state is then within about 1e-4 of its
/// fixed point, which decides the assignment.
pub const LAYER_REST: f64 = 1e-5;

/// What a start ends as.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selection {
    /// The feature (0-based) that each neuron learned, `None` for a neuron that learned
    /// none, listed features first in increasing order and then the `None`s: assignments
    /// that differ by a permutation of the neurons are one class. A single neuron that
    /// selects feature `j` is `[Some(j)]` ([`Selection::feature`]).
    Assigned(Vec<Option<usize>>),
    /// None: the uninformative state, a tie, or the time bound.
    Undecided,
}

impl Selection {
    /// A single neuron that selects feature `j` (0-based).
    pub fn feature(j: usize) -> Selection {
        Selection::Assigned(vec![Some(j)])
    }

    /// The class of the per-neuron labels `learned` (in any order of the neurons).
    pub fn assignment(mut learned: Vec<Option<usize>>) -> Selection {
        learned.sort_by_key(|j| j.unwrap_or(usize::MAX));
        Selection::Assigned(learned)
    }

    /// The feature a single neuron selects, if it does.
    pub fn single_feature(&self) -> Option<usize> {
        match self {
            Selection::Assigned(learned) if learned.len() == 1 => learned[0],
            _ => None,
        }
    }

    /// Whether every neuron learned a feature and no two the same one.
    pub fn is_distinct(&self) -> bool {
        match self {
            Selection::Assigned(learned) => {
                learned.iter().all(Option::is_some)
                    && learned.windows(2).all(|pair| pair[0] != pair[1])
            }
            Selection::Undecided => false,
        }
    }

    /// The class in words: `features 1, 2 (distinct)`, `both on feature 1`,
    /// `all on feature 2`, `features 1, 1, 2`, `features 1, none`; `undecided`. One
    /// neuron: `feature 1`, `no feature`.
    pub fn describe(&self) -> String {
        let Selection::Assigned(learned) = self else {
            return "undecided".into();
        };
        let name = |j: &Option<usize>| j.map_or("none".to_string(), |j| (j + 1).to_string());
        let list = learned.iter().map(name).collect::<Vec<_>>().join(", ");
        match learned.as_slice() {
            [only] => only.map_or("no feature".into(), |j| format!("feature {}", j + 1)),
            [first, ..] if first.is_some() && learned.iter().all(|j| j == first) => {
                let all = if learned.len() == 2 { "both" } else { "all" };
                format!("{all} on feature {}", name(first))
            }
            _ if self.is_distinct() => format!("features {list} (distinct)"),
            _ => format!("features {list}"),
        }
    }
}

/// The feature whose cosine is largest in absolute value, if it exceeds the runner-up by
/// more than 1e-6 and the state is informative (a single neuron's `Q_j` and `R`).
pub fn dominant_feature(overlaps: &[f64], norm2: f64) -> Selection {
    let m: Vec<f64> = OrderParameters::single(overlaps.to_vec(), norm2)
        .cosine()
        .iter()
        .map(|m| m.abs())
        .collect();
    let Some(k) = (0..m.len()).max_by(|&a, &b| m[a].total_cmp(&m[b])) else {
        return Selection::Undecided;
    };
    let runner_up = (0..m.len())
        .filter(|&j| j != k)
        .map(|j| m[j])
        .fold(0.0, f64::max);
    if m[k] - runner_up > TIE {
        Selection::feature(k)
    } else {
        Selection::Undecided
    }
}

/// What a state ends as: for one neuron its [`dominant_feature`]; for a layer the class of
/// [`learned_features`], undecided when no neuron learned a feature.
pub fn selection_at(state: &OrderParameters) -> Selection {
    if state.neurons == 1 {
        return dominant_feature(&state.overlaps, state.norm2[0]);
    }
    let learned = learned_features(state);
    if learned.iter().all(Option::is_none) {
        Selection::Undecided
    } else {
        Selection::assignment(learned)
    }
}

/// The stable fixed points of a problem, each with the ball in which it decides a start.
pub struct Attractors {
    points: Vec<Attractor>,
    symmetries: Symmetries,
    /// Every element of the symmetry group, the identity first.
    elements: Vec<Element>,
}

#[derive(Debug, Clone)]
struct Attractor {
    /// The coordinates of the point ([`OrderParameters::coordinates`]).
    state: Vec<f64>,
    radius: f64,
    selection: Selection,
}

impl Attractors {
    /// The stable points of `report`. The ball of each has radius
    /// `min(DECISION_RADIUS, DECISION_FRACTION · distance to the nearest other fixed point)`
    /// in the max norm over `(Q, R)`, distances taken up to the symmetries (the images of
    /// the other points, and the point's own other images, are fixed points too).
    pub fn new(problem: &Problem, report: &FixedPointReport) -> Attractors {
        let symmetries = Symmetries::new(problem);
        let elements = symmetries.elements();
        let images: Vec<Vec<f64>> = report
            .fixed_points
            .iter()
            .flat_map(|f| {
                let y = f.state.coordinates();
                elements
                    .iter()
                    .map(|g| symmetries.apply(g, &y))
                    .collect::<Vec<_>>()
            })
            .collect();
        let points = report
            .fixed_points
            .iter()
            .filter(|f| f.stable)
            .map(|f| {
                let y = f.state.coordinates();
                // The point's own images that coincide with it up to rounding are itself.
                let nearest = images
                    .iter()
                    .filter(|other| !same_point(other, &y))
                    .map(|other| max_distance(other, &y))
                    .fold(f64::INFINITY, f64::min);
                Attractor {
                    state: y,
                    radius: DECISION_RADIUS.min(DECISION_FRACTION * nearest),
                    selection: selection_at(&f.state),
                }
            })
            .collect();
        Attractors {
            points,
            symmetries,
            elements,
        }
    }

    /// The decision for a state (its coordinates) inside a ball, up to the symmetries;
    /// `None` outside all.
    pub fn decide(&self, state: &[f64]) -> Option<Selection> {
        let images: Vec<Vec<f64>> = self
            .elements
            .iter()
            .map(|g| self.symmetries.apply(g, state))
            .collect();
        self.points
            .iter()
            .find(|a| {
                images
                    .iter()
                    .any(|image| max_distance(&a.state, image) <= a.radius)
            })
            .map(|a| a.selection.clone())
    }
}

/// `count` starts `Q = radius · U`, `R = norm2 · I`, with `U` a `p × K` matrix uniform on
/// the unit sphere of the Frobenius norm (for one neuron a unit vector of `R^p`), drawn in
/// order from one xoshiro256++ stream seeded with `seed`.
pub fn sphere_starts(
    features: usize,
    neurons: usize,
    radius: f64,
    norm2: f64,
    count: usize,
    seed: u64,
) -> Vec<OrderParameters> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let u: Vec<f64> = loop {
                let u: Vec<f64> = (0..features * neurons)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                let length = u.iter().map(|x| x * x).sum::<f64>().sqrt();
                if length > 0.0 {
                    break u.iter().map(|x| radius * x / length).collect();
                }
            };
            OrderParameters::isotropic(neurons, u, norm2)
        })
        .collect()
}

/// One start and where the reduced ODE took it.
#[derive(Debug, Clone, PartialEq)]
pub struct BasinSample {
    /// The trajectory at every accepted step, from the start to the decision.
    pub path: Trajectory,
    /// The decision.
    pub selection: Selection,
}

/// A fraction of the starts with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fraction {
    /// How many starts.
    pub count: usize,
    /// `count / samples`.
    pub value: f64,
    /// One standard error `√(f (1 − f) / n)`.
    pub standard_error: f64,
    /// The Wilson score interval at [`CONFIDENCE`]; see [`wilson_interval`].
    pub confidence_interval: (f64, f64),
}

impl Fraction {
    /// `count` of `samples`.
    pub fn new(count: usize, samples: usize) -> Fraction {
        let value = count as f64 / samples.max(1) as f64;
        Fraction {
            count,
            value,
            standard_error: (value * (1.0 - value) / samples.max(1) as f64).sqrt(),
            confidence_interval: wilson_interval(count, samples, CONFIDENCE),
        }
    }
}

/// Fractions of starts per class of [`Selection`], of those where the neurons learned
/// distinct features, and undecided, each with its standard error and its [`CONFIDENCE`]
/// Wilson score interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// Number of starts.
    pub samples: usize,
    /// Every decided class that occurred, in increasing order, with its fraction.
    pub classes: Vec<(Selection, Fraction)>,
    /// Starts whose neurons all learned different features ([`Selection::is_distinct`]; for
    /// one neuron, every decided start).
    pub distinct: Fraction,
    /// Starts left undecided.
    pub undecided: Fraction,
}

impl Tally {
    /// Counts `selections`.
    pub fn new(selections: impl IntoIterator<Item = Selection>) -> Tally {
        let mut counts: BTreeMap<Selection, usize> = BTreeMap::new();
        let (mut samples, mut distinct, mut undecided) = (0usize, 0usize, 0usize);
        for selection in selections {
            samples += 1;
            distinct += usize::from(selection.is_distinct());
            if selection == Selection::Undecided {
                undecided += 1;
            } else {
                *counts.entry(selection).or_default() += 1;
            }
        }
        Tally {
            samples,
            classes: counts
                .into_iter()
                .map(|(class, count)| (class, Fraction::new(count, samples)))
                .collect(),
            distinct: Fraction::new(distinct, samples),
            undecided: Fraction::new(undecided, samples),
        }
    }

    /// The fraction of `class` (zero if it never occurred).
    pub fn fraction(&self, class: &Selection) -> Fraction {
        self.classes
            .iter()
            .find(|(c, _)| c == class)
            .map_or(Fraction::new(0, self.samples), |(_, f)| *f)
    }

    /// For one neuron: the fraction that selects each of `features` features.
    pub fn selected(&self, features: usize) -> Vec<Fraction> {
        (0..features)
            .map(|j| self.fraction(&Selection::feature(j)))
            .collect()
    }
}

/// The Wilson score interval at confidence `level` (in `(0, 1)`) of a proportion observed as
/// `successes` of `samples` Bernoulli draws; `(0, 1)` for no draws.
///
/// Unlike `f ± z·SE`, it stays inside `[0, 1]` and does not collapse to a point when no
/// start, or every start, selects a feature, so that a basin never seen in a few hundred
/// starts still gets an honest upper bound.
///
/// Panics if `level` is not in `(0, 1)` or `successes > samples`.
pub fn wilson_interval(successes: usize, samples: usize, level: f64) -> (f64, f64) {
    assert!(
        level > 0.0 && level < 1.0,
        "confidence level {level} is not in (0, 1)"
    );
    assert!(successes <= samples, "{successes} successes of {samples}");
    if samples == 0 {
        return (0.0, 1.0);
    }
    let z = Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0);
    let (n, z2) = (samples as f64, z * z);
    // (k + z²/2 − z √(k (n − k)/n + z²/4)) / (n + z²), in counts so that k = 0 gives exactly
    // 0 (√(z²/4) is z/2 exactly in floating point) rather than a rounding error of either
    // sign. The upper bound is 1 minus the lower bound of the failures, so n of n gives
    // exactly 1 and the interval is symmetric under exchanging successes and failures.
    let lower = |k: f64| {
        let half = z * (k * (n - k) / n + z2 / 4.0).sqrt();
        (k + z2 / 2.0 - half) / (n + z2)
    };
    (
        lower(successes as f64),
        1.0 - lower((samples - successes) as f64),
    )
}

/// Integrates the reduced ODE from every start (in parallel, one start per rayon task) until
/// it is decided, at rest, or past [`ODE_HORIZON`]. Results come in the order of `starts`
/// and do not depend on the number of threads. `on_sample` is called once per finished
/// start, from whichever thread finished it.
pub fn basins(
    problem: &Problem,
    attractors: &Attractors,
    starts: &[OrderParameters],
    on_sample: &(dyn Fn() + Sync),
) -> Result<Vec<BasinSample>, ComparatorError> {
    let (ode, tolerance, rest) = if problem.neurons == 1 {
        (ReducedOde::new(problem)?, BASIN_TOLERANCE, REST)
    } else {
        let ode = ReducedOde::new(problem)?.with_quadrature(LAYER_BASIN_QUADRATURE);
        (ode, LAYER_BASIN_TOLERANCE, LAYER_REST)
    };
    starts
        .par_iter()
        .map(|start| {
            let sample = follow(&ode, attractors, start, tolerance, rest);
            on_sample();
            sample
        })
        .collect()
}

fn follow(
    ode: &ReducedOde,
    attractors: &Attractors,
    start: &OrderParameters,
    tolerance: Tolerance,
    rest: f64,
) -> Result<BasinSample, ComparatorError> {
    let mut path = Trajectory::default();
    path.push(0.0, start);
    let rhs = |s: &[f64], d: &mut [f64]| ode.rhs(s, d);
    let mut stepper = Dopri5::new(rhs, 0.0, start.coordinates(), 0.01, tolerance);
    let selection = loop {
        advance(&mut stepper, ODE_HORIZON, ode.neurons())?;
        let state = ode.state(&stepper.y);
        path.push(stepper.t, &state);
        if let Some(selection) = attractors.decide(&stepper.y) {
            break selection;
        }
        if at_rest(&stepper, rest) {
            break selection_at(&state);
        }
        if stepper.t >= ODE_HORIZON {
            break Selection::Undecided;
        }
    };
    Ok(BasinSample { path, selection })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominant_feature_needs_a_clear_winner() {
        assert_eq!(dominant_feature(&[0.1, -0.5], 1.0), Selection::feature(1));
        assert_eq!(dominant_feature(&[0.3, -0.3], 1.0), Selection::Undecided);
        assert_eq!(dominant_feature(&[0.0, 0.0], 1.0), Selection::Undecided);
        assert_eq!(dominant_feature(&[0.2], 1.0), Selection::feature(0));
    }

    #[test]
    fn sphere_starts_are_uniform_on_the_circle() {
        // Quadrant counts of 40000 angles: each 1/4 within 4 standard errors.
        let starts = sphere_starts(2, 1, 0.5, 1.0, 40_000, 7);
        let mut quadrants = [0usize; 4];
        for s in &starts {
            let (a, b) = (s.overlaps[0], s.overlaps[1]);
            assert!(((a * a + b * b).sqrt() - 0.5).abs() < 1e-12);
            quadrants[usize::from(a < 0.0) * 2 + usize::from(b < 0.0)] += 1;
        }
        let se = (0.25f64 * 0.75 / 40_000.0).sqrt();
        for q in quadrants {
            assert!(
                (q as f64 / 40_000.0 - 0.25).abs() < 4.0 * se,
                "{quadrants:?}"
            );
        }
        assert_eq!(starts, sphere_starts(2, 1, 0.5, 1.0, 40_000, 7));
    }

    #[test]
    fn tally_counts_fractions() {
        let tally = Tally::new([
            Selection::feature(0),
            Selection::feature(1),
            Selection::feature(0),
            Selection::Undecided,
        ]);
        assert_eq!(tally.samples, 4);
        let values = |f: Vec<Fraction>| f.iter().map(|f| f.value).collect::<Vec<_>>();
        assert_eq!(values(tally.selected(2)), vec![0.5, 0.25]);
        assert_eq!(tally.undecided.value, 0.25);
        let quarter = (0.25f64 * 0.75 / 4.0).sqrt();
        let errors: Vec<f64> = tally.selected(2).iter().map(|f| f.standard_error).collect();
        assert_eq!(errors, vec![0.25, quarter]);
        assert_eq!(tally.undecided.standard_error, quarter);
        assert_eq!(
            tally.selected(2)[0].confidence_interval,
            wilson_interval(2, 4, 0.95)
        );
        assert_eq!(
            tally.undecided.confidence_interval,
            wilson_interval(1, 4, 0.95)
        );
        // A single neuron's decided starts are all "distinct".
        assert_eq!(tally.distinct.count, 3);
    }

    #[test]
    fn a_layer_is_tallied_by_class_up_to_neuron_permutation() {
        let tally = Tally::new([
            Selection::assignment(vec![Some(1), Some(0)]),
            Selection::assignment(vec![Some(0), Some(1)]),
            Selection::assignment(vec![Some(1), Some(1)]),
            Selection::assignment(vec![None, Some(1)]),
            Selection::Undecided,
        ]);
        let classes: Vec<(String, usize)> = tally
            .classes
            .iter()
            .map(|(c, f)| (c.describe(), f.count))
            .collect();
        assert_eq!(
            classes,
            [
                ("features 1, 2 (distinct)".to_string(), 2),
                ("features 2, none".to_string(), 1),
                ("both on feature 2".to_string(), 1),
            ]
        );
        assert_eq!((tally.distinct.count, tally.undecided.count), (2, 1));
        assert_eq!(tally.distinct.value, 0.4);
        assert_eq!(
            Selection::assignment(vec![Some(2), Some(2), Some(2)]).describe(),
            "all on feature 3"
        );
        assert_eq!(Selection::feature(1).describe(), "feature 2");
        assert!(!Selection::assignment(vec![Some(0), None]).is_distinct());
    }

    #[test]
    fn empty_tally_has_uninformative_intervals() {
        let tally = Tally::new([]);
        assert_eq!(tally.selected(2)[0].value, 0.0);
        assert_eq!(tally.selected(2)[1].confidence_interval, (0.0, 1.0));
        assert_eq!(tally.undecided.confidence_interval, (0.0, 1.0));
    }

    #[test]
    fn layer_starts_are_uniform_on_the_frobenius_sphere() {
        // p = 2, K = 2: each entry of U is ±-symmetric with E[U_jk²] = 1/4.
        let starts = sphere_starts(2, 2, 0.1, 0.5, 20_000, 3);
        let mut second = [0.0f64; 4];
        for s in &starts {
            let norm: f64 = s.overlaps.iter().map(|q| q * q).sum::<f64>().sqrt();
            assert!((norm - 0.1).abs() < 1e-12);
            assert_eq!(s.norm2, vec![0.5, 0.0, 0.0, 0.5]);
            for (m, q) in second.iter_mut().zip(&s.overlaps) {
                *m += (q / 0.1).powi(2) / 20_000.0;
            }
        }
        // Var(U_jk²) = E[U⁴] − 1/16 = 1/24 − 1/16 on the unit sphere of R⁴ (E[U⁴] = 3/24).
        let se = ((3.0 / 24.0 - 1.0 / 16.0) / 20_000.0f64).sqrt();
        for m in second {
            assert!((m - 0.25).abs() < 4.0 * se, "{second:?}");
        }
    }

    /// 40 of 100 at 95%: `z = Φ⁻¹(0.975) = 1.959963984540054`, and the interval by hand from
    /// `(p + z²/2n ∓ z √(p(1 − p)/n + z²/4n²)) / (1 + z²/n)` is (0.309401286, 0.497997413).
    #[test]
    fn wilson_interval_matches_the_hand_computed_value() {
        let (lo, hi) = wilson_interval(40, 100, 0.95);
        assert!((lo - 0.3094012864324589).abs() < 1e-14, "{lo}");
        assert!((hi - 0.4979974132089382).abs() < 1e-14, "{hi}");
        // At 99%, z = Φ⁻¹(0.995) = 2.5758293035489004.
        let (lo, hi) = wilson_interval(40, 100, 0.99);
        assert!((lo - 0.2838632554739869).abs() < 1e-14, "{lo}");
        assert!((hi - 0.5285808820691777).abs() < 1e-14, "{hi}");
    }

    #[test]
    fn wilson_interval_is_a_sub_interval_of_the_unit_interval_around_the_fraction() {
        for n in [1usize, 2, 7, 100, 1000] {
            for k in 0..=n {
                let (lo, hi) = wilson_interval(k, n, CONFIDENCE);
                let f = k as f64 / n as f64;
                assert!(
                    0.0 <= lo && lo <= f && f <= hi && hi <= 1.0,
                    "{k}/{n}: ({lo}, {hi})"
                );
                assert!(lo < hi, "{k}/{n}");
                // Symmetric under exchanging successes and failures.
                let (mlo, mhi) = wilson_interval(n - k, n, CONFIDENCE);
                assert!((lo - (1.0 - mhi)).abs() < 1e-15 && (hi - (1.0 - mlo)).abs() < 1e-15);
            }
            assert_eq!(wilson_interval(0, n, CONFIDENCE).0, 0.0);
            assert_eq!(wilson_interval(n, n, CONFIDENCE).1, 1.0);
        }
        // With no success in n draws the upper bound is z²/(n + z²).
        let z2 = 1.959963984540054f64.powi(2);
        assert!((wilson_interval(0, 100, CONFIDENCE).1 - z2 / (100.0 + z2)).abs() < 1e-15);
    }
}
