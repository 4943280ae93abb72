//! The commands that read run files — `compare`, `export`, `plot`, `inspect` — on a small
//! quickstart run, and on files they must refuse with exit 2 and one line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn mfcl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A folder of this test process's own under the system's temporary folder.
fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("mfcl-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temporary folder is writable");
        dir
    })
}

/// Runs `mfcl run` with `sets` into `scratch()/name` once per test process.
fn run_file(name: &str, sets: &[&str]) -> PathBuf {
    let path = scratch().join(name);
    let mut args = vec!["run", "--out", path.to_str().unwrap(), "--json"];
    args.extend(sets.iter().flat_map(|s| ["--set", s]));
    let output = mfcl(&args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    path
}

/// The quickstart with 20000 particles up to t = 1: 11 samples, snapshots at t = 0 and 1,
/// a checkpoint at step 100.
fn quickstart() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| run_file("r.h5", &["run.particles=20000", "run.t_end=1"]))
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The JSON document of a command that must succeed.
fn json(args: &[&str]) -> Value {
    let output = mfcl(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// A command that must fail with `code` and exactly one line on stderr.
fn refused(args: &[&str], code: i32) -> String {
    let output = mfcl(args);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {message}");
    assert!(!message.contains("panicked"), "{args:?}: {message}");
    assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
    assert!(message.starts_with("error: "), "{args:?}: {message}");
    message
}

#[test]
fn compare_passes_with_the_default_tolerance() {
    let doc = json(&["compare", arg(quickstart()), "--json"]);
    let errors = doc["max_abs_cosine_error"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    let tolerance = doc["tolerance"].as_f64().unwrap();
    // 5/√N + 1e-4 at N = 20000, dt = 0.01.
    assert!(
        (tolerance - (5.0 / 20000f64.sqrt() + 1e-4)).abs() < 1e-12,
        "{doc}"
    );
    assert!(errors[0].as_f64().unwrap() <= tolerance);
    assert!(doc["max_abs_norm2_error"].as_f64().unwrap() < 0.05);
    assert_eq!(doc["pass"], true);

    let text = stdout(&mfcl(&["compare", arg(quickstart())]));
    assert!(text.contains("max |m_1 - m_1^ODE|"), "{text}");
    assert!(text.trim_end().ends_with("pass"), "{text}");
}

#[test]
fn compare_fails_beyond_an_explicit_tolerance() {
    let args = ["compare", arg(quickstart()), "--tol", "1e-9", "--json"];
    let message = refused(&args, 1);
    assert!(message.contains("the cosines deviate"), "{message}");
    assert!(message.contains("R deviates"), "{message}");
    let doc: Value = serde_json::from_slice(&mfcl(&args).stdout).unwrap();
    assert_eq!(doc["pass"], false);
    assert_eq!(doc["tolerance"].as_f64(), Some(1e-9));
    assert_eq!(doc["failures"], serde_json::json!(["cosine", "norm2"]));
    assert_eq!(doc["complete"], true);
    refused(&["compare", arg(quickstart()), "--tol=-1"], 2);
}

#[test]
fn compare_refuses_a_run_without_an_ode() {
    let l1 = run_file(
        "l1.h5",
        &[
            "run.particles=5000",
            "run.t_end=0.2",
            "train.regularizer=l1",
            "train.strength=0.01",
        ],
    );
    let message = refused(&["compare", arg(&l1)], 2);
    assert!(message.contains("\"l1\""), "{message}");
}

/// Lines of a text file, header included.
fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(String::from)
        .collect()
}

/// The descr and shape of a `.npy` file, after checking its layout: magic, version 1.0,
/// a header that ends on a 64-byte boundary, and exactly the data that the shape needs.
fn npy(path: &Path) -> (String, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
    let length = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + length) % 64, 0);
    let header = std::str::from_utf8(&bytes[10..10 + length]).unwrap();
    assert!(
        header.ends_with('\n') && header.contains("'fortran_order': False"),
        "{header}"
    );
    let descr = header.split("'descr': '").nth(1).unwrap()[..3].to_owned();
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    let item: usize = descr[2..].parse().unwrap();
    assert_eq!(
        bytes.len() - 10 - length,
        shape.iter().product::<usize>() * item,
        "{}",
        path.display()
    );
    (descr, shape)
}

#[test]
fn export_writes_the_trajectory_as_csv_and_npy() {
    let csv = scratch().join("trajectory-csv");
    succeeds(&[
        "export",
        arg(quickstart()),
        "--what",
        "trajectory",
        "--format",
        "csv",
        "--out",
        arg(&csv),
    ]);
    let rows = lines(&csv.join("trajectory.csv"));
    assert_eq!(rows[0], "t,Q_1,R,m_1");
    assert_eq!(rows.len(), 1 + 11);
    assert_eq!(rows[11].split(',').next(), Some("1"));

    let npy_dir = scratch().join("trajectory-npy");
    succeeds(&[
        "export",
        arg(quickstart()),
        "--what",
        "trajectory",
        "--format",
        "npy",
        "--out",
        arg(&npy_dir),
    ]);
    assert_eq!(npy(&npy_dir.join("t.npy")), ("<f8".into(), vec![11]));
    assert_eq!(npy(&npy_dir.join("norm2.npy")), ("<f8".into(), vec![11]));
    assert_eq!(
        npy(&npy_dir.join("overlaps.npy")),
        ("<f8".into(), vec![11, 1])
    );
    assert_eq!(
        npy(&npy_dir.join("cosine.npy")),
        ("<f8".into(), vec![11, 1])
    );
}

