//! The reduced ODE of a layer of `K` neurons (MODEL.md §7), its Jacobian, its uninformative
//! state and fixed points, checked against mathematics: the single neuron that two
//! undecorrelated neurons are copies of, closed forms for the linear activation, finite
//! differences, and the symmetries of the layer.

use mfcl_comparator::{
    ComparatorError, ReducedOde, Tolerance, deviation, fixed_points, uninformative,
};
use mfcl_model::{
    Activation, Config, HiddenLaw, HiddenShape, OrderParameters, Problem, Regularizer, Trajectory,
};

/// A layer of `neurons` neurons with decorrelation `beta` on `problem`.
fn layer(problem: &Problem, neurons: usize, beta: f64) -> Problem {
    Problem {
        neurons,
        decorrelation: beta,
        ..problem.clone()
    }
}

/// MODEL.md §7's worked example: p = 2, rademacher and sparse:0.6 both with scale 2, tanh,
/// no negatives, τ = 1, l2 with λ = 0.5, σ_a = 1, σ_e = 0.5, ρ = 0, K = 2, β = 1.
fn worked_example() -> Problem {
    let mut problem = Config::quickstart().problem;
    problem.hidden = vec![
        HiddenLaw {
            shape: HiddenShape::Rademacher,
            scale: 2.0,
        },
        HiddenLaw {
            shape: HiddenShape::Sparse(0.6),
            scale: 2.0,
        },
    ];
    layer(&problem, 2, 1.0)
}

/// `p × K` overlaps from rows (one per feature) and a `K × K` Gram matrix.
fn state(rows: &[&[f64]], gram: &[&[f64]]) -> OrderParameters {
    OrderParameters {
        neurons: gram.len(),
        overlaps: rows.concat(),
        norm2: gram.concat(),
    }
}

fn rhs(ode: &ReducedOde, y: &[f64]) -> Vec<f64> {
    let mut d = vec![0.0; y.len()];
    ode.rhs(y, &mut d);
    d
}

/// Neuron `k`'s own order parameters, `(Q_{·k}, R_kk)`, as a single neuron's.
fn neuron(state: &OrderParameters, k: usize) -> OrderParameters {
    OrderParameters::single(
        (0..state.features()).map(|j| state.overlap(j, k)).collect(),
        state.gram(k, k),
    )
}

/// Without decorrelation (β = 0) the loss is a sum over neurons of the single-neuron loss,
/// so each neuron's `(Q_{·k}, R_kk)` follows the single-neuron ODE of MODEL.md §3 whatever
/// the other neuron does (`R_12` included): the right-hand sides agree to the accuracy of
/// the coefficients, and the trajectories to that of the integrators.
#[test]
fn without_decorrelation_each_neuron_is_a_single_neuron() {
    let single = Config::parse(include_str!("../../../data/configs/two_features.toml"))
        .unwrap()
        .problem;
    let pair = layer(&single, 2, 0.0);
    let (one, two) = (
        ReducedOde::new(&single).unwrap(),
        ReducedOde::new(&pair).unwrap(),
    );
    let init = state(&[&[0.3, 0.05], &[0.05, -0.25]], &[&[1.0, 0.2], &[0.2, 0.9]]);
    for s in [
        init.clone(),
        state(&[&[0.7, -0.1], &[0.0, 0.4]], &[&[0.8, -0.3], &[-0.3, 0.6]]),
    ] {
        let d = rhs(&two, &s.coordinates());
        for k in 0..2 {
            let own = rhs(&one, &neuron(&s, k).coordinates());
            // Coordinates of the pair: Q_11, Q_12, Q_21, Q_22, R_11, R_12, R_22.
            let mine = [d[k], d[2 + k], d[4 + 2 * k]];
            for (a, b) in mine.iter().zip(&own) {
                assert!((a - b).abs() < 1e-12, "neuron {k}: {mine:?} vs {own:?}");
            }
        }
    }
    let tolerance = Tolerance {
        absolute: 1e-10,
        relative: 1e-10,
    };
    let both = two.integrate(&init, 2.0, 0.5, tolerance).unwrap();
    for k in 0..2 {
        let alone = one
            .integrate(&neuron(&init, k), 2.0, 0.5, Tolerance::default())
            .unwrap();
        for i in 0..both.len() {
            let (a, b) = (neuron(&both.state(i), k), alone.state(i));
            let error = a
                .coordinates()
                .iter()
                .zip(b.coordinates())
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            assert!(error < 1e-9, "neuron {k} at t = {}: {error:e}", both.t[i]);
        }
    }
}

