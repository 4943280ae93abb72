//! A layer of `K ≥ 2` neurons through the command line (MODEL.md §7): the coefficients of
//! the worked example, the ODE's shapes and its `β = 0` limit (independent copies of one
//! neuron), fixed points, and a particle run that is compared, inspected, exported and
//! plotted.

mod common;

use common::{json, mfcl, scratch};
use serde_json::Value;

/// MODEL.md §7's example: `two_features.toml`'s problem with `K = 2`, `β = 1`.
const LAYER: &[&str] = &["data/configs/layer.toml"];

fn args<'a>(command: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    std::iter::once(command)
        .chain(LAYER.iter().copied())
        .chain(extra.iter().copied())
        .collect()
}

fn matrix(value: &Value) -> Vec<Vec<f64>> {
    value
        .as_array()
        .expect("a nested list")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a row")
                .iter()
                .map(|x| x.as_f64().expect("a number"))
                .collect()
        })
        .collect()
}

fn assert_matrix(got: &Value, want: &[[f64; 2]; 2], tolerance: f64, what: &str) {
    let got = matrix(got);
    for (row, want_row) in got.iter().zip(want) {
        for (g, w) in row.iter().zip(want_row) {
            assert!((g - w).abs() <= tolerance, "{what}: {got:?} vs {want:?}");
        }
    }
}

/// `mfcl coefficients` prints MODEL.md §7's worked example to the eight digits given.
#[test]
fn coefficients_reproduce_the_worked_example() {
    let doc = json(&mfcl(&args(
        "coefficients",
        &[
            "--set",
            "init.overlaps=[[0.3, 0.1], [0.05, 0.2]]",
            "--set",
            "init.norm2=[[1.1, 0.2], [0.2, 0.9]]",
            "--json",
        ],
    )));
    let digits = 5e-9;
    assert_matrix(
        &doc["drive"],
        &[[0.22619545, 0.05993191], [0.01441968, 0.16398216]],
        digits,
        "g",
    );
    assert_matrix(
        &doc["self_term"],
        &[[0.04000180, -0.02197331], [-0.02197331, 0.06287873]],
        digits,
        "G_0",
    );
    assert_matrix(
        &doc["noise"],
        &[[0.21089772, 0.02001838], [0.02001838, 0.19840592]],
        digits,
        "V",
    );
    assert_matrix(&doc["norm2"], &[[1.1, 0.2], [0.2, 0.9]], 0.0, "R");
}

/// For one neuron the same command gives MODEL.md §6's coefficients, as nested `1 × 1`
/// and `p × 1` lists.
#[test]
fn coefficients_of_one_neuron_are_nested_lists_too() {
    let doc = json(&mfcl(&[
        "coefficients",
        "data/configs/quickstart.toml",
        "--set",
        "init.overlaps=[0.3]",
        "--set",
        "init.norm2=1.2",
        "--json",
    ]));
    let single = |key: &str| matrix(&doc[key]);
    assert!((single("drive")[0][0] - 0.33492895).abs() < 5e-9);
    assert!((single("self_term")[0][0] - 0.13498243087).abs() < 5e-12);
    assert!((single("noise")[0][0] - 0.36650801591).abs() < 5e-12);
    assert_eq!(single("overlaps"), [[0.3]]);
    assert_eq!(single("norm2"), [[1.2]]);
}

