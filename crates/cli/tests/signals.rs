//! SIGTERM and SIGHUP stop `mfcl run` and `mfcl resume` as Ctrl-C does: a checkpoint at
//! the stop, one line naming the signal and the resume command, exit 1; `mfcl resume` then
//! finishes the run bit for bit as if nothing had happened.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use mfcl_checkpoint::{checkpoint_path, load_checkpoint, lock_path, read_run};

mod common;
use common::{mfcl, scratch, stderr};

/// 2000 particles to t = 20 (a few seconds), a checkpoint every 0.5: long enough to be
/// stopped in the middle, short enough to run whole as the reference.
const SETTINGS: [&str; 10] = [
    "--set",
    "run.particles=2000",
    "--set",
    "run.t_end=20",
    "--set",
    "run.checkpoint_every=0.5",
    "--set",
    "run.snapshot_every=1",
    "--set",
    "model.negatives=1",
];

fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// `mfcl ARGS` started from the repository root, its stderr piped, and when.
fn spawn(args: &[&str]) -> (Child, SystemTime) {
    let spawned = SystemTime::now();
    let child = Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    (child, spawned)
}

/// Sends `signal` to `child`, started at `spawned`, once it holds the lock of `run` (its
/// handlers are in place before) and has written a checkpoint of its own (it is stepping),
/// then checks what it did: exit 1, one line `stopped at t = T by NAME; continue with: mfcl
/// resume RUN`, and a checkpoint at T.
fn stop(mut child: Child, spawned: SystemTime, run: &Path, signal: libc::c_int, name: &str) {
    let started = Instant::now();
    let holder = format!("pid = {}\n", child.id());
    let ready = || {
        std::fs::read_to_string(lock_path(run)).is_ok_and(|text| text.contains(&holder))
            && std::fs::metadata(checkpoint_path(run))
                .and_then(|m| m.modified())
                .is_ok_and(|written| written > spawned)
    };
    while !ready() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "it ended before the signal"
        );
        assert!(started.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let t: f64 = err
        .strip_prefix("stopped at t = ")
        .and_then(|rest| rest.split_once(&format!(" by {name}; continue with: mfcl resume ")))
        .filter(|(_, resume)| resume.trim_end() == arg(run))
        .and_then(|(t, _)| t.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(t > 0.0 && t < 20.0, "{err}");
    let checkpoint = load_checkpoint(run).unwrap();
    let at = checkpoint.step() as f64 * 0.01;
    assert!((at - t).abs() < 1e-9, "checkpoint at t = {at}: {err}");
}

/// A reference run and the folder of the run to interrupt.
fn reference_and(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let reference = dir.join("reference.h5");
    let output = mfcl(&[&["run", "--out", arg(&reference)][..], &SETTINGS].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    (reference, dir.join("stopped.h5"))
}

/// The run resumed to its end equals the reference, bit for bit.
fn resume_to_the_end_equals(reference: &Path, run: &Path) {
    let output = mfcl(&["resume", arg(run)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let (a, b) = (read_run(reference).unwrap(), read_run(run).unwrap());
    assert_eq!(a.trajectory, b.trajectory);
    assert_eq!(a.snapshots, b.snapshots);
    assert_eq!(
        load_checkpoint(reference).unwrap().state,
        load_checkpoint(run).unwrap().state
    );
}

/// SIGTERM (what `kill`, `timeout` and Slurm send) stops `mfcl run` with a checkpoint, and
/// then `mfcl resume`; the run resumed to its end is the uninterrupted one.
#[test]
fn sigterm_stops_run_and_resume_with_a_checkpoint() {
    let (reference, run) = reference_and("signals-term");
    let (started, at) = spawn(&[&["run", "--out", arg(&run)][..], &SETTINGS].concat());
    stop(started, at, &run, libc::SIGTERM, "SIGTERM");
    let (resumed, at) = spawn(&["resume", arg(&run)]);
    stop(resumed, at, &run, libc::SIGTERM, "SIGTERM");
    resume_to_the_end_equals(&reference, &run);
}

/// SIGHUP (a closed terminal) does the same.
#[test]
fn sighup_stops_run_and_resume_with_a_checkpoint() {
    let (reference, run) = reference_and("signals-hup");
    let (started, at) = spawn(&[&["run", "--out", arg(&run)][..], &SETTINGS].concat());
    stop(started, at, &run, libc::SIGHUP, "SIGHUP");
    let (resumed, at) = spawn(&["resume", arg(&run)]);
    stop(resumed, at, &run, libc::SIGHUP, "SIGHUP");
    resume_to_the_end_equals(&reference, &run);
}
