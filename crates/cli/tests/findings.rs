//! `mfcl basins` and `mfcl sweep` as a user meets them: JSON shapes, reproducibility,
//! figures, and refusals of bad input.

mod common;

use common::{is_png, json, mfcl, mfcl_with, refused, scratch, stderr};

/// DESIGN.md's sweep shape; the worked example's fixed point at λ = 0.5; and a value
/// whose ODE never settles (λ = 0: the norm grows without bound) reported as `null` with
/// its reason, never as a number.
#[test]
fn sweep_reports_steady_states_and_values_without_one() {
    let doc = json(&mfcl(&[
        "sweep",
        "data/configs/quickstart.toml",
        "--param",
        "train.strength",
        "--values",
        "0:0.5:3",
        "--json",
    ]));
    assert_eq!(doc["param"], "train.strength");
    assert_eq!(doc["values"], serde_json::json!([0.0, 0.25, 0.5]));
    assert!(doc["cosine"][0].is_null() && doc["norm2"][0].is_null());
    assert!(doc["error"][0].as_str().unwrap().contains("did not settle"));
    assert!(doc["error"][2].is_null());
    let m = doc["cosine"][2][0].as_f64().unwrap();
    assert!((m - 0.9025844).abs() < 5e-8, "{m}");
    assert!((doc["norm2"][2].as_f64().unwrap() - 0.8273171).abs() < 5e-8);
    assert_eq!(doc["stable"][2], true);
    let kappa = doc["growth_rates"][2][0].as_f64().unwrap();
    assert!((kappa - 1.3169410).abs() < 5e-8);
}

#[test]
fn sweep_draws_a_figure() {
    let dir = scratch("sweep");
    let png = dir.join("rho.png");
    let output = mfcl(&[
        "sweep",
        "data/configs/finding3.toml",
        "--param",
        "model.noise.correlation",
        "--values",
        "-0.8:0.8:5",
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert!(is_png(&png));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sweep_refuses_bad_input_before_any_work() {
    let quickstart = "data/configs/quickstart.toml";
    let sweep = |param: &str, values: &str| {
        vec!["sweep", quickstart, "--param", param, "--values", values]
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let cases = [
        (sweep("model.noise.correlation", "0:1"), "expected A:B:K"),
        (sweep("model.noise.correlation", "0:1:0"), "at least 1"),
        (
            sweep("model.noise.correlation", "0:2:3"),
            "model.noise.correlation = 2.0",
        ),
        (sweep("model.noise.corelation", "0:1:3"), "unknown key"),
        (sweep("run.dt", "0.01:0.02:2"), "run settings do not enter"),
        (sweep("run.seed", "1:2:2"), "run settings do not enter"),
    ];
    for (args, needle) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, needle);
    }
    refused(
        &[
            "sweep",
            quickstart,
            "--set",
            "train.regularizer=\"l1\"",
            "--param",
            "train.strength",
            "--values",
            "0.1:0.2:2",
        ],
        "no closed ODE",
    );
}

/// DESIGN.md's basins shape, and the same answer with one thread or two.
#[test]
fn basins_json_is_reproducible() {
    let args = [
        "basins",
        "data/configs/finding2.toml",
        "--samples",
        "24",
        "--json",
    ];
    let doc = json(&mfcl_with(&args, 1));
    assert_eq!(doc, json(&mfcl_with(&args, 2)));
    assert_eq!(doc["samples"], 24);
    let selected: Vec<f64> = doc["selected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let undecided = doc["undecided"].as_f64().unwrap();
    assert_eq!(selected.len(), 2);
    assert!((selected.iter().sum::<f64>() + undecided - 1.0).abs() < 1e-12);
    assert_eq!(doc["stable_fixed_points"].as_array().unwrap().len(), 2);
    // Each fraction carries its Wilson interval, which holds it.
    assert_eq!(doc["confidence"], 0.95);
    for (j, &fraction) in selected.iter().enumerate() {
        let interval = &doc["confidence_interval"][j];
        let (lo, hi) = (interval[0].as_f64().unwrap(), interval[1].as_f64().unwrap());
        assert!(
            0.0 <= lo && lo < fraction && fraction < hi && hi <= 1.0,
            "{interval}"
        );
        assert!(doc["standard_error"][j].as_f64().unwrap() > 0.0);
    }
    assert_eq!(doc["undecided_confidence_interval"][0], 0.0);
}

/// Particle runs from the uninformative state: reproducible across thread counts, and
/// (with a phase portrait) drawn.
#[test]
fn particle_basins_are_reproducible_and_drawn() {
    let dir = scratch("basins");
    let png = dir.join("portrait.png");
    let args = [
        "basins",
        "data/configs/finding2.toml",
        "--solver",
        "particles",
        "--samples",
        "4",
        "--set",
        "run.particles=4000",
        "--json",
        "--plot",
        png.to_str().unwrap(),
    ];
    let doc = json(&mfcl_with(&args, 1));
    assert!(is_png(&png));
    assert_eq!(doc, json(&mfcl_with(&args, 2)));
    assert_eq!(doc["solver"], "particles");
    assert_eq!(doc["particles"], 4000);
    assert_eq!(doc["samples"], 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn basins_refuse_bad_input() {
    let finding2 = "data/configs/finding2.toml";
    refused(
        &["basins", "data/configs/quickstart.toml", "--plot", "x.png"],
        "needs 2 features",
    );
    refused(
        &[
            "basins",
            finding2,
            "--solver",
            "particles",
            "--radius",
            "0.1",
        ],
        "--radius",
    );
    refused(&["basins", finding2, "--radius", "2"], "sqrt(R_0)");
    refused(&["basins", finding2, "--samples", "0"], "at least 1");
    refused(
        &[
            "basins",
            finding2,
            "--set",
            "train.regularizer=\"l1\"",
            "--set",
            "train.strength=0.1",
        ],
        "no closed ODE",
    );
}

/// `--threads K` sets the workers of basins and sweep, and the answer does not depend on
/// it; `--threads 0` is refused in words, not in Rust types.
#[test]
fn threads_change_the_speed_only() {
    let basins = [
        "basins",
        "data/configs/finding2.toml",
        "--samples",
        "16",
        "--json",
        "--threads",
    ];
    let sweep = [
        "sweep",
        "data/configs/finding3.toml",
        "--param",
        "model.noise.correlation",
        "--values",
        "-0.8:0.8:4",
        "--json",
        "--threads",
    ];
    for args in [&basins[..], &sweep[..]] {
        let one = json(&mfcl(&[args, &["1"]].concat()));
        assert_eq!(one, json(&mfcl(&[args, &["2"]].concat())), "{args:?}");
        let output = mfcl(&[args, &["0"]].concat());
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains("'--threads <K>': must be at least 1"),
            "{}",
            stderr(&output)
        );
    }
}