/// With `β = 0` the neurons are independent copies of one neuron that see the same data
/// (MODEL.md §7): each column of `Q` and each `R_kk` follow the single-neuron ODE from
/// that neuron's start, whatever the other neuron does.
#[test]
fn without_decorrelation_each_neuron_follows_the_single_neuron_ode() {
    let layer = json(&mfcl(&args(
        "ode",
        &[
            "--set",
            "model.decorrelation=0",
            "--set",
            "init.overlaps=[[0.1, 0.3], [0.05, -0.2]]",
            "--set",
            "init.norm2=[[1.0, 0.1], [0.1, 1.2]]",
            "--set",
            "run.t_end=4",
            "--json",
        ],
    )));
    assert_eq!(layer["neurons"], 2);
    let starts = [("[0.1, 0.05]", "1.0"), ("[0.3, -0.2]", "1.2")];
    for (k, (overlaps, norm2)) in starts.iter().enumerate() {
        let single = json(&mfcl(&[
            "ode",
            "data/configs/two_features.toml",
            "--set",
            &format!("init.overlaps={overlaps}"),
            "--set",
            &format!("init.norm2={norm2}"),
            "--set",
            "run.t_end=4",
            "--json",
        ]));
        let samples = single["t"].as_array().unwrap().len();
        assert_eq!(samples, layer["t"].as_array().unwrap().len());
        for i in 0..samples {
            let q = matrix(&layer["overlaps"][i]);
            let r = matrix(&layer["norm2"][i]);
            for j in 0..2 {
                let want = single["overlaps"][i][j].as_f64().unwrap();
                assert!((q[j][k] - want).abs() < 1e-6, "Q_{j}{k} at sample {i}");
            }
            let want = single["norm2"][i].as_f64().unwrap();
            assert!((r[k][k] - want).abs() < 1e-6, "R_{k}{k} at sample {i}");
        }
    }
}

/// The table has one row per time with the columns `m_jk` and `R_kl`.
#[test]
fn the_ode_table_names_every_cosine_and_gram_entry() {
    let output = mfcl(&args("ode", &["--set", "run.t_end=1"]));
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["t", "m_11", "m_12", "m_21", "m_22", "R_11", "R_12", "R_22"]
    );
    assert_eq!(text.lines().count(), 1 + 11);
}

/// Two neurons with `β = 1` specialise: a stable fixed point has them on different
/// features (MODEL.md §7's SGD check ends there), and no two reported points are images
/// of each other under a neuron permutation.
#[test]
fn fixed_points_of_a_layer_include_the_specialised_state() {
    let doc = json(&mfcl(&args("fixed-points", &["--json"])));
    assert_eq!(doc["neurons"], 2);
    let eigenvalues = doc["uninformative"]["eigenvalues"].as_array().unwrap();
    assert_eq!(eigenvalues.len(), 2 * 2 + 3, "pK + K(K+1)/2 unknowns");
    let points = doc["fixed_points"].as_array().unwrap();
    let specialised = points.iter().any(|f| {
        f["stable"] == true && {
            let learned = f["learned"].as_array().unwrap();
            learned.len() == 2
                && !learned[0].is_null()
                && !learned[1].is_null()
                && learned[0] != learned[1]
        }
    });
    assert!(specialised, "{doc:#}");
    for f in points {
        assert_eq!(f["eigenvalues"].as_array().unwrap().len(), 7);
    }
}