/// With a linear activation and β = 0 the ODE is linear. Each neuron follows the single
/// neuron's closed form (`Q_jk = Q_jk(0) e^{k_j t}`, `R_kk' = A R_kk + Σ_j B_j Q_jk²`, see
/// tests/ode.rs), and `V_12`, `gᵀQ` being the bilinear forms of `V_kk`, `g_kᵀQ_k` (the
/// gradient is linear in each neuron's pre-activations), `R_12' = A R_12 + Σ_j B_j Q_j1
/// Q_j2`, so `R_12 = e^{At} R_12(0) + Σ_j B_j Q_j1(0) Q_j2(0) (e^{2k_j t} − e^{At}) /
/// (2k_j − A)`.
#[test]
fn linear_activation_without_decorrelation_has_exact_solution() {
    let mut problem = layer(&Config::quickstart().problem, 2, 0.0);
    problem.activation = Activation::Linear;
    problem.negative = true;
    problem.learning_rate = 0.7;
    problem.regularizer = Regularizer::L2(6.0);
    problem.noise.correlation = -0.3;
    problem.hidden = vec![
        HiddenLaw {
            shape: HiddenShape::Rademacher,
            scale: 1.0,
        },
        HiddenLaw {
            shape: HiddenShape::Sparse(0.4),
            scale: 0.6,
        },
    ];
    let init = state(&[&[0.3, -0.1], &[-0.2, 0.25]], &[&[0.5, 0.1], &[0.1, 0.4]]);
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
        let mut gram: Vec<f64> = init.norm2.iter().map(|r| (a * t).exp() * r).collect();
        let mut overlaps = vec![0.0; 4];
        for (j, law) in problem.hidden.iter().enumerate() {
            let s = law.second_moment();
            let k = tau * (2.0 * s + 2.0 * r - lambda);
            let b = s * (4.0 * tau + tau * tau * v_q);
            for x in 0..2 {
                overlaps[j * 2 + x] = init.overlap(j, x) * (k * t).exp();
                for y in 0..2 {
                    gram[x * 2 + y] += b
                        * init.overlap(j, x)
                        * init.overlap(j, y)
                        * ((2.0 * k * t).exp() - (a * t).exp())
                        / (2.0 * k - a);
                }
            }
        }
        OrderParameters {
            neurons: 2,
            overlaps,
            norm2: gram,
        }
    };
    let ode = ReducedOde::new(&problem).unwrap();
    let trajectory = ode
        .integrate(&init, 3.0, 0.25, Tolerance::default())
        .unwrap();
    assert_eq!(trajectory.len(), 13);
    for (i, &t) in trajectory.t.iter().enumerate() {
        let (got, want) = (trajectory.state(i), exact(t));
        for (x, y) in got.coordinates().iter().zip(want.coordinates()) {
            assert!(
                (x - y).abs() < 1e-8 * y.abs().max(1.0),
                "t = {t}: {got:?} vs {want:?}"
            );
        }
    }
}

/// The Jacobian, assembled from the coefficients' derivatives, against fourth-order
/// central differences of the right-hand side (a different step from the coefficients'),
/// for the worked example and for three neurons with decorrelation (every term of §7's ODE,
/// `R_kl` off the diagonal moving both entries).
#[test]
fn jacobian_matches_differences_of_the_rhs() {
    let mut three = layer(&Config::quickstart().problem, 3, 0.7);
    three.activation = Activation::Linear;
    three.negative = true;
    let cases = [
        (
            worked_example(),
            state(&[&[0.3, 0.1], &[0.05, 0.2]], &[&[1.1, 0.2], &[0.2, 0.9]]),
        ),
        (
            three,
            state(
                &[&[0.3, 0.1, -0.2]],
                &[&[1.1, 0.2, 0.1], &[0.2, 0.9, -0.15], &[0.1, -0.15, 0.8]],
            ),
        ),
    ];
    for (problem, s) in cases {
        let ode = ReducedOde::new(&problem).unwrap();
        let y = s.coordinates();
        let n = ode.dimension();
        assert_eq!(n, y.len());
        let jacobian = ode.jacobian(&y);
        let h = 2e-4;
        for column in 0..n {
            let at = |steps: f64| {
                let mut z = y.clone();
                z[column] += steps * h;
                rhs(&ode, &z)
            };
            let (p1, m1, p2, m2) = (at(1.0), at(-1.0), at(2.0), at(-2.0));
            for row in 0..n {
                let difference = (8.0 * (p1[row] - m1[row]) - (p2[row] - m2[row])) / (12.0 * h);
                assert!(
                    (jacobian[(row, column)] - difference).abs() < 1e-7,
                    "K = {}: ({row}, {column}): {} vs {difference}",
                    problem.neurons,
                    jacobian[(row, column)]
                );
            }
        }
    }
}

