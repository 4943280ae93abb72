//! Finding 4 (MODEL.md §7): decorrelation splits neurons across features. Two neurons on two
//! features of equal strength (`data/configs/finding4.toml`), checked against mathematics:
//! without decorrelation the neurons are independent single neurons, so the coinciding
//! state is the single neuron's informative point and each neuron picks the feature its own
//! start leans to; with `β = 1` the coinciding state is the saddle that an independent solve
//! of the same system found (issue 13), and the neurons split.

use mfcl_comparator::{
    Attractors, FixedPoint, FixedPointReport, Selection, Tally, basins, coinciding_point,
    coinciding_threshold, fixed_points, largest_real_part, sphere_starts,
};
use mfcl_model::Config;

const FINDING4: &str = include_str!("../../../data/configs/finding4.toml");

fn config(sets: &[String]) -> Config {
    Config::parse_with(FINDING4, sets).unwrap()
}

fn at_decorrelation(beta: f64) -> Config {
    config(&[format!("model.decorrelation={beta:?}")])
}

fn report(config: &Config) -> FixedPointReport {
    fixed_points(&config.problem, &config.init, config.run.t_end).unwrap()
}

/// The reported point where both neurons learned feature 1.
fn both_on_feature_1(report: &FixedPointReport) -> &FixedPoint {
    report
        .fixed_points
        .iter()
        .find(|f| f.learned == [Some(0), Some(0)])
        .expect("the coinciding state is among the fixed points")
}

/// Both overlaps with feature 1 are `q`, those with feature 2 zero, and every entry of `R`
/// is `r`.
fn assert_coinciding(point: &FixedPoint, q: f64, r: f64, tolerance: f64) {
    let s = &point.state;
    for (got, want) in s.overlaps.iter().zip([q, q, 0.0, 0.0]) {
        assert!((got - want).abs() < tolerance, "Q = {:?}", s.overlaps);
    }
    for &entry in &s.norm2 {
        assert!((entry - r).abs() < tolerance, "R = {:?}", s.norm2);
    }
}

#[test]
fn coinciding_neurons_are_a_single_neuron_without_decorrelation_and_a_saddle_with_it() {
    // β = 0: the single neuron's informative point (the K = 1 problem's own fixed point),
    // stable; the independent solve gives Q = 0.82096, R = 0.82732.
    let independent = at_decorrelation(0.0);
    let single = config(&[
        "model.neurons=1".into(),
        "init.overlaps=[0.1, 0.05]".into(),
        "init.norm2=1.0".into(),
    ]);
    let single = report(&single);
    let neuron = single
        .fixed_points
        .iter()
        .find(|f| f.stable && f.state.overlaps[0] > 0.5)
        .unwrap();
    let (q, r) = (neuron.state.overlaps[0], neuron.state.norm2[0]);
    assert!(
        (q - 0.82096).abs() < 1e-5 && (r - 0.82732).abs() < 1e-5,
        "{q}, {r}"
    );
    let point = both_on_feature_1(&{ report(&independent) }).clone();
    assert!(point.stable, "{:?}", point.eigenvalues);
    assert_coinciding(&point, q, r, 1e-8);

    // β = 1: a saddle at Q_11 = Q_12 = 0.57569, every R entry 0.41613, with one positive
    // eigenvalue of about 0.78 (independent solve).
    let decorrelated = report(&at_decorrelation(1.0));
    let point = both_on_feature_1(&decorrelated);
    assert!(!point.stable);
    assert_coinciding(point, 0.57569, 0.41613, 1e-5);
    let positive: Vec<_> = point.eigenvalues.iter().filter(|e| e.0 > 0.0).collect();
    assert_eq!(positive.len(), 1, "{:?}", point.eigenvalues);
    assert!((positive[0].0 - 0.78).abs() < 0.01, "{positive:?}");
    // The direct search finds the same state.
    let direct = coinciding_point(&at_decorrelation(1.0).problem, 0, None).unwrap();
    assert_coinciding(&direct, 0.57569, 0.41613, 1e-5);
    assert_eq!(direct.stable, point.stable);
}

/// The bisection brackets a change of sign of the largest real eigenvalue, and the
/// eigenvalue there is near zero (it moves continuously with β).
#[test]
fn the_coinciding_state_loses_stability_at_a_threshold() {
    let problem_at = |beta: f64| Some(at_decorrelation(beta).problem);
    let threshold = coinciding_threshold(&problem_at, 0, (0.0, 1.0), 1e-3)
        .unwrap()
        .expect("stable at β = 0, a saddle at β = 1");
    assert!(threshold.stable_below);
    let (lo, hi) = threshold.bracket;
    assert!(hi - lo <= 1e-3 && lo < threshold.value && threshold.value < hi);
    assert!(0.0 < lo && hi < 1.0, "{threshold:?}");
    let growth = |beta: f64| {
        largest_real_part(&coinciding_point(&problem_at(beta).unwrap(), 0, None).unwrap())
    };
    let (below, above) = (growth(lo), growth(hi));
    assert!(below < 0.0 && above >= 0.0, "{below}, {above}");
    // The largest eigenvalue changes by about 0.8 over [0, 1]: within the bracket by much
    // less than 0.01.
    assert!(above - below < 0.01, "{below}, {above}");
    // Both features are alike, so their thresholds agree.
    let other = coinciding_threshold(&problem_at, 1, (0.0, 1.0), 1e-3)
        .unwrap()
        .unwrap();
    assert!((other.value - threshold.value).abs() <= 1e-3, "{other:?}");
}

