//! Basins of attraction: which feature a random start near the uninformative state ends up
//! learning (MODEL.md §4, Finding 2).
//!
//! A start is *decided* for feature `k` once its trajectory enters the decision ball of a
//! stable fixed point whose largest cosine is `m_k` (see [`Attractors`]). The reduced ODE
//! also decides a start that comes to rest elsewhere, by its largest cosine there. Starts
//! that reach the uninformative state, a state without a single largest cosine, or the
//! time bound are *undecided*.
//!
//! Single neuron only: for a layer, [`basins`] gives [`ComparatorError::SingleNeuronOnly`].

use mfcl_model::{OrderParameters, Problem, Trajectory};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::ode::{advance, at_rest};
use crate::{
    ComparatorError, Dopri5, FixedPointReport, ReducedOde, Tolerance, max_distance,
    single_neuron_only,
};

/// Default radius `r0` of the starts `Q = r0 · u`.
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

/// Which feature a start selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Feature `k` (0-based).
    Feature(usize),
    /// None: the uninformative state, a tie, or the time bound.
    Undecided,
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
        Selection::Feature(k)
    } else {
        Selection::Undecided
    }
}

/// The stable fixed points of a problem, each with the ball in which it decides a start.
#[derive(Debug, Clone)]
pub struct Attractors {
    points: Vec<Attractor>,
    /// Per feature: whether its hidden law is symmetric, so that the sign of `Q_j` is
    /// immaterial (fixed points are listed with `Q_j ≥ 0` for such features).
    symmetric: Vec<bool>,
}

#[derive(Debug, Clone)]
struct Attractor {
    /// `[Q_1, …, Q_p, R]`.
    state: Vec<f64>,
    radius: f64,
    selection: Selection,
}

impl Attractors {
    /// The stable points of `report`. The ball of each has radius
    /// `min(DECISION_RADIUS, DECISION_FRACTION · distance to the nearest other fixed point)`
    /// in the max norm over `(Q, R)`. A layer has none here (its basins are not computed).
    pub fn new(problem: &Problem, report: &FixedPointReport) -> Attractors {
        let symmetric: Vec<bool> = problem
            .hidden
            .iter()
            .map(|law| law.shape.is_symmetric())
            .collect();
        let states: Vec<Vec<f64>> = report
            .fixed_points
            .iter()
            .map(|f| f.state.coordinates())
            .collect();
        let points = report
            .fixed_points
            .iter()
            .zip(&states)
            .filter(|(f, _)| f.stable && problem.neurons == 1)
            .map(|(f, y)| {
                let nearest = states
                    .iter()
                    .filter(|other| *other != y)
                    .map(|other| max_distance(other, y))
                    .fold(f64::INFINITY, f64::min);
                Attractor {
                    state: y.clone(),
                    radius: DECISION_RADIUS.min(DECISION_FRACTION * nearest),
                    selection: dominant_feature(&f.state.overlaps, f.state.norm2[0]),
                }
            })
            .collect();
        Attractors { points, symmetric }
    }

    /// The decision for a state `[Q_1, …, Q_p, R]` inside a ball, `None` outside all.
    pub fn decide(&self, state: &[f64]) -> Option<Selection> {
        let p = self.symmetric.len();
        let canonical: Vec<f64> = state
            .iter()
            .enumerate()
            .map(|(j, &y)| {
                if j < p && self.symmetric[j] {
                    y.abs()
                } else {
                    y
                }
            })
            .collect();
        self.points
            .iter()
            .find(|a| max_distance(&a.state, &canonical) <= a.radius)
            .map(|a| a.selection)
    }
}

/// `count` starts `Q = radius · u`, `R = norm2`, with `u` uniform on the unit sphere of
/// `R^p`, drawn in order from one xoshiro256++ stream seeded with `seed`.
pub fn sphere_starts(
    features: usize,
    radius: f64,
    norm2: f64,
    count: usize,
    seed: u64,
) -> Vec<OrderParameters> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let u: Vec<f64> = loop {
                let u: Vec<f64> = (0..features)
                    .map(|_| StandardNormal.sample(&mut rng))
                    .collect();
                let length = u.iter().map(|x| x * x).sum::<f64>().sqrt();
                if length > 0.0 {
                    break u.iter().map(|x| radius * x / length).collect();
                }
            };
            OrderParameters::single(u, norm2)
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

/// Fractions of starts per feature, and undecided, each with its standard error and its
/// [`CONFIDENCE`] Wilson score interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// Number of starts.
    pub samples: usize,
    /// Fraction of starts that selected each feature.
    pub selected: Vec<f64>,
    /// Fraction of starts left undecided.
    pub undecided: f64,
    /// One standard error `√(f (1 − f) / n)` of each selected fraction `f`.
    pub standard_error: Vec<f64>,
    /// One standard error of the undecided fraction.
    pub undecided_standard_error: f64,
    /// Wilson score interval of each selected fraction at [`CONFIDENCE`]; see
    /// [`wilson_interval`].
    pub confidence_interval: Vec<(f64, f64)>,
    /// Wilson score interval of the undecided fraction at [`CONFIDENCE`].
    pub undecided_confidence_interval: (f64, f64),
}