/// Two coinciding neurons (`R_12 = √(R_11 R_22)`, as at a fixed point where both learn the
/// same feature) sit on the boundary of the Gram matrices, where central differences in `R`
/// would step out of it. The Jacobian there must be the derivative from inside: it agrees
/// with one-sided differences of the right-hand side, and it is symmetric under exchanging
/// the two (identical) neurons.
#[test]
fn jacobian_at_coinciding_neurons_is_taken_from_inside() {
    let ode_problem = worked_example();
    let ode = ReducedOde::new(&ode_problem).unwrap();
    let y = state(
        &[&[0.55, 0.55], &[0.1, 0.1]],
        &[&[0.45, 0.45], &[0.45, 0.45]],
    )
    .coordinates();
    assert!(rhs(&ode, &y).iter().all(|d| d.is_finite()));
    let jacobian = ode.jacobian(&y);
    // Into the domain: R_11 and R_22 up, R_12 down; overlaps both ways.
    let inward = [0.0, 0.0, 0.0, 0.0, 1.0, -1.0, 1.0];
    let h = 1e-4;
    for (column, &direction) in inward.iter().enumerate().filter(|(_, d)| **d != 0.0) {
        let at = |steps: f64| {
            let mut z = y.clone();
            z[column] += direction * steps * h;
            rhs(&ode, &z)
        };
        let (f0, f1, f2) = (at(0.0), at(1.0), at(2.0));
        for row in 0..7 {
            let difference = (-3.0 * f0[row] + 4.0 * f1[row] - f2[row]) / (2.0 * h * direction);
            assert!(
                (jacobian[(row, column)] - difference).abs() < 1e-5,
                "({row}, {column}): {} vs {difference}",
                jacobian[(row, column)]
            );
        }
    }
    // Exchanging the neurons permutes the coordinates as (Q_11 Q_12)(Q_21 Q_22)(R_11 R_22).
    let swap = [1, 0, 3, 2, 6, 5, 4];
    for row in 0..7 {
        for column in 0..7 {
            let (a, b) = (jacobian[(row, column)], jacobian[(swap[row], swap[column])]);
            assert!((a - b).abs() < 1e-7, "({row}, {column}): {a} vs {b}");
        }
    }
}

/// The right-hand side is NaN outside the Gram matrices (an `R_kk ≤ 0`, or `|R_12| >
/// √(R_11 R_22)`), which the integrator rejects; on the boundary it is finite.
#[test]
fn rhs_is_nan_outside_the_gram_matrices() {
    let problem = worked_example();
    let ode = ReducedOde::new(&problem).unwrap();
    for gram in [
        [[1.0, 0.5], [0.5, 0.2]],
        [[1.0, 0.0], [0.0, 0.0]],
        [[-1.0, 0.0], [0.0, 1.0]],
    ] {
        let s = state(&[&[0.1, 0.1], &[0.0, 0.0]], &[&gram[0], &gram[1]]);
        assert!(
            rhs(&ode, &s.coordinates()).iter().all(|d| d.is_nan()),
            "{gram:?}"
        );
    }
}

