//! The reduced ODE and its fixed points, checked against closed forms and MODEL.md §6.

use mfcl_comparator::{
    ComparatorError, ReducedOde, Tolerance, fixed_points, rest_norm, uninformative,
};
use mfcl_model::{
    Activation, Config, HiddenLaw, HiddenShape, OrderParameters, Problem, Regularizer,
};

fn quickstart() -> Config {
    Config::quickstart()
}

fn with_hidden(problem: &Problem, hidden: Vec<HiddenLaw>) -> Problem {
    Problem {
        hidden,
        ..problem.clone()
    }
}

fn law(shape: HiddenShape, scale: f64) -> HiddenLaw {
    HiddenLaw { shape, scale }
}

/// MODEL.md §6: the quickstart's ODE trajectory to the eight digits given.
#[test]
fn worked_example_trajectory() {
    let config = quickstart();
    let ode = ReducedOde::new(&config.problem).unwrap();
    let trajectory = ode
        .integrate(&config.init, 10.0, 0.1, Tolerance::default())
        .unwrap();
    let expected = [
        (0.0, 0.10000000, 1.00000000, 0.10000000),
        (2.0, 0.61973704, 0.92982056, 0.64269938),
        (4.0, 0.80989591, 0.85302916, 0.87689434),
        (6.0, 0.82065017, 0.83038483, 0.90057184),
        (10.0, 0.82096585, 0.82733997, 0.90257456),
    ];
    let cosine = trajectory.cosine();
    for (t, q, r, m) in expected {
        let k = trajectory
            .t
            .iter()
            .position(|&s| s == t)
            .expect("grid time recorded exactly");
        assert!((trajectory.overlaps[k][0] - q).abs() < 5e-9, "Q({t})");
        assert!((trajectory.norm2[k][0] - r).abs() < 5e-9, "R({t})");
        assert!((cosine[k][0] - m).abs() < 5e-9, "m({t})");
    }
}

/// MODEL.md §6: the informative fixed point, stable; the uninformative state and its
/// growth rate.
#[test]
fn worked_example_fixed_points() {
    let config = quickstart();
    let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    assert!((report.uninformative.norm2 - 0.9260699).abs() < 5e-8);
    assert!((report.uninformative.growth_rates[0] - 1.3169410).abs() < 5e-8);
    assert_eq!(report.fixed_points.len(), 2, "{report:?}");
    let [origin, informative] = &report.fixed_points[..] else {
        unreachable!()
    };
    assert_eq!(origin.state.overlaps, vec![0.0]);
    assert_eq!(origin.learned, vec![None]);
    assert!(!origin.stable);
    assert!((informative.state.overlaps[0] - 0.8209634).abs() < 5e-8);
    assert!((informative.state.norm2[0] - 0.8273171).abs() < 5e-8);
    assert!((informative.state.cosine()[0] - 0.9025844).abs() < 5e-8);
    assert!(informative.stable);
    assert_eq!(informative.learned, vec![Some(0)]);
}

/// With a linear activation the ODE is linear with a closed-form solution:
/// `Q_j = Q_j(0) e^{k_j t}`, `k_j = τ (2 S_j + 2r − λ)`, and `R' = A R + Σ_j B_j Q_j²`
/// (MODEL.md §3 with the Gaussian moments of the linear loss). The integrator's global
/// error must stay below 1e-8.
#[test]
fn linear_activation_has_exact_solution() {
    let mut problem = quickstart().problem;
    problem.activation = Activation::Linear;
    problem.negative = true;
    problem.learning_rate = 0.7;
    problem.regularizer = Regularizer::L2(6.0);
    problem.noise.correlation = -0.3;
    problem.hidden = vec![
        law(HiddenShape::Rademacher, 1.0),
        law(HiddenShape::Sparse(0.4), 0.6),
    ];
    let init = OrderParameters::single(vec![0.3, -0.2], 0.5);
    let (tau, lambda, g) = (problem.learning_rate, 6.0, 1.0);
    let (s2, r) = (
        problem.noise.view_variance(),
        problem.noise.pair_covariance(),
    );
    let v_q = s2 * (2.0 * (1.0 + g * g / 4.0) + g * g) + 2.0 * r * (1.0 + g * g / 4.0);
    let v_r = s2 * (2.0 * (1.0 + g * g / 4.0) * s2 + g * g / 2.0 * (s2 + r))
        + 2.0 * r * (r + g * g / 4.0 * s2);
    let a = 2.0 * tau * (2.0 * r - lambda) + tau * tau * v_r;
    let exact = |t: f64| {
        let mut norm2 = (a * t).exp() * init.norm2[0];
        let overlaps: Vec<f64> = problem
            .hidden
            .iter()
            .zip(&init.overlaps)
            .map(|(law, q0)| {
                let s = law.second_moment();
                let k = tau * (2.0 * s + 2.0 * r - lambda);
                let b = s * (4.0 * tau + tau * tau * v_q);
                norm2 += b * q0 * q0 * ((2.0 * k * t).exp() - (a * t).exp()) / (2.0 * k - a);
                q0 * (k * t).exp()
            })
            .collect();
        (overlaps, norm2)
    };
    let ode = ReducedOde::new(&problem).unwrap();
    let trajectory = ode
        .integrate(&init, 3.0, 0.25, Tolerance::default())
        .unwrap();
    assert_eq!(trajectory.len(), 13);
    for (k, &t) in trajectory.t.iter().enumerate() {
        let (q, r) = exact(t);
        assert!(
            (trajectory.norm2[k][0] - r).abs() < 1e-8 * r.max(1.0),
            "R({t}): {} vs {r}",
            trajectory.norm2[k][0]
        );
        for (j, q) in q.iter().enumerate() {
            assert!((trajectory.overlaps[k][j] - q).abs() < 1e-8, "Q_{j}({t})");
        }
    }
}

