//! The seed paper's three findings (MODEL.md §4), checked on the reduced ODE: growth
//! rates, basins of attraction, and steady states under augmentation noise.

use std::f64::consts::FRAC_PI_2;

use mfcl_comparator::{
    Attractors, ReducedOde, Selection, Tally, basins, fixed_points, sphere_starts, steady_state,
    uninformative,
};
use mfcl_model::{
    Activation, Config, HiddenLaw, HiddenShape, Noise, OrderParameters, Problem, Regularizer,
};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

fn config(name: &str) -> Config {
    let path = format!("{}/../../data/configs/{name}", env!("CARGO_MANIFEST_DIR"));
    Config::parse(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// One standard error of a fraction `p` estimated from `k` draws.
fn standard_error(p: f64, k: usize) -> f64 {
    (p * (1.0 - p) / k as f64).sqrt()
}

/// Finding 1 as a property: over random problems (activation, negative sample, noise,
/// regularization, learning rate, scale) and random pairs of hidden laws with equal `⟨c²⟩`,
/// the two growth rates agree. They are read off the diagonal of the Jacobian at the
/// uninformative state, whose derivatives go through each law's own quadrature (not through
/// the curvature formula, which contains `⟨c²⟩` only by construction). A 5% difference in
/// scale, the control, changes the rates visibly.
#[test]
fn finding1_growth_rates_depend_only_on_second_moment() {
    let shapes = [
        HiddenShape::Rademacher,
        HiddenShape::Gaussian,
        HiddenShape::Uniform,
        HiddenShape::Sparse(0.3),
        HiddenShape::Sparse(0.8),
        HiddenShape::atoms(&[-1.0, 2.0], &[2.0, 1.0]).unwrap(),
    ];
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let base = Config::quickstart().problem;
    for case in 0..10 {
        let a = shapes[rng.random_range(0..shapes.len())].clone();
        let b = loop {
            let b = &shapes[rng.random_range(0..shapes.len())];
            if *b != a {
                break b.clone();
            }
        };
        let scale = rng.random_range(1.0..2.5);
        let problem = Problem {
            activation: [Activation::Tanh, Activation::Erf][rng.random_range(0..2)],
            negative: rng.random_bool(0.5),
            noise: Noise {
                base: rng.random_range(0.5..1.5),
                augment: rng.random_range(0.0..1.0),
                correlation: rng.random_range(-0.8..0.8),
            },
            learning_rate: rng.random_range(0.5..1.5),
            regularizer: Regularizer::L2(rng.random_range(0.1..1.0)),
            hidden: vec![
                HiddenLaw {
                    shape: a.clone(),
                    scale,
                },
                HiddenLaw {
                    shape: b.clone(),
                    scale,
                },
                HiddenLaw {
                    shape: a.clone(),
                    scale: 1.05 * scale,
                },
            ],
            ..base.clone()
        };
        let rates = uninformative(&problem).unwrap();
        let ode = ReducedOde::new(&problem).unwrap();
        let jacobian = ode.jacobian(&[0.0, 0.0, 0.0, rates.norm2]);
        let (ka, kb, kc) = (jacobian[(0, 0)], jacobian[(1, 1)], jacobian[(2, 2)]);
        let what = format!("case {case}: {a:?} vs {b:?} at scale {scale}: {problem:?}");
        assert!((ka - kb).abs() < 1e-8, "{what}: {ka} vs {kb}");
        assert!((ka - rates.growth_rates[0]).abs() < 1e-8, "{what}");
        assert!((kc - ka).abs() > 1e-3, "{what}: control {kc} vs {ka}");
    }
}

/// The probability that a start selects feature 1, for `p = 2` and symmetric hidden laws,
/// without sampling: by the sign symmetries it is the fraction of the first quadrant's
/// angles whose start selects feature 1, and the boundary angle is found by bisection.
fn boundary_fraction(config: &Config, attractors: &Attractors, norm2: f64) -> f64 {
    let selection = |angle: f64| {
        let start = OrderParameters::single(vec![0.02 * angle.cos(), 0.02 * angle.sin()], norm2);
        basins(&config.problem, attractors, &[start], &|| {}).unwrap()[0]
            .selection
            .clone()
    };
    assert_eq!(selection(0.01), Selection::feature(0));
    assert_eq!(selection(FRAC_PI_2 - 0.01), Selection::feature(1));
    let (mut lo, mut hi) = (0.01, FRAC_PI_2 - 0.01);
    while hi - lo > 1e-6 {
        let mid = 0.5 * (lo + hi);
        if selection(mid) == Selection::feature(0) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi) / FRAC_PI_2
}

/// Finding 2, the control: two identical hidden laws split the starts evenly, within
/// sampling error, and none is left undecided.
#[test]
fn finding2_identical_laws_select_each_feature_half_the_time() {
    let config = Config::parse_with(
        &config("finding2.toml").source,
        &["model.hidden.1.law=\"rademacher\""],
    )
    .unwrap();
    let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    let attractors = Attractors::new(&config.problem, &report);
    let starts = sphere_starts(2, 1, 0.02, report.uninformative.norm2, 400, 11);
    let samples = basins(&config.problem, &attractors, &starts, &|| {}).unwrap();
    let tally = Tally::new(samples.iter().map(|s| s.selection.clone()));
    assert_eq!(tally.undecided.value, 0.0);
    let se = standard_error(0.5, tally.samples);
    assert!(
        (tally.selected(2)[0].value - 0.5).abs() < 4.0 * se,
        "{tally:?}, standard error {se}"
    );
}

/// Finding 2: rademacher against sparse:0.6 at equal scale. The growth rates are equal and
/// both informative fixed points are stable, yet feature 1 attracts 55% of the starts. The
/// sampled fraction agrees with the boundary angle found by bisection, which has no
/// sampling error and lies 3000 times its own resolution away from 1/2, and the sample's own
/// Wilson interval excludes 1/2.
#[test]
fn finding2_higher_moments_shape_the_basins() {
    let config = config("finding2.toml");
    let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    let rates = &report.uninformative.growth_rates;
    assert!((rates[0] - rates[1]).abs() < 1e-12 && rates[0] > 0.0);
    let stable: Vec<_> = report.fixed_points.iter().filter(|f| f.stable).collect();
    assert_eq!(stable.len(), 2, "{report:?}");
    for (j, point) in stable.iter().enumerate() {
        let m = point.state.cosine();
        assert!(m[j].abs() > 0.8 && m[1 - j].abs() < 1e-12, "{m:?}");
    }
    let attractors = Attractors::new(&config.problem, &report);
    let norm2 = report.uninformative.norm2;
    let exact = boundary_fraction(&config, &attractors, norm2);
    assert!((exact - 0.5).abs() > 0.04, "{exact}");
    let starts = sphere_starts(2, 1, 0.02, norm2, 1000, 3);
    let samples = basins(&config.problem, &attractors, &starts, &|| {}).unwrap();
    let tally = Tally::new(samples.iter().map(|s| s.selection.clone()));
    let se = standard_error(exact, tally.samples);
    assert_eq!(tally.undecided.value, 0.0);
    assert!(
        (tally.selected(2)[0].value - exact).abs() < 4.0 * se,
        "sampled {tally:?} against {exact} ± {se}"
    );
    // Feature 1's advantage is resolved by the sample alone: its 95% interval excludes 1/2.
    let (lower, _) = tally.selected(2)[0].confidence_interval;
    assert!(lower > 0.5, "{tally:?}");
}

/// Without a learnable feature every start returns to the uninformative state: undecided.
/// With one feature, both signs of the start select it.
#[test]
fn basins_of_one_feature() {
    let learnable = config("finding3.toml");
    let unlearnable = Config::parse_with(&learnable.source, &["model.noise.augment=2.5"]).unwrap();
    for (config, selected) in [(learnable, 1.0), (unlearnable, 0.0)] {
        let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
        let attractors = Attractors::new(&config.problem, &report);
        let starts = sphere_starts(1, 1, 0.02, report.uninformative.norm2, 8, 1);
        assert!(starts.iter().any(|s| s.overlaps[0] < 0.0));
        let samples = basins(&config.problem, &attractors, &starts, &|| {}).unwrap();
        let tally = Tally::new(samples.iter().map(|s| s.selection.clone()));
        assert_eq!(tally.selected(1)[0].value, selected);
        assert_eq!(tally.undecided.value, 1.0 - selected);
    }
}

/// The samples, their paths and decisions do not depend on the number of threads.
#[test]
fn basins_do_not_depend_on_thread_count() {
    let config = config("finding2.toml");
    let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    let attractors = Attractors::new(&config.problem, &report);
    let starts = sphere_starts(2, 1, 0.02, report.uninformative.norm2, 16, 9);
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| basins(&config.problem, &attractors, &starts, &|| {}).unwrap())
    };
    assert_eq!(on(1), on(2));
}