/// The uninformative state of a layer: `R = R_0 I` is at rest (the off-diagonal `R_12`
/// included); the Jacobian there has each feature's growth rate `K` times (the overlaps
/// decouple from each other and from `R`); the rates are equal for the two laws of equal
/// `⟨c²⟩` (Finding 1 holds for a layer); without decorrelation `R_0` and the rates are the
/// single neuron's (from its curvature integral), and decorrelation changes them.
#[test]
fn uninformative_state_of_a_layer() {
    let problem = worked_example();
    let ode = ReducedOde::new(&problem).unwrap();
    let rest = uninformative(&problem).unwrap();
    let r0 = rest.norm2;
    let origin = state(&[&[0.0, 0.0], &[0.0, 0.0]], &[&[r0, 0.0], &[0.0, r0]]).coordinates();
    let d = rhs(&ode, &origin);
    assert!(d.iter().all(|d| d.abs() < 1e-13), "{d:?}");
    let jacobian = ode.jacobian(&origin);
    for row in 0..4 {
        for column in 0..7 {
            if row != column {
                assert!(jacobian[(row, column)].abs() < 1e-9, "({row}, {column})");
                assert!(jacobian[(column, row)].abs() < 1e-9, "({column}, {row})");
            }
        }
    }
    assert_eq!(rest.growth_rates.len(), 2);
    // Each rate K = 2 times per feature that has it (here both features have the same).
    for (j, kappa) in rest.growth_rates.iter().enumerate() {
        let near = |x: f64| (x - kappa).abs() < 1e-8;
        let copies = rest
            .eigenvalues
            .iter()
            .filter(|(re, im)| near(*re) && *im == 0.0)
            .count();
        let features = rest.growth_rates.iter().filter(|x| near(**x)).count();
        assert_eq!(
            copies,
            2 * features,
            "feature {j}: {kappa} in {:?}",
            rest.eigenvalues
        );
    }
    assert!((rest.growth_rates[0] - rest.growth_rates[1]).abs() < 1e-9);
    assert!(rest.eigenvalues[4..].iter().all(|(re, _)| *re < 0.0));

    let single = layer(&problem, 1, 1.0);
    let alone = uninformative(&single).unwrap();
    let copies = uninformative(&layer(&problem, 2, 0.0)).unwrap();
    assert!((copies.norm2 - alone.norm2).abs() < 1e-10);
    for (a, b) in copies.growth_rates.iter().zip(&alone.growth_rates) {
        assert!((a - b).abs() < 1e-8, "{a} vs {b}");
    }
    assert!((r0 - alone.norm2).abs() > 1e-2, "β moves R_0: {r0}");
}

/// Whether `b` is the image of `a` under some permutation of the neurons, signs of the
/// neurons and signs of the rows (all hidden laws here are symmetric).
fn related(a: &OrderParameters, b: &OrderParameters) -> bool {
    let (p, k) = (a.features(), a.neurons);
    assert_eq!(k, 2);
    for swap in [false, true] {
        let pi = |x: usize| if swap { 1 - x } else { x };
        for signs in 0..1 << (k + p) {
            let s = |x: usize| if signs >> x & 1 == 1 { -1.0 } else { 1.0 };
            let overlaps_match = (0..p).all(|j| {
                (0..k)
                    .all(|x| (b.overlap(j, x) - s(k + j) * s(x) * a.overlap(j, pi(x))).abs() < 1e-6)
            });
            let gram_match = (0..k).all(|x| {
                (0..k).all(|y| (b.gram(x, y) - s(x) * s(y) * a.gram(pi(x), pi(y))).abs() < 1e-6)
            });
            if overlaps_match && gram_match {
                return true;
            }
        }
    }
    false
}