impl Tally {
    /// Counts `selections` over `features` features.
    pub fn new(features: usize, selections: impl IntoIterator<Item = Selection>) -> Tally {
        let mut counts = vec![0usize; features];
        let (mut samples, mut undecided) = (0usize, 0usize);
        for selection in selections {
            samples += 1;
            match selection {
                Selection::Feature(k) => counts[k] += 1,
                Selection::Undecided => undecided += 1,
            }
        }
        let fraction = |count: usize| count as f64 / samples.max(1) as f64;
        let standard_error = |count: usize| {
            let f = fraction(count);
            (f * (1.0 - f) / samples.max(1) as f64).sqrt()
        };
        let interval = |count: usize| wilson_interval(count, samples, CONFIDENCE);
        Tally {
            samples,
            selected: counts.iter().map(|&c| fraction(c)).collect(),
            undecided: fraction(undecided),
            standard_error: counts.iter().map(|&c| standard_error(c)).collect(),
            undecided_standard_error: standard_error(undecided),
            confidence_interval: counts.iter().map(|&c| interval(c)).collect(),
            undecided_confidence_interval: interval(undecided),
        }
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
/// start, from whichever thread finished it. A single neuron only.
pub fn basins(
    problem: &Problem,
    attractors: &Attractors,
    starts: &[OrderParameters],
    on_sample: &(dyn Fn() + Sync),
) -> Result<Vec<BasinSample>, ComparatorError> {
    single_neuron_only(problem, "basins of attraction")?;
    let ode = ReducedOde::new(problem)?;
    starts
        .par_iter()
        .map(|start| {
            let sample = follow(&ode, attractors, start);
            on_sample();
            sample
        })
        .collect()
}

fn follow(
    ode: &ReducedOde,
    attractors: &Attractors,
    start: &OrderParameters,
) -> Result<BasinSample, ComparatorError> {
    let mut path = Trajectory::default();
    path.push(0.0, start);
    let rhs = |s: &[f64], d: &mut [f64]| ode.rhs(s, d);
    let mut stepper = Dopri5::new(rhs, 0.0, start.coordinates(), 0.01, BASIN_TOLERANCE);
    let p = start.overlaps.len();
    let selection = loop {
        advance(&mut stepper, ODE_HORIZON, 1)?;
        let (overlaps, norm2) = (&stepper.y[..p], stepper.y[p]);
        path.push(
            stepper.t,
            &OrderParameters::single(overlaps.to_vec(), norm2),
        );
        if let Some(selection) = attractors.decide(&stepper.y) {
            break selection;
        }
        if at_rest(&stepper, REST) {
            break dominant_feature(overlaps, norm2);
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
        assert_eq!(dominant_feature(&[0.1, -0.5], 1.0), Selection::Feature(1));
        assert_eq!(dominant_feature(&[0.3, -0.3], 1.0), Selection::Undecided);
        assert_eq!(dominant_feature(&[0.0, 0.0], 1.0), Selection::Undecided);
        assert_eq!(dominant_feature(&[0.2], 1.0), Selection::Feature(0));
    }

    #[test]
    fn sphere_starts_are_uniform_on_the_circle() {
        // Quadrant counts of 40000 angles: each 1/4 within 4 standard errors.
        let starts = sphere_starts(2, 0.5, 1.0, 40_000, 7);
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
        assert_eq!(starts, sphere_starts(2, 0.5, 1.0, 40_000, 7));
    }

    #[test]
    fn tally_counts_fractions() {
        let tally = Tally::new(
            2,
            [
                Selection::Feature(0),
                Selection::Feature(1),
                Selection::Feature(0),
                Selection::Undecided,
            ],
        );
        assert_eq!(tally.samples, 4);
        assert_eq!(tally.selected, vec![0.5, 0.25]);
        assert_eq!(tally.undecided, 0.25);
        let quarter = (0.25f64 * 0.75 / 4.0).sqrt();
        assert_eq!(tally.standard_error, vec![0.25, quarter]);
        assert_eq!(tally.undecided_standard_error, quarter);
        assert_eq!(
            tally.confidence_interval,
            vec![wilson_interval(2, 4, 0.95), wilson_interval(1, 4, 0.95)]
        );
        assert_eq!(
            tally.undecided_confidence_interval,
            wilson_interval(1, 4, 0.95)
        );
    }

    #[test]
    fn empty_tally_has_uninformative_intervals() {
        let tally = Tally::new(2, []);
        assert_eq!(tally.selected, vec![0.0, 0.0]);
        assert_eq!(tally.confidence_interval, vec![(0.0, 1.0); 2]);
        assert_eq!(tally.undecided_confidence_interval, (0.0, 1.0));
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