/// The default tolerance keeps the global error far below 1e-8: a run at a hundred times
/// tighter tolerance agrees to 1e-9 over the whole quickstart trajectory.
#[test]
fn trajectory_converges_with_tolerance() {
    let config = quickstart();
    let ode = ReducedOde::new(&config.problem).unwrap();
    let run = |tol: f64| {
        let tolerance = Tolerance {
            absolute: tol,
            relative: tol,
        };
        ode.integrate(&config.init, 10.0, 0.5, tolerance).unwrap()
    };
    let (coarse, fine) = (run(1e-11), run(1e-13));
    for k in 0..coarse.len() {
        assert!((coarse.overlaps[k][0] - fine.overlaps[k][0]).abs() < 1e-9);
        assert!((coarse.norm2[k][0] - fine.norm2[k][0]).abs() < 1e-9);
    }
}

/// Finding 1 (MODEL.md §4): laws with equal `⟨c²⟩` give equal growth rates, whatever
/// their higher moments; a different `⟨c²⟩` gives a different rate. The rates are checked
/// twice: through the curvature formula, and as the diagonal of the Jacobian at the origin,
/// whose derivatives go through each law's own quadrature.
#[test]
fn growth_rates_depend_only_on_second_moment() {
    let base = quickstart().problem;
    let equal = [
        law(HiddenShape::Rademacher, 1.5),
        law(HiddenShape::Sparse(0.2), 1.5),
        law(HiddenShape::atoms(&[-1.0, 3.0], &[3.0, 1.0]).unwrap(), 1.5),
        law(HiddenShape::Gaussian, 1.5),
        law(HiddenShape::Uniform, 1.5),
    ];
    let mut all = equal.to_vec();
    all.push(law(HiddenShape::Rademacher, 1.2));
    let problem = with_hidden(&base, all);
    let rates = uninformative(&problem).unwrap().growth_rates;
    for k in 1..equal.len() {
        assert!(
            (rates[k] - rates[0]).abs() < 1e-12,
            "law {k}: {} vs {}",
            rates[k],
            rates[0]
        );
    }
    assert!((rates[5] - rates[0]).abs() > 1e-3);
    let ode = ReducedOde::new(&problem).unwrap();
    let mut origin = vec![0.0; 7];
    origin[6] = uninformative(&problem).unwrap().norm2;
    let jacobian = ode.jacobian(&origin);
    for (j, kappa) in rates.iter().enumerate() {
        assert!(
            (jacobian[(j, j)] - kappa).abs() < 1e-8,
            "law {j}: {} vs {kappa}",
            jacobian[(j, j)]
        );
    }
}