/// MODEL.md §7's worked example. The run from `init` — the start of §7's SGD check with
/// the neurons exchanged and one of them flipped — ends at an image of the point it
/// reaches, which must be merged with it. The fixed points, up to the symmetries:
///
/// | learned        | state                                              | stable |
/// |----------------|----------------------------------------------------|--------|
/// | none, none     | `Q = 0`, `R = 0.54637 I`                           | no     |
/// | 1, 1           | both on feature 1, coinciding: `m = 0.8924` each   | no     |
/// | 1, 2           | specialised: `m_11 = 0.90381`, `m_22 = 0.85696`    | yes    |
/// | 2, 2           | both on feature 2: `m = 0.7641` each, `R_12 = 0.30` | no     |
/// | 1, 1           | tilted apart: `m_1k = 0.7331`, `m_2k = ±0.4809`    | no     |
/// | 1, none        | one neuron on feature 1 (`m = 0.9046`)             | no     |
/// | 2, none        | one neuron on feature 2 (`m = 0.8429`)             | no     |
///
/// The specialised point is the only stable one, as §7's SGD check ends.
#[test]
fn worked_example_fixed_points() {
    let problem = worked_example();
    let init = state(&[&[0.05, -0.3], &[0.3, -0.05]], &[&[1.0, 0.0], &[0.0, 1.0]]);
    let report = fixed_points(&problem, &init, 10.0).unwrap();
    let ode = ReducedOde::new(&problem).unwrap();
    let learned: Vec<Vec<Option<usize>>> = report
        .fixed_points
        .iter()
        .map(|f| f.learned.clone())
        .collect();
    assert_eq!(
        learned,
        vec![
            vec![None, None],
            vec![Some(0), Some(0)],
            vec![Some(0), Some(1)],
            vec![Some(1), Some(1)],
            vec![Some(0), Some(0)],
            vec![Some(0), None],
            vec![Some(1), None],
        ],
        "{report:#?}"
    );
    let stable: Vec<_> = report.fixed_points.iter().filter(|f| f.stable).collect();
    assert_eq!(stable.len(), 1);
    let m = stable[0].state.cosine();
    assert!(
        (m[0] - 0.90381).abs() < 1e-5 && (m[3] - 0.85696).abs() < 1e-5,
        "{m:?}"
    );
    assert!(m[1].abs() < 1e-12 && m[2].abs() < 1e-12, "{m:?}");
    for (i, point) in report.fixed_points.iter().enumerate() {
        let y = point.state.coordinates();
        let d = rhs(&ode, &y);
        assert!(d.iter().all(|d| d.abs() < 1e-10), "{point:?}: {d:?}");
        assert_eq!(point.eigenvalues.len(), 7);
        assert_eq!(
            point.stable,
            point.eigenvalues.iter().all(|(re, _)| *re < 0.0)
        );
        // The representative: each neuron's largest overlap positive.
        for k in 0..2 {
            let column = [point.state.overlap(0, k), point.state.overlap(1, k)];
            let largest = if column[0].abs() >= column[1].abs() {
                column[0]
            } else {
                column[1]
            };
            assert!(largest >= 0.0, "{point:?}");
        }
        for other in &report.fixed_points[..i] {
            assert!(
                !related(&other.state, &point.state),
                "{other:?} and {point:?}"
            );
        }
    }
    assert_eq!(
        report.uninformative.norm2,
        report.fixed_points[0].state.norm2[0]
    );
}

/// Without decorrelation the neurons are independent: the specialised fixed point is the
/// single neuron's informative point of feature 1 for one neuron and of feature 2 for the
/// other, and its eigenvalues include both single-neuron points' eigenvalues. Two neurons
/// on feature 1 coincide at the single neuron's point (`R_12 = R_11`, on the boundary of the
/// Gram matrices, where the Jacobian is taken from inside): each single-neuron eigenvalue
/// is there twice.
#[test]
fn without_decorrelation_fixed_points_are_pairs_of_single_neuron_ones() {
    let config = Config::parse(include_str!("../../../data/configs/two_features.toml")).unwrap();
    let single = fixed_points(&config.problem, &config.init, 10.0).unwrap();
    let pair = layer(&config.problem, 2, 0.0);
    let init = state(&[&[0.3, 0.05], &[0.05, 0.3]], &[&[1.0, 0.0], &[0.0, 1.0]]);
    let report = fixed_points(&pair, &init, 10.0).unwrap();
    let informative = |j: usize| {
        single
            .fixed_points
            .iter()
            .find(|f| f.stable && f.learned == vec![Some(j)])
            .unwrap()
    };
    let specialised = report
        .fixed_points
        .iter()
        .find(|f| f.learned == vec![Some(0), Some(1)])
        .expect("a specialised fixed point");
    assert!(specialised.stable, "{specialised:?}");
    for k in 0..2 {
        let alone = informative(k);
        let mine = neuron(&specialised.state, k);
        for (a, b) in mine.coordinates().iter().zip(alone.state.coordinates()) {
            assert!((a - b).abs() < 1e-8, "neuron {k}: {mine:?} vs {alone:?}");
        }
        for (re, im) in &alone.eigenvalues {
            assert!(
                specialised
                    .eigenvalues
                    .iter()
                    .any(|(x, y)| (x - re).abs() + (y - im).abs() < 1e-7),
                "{re} in {:?}",
                specialised.eigenvalues
            );
        }
    }
    let alone = informative(0);
    let together = report
        .fixed_points
        .iter()
        .find(|f| f.learned == vec![Some(0), Some(0)])
        .expect("both neurons on feature 1");
    let (q, r) = (alone.state.overlaps[0], alone.state.norm2[0]);
    let expected = [q, q, 0.0, 0.0, r, r, r];
    for (a, b) in together.state.coordinates().iter().zip(expected) {
        assert!((a - b).abs() < 1e-8, "{together:?} vs {alone:?}");
    }
    let near = |x: f64, y: f64| (x - y).abs() < 1e-6;
    for (re, _) in &alone.eigenvalues {
        let twice = alone
            .eigenvalues
            .iter()
            .filter(|(x, _)| near(*x, *re))
            .count()
            * 2;
        let found = together
            .eigenvalues
            .iter()
            .filter(|(x, _)| near(*x, *re))
            .count();
        assert_eq!(
            found, twice,
            "{re}: {:?} vs {:?}",
            together.eigenvalues, alone.eigenvalues
        );
    }
}

