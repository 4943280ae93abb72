//! The binary as a user meets it: exit codes, JSON shapes, and messages.

mod common;

use common::{json, mfcl, stderr};

#[test]
fn ode_json_has_the_trajectory_shape_and_the_worked_example() {
    let doc = json(&mfcl(&["ode", "data/configs/quickstart.toml", "--json"]));
    let t = doc["t"].as_array().unwrap();
    assert_eq!(t.len(), 101);
    assert_eq!(t[20].as_f64(), Some(2.0));
    let m = doc["cosine"][20][0].as_f64().unwrap();
    assert!((m - 0.64269938).abs() < 5e-9);
    assert_eq!(doc["overlaps"][100].as_array().unwrap().len(), 1);
    assert!((doc["norm2"][100].as_f64().unwrap() - 0.82733997).abs() < 5e-9);
}

#[test]
fn set_overrides_reach_the_model() {
    let doc = json(&mfcl(&[
        "ode",
        "data/configs/quickstart.toml",
        "--set",
        "run.t_end=1",
        "--set",
        "run.record_every=0.5",
        "--set",
        "init.overlaps=[0.2]",
        "--json",
    ]));
    assert_eq!(doc["t"], serde_json::json!([0.0, 0.5, 1.0]));
    assert_eq!(doc["overlaps"][0][0].as_f64(), Some(0.2));
}

#[test]
fn fixed_points_json_shape() {
    let doc = json(&mfcl(&[
        "fixed-points",
        "data/configs/quickstart.toml",
        "--json",
    ]));
    assert!((doc["uninformative"]["norm2"].as_f64().unwrap() - 0.9260699).abs() < 5e-8);
    assert!((doc["uninformative"]["growth_rates"][0].as_f64().unwrap() - 1.3169410).abs() < 5e-8);
    let points = doc["fixed_points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let informative = &points[1];
    assert_eq!(informative["stable"], true);
    assert!((informative["cosine"][0].as_f64().unwrap() - 0.9025844).abs() < 5e-8);
    assert_eq!(informative["eigenvalues"].as_array().unwrap().len(), 2);
    assert_eq!(informative["eigenvalues"][0].as_array().unwrap().len(), 2);
}

#[test]
fn tables_are_readable() {
    let output = mfcl(&["fixed-points", "data/configs/quickstart.toml"]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("R_0 = 0.92606989"), "{text}");
    assert!(text.contains("learnable"));
}

#[test]
fn l1_is_refused_with_exit_2() {
    let output = mfcl(&[
        "ode",
        "data/configs/quickstart.toml",
        "--set",
        "train.regularizer=l1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no closed ODE exists for regularizer \"l1\""));
    assert!(output.stdout.is_empty());
}

#[test]
fn bad_input_exits_2_with_one_clear_line() {
    let cases: [(&[&str], &str); 5] = [
        (&["ode", "missing.toml"], "cannot read config missing.toml"),
        (
            &[
                "ode",
                "data/configs/quickstart.toml",
                "--set",
                "model.noise.corelation=0.1",
            ],
            "unknown key model.noise.corelation",
        ),
        (
            &[
                "fixed-points",
                "data/configs/quickstart.toml",
                "--set",
                "model.noise.correlation=2",
            ],
            "model.noise.correlation = 2",
        ),
        (
            &["ode", "data/configs/quickstart.toml", "--set", "novalue"],
            "novalue",
        ),
        (
            &["ode", "data/configs/bad/syntax_error.toml"],
            "invalid TOML: at line 2, column 7: unclosed table",
        ),
    ];
    for (args, message) in cases {
        let output = mfcl(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let err = stderr(&output);
        assert!(err.contains(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"));
    }
}