/// At the uninformative state the Jacobian (assembled from finite-difference derivatives
/// of the coefficients) has the growth rates (from the curvature integral `K`) among its
/// eigenvalues: two independent routes to the same numbers.
#[test]
fn jacobian_eigenvalues_at_origin_are_growth_rates() {
    let problem = with_hidden(
        &quickstart().problem,
        vec![
            law(HiddenShape::Rademacher, 2.0),
            law(HiddenShape::Gaussian, 1.0),
        ],
    );
    let init = OrderParameters::single(vec![0.1, 0.1], 1.0);
    let report = fixed_points(&problem, &init, 10.0).unwrap();
    let origin = &report.fixed_points[0];
    assert!(origin.state.overlaps.iter().all(|&q| q == 0.0));
    for kappa in &report.uninformative.growth_rates {
        let closest = origin
            .eigenvalues
            .iter()
            .map(|(re, im)| (re - kappa).abs() + im.abs())
            .fold(f64::MAX, f64::min);
        assert!(closest < 1e-8, "kappa {kappa} vs {:?}", origin.eigenvalues);
    }
}

/// Every reported fixed point is a zero of the ODE's right-hand side, a stable one attracts
/// nearby trajectories, and the sign symmetry of symmetric laws is quotiented out.
#[test]
fn fixed_points_are_zeros_and_stable_ones_attract() {
    let config = Config::parse(include_str!("../../../data/configs/two_features.toml")).unwrap();
    let ode = ReducedOde::new(&config.problem).unwrap();
    let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    let stable: Vec<_> = report.fixed_points.iter().filter(|f| f.stable).collect();
    assert_eq!(
        stable.len(),
        2,
        "one stable informative state per feature: {report:?}"
    );
    for point in &report.fixed_points {
        let y = point.state.coordinates();
        let mut dy = vec![0.0; 3];
        ode.rhs(&y, &mut dy);
        assert!(dy.iter().all(|d| d.abs() < 1e-10), "{dy:?}");
        assert!(
            point.state.overlaps.iter().all(|&q| q >= 0.0),
            "canonical sign"
        );
        if point.stable {
            let nudged =
                OrderParameters::single(y[..2].iter().map(|q| q + 0.01).collect(), y[2] * 1.01);
            let end = ode
                .integrate(&nudged, 40.0, 40.0, Tolerance::default())
                .unwrap();
            let last = end.len() - 1;
            assert!(
                (end.overlaps[last][0] - y[0]).abs() < 1e-6
                    && (end.norm2[last][0] - y[2]).abs() < 1e-6
            );
        }
    }
}

/// `l1` and `elastic` have no closed ODE: refused with a message that says so.
#[test]
fn non_quadratic_regularizers_are_refused() {
    for regularizer in [
        Regularizer::L1(0.1),
        Regularizer::Elastic { l1: 0.1, l2: 0.2 },
    ] {
        let problem = Problem {
            regularizer,
            ..quickstart().problem
        };
        let error = ReducedOde::new(&problem).unwrap_err();
        assert!(matches!(error, ComparatorError::NoClosedOde(_)));
        assert!(error.to_string().contains("no closed ODE"));
        assert!(fixed_points(&problem, &quickstart().init, 1.0).is_err());
    }
}

/// Without regularization a linear learner's norm grows without bound: the ODE reports
/// divergence instead of returning numbers, and the uninformative state has no steady norm.
#[test]
fn divergence_is_reported() {
    let mut problem = quickstart().problem;
    problem.activation = Activation::Linear;
    problem.regularizer = Regularizer::None;
    let ode = ReducedOde::new(&problem).unwrap();
    let error = ode
        .integrate(&quickstart().init, 100.0, 1.0, Tolerance::default())
        .unwrap_err();
    assert!(matches!(error, ComparatorError::Diverged { .. }), "{error}");
    assert!(matches!(
        uninformative(&problem),
        Err(ComparatorError::NoSteadyNorm { .. })
    ));
}

/// The norm at rest at fixed cosines is where `dR/dt` vanishes; at the cosines of a fixed
/// point it is that point's norm, and at zero cosines it is `R_0`.
#[test]
fn rest_norm_passes_through_the_fixed_points() {
    let config = quickstart();
    let ode = ReducedOde::new(&config.problem).unwrap();
    let report = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    for point in &report.fixed_points {
        let r = rest_norm(&ode, &point.state.cosine()).unwrap();
        assert!((r - point.state.norm2[0]).abs() < 1e-9, "{r} vs {point:?}");
    }
    let m = [0.5];
    let r = rest_norm(&ode, &m).unwrap();
    let mut derivative = [0.0; 2];
    ode.rhs(&[m[0] * r.sqrt(), r], &mut derivative);
    assert!(derivative[1].abs() < 1e-12, "{derivative:?}");
}
