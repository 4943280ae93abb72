//! Run files of the previous release (file format 1, one neuron; `data/format1/`) through
//! every command that reads run files: inspected, compared, plotted, exported, and resumed
//! to the trajectory the release itself computed with its ziggurat generator, upgraded to
//! the current format on the way.

mod common;

use std::path::{Path, PathBuf};

use common::{copy_fixture, is_png, json, mfcl, scratch, stderr};

/// A copy of the format-1 fixture `name` in `dir`.
fn copy_of(name: &str, dir: &Path) -> PathBuf {
    copy_fixture("format1", name, dir)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_format_1_run_is_inspected_compared_plotted_and_exported() {
    let dir = scratch("format1-read");
    let full = copy_of("particles_full", &dir);
    let inspected = json(&mfcl(&["inspect", arg(&full), "--json"]));
    assert_eq!(inspected["format_version"], 1);
    assert_eq!(inspected["generator"], "xoshiro256++/ziggurat");
    assert_eq!(inspected["neurons"], 1);
    assert_eq!(inspected["complete"], true);
    let compared = json(&mfcl(&["compare", arg(&full), "--json"]));
    assert_eq!(compared["pass"], true, "{compared:#}");
    // One neuron's JSON shapes, as the release printed them.
    assert!(compared["max_abs_norm2_error"].is_number());
    assert_eq!(
        compared["max_abs_cosine_error"].as_array().unwrap().len(),
        2
    );

    let png = dir.join("full.png");
    let plotted = mfcl(&["plot", arg(&full), "--out", arg(&png)]);
    assert!(plotted.status.success(), "{}", stderr(&plotted));
    assert!(is_png(&png));

    let csv = dir.join("csv");
    let exported = mfcl(&[
        "export",
        arg(&full),
        "--what",
        "trajectory",
        "--format",
        "csv",
        "--out",
        arg(&csv),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = std::fs::read_to_string(csv.join("trajectory.csv")).unwrap();
    assert_eq!(text.lines().next(), Some("t,Q_1,Q_2,R,m_1,m_2"));
    assert_eq!(text.lines().count(), 1 + 11);
    let stopped = copy_of("particles", &dir);
    let snapshots = dir.join("snapshots");
    let exported = mfcl(&[
        "export",
        arg(&stopped),
        "--what",
        "snapshots",
        "--format",
        "npy",
        "--out",
        arg(&snapshots),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let x = std::fs::read(snapshots.join("snapshot_000001_x.npy")).unwrap();
    assert!(String::from_utf8_lossy(&x[..100]).contains("(500,)"));
}

/// The trajectory of a run file as `mfcl export` writes it: a CSV header and rows of
/// numbers printed to round trip exactly.
fn exported_trajectory(run: &Path, out: &Path) -> (String, Vec<Vec<f64>>) {
    let exported = mfcl(&[
        "export",
        arg(run),
        "--what",
        "trajectory",
        "--format",
        "csv",
        "--out",
        arg(out),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let text = std::fs::read_to_string(out.join("trajectory.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_owned();
    let rows = lines
        .map(|line| line.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    (header, rows)
}

/// `resume` continues a format-1 checkpoint to the trajectory of the release's own
/// uninterrupted run (to 1e-12), and leaves a run file of the current format that records
/// the release's generator.
#[test]
fn a_format_1_run_resumes_to_the_release_trajectory_and_is_upgraded() {
    let dir = scratch("format1-resume");
    let stopped = copy_of("particles", &dir);
    let resumed = mfcl(&["resume", arg(&stopped), "--t-end", "1"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let inspected = json(&mfcl(&["inspect", arg(&stopped), "--json"]));
    assert_eq!(inspected["format_version"], mfcl_checkpoint::FORMAT_VERSION);
    assert_eq!(inspected["generator"], "xoshiro256++/ziggurat");
    assert_eq!(inspected["complete"], true);

    let (header, got) = exported_trajectory(&stopped, &dir.join("resumed"));
    let (release_header, want) =
        exported_trajectory(&copy_of("particles_full", &dir), &dir.join("release"));
    assert_eq!(header, release_header);
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .flatten()
        .zip(want.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 1e-12, "largest difference {worst:e}");
}
