//! The steady state of a layer of `K = 2` neurons (what `mfcl sweep` reports for a layer),
//! checked against mathematics: without decorrelation each neuron is a single neuron
//! (MODEL.md §7), and the symmetries of the layer's ODE keep the sets they leave invariant.

use mfcl_comparator::steady_state;
use mfcl_model::{Config, OrderParameters, Problem};

fn config(name: &str, set: &[&str]) -> Config {
    let path = format!("{}/../../data/configs/{name}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(&path).unwrap();
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    Config::parse_with(&source, &set).unwrap()
}

/// Neuron `k`'s own order parameters, `(Q_{·k}, R_kk)`, as a single neuron's.
fn neuron(state: &OrderParameters, k: usize) -> OrderParameters {
    OrderParameters::single(
        (0..state.features()).map(|j| state.overlap(j, k)).collect(),
        state.gram(k, k),
    )
}

fn assert_close(got: f64, want: f64, tolerance: f64, what: &str) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got} vs {want} (off by {:.1e})",
        (got - want).abs()
    );
}

/// Without decorrelation (β = 0) each neuron's `(Q_{·k}, R_kk)` follows the single-neuron
/// ODE whatever the other neuron does, so the layer's steady state is, neuron by neuron,
/// the steady state of a single neuron started from that neuron's initial state. The
/// layer's hidden laws differ (rademacher, sparse:0.6): the two neurons reach different
/// points (neuron 1 feature 1, neuron 2 feature 2), each polished to a residual of 1e-11
/// and agreeing to the accuracy of the coefficients.
#[test]
fn without_decorrelation_each_neuron_reaches_its_single_neuron_steady_state() {
    let layer = config("layer.toml", &["model.decorrelation=0.0"]);
    let steady = steady_state(&layer.problem, &layer.init).unwrap();
    assert!(steady.stable);
    assert_eq!(steady.learned, [Some(0), Some(1)]);
    let single = Problem {
        neurons: 1,
        ..layer.problem.clone()
    };
    for k in 0..2 {
        let alone = steady_state(&single, &neuron(&layer.init, k)).unwrap();
        assert!(alone.stable);
        let column = neuron(&steady.state, k);
        for j in 0..2 {
            let what = format!("Q_{}{}", j + 1, k + 1);
            assert_close(column.overlaps[j], alone.state.overlaps[j], 1e-8, &what);
        }
        let what = format!("R_{0}{0}", k + 1);
        assert_close(column.norm2[0], alone.state.norm2[0], 1e-8, &what);
    }
}

/// finding4.toml's hidden laws are equal, and its initial state is unchanged when both the
/// neurons and the features are swapped (`Q_11 = Q_22`, `Q_12 = Q_21`, `R = I`): the steady
/// state keeps that symmetry. From there (each neuron leaning to its own feature) under
/// decorrelation β = 1 the neurons specialise: each learns a distinct feature, their
/// weights are orthogonal (the state with `Q_12 = Q_21 = 0` and `R_12 = 0` is invariant
/// under flipping one feature's sign together with the other neuron), and the point is
/// stable.
#[test]
fn decorrelated_neurons_specialise_symmetrically() {
    let config = config("finding4.toml", &[]);
    let steady = steady_state(&config.problem, &config.init).unwrap();
    assert!(steady.stable, "{steady:?}");
    assert_eq!(steady.learned, [Some(0), Some(1)]);
    let (q, r) = (&steady.state.overlaps, &steady.state.norm2);
    assert_close(q[0], q[3], 1e-9, "Q_11 = Q_22");
    assert_close(q[1], q[2], 1e-9, "Q_12 = Q_21");
    assert_close(r[0], r[3], 1e-9, "R_11 = R_22");
    assert_close(q[1], 0.0, 1e-9, "Q_12");
    assert_close(r[1], 0.0, 1e-9, "R_12");
    assert!(steady.eigenvalues.iter().all(|&(re, _)| re < 0.0));
}

/// A start on an invariant set stays there, and `steady_state` reports the saddle it
/// reaches as such. With finding4.toml's symmetric (rademacher) hidden laws, `Q_{2·} = 0`
/// is invariant: from overlaps with feature 1 only, both neurons learn feature 1 and come
/// to coincide (`R_12 = √(R_11 R_22)`, exchangeable neurons), which decorrelation β = 1
/// makes a saddle (MODEL.md §7, Finding 4).
#[test]
fn a_start_on_an_invariant_set_reaches_its_saddle() {
    let config = config(
        "finding4.toml",
        &["init.overlaps=[[0.1, 0.05], [0.0, 0.0]]"],
    );
    let steady = steady_state(&config.problem, &config.init).unwrap();
    let state = &steady.state;
    assert_eq!((state.overlap(1, 0), state.overlap(1, 1)), (0.0, 0.0));
    assert_close(
        state.overlap(0, 0),
        state.overlap(0, 1),
        1e-9,
        "Q_11 = Q_12",
    );
    assert_close(state.gram(0, 0), state.gram(1, 1), 1e-9, "R_11 = R_22");
    let cosine = state.gram(0, 1) / (state.gram(0, 0) * state.gram(1, 1)).sqrt();
    assert_close(cosine, 1.0, 1e-8, "cos(w_1, w_2)");
    assert_eq!(steady.learned, [Some(0), Some(0)]);
    assert!(!steady.stable);
    assert!(steady.eigenvalues[0].0 > 0.1, "{:?}", steady.eigenvalues);
}
