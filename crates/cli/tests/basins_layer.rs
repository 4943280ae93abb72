//! `mfcl basins` for a layer (issue 13): outcomes are classes of assignments of neurons to
//! features, with the fraction `distinct`; a scan over one key reports the fractions per
//! value and where the state of coinciding neurons changes stability.

mod common;

use common::{json, mfcl, refused, scratch};

const FINDING4: &str = "data/configs/finding4.toml";

/// Fractions of all classes and undecided add up to one; `distinct` counts the classes
/// whose neurons learned different features.
fn check_fractions(doc: &serde_json::Value) {
    let classes = doc["classes"].as_array().unwrap();
    let total: f64 = classes
        .iter()
        .map(|c| c["fraction"].as_f64().unwrap())
        .sum::<f64>()
        + doc["undecided"].as_f64().unwrap();
    assert!((total - 1.0).abs() < 1e-12, "{doc}");
    let distinct: f64 = classes
        .iter()
        .filter(|c| {
            let learned = c["learned"].as_array().unwrap();
            learned.iter().all(|j| !j.is_null()) && learned[0] != learned[1]
        })
        .map(|c| c["fraction"].as_f64().unwrap())
        .sum();
    assert!(
        (distinct - doc["distinct"].as_f64().unwrap()).abs() < 1e-12,
        "{doc}"
    );
}

#[test]
fn a_layer_reports_assignment_classes() {
    let output = mfcl(&["basins", FINDING4, "--samples", "6", "--json"]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["neurons"], 2);
    assert_eq!(doc["samples"], 6);
    check_fractions(&doc);
    // β = 1: the only stable point has the neurons on features 1 and 2.
    let stable = doc["stable_fixed_points"].as_array().unwrap();
    assert_eq!(stable.len(), 1, "{doc}");
    assert_eq!(stable[0]["learned"], serde_json::json!([1, 2]));
    assert_eq!(stable[0]["cosine"].as_array().unwrap().len(), 2);

    let text = mfcl(&["basins", FINDING4, "--samples", "2"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("U uniform on the unit sphere of 2 x 2 matrices"),
        "{text}"
    );
    assert!(
        text.contains("distinct (every neuron on a different feature)"),
        "{text}"
    );
}

/// At β = 0 the coinciding state is stable (its basin takes some starts), at β = 1 a
/// saddle; the bisected threshold is where the comparator's test finds it (0.720), and
/// both features, which are alike, give the same one.
#[test]
fn a_scan_reports_fractions_per_value_and_the_threshold() {
    let dir = scratch("basins-layer-scan");
    let png = dir.join("scan.png");
    let output = mfcl(&[
        "basins",
        FINDING4,
        "--samples",
        "8",
        "--param",
        "model.decorrelation",
        "--values",
        "0:1:2",
        "--json",
        "--plot",
        png.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let doc = json(&output);
    assert_eq!(doc["param"], "model.decorrelation");
    assert_eq!(doc["values"], serde_json::json!([0.0, 1.0]));
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        check_fractions(result);
    }
    assert!(
        results[1]["distinct"].as_f64().unwrap() >= 7.0 / 8.0,
        "{doc}"
    );
    let thresholds = doc["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 2, "{doc}");
    for (j, t) in thresholds.iter().enumerate() {
        assert_eq!(t["feature"], j + 1);
        assert_eq!(t["stable_below"], true);
        let value = t["value"].as_f64().unwrap();
        assert!((value - 0.720).abs() < 2e-3, "{t}");
    }
    assert!(common::is_png(&png));
}

#[test]
fn particle_runs_decide_a_layer_too() {
    let output = mfcl(&[
        "basins",
        FINDING4,
        "--solver",
        "particles",
        "--samples",
        "2",
        "--set",
        "run.particles=5000",
        "--json",
    ]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let doc = json(&output);
    assert_eq!(
        (doc["solver"].as_str(), doc["particles"].as_u64()),
        (Some("particles"), Some(5000))
    );
    check_fractions(&doc);
}

#[test]
fn a_layer_refuses_what_it_cannot_draw_or_scan() {
    refused(
        &["basins", FINDING4, "--plot", "x.png"],
        "--plot draws a layer's fraction \"distinct\" against a parameter: add --param",
    );
    // clap's own message, with the usage.
    let output = mfcl(&["basins", FINDING4, "--param", "model.decorrelation"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(common::stderr(&output).contains("--values <A:B:K>"));
    refused(
        &[
            "basins",
            "data/configs/quickstart.toml",
            "--unset",
            "init.overlaps",
            "--param",
            "model.neurons",
            "--values",
            "1:2:2",
        ],
        "at 2 the config has p = 1 features and K = 2 neurons, at 1 p = 1 and K = 1; a scan keeps both fixed",
    );
}