#[test]
fn export_writes_the_snapshots_as_csv_and_npy() {
    let csv = scratch().join("snapshots-csv");
    succeeds(&[
        "export",
        arg(quickstart()),
        "--what",
        "snapshots",
        "--format",
        "csv",
        "--out",
        arg(&csv),
    ]);
    let index = lines(&csv.join("snapshots.csv"));
    assert_eq!(index, ["index,step,t,stride", "0,0,0,1", "1,100,1,1"]);
    let x = lines(&csv.join("snapshot_000001_x.csv"));
    assert_eq!(x[0], "x,xi_1");
    assert_eq!(x.len(), 1 + 20000);
    let histogram = lines(&csv.join("snapshot_000001_histogram.csv"));
    assert_eq!(histogram[0], "atom_1,bin_lo,bin_hi,count");
    // Two atoms (ξ = ±1) of 100 bins each, counting every particle.
    assert_eq!(histogram.len(), 1 + 2 * 100);
    let total: u64 = histogram[1..]
        .iter()
        .map(|row| row.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(total, 20000);

    let npy_dir = scratch().join("snapshots-npy");
    succeeds(&[
        "export",
        arg(quickstart()),
        "--what",
        "snapshots",
        "--format",
        "npy",
        "--out",
        arg(&npy_dir),
    ]);
    let file = |name: &str| npy_dir.join(format!("snapshot_000001_{name}.npy"));
    assert_eq!(npy(&file("x")), ("<f8".into(), vec![20000]));
    assert_eq!(npy(&file("xi")), ("<f4".into(), vec![20000, 1]));
    assert_eq!(npy(&file("edges")), ("<f8".into(), vec![101]));
    assert_eq!(npy(&file("counts")), ("<u8".into(), vec![2, 100]));
    assert_eq!(npy(&file("atoms")), ("<f4".into(), vec![2, 1]));
    assert!(npy_dir.join("snapshots.csv").exists());
}

/// A command that must succeed; its output is not JSON.
fn succeeds(args: &[&str]) {
    let output = mfcl(args);
    assert!(output.status.success(), "{args:?}: {}", stderr(&output));
}

#[test]
fn plot_writes_a_png() {
    let png = scratch().join("figures").join("run.png");
    succeeds(&["plot", arg(quickstart()), "--out", arg(&png)]);
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.len() > 10_000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn inspect_describes_the_run_and_its_checkpoint() {
    let text = stdout(&mfcl(&["inspect", arg(quickstart())]));
    assert!(text.contains("particles: N = 20000, dt = 0.01"), "{text}");
    assert!(
        text.contains("time reached  1 of t_end = 1 (11 samples)"),
        "{text}"
    );
    assert!(text.contains("2, at t = 0, 1"), "{text}");
    assert!(text.contains("step 100, t = 1"), "{text}");
    assert!(text.contains("[model]"), "{text}");

    let doc = json(&["inspect", arg(quickstart()), "--json"]);
    assert_eq!(doc["solver"], "particles");
    assert_eq!(doc["size"], 20000);
    assert_eq!(doc["samples"], 11);
    assert_eq!(doc["snapshots"]["count"], 2);
    assert_eq!(doc["checkpoint"]["present"], true);
    assert_eq!(doc["checkpoint"]["step"], 100);
    assert!(
        doc["config"]
            .as_str()
            .unwrap()
            .contains("particles = 20000")
    );
}

#[test]
fn unusable_files_are_refused_with_one_line() {
    let dir = scratch();
    let missing = dir.join("missing.h5");
    let text = dir.join("text.h5");
    std::fs::write(&text, "not HDF5\n").unwrap();
    let truncated = dir.join("truncated.h5");
    std::fs::write(&truncated, &std::fs::read(quickstart()).unwrap()[..2000]).unwrap();
    let foreign = dir.join("foreign.h5");
    {
        let file = hdf5::File::create(&foreign).unwrap();
        file.new_dataset::<f64>().shape(3).create("values").unwrap();
    }
    // The checkpoint is HDF5 with mfcl's attributes, but not a run file.
    let checkpoint = dir.join("r.checkpoint.h5");
    quickstart();
    let png = dir.join("refused.png");
    let out = dir.join("refused");
    for file in [
        &missing,
        &text,
        &truncated,
        &foreign,
        &checkpoint,
        &dir.to_path_buf(),
    ] {
        let file = arg(file);
        let message = refused(&["inspect", file], 2);
        assert!(message.contains(file), "{message}");
        refused(&["compare", file], 2);
        refused(&["plot", file, "--out", arg(&png)], 2);
        refused(
            &[
                "export",
                file,
                "--what",
                "trajectory",
                "--format",
                "csv",
                "--out",
                arg(&out),
            ],
            2,
        );
    }
    assert!(!png.exists());
}

/// An export replaces its own earlier files, and nothing else of the same name: a user's
/// `trajectory.csv` or `t.npy` in the folder is refused and keeps every byte.
#[test]
fn export_replaces_only_its_own_files() {
    let folder = scratch().join("export-foreign");
    let export = |format: &str| {
        let run = arg(quickstart());
        let out = arg(&folder);
        mfcl(&[
            "export",
            run,
            "--what",
            "trajectory",
            "--format",
            format,
            "--out",
            out,
        ])
    };
    for format in ["csv", "npy"] {
        assert!(export(format).status.success());
        assert!(export(format).status.success(), "an export replaces itself");
    }
    for (name, format) in [("trajectory.csv", "csv"), ("t.npy", "npy")] {
        let path = folder.join(name);
        let mine = b"t,my,own,columns\n1,2,3,4\n";
        std::fs::write(&path, mine).unwrap();
        let output = export(format);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(message.contains("refusing to replace it"), "{message}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            mine,
            "{name} keeps its bytes"
        );
    }
}
