//! What the binary's test files share: running `mfcl` from the repository root, and
//! reading what it printed.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `mfcl ARGS` from the repository root (so that `data/configs/...` resolves), with
/// `RAYON_NUM_THREADS=threads`.
pub fn mfcl_with(args: &[&str], threads: usize) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("the binary runs")
}

/// `mfcl ARGS` from the repository root, on two threads.
pub fn mfcl(args: &[&str]) -> Output {
    mfcl_with(args, 2)
}

/// The JSON document on stdout of a command that must succeed.
pub fn json(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "{}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("stdout is one JSON document")
}

/// What the command wrote on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit code 2 and one line on stderr that contains `needle`.
pub fn refused(args: &[&str], needle: &str) {
    let output = mfcl(args);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

/// `mfcl ARGS` as [`mfcl`] runs it, killed and failed if it has not ended within `limit`:
/// for commands that must refuse before work that would take much longer.
pub fn mfcl_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let started = Instant::now();
    while child
        .try_wait()
        .expect("the child can be waited for")
        .is_none()
    {
        if started.elapsed() > limit {
            child.kill().expect("the child can be killed");
            child.wait().expect("the child can be waited for");
            panic!("{args:?} still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // The pipes hold a line or two: nothing blocks while the child runs.
    child.wait_with_output().expect("the output can be read")
}

/// A fresh, empty folder for one test, `name` unique within its test file.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the temporary folder takes a folder");
    dir
}

/// Whether `path` holds a PNG image (its 8-byte signature).
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\x89PNG\r\n\x1a\n"))
}

/// A stored config without its `run.output` line: runs written to different paths record
/// different outputs and are otherwise the same run.
pub fn config_apart_from_output(config: &str) -> String {
    config
        .lines()
        .filter(|line| !line.starts_with("output = "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fixture folder `data/FOLDER` (files of earlier releases, `data/format1/`, ...).
pub fn fixtures(folder: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data")).join(folder)
}

/// A copy of the fixture run `name` of `data/FOLDER` (run file, checkpoint and snapshot
/// folder, those that exist) in `dir`: commands that write must not touch the committed
/// files.
pub fn copy_fixture(folder: &str, name: &str, dir: &Path) -> PathBuf {
    let from = fixtures(folder);
    for file in [format!("{name}.h5"), format!("{name}.checkpoint.h5")] {
        if from.join(&file).exists() {
            std::fs::copy(from.join(&file), dir.join(&file)).unwrap();
        }
    }
    let snapshots = format!("{name}.snapshots");
    if from.join(&snapshots).is_dir() {
        std::fs::create_dir_all(dir.join(&snapshots)).unwrap();
        for entry in std::fs::read_dir(from.join(&snapshots)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(&snapshots).join(entry.file_name())).unwrap();
        }
    }
    dir.join(format!("{name}.h5"))
}

/// A linear activation without a regularizer: the norm grows exponentially and crosses the
/// solver's bound of R = 1e8 near t = 1.1 (the ODE too). `--unset` removes the quickstart's
/// strength, which `regularizer = "none"` refuses.
pub const DIVERGING: [&str; 6] = [
    "--set",
    "model.activation=\"linear\"",
    "--set",
    "train.regularizer=\"none\"",
    "--unset",
    "train.strength",
];