/// The steady state of `mfcl sweep` at the quickstart is MODEL.md §6's informative fixed
/// point, to the digits given there.
#[test]
fn steady_state_is_the_worked_example_fixed_point() {
    let config = Config::quickstart();
    let steady = steady_state(&config.problem, &config.init).unwrap();
    assert!(steady.stable);
    assert!((steady.state.overlaps[0] - 0.8209634).abs() < 5e-8);
    assert!((steady.state.norm2[0] - 0.8273171).abs() < 5e-8);
    assert!((steady.state.cosine()[0] - 0.9025844).abs() < 5e-8);
}

/// Steady cosines along a sweep of `key` over `values`, from finding3.toml.
fn steady_cosines(key: &str, values: &[f64]) -> Vec<f64> {
    let base = config("finding3.toml");
    values
        .iter()
        .map(|v| {
            let config = Config::parse_with(&base.source, &[format!("{key}={v:?}")]).unwrap();
            let steady = steady_state(&config.problem, &config.init).unwrap();
            assert!(steady.stable, "{key} = {v}");
            steady.state.cosine()[0]
        })
        .collect()
}

/// Finding 3: the steady-state cosine falls strictly as the views' noise correlation `ρ`
/// grows, until the feature is no longer learnable and the steady state is uninformative.
/// Likewise for the augmentation strength `σ_e`.
#[test]
fn finding3_steady_cosine_is_monotone_in_noise() {
    for (key, values) in [
        (
            "model.noise.correlation",
            (0..=20).map(|k| -1.0 + 0.1 * k as f64).collect::<Vec<_>>(),
        ),
        (
            "model.noise.augment",
            (0..=15).map(|k| 0.2 * k as f64).collect::<Vec<_>>(),
        ),
    ] {
        let m = steady_cosines(key, &values);
        let vanish = m.iter().position(|m| m.abs() < 1e-9).unwrap_or(m.len());
        assert!(vanish > 3 && vanish < m.len(), "{key}: {m:?}");
        assert!(m[..vanish].windows(2).all(|w| w[1] < w[0]), "{key}: {m:?}");
        assert!(m[vanish..].iter().all(|m| m.abs() < 1e-9), "{key}: {m:?}");
    }
}