/// The starts and their outcomes at decorrelation `beta`.
fn estimate(beta: f64, count: usize) -> (Vec<mfcl_model::OrderParameters>, Vec<Selection>) {
    let config = at_decorrelation(beta);
    let report = report(&config);
    let attractors = Attractors::new(&config.problem, &report);
    let starts = sphere_starts(2, 2, 0.02, report.uninformative.norm2, count, 11);
    let samples = basins(&config.problem, &attractors, &starts, &|| {}).unwrap();
    (starts, samples.into_iter().map(|s| s.selection).collect())
}

/// Without decorrelation each neuron is a single neuron on two equal features, whose
/// dynamics commute with exchanging the features: the diagonal `|Q_1k| = |Q_2k|` is
/// invariant, so neuron `k` learns the feature its start leans to. Every start's outcome
/// is predicted from `U`, and `distinct` is ½ within three standard errors.
#[test]
fn without_decorrelation_each_neuron_learns_the_feature_it_starts_closer_to() {
    let (starts, outcomes) = estimate(0.0, 48);
    for (start, outcome) in starts.iter().zip(&outcomes) {
        let q = &start.overlaps;
        let leans = |k: usize| Some(usize::from(q[2 + k].abs() > q[k].abs()));
        assert_eq!(
            *outcome,
            Selection::assignment(vec![leans(0), leans(1)]),
            "{q:?}"
        );
    }
    let tally = Tally::new(outcomes);
    let distinct = tally.distinct;
    assert!(
        (distinct.value - 0.5).abs() < 3.0 * (0.25f64 / 48.0).sqrt(),
        "{distinct:?}"
    );
    assert_eq!(tally.undecided.count, 0);
}

#[test]
fn with_decorrelation_the_neurons_split_across_features() {
    let (_, outcomes) = estimate(1.0, 40);
    let tally = Tally::new(outcomes);
    assert!(tally.distinct.value >= 0.95, "{:?}", tally.classes);
}

/// At `β = 0.5` nalgebra's Schur decomposition used to cycle forever on the Jacobian at the
/// uninformative state (rounding residues of opposite signs in a block with equal diagonal
/// entries). Each growth rate is an eigenvalue `K` times there, and with two alike features
/// the rate appears four times.
#[test]
fn the_uninformative_state_is_analysed_at_every_decorrelation() {
    for beta in [0.25, 0.5, 0.75] {
        let state = mfcl_comparator::uninformative(&at_decorrelation(beta).problem).unwrap();
        let kappa = state.growth_rates[0];
        assert!(kappa > 0.0 && (state.growth_rates[1] - kappa).abs() < 1e-9);
        let repeats = state
            .eigenvalues
            .iter()
            .filter(|(re, im)| (re - kappa).abs() < 1e-6 && im.abs() < 1e-6)
            .count();
        assert_eq!(repeats, 4, "β = {beta}: {:?}", state.eigenvalues);
    }
}

/// Between the coinciding state's threshold (0.720) and about 0.85, two neurons on one
/// feature can also settle apart: tilted in opposite directions towards the other feature
/// (`Q_21 = −Q_22`), a stable state on the invariant set of exchanging the neurons and
/// flipping feature 2. At `β = 0.8`: `m = [[0.2191, −0.2191], [0.8596, 0.8596]]` (up to
/// the symmetries), `R_12 / R_11 = 0.78`; at `β = 1` it is gone.
#[test]
fn a_tilted_pair_is_stable_just_above_the_threshold() {
    let tilted = |report: &FixedPointReport| -> Vec<FixedPoint> {
        report
            .fixed_points
            .iter()
            .filter(|f| {
                let q = &f.state.overlaps;
                f.learned == [Some(0), Some(0)] && q[2].abs() > 0.1 && (q[2] + q[3]).abs() < 1e-8
            })
            .cloned()
            .collect()
    };
    let found = tilted(&report(&at_decorrelation(0.8)));
    assert_eq!(found.len(), 1, "{found:?}");
    let point = &found[0];
    assert!(point.stable, "{:?}", point.eigenvalues);
    let m = point.state.cosine();
    assert!(
        (m[0] - 0.8596).abs() < 1e-4 && (m[2].abs() - 0.2191).abs() < 1e-4,
        "{m:?}"
    );
    let r = &point.state.norm2;
    assert!((r[1] / r[0] - 0.779).abs() < 1e-3, "{r:?}");
    assert!(
        tilted(&report(&at_decorrelation(1.0)))
            .iter()
            .all(|f| !f.stable)
    );
}