/// The fixed points do not depend on the number of threads.
#[test]
fn fixed_points_do_not_depend_on_thread_count() {
    let config = Config::parse(include_str!("../../../data/configs/two_features.toml")).unwrap();
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| fixed_points(&config.problem, &config.init, 10.0).unwrap())
    };
    assert_eq!(on(1), on(3));
}

/// A linear layer without regularization grows without bound: the divergence names the
/// neuron's squared norm. (A loose tolerance: the growth by eight decades takes thousands
/// of steps at the default one.)
#[test]
fn a_layer_reports_divergence() {
    let mut problem = layer(&Config::quickstart().problem, 2, 0.0);
    problem.activation = Activation::Linear;
    problem.regularizer = Regularizer::None;
    let ode = ReducedOde::new(&problem).unwrap();
    let init = state(&[&[0.1, 0.0]], &[&[1.0, 0.0], &[0.0, 1.0]]);
    let tolerance = Tolerance {
        absolute: 1e-4,
        relative: 1e-4,
    };
    let error = ode.integrate(&init, 100.0, 1.0, tolerance).unwrap_err();
    let ComparatorError::Diverged { reason, .. } = &error else {
        panic!("{error}");
    };
    assert!(
        reason.starts_with("R_11 = ") || reason.starts_with("R_22 = "),
        "{reason}"
    );
}

/// Deviations entry by entry: the largest over time of each `|m_jk − m_jk'|`, `|Q_jk −
/// Q_jk'|` and `|R_kl − R_kl'|`.
#[test]
fn deviation_per_entry() {
    let mut a = Trajectory::default();
    let mut b = Trajectory::default();
    a.push(0.0, &state(&[&[0.1, 0.2]], &[&[1.0, 0.1], &[0.1, 4.0]]));
    b.push(0.0, &state(&[&[0.1, 0.2]], &[&[1.0, 0.1], &[0.1, 4.0]]));
    a.push(1.0, &state(&[&[0.5, -0.4]], &[&[1.0, 0.3], &[0.3, 4.0]]));
    b.push(1.0, &state(&[&[0.4, -0.4]], &[&[1.0, 0.1], &[0.1, 1.0]]));
    let d = deviation(&a, &b).unwrap();
    let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(x, y)| (x - y).abs() < 1e-15);
    assert!(close(&d.max_abs_overlap_error, &[0.1, 0.0]), "{d:?}");
    assert!(close(&d.max_abs_cosine_error, &[0.1, 0.2]), "{d:?}");
    assert!(
        close(&d.max_abs_norm2_error, &[0.0, 0.2, 0.2, 3.0]),
        "{d:?}"
    );
    assert!((d.worst_cosine() - 0.2).abs() < 1e-15);
    assert_eq!(d.worst_norm2(), 3.0);
    let mut single = Trajectory::default();
    single.push(0.0, &OrderParameters::single(vec![0.1, 0.2], 1.0));
    single.push(1.0, &OrderParameters::single(vec![0.1, 0.2], 1.0));
    assert_eq!(deviation(&a, &single), None, "shapes differ");
}
