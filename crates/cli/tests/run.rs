//! `mfcl run` as a user meets it: the JSON report, determinism across thread counts, runs
//! without an ODE, divergence and bad input. Sizes are small so that each run takes well
//! under a second.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// Runs `mfcl run` in a folder of its own, so that the run files of concurrent tests (by
/// default `runs/quickstart.h5`) never meet.
fn mfcl_run(args: &[&str]) -> Output {
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("mfcl-run-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .arg("run")
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON document of a run that must succeed.
fn run_json(args: &[&str]) -> Value {
    let output = mfcl_run(&[args, &["--json"]].concat());
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// `--set` pairs for each of `settings`.
fn sets<'a>(settings: &[&'a str]) -> Vec<&'a str> {
    settings.iter().flat_map(|s| ["--set", s]).collect()
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is a number"))
}

#[test]
fn quickstart_json_has_the_trajectory_the_cost_and_the_ode_deviation() {
    let doc = run_json(&sets(&["run.particles=20000", "run.t_end=2"]));
    let t = doc["t"].as_array().unwrap();
    assert_eq!(t.len(), 21);
    assert_eq!(number(&t[0]), 0.0);
    assert_eq!(number(&t[20]), 2.0);
    assert_eq!(doc["overlaps"].as_array().unwrap().len(), 21);
    assert_eq!(doc["norm2"].as_array().unwrap().len(), 21);
    assert_eq!(doc["cosine"][20].as_array().unwrap().len(), 1);
    assert!(number(&doc["wall_seconds"]) > 0.0);
    assert!(number(&doc["steps_per_second"]) > 0.0);
    let deviation = &doc["ode_deviation"];
    let cosine_error = number(&deviation["max_abs_cosine_error"][0]);
    assert!(cosine_error < 0.05, "{deviation}");
    assert!(
        number(&deviation["max_abs_norm2_error"]) < 0.05,
        "{deviation}"
    );
    assert!(doc.get("error").is_none());
}

/// Runs `settings` with one and with two threads and asserts identical trajectories.
fn assert_thread_count_is_invisible(settings: &[&str]) {
    let runs: Vec<Value> = ["1", "2"]
        .iter()
        .map(|threads| run_json(&[&sets(settings)[..], &["--threads", threads]].concat()))
        .collect();
    for key in ["t", "overlaps", "norm2"] {
        assert_eq!(runs[0][key], runs[1][key], "{key} with {settings:?}");
    }
}

// The sizes span several chunks of `mfcl_solver::CHUNK` (16384) coordinates: with a single
// chunk, there would be nothing for two threads to share.

#[test]
fn particles_do_not_depend_on_the_thread_count() {
    assert_thread_count_is_invisible(&["run.particles=50000", "run.t_end=1"]);
}

#[test]
fn sgd_does_not_depend_on_the_thread_count() {
    assert_thread_count_is_invisible(&[
        "run.solver=sgd",
        "run.dimension=40000",
        "run.t_end=0.05",
        "run.record_every=0.01",
    ]);
}

#[test]
fn l1_runs_without_an_ode() {
    let settings = [
        "run.particles=20000",
        "run.t_end=1",
        "train.regularizer=l1",
        "train.strength=0.01",
    ];
    let doc = run_json(&sets(&settings));
    assert_eq!(doc["t"].as_array().unwrap().len(), 11);
    assert!(doc.get("ode_deviation").is_none(), "{doc}");

    let table = mfcl_run(&sets(&settings));
    assert!(table.status.success());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("no ODE to compare with"), "{text}");
    assert!(text.contains("particle-steps/s"), "{text}");
}

#[test]
fn summary_reports_the_deviation_from_the_ode() {
    let output = mfcl_run(&sets(&["run.particles=20000", "run.t_end=1"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "N = 20000",
        "max |m_1 - m_1^ODE|",
        "max |R - R^ODE|",
        "100 steps",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    // No terminal: no progress bar, nothing on stderr.
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
}

/// A linear activation without regularization grows the norm exponentially; a large
/// learning rate crosses the solver's bound of R = 1e8 within a fraction of a time unit.
const DIVERGING: [&str; 5] = [
    "run.particles=2000",
    "run.t_end=2",
    "model.activation=linear",
    "train.strength=0",
    "train.learning_rate=5",
];

#[test]
fn divergence_exits_1_and_keeps_what_was_recorded() {
    let output = mfcl_run(&[&sets(&DIVERGING)[..], &["--json"]].concat());
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("diverged"),
        "{err}"
    );

    let doc: Value = serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert!(doc["error"].as_str().unwrap().contains("diverged"));
    let t = doc["t"].as_array().unwrap();
    assert!(!t.is_empty() && number(&t[0]) == 0.0);
    assert!(number(t.last().unwrap()) < 2.0, "stopped before t_end");
    assert_eq!(doc["norm2"].as_array().unwrap().len(), t.len());
    assert!(
        number(&doc["norm2"][t.len() - 1]) > 1.0,
        "the norm was growing"
    );

    let table = mfcl_run(&sets(&DIVERGING));
    assert_eq!(table.status.code(), Some(1));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.lines().count() >= 2,
        "a header and the recorded samples: {text}"
    );
}

#[test]
fn bad_input_exits_2() {
    let cases: [&[&str]; 4] = [
        &["--set", "run.particles=0"],
        &["--set", "run.partikles=10"],
        &["missing.toml"],
        &["--threads", "0"],
    ];
    for args in cases {
        let output = mfcl_run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!stderr(&output).contains("panicked"), "{args:?}");
    }
}

/// `--out` names the run file; its checkpoint and snapshot folder go beside it.
#[test]
fn out_names_the_run_file() {
    let dir = std::env::temp_dir().join(format!("mfcl-run-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("run.h5");
    let output = mfcl_run(&[
        "--set",
        "run.particles=2000",
        "--set",
        "run.t_end=0.1",
        "--json",
        "--out",
        path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));
    let doc = serde_json::from_slice::<Value>(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(doc["run_file"], path.to_str().unwrap());
    assert!(
        path.exists()
            && dir.join("run.checkpoint.h5").exists()
            && dir.join("run.snapshots").is_dir()
    );
}