/// A small particle run of a layer is recorded in the current format and agrees with the ODE; the
/// other commands read it.
#[test]
fn a_layer_run_is_compared_inspected_exported_and_plotted() {
    let dir = scratch("layer-run");
    let run = dir.join("layer.h5");
    let run_arg = run.to_str().unwrap();
    let doc = json(&mfcl(&[
        "run",
        "data/configs/layer.toml",
        "--set",
        "run.solver=particles",
        "--set",
        "run.particles=20000",
        "--set",
        "run.t_end=2",
        "--set",
        "run.dt=0.02",
        "--set",
        "run.snapshot_every=1",
        "--out",
        run_arg,
        "--json",
    ]));
    assert_eq!(doc["neurons"], 2);
    // The initial law has exactly the requested moments, to rounding.
    assert_matrix(&doc["norm2"][0], &[[1.0, 0.0], [0.0, 1.0]], 1e-12, "R(0)");
    assert_matrix(
        &doc["overlaps"][0],
        &[[0.3, 0.05], [0.05, 0.3]],
        1e-12,
        "Q(0)",
    );
    let compared = json(&mfcl(&["compare", run_arg, "--json"]));
    assert_eq!(compared["pass"], true, "{compared:#}");
    assert_eq!(matrix(&compared["max_abs_norm2_error"]).len(), 2);

    let inspected = json(&mfcl(&["inspect", run_arg, "--json"]));
    assert_eq!(inspected["neurons"], 2);

    let npy_header = |folder: &str, what: &str, file: &str| -> String {
        let out = dir.join(folder);
        let exported = mfcl(&[
            "export",
            run_arg,
            "--what",
            what,
            "--format",
            "npy",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(exported.status.success(), "{}", common::stderr(&exported));
        let bytes = std::fs::read(out.join(file)).unwrap();
        String::from_utf8_lossy(&bytes[..118]).into_owned()
    };
    assert!(npy_header("t", "trajectory", "overlaps.npy").contains("(21, 2, 2)"));
    assert!(npy_header("t", "trajectory", "norm2.npy").contains("(21, 2, 2)"));
    // Snapshots: every particle's x ∈ R², and a histogram per pattern and neuron.
    assert!(npy_header("s", "snapshots", "snapshot_000000_x.npy").contains("(20000, 2)"));
    assert!(npy_header("s", "snapshots", "snapshot_000000_counts.npy").contains("(4, 2, 100)"));

    let png = dir.join("layer.png");
    let plotted = mfcl(&["plot", run_arg, "--out", png.to_str().unwrap()]);
    assert!(plotted.status.success(), "{}", common::stderr(&plotted));
    assert!(common::is_png(&png));
}

/// A layer's particle and SGD runs are the same bit for bit under 1 and 2 threads and
/// when stopped midway and resumed (both populations span three chunks).
#[test]
fn a_layer_run_does_not_depend_on_threads_or_on_a_resume() {
    let dir = scratch("layer-determinism");
    // (solver, its settings, t_end, where the interrupted run stops)
    let cases = [
        (
            "particles",
            "run.particles=40000",
            "run.dt=0.05",
            "1",
            "0.5",
        ),
        (
            "sgd",
            "run.dimension=40000",
            "run.record_every=0.005",
            "0.05",
            "0.025",
        ),
    ];
    for (solver, size, step, t_end, stop) in cases {
        let run = |name: &str, t_end: &str, threads: usize| -> std::path::PathBuf {
            let path = dir.join(format!("{solver}-{name}.h5"));
            let solver_set = format!("run.solver={solver}");
            let t_end_set = format!("run.t_end={t_end}");
            let args = [
                "run",
                "data/configs/layer.toml",
                "--set",
                &solver_set,
                "--set",
                size,
                "--set",
                step,
                "--set",
                &t_end_set,
                "--out",
                path.to_str().unwrap(),
                "--json",
            ];
            let output = common::mfcl_with(&args, threads);
            assert!(output.status.success(), "{}", common::stderr(&output));
            path
        };
        let trajectory = |path: &std::path::Path| -> String {
            let out = dir.join(format!(
                "{}-csv",
                path.file_stem().unwrap().to_str().unwrap()
            ));
            let exported = mfcl(&[
                "export",
                path.to_str().unwrap(),
                "--what",
                "trajectory",
                "--format",
                "csv",
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(exported.status.success(), "{}", common::stderr(&exported));
            std::fs::read_to_string(out.join("trajectory.csv")).unwrap()
        };
        let one = trajectory(&run("one-thread", t_end, 1));
        let two = trajectory(&run("two-threads", t_end, 2));
        assert_eq!(one, two, "{solver}: 1 and 2 threads");
        let stopped = run("resumed", stop, 2);
        let resumed = mfcl(&["resume", stopped.to_str().unwrap(), "--t-end", t_end]);
        assert!(resumed.status.success(), "{}", common::stderr(&resumed));
        assert_eq!(trajectory(&stopped), one, "{solver}: resumed at t = {stop}");
    }
}

/// More neurons than the solvers are built for is refused before any file is written.
#[test]
fn a_run_with_more_neurons_than_the_solvers_take_is_refused() {
    let dir = scratch("layer-too-many");
    let out = dir.join("k5.h5");
    common::refused(
        &[
            "run",
            "data/configs/two_features.toml",
            "--set",
            "model.neurons=5",
            "--unset",
            "init",
            "--out",
            out.to_str().unwrap(),
        ],
        "the particle and SGD solvers support at most 4 neurons",
    );
    assert!(!out.exists());
}
