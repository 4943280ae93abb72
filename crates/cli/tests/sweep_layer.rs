//! `mfcl sweep` on a layer of `K = 2` neurons (finding4.toml: two equal features,
//! decorrelation swept): the table, the JSON shapes, the figure, and the single neuron's
//! JSON keys and shapes as before.

mod common;

use std::collections::BTreeSet;

use common::{is_png, json, mfcl, scratch};
use serde_json::Value;

const FINDING4: &str = "data/configs/finding4.toml";

/// `mfcl sweep finding4.toml --param model.decorrelation --values 0:1:2` and `extra`.
fn sweep_finding4(extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        FINDING4,
        "--param",
        "model.decorrelation",
        "--values",
        "0:1:2",
    ];
    args.extend_from_slice(extra);
    mfcl(&args)
}

/// A nested list of numbers.
fn matrix(value: &Value) -> Vec<Vec<f64>> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a nested list: {value}"))
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap_or_else(|| panic!("a row: {row}"))
                .iter()
                .map(|x| x.as_f64().expect("a number"))
                .collect()
        })
        .collect()
}

fn keys(doc: &Value) -> BTreeSet<&str> {
    doc.as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// The layer's JSON: states as `p × K` and `K × K` nested lists per value, the neuron
/// cosines with ones on the diagonal, what each neuron learned, the eigenvalues. From
/// finding4's start the neurons specialise (one feature each, orthogonal weights), and at
/// β = 0 each is a single neuron: its cosine and norm are those of `mfcl sweep` on one
/// neuron from the same start, whose JSON keeps the single-neuron keys and shapes.
#[test]
fn layer_json_nests_states_and_agrees_with_one_neuron_without_decorrelation() {
    let doc = json(&sweep_finding4(&["--json"]));
    assert_eq!(
        keys(&doc),
        BTreeSet::from([
            "param",
            "values",
            "neurons",
            "cosine",
            "norm2",
            "overlaps",
            "neuron_cosine",
            "stable",
            "learned",
            "eigenvalues",
            "growth_rates",
            "error",
        ])
    );
    assert_eq!(doc["neurons"], 2);
    assert_eq!(doc["values"], serde_json::json!([0.0, 1.0]));
    for i in 0..2 {
        assert!(doc["error"][i].is_null(), "{}", doc["error"][i]);
        assert_eq!(doc["stable"][i], true);
        assert_eq!(doc["learned"][i], serde_json::json!([1, 2]));
        for key in ["cosine", "norm2", "overlaps", "neuron_cosine"] {
            let m = matrix(&doc[key][i]);
            assert!(m.len() == 2 && m.iter().all(|row| row.len() == 2), "{key}");
        }
        let cosines = matrix(&doc["neuron_cosine"][i]);
        assert_eq!((cosines[0][0], cosines[1][1]), (1.0, 1.0));
        assert!(cosines[0][1].abs() < 1e-9 && cosines[0][1] == cosines[1][0]);
        // pK + K(K+1)/2 = 7 eigenvalues, as [re, im] pairs, all with negative real parts.
        let eigenvalues = matrix(&doc["eigenvalues"][i]);
        assert_eq!(eigenvalues.len(), 7);
        assert!(eigenvalues.iter().all(|e| e.len() == 2 && e[0] < 0.0));
        assert_eq!(doc["growth_rates"][i].as_array().unwrap().len(), 2);
    }

    let single = json(&mfcl(&[
        "sweep",
        FINDING4,
        "--set",
        "model.neurons=1",
        "--set",
        "init.overlaps=[0.1, 0.05]",
        "--param",
        "model.decorrelation",
        "--values",
        "0:0:1",
        "--json",
    ]));
    assert_eq!(
        keys(&single),
        BTreeSet::from([
            "param",
            "values",
            "cosine",
            "norm2",
            "overlaps",
            "stable",
            "growth_rates",
            "error",
        ])
    );
    let m = single["cosine"][0].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(single["overlaps"][0].as_array().unwrap().len(), 2);
    let norm2 = single["norm2"][0]
        .as_f64()
        .expect("R is a number for one neuron");
    let layer_cosine = matrix(&doc["cosine"][0]);
    let layer_norm2 = matrix(&doc["norm2"][0]);
    let m1 = m[0].as_f64().unwrap();
    assert!(
        (layer_cosine[0][0] - m1).abs() < 1e-8,
        "{layer_cosine:?} vs {m1}"
    );
    assert!(
        (layer_norm2[0][0] - norm2).abs() < 1e-8,
        "{layer_norm2:?} vs {norm2}"
    );
}

/// The layer's table: a column per `m_jk`, `R_kl` (`k ≤ l`) and neuron cosine `cos_kl`
/// (`k < l`), then stability, what each neuron learned and the growth rates; a row per
/// value. `--plot` draws the figure.
#[test]
fn layer_table_and_figure() {
    let dir = scratch("sweep-layer");
    let png = dir.join("finding4.png");
    let output = sweep_finding4(&["--plot", png.to_str().unwrap()]);
    assert!(output.status.success(), "{}", common::stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .find(|l| l.trim_start().starts_with("decorrelation"))
        .unwrap_or_else(|| panic!("a header: {text}"));
    let columns: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        columns,
        [
            "decorrelation",
            "m_11",
            "m_12",
            "m_21",
            "m_22",
            "R_11",
            "R_12",
            "R_22",
            "cos_12",
            "stable",
            "learned",
            "kappa_1",
            "kappa_2"
        ]
    );
    let rows: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.len() == columns.len() && cells[0].parse::<f64>().is_ok())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in &rows {
        assert_eq!((row[9], row[10]), ("yes", "1,2"), "{row:?}");
    }
    assert!(text.contains(&format!("wrote {}", png.display())));
    assert!(is_png(&png));
    std::fs::remove_dir_all(&dir).unwrap();
}
