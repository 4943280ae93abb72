//! SIGKILL at random moments, resume, repeat: the run file ends up with the trajectory and
//! snapshots of an uninterrupted run, bit for bit, and the final checkpoints agree.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mfcl_checkpoint::{load_checkpoint, read_run};

mod common;
use common::config_apart_from_output;

const SETTINGS: [&str; 12] = [
    "--set",
    "run.particles=200000",
    "--set",
    "run.t_end=2",
    "--set",
    "run.record_every=0.05",
    "--set",
    "run.snapshot_every=0.25",
    "--set",
    "run.checkpoint_every=0.1",
    "--set",
    "model.negatives=1",
];

fn mfcl(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mfcl"));
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-kill-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("run.h5")
}

/// Waits for `child` up to `delay`, then kills it; `true` if it finished by itself.
fn kill_after(mut child: Child, delay: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < delay {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(
                status.success() || status.code() == Some(2),
                "unexpected exit {status}"
            );
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    false
}

#[test]
fn killed_and_resumed_runs_equal_the_uninterrupted_run() {
    let reference = scratch("reference");
    let out = reference.to_str().unwrap();
    let started = Instant::now();
    assert!(
        mfcl(&[&["run", "--out", out][..], &SETTINGS[..]].concat())
            .status()
            .unwrap()
            .success()
    );
    let duration = started.elapsed();

    let killed = scratch("killed");
    let out = killed.to_str().unwrap();
    // Deterministic pseudo-random kill times, spread over the run and the I/O in it. An
    // attempt gets at most 40% of a whole run's time, and resumes from a checkpoint no later
    // than where the last one was killed, so the run is killed at least twice however fast
    // the machine is.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut delay = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        duration.mul_f64(0.1 + 0.3 * (state % 1000) as f64 / 1000.0)
    };
    let mut kills = 0;
    let mut finished = kill_after(
        mfcl(&[&["run", "--out", out][..], &SETTINGS[..]].concat())
            .spawn()
            .unwrap(),
        delay(),
    );
    while !finished {
        kills += 1;
        assert!(kills < 100, "the run never finished");
        // Killed before its first checkpoint, resume starts over; killed before even the run
        // file was in place, only `run` can.
        let mut command = if killed.exists() {
            mfcl(&["resume", out])
        } else {
            mfcl(&[&["run", "--out", out][..], &SETTINGS[..]].concat())
        };
        finished = kill_after(command.spawn().unwrap(), delay());
    }
    assert!(
        kills >= 2,
        "the test should kill the run a few times (killed {kills})"
    );

    eprintln!("uninterrupted run {duration:?}; killed {kills} times");
    let (a, b) = (read_run(&reference).unwrap(), read_run(&killed).unwrap());
    assert_eq!(
        config_apart_from_output(&a.header.config),
        config_apart_from_output(&b.header.config)
    );
    assert_eq!(a.trajectory, b.trajectory, "trajectory after {kills} kills");
    assert_eq!(a.snapshots, b.snapshots, "snapshots after {kills} kills");
    assert_eq!(
        load_checkpoint(&reference).unwrap().state,
        load_checkpoint(&killed).unwrap().state
    );
}

fn status_and_stderr(command: &mut Command) -> (Option<i32>, String) {
    let output = command.stderr(Stdio::piped()).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A finished run extended with `resume --t-end` equals a run made that long from the start.
#[test]
fn extending_a_finished_run_equals_a_longer_run() {
    let long = scratch("long");
    let short = scratch("short");
    let run = |path: &PathBuf, t_end: &str| {
        let mut args = vec!["run", "--out", path.to_str().unwrap()];
        args.extend(SETTINGS);
        args.extend(["--set", t_end]);
        assert!(mfcl(&args).status().unwrap().success());
    };
    run(&long, "run.t_end=1.5");
    run(&short, "run.t_end=1");
    assert!(
        mfcl(&["resume", short.to_str().unwrap(), "--t-end", "1.5"])
            .status()
            .unwrap()
            .success()
    );
    let (a, b) = (read_run(&long).unwrap(), read_run(&short).unwrap());
    assert_eq!(
        config_apart_from_output(&a.header.config),
        config_apart_from_output(&b.header.config),
        "the extended run's config records the new t_end"
    );
    assert_eq!(a.trajectory, b.trajectory);
    assert_eq!(a.snapshots, b.snapshots);
    let (code, err) = status_and_stderr(&mut mfcl(&[
        "resume",
        short.to_str().unwrap(),
        "--t-end",
        "0.5",
    ]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("extended, not shortened"), "{err}");
}

/// Checkpoints of another run, of another format version, or none at all: exit 2 and a reason.
#[test]
fn resume_refuses_foreign_or_missing_checkpoints() {
    let mine = scratch("mine");
    let other = scratch("other");
    for (path, seed) in [(&mine, "run.seed=1"), (&other, "run.seed=2")] {
        let mut args = vec!["run", "--out", path.to_str().unwrap()];
        args.extend(SETTINGS);
        args.extend(["--set", "run.t_end=0.2", "--set", seed]);
        assert!(mfcl(&args).status().unwrap().success());
    }
    let checkpoint = mfcl_checkpoint::checkpoint_path(&mine);
    std::fs::copy(mfcl_checkpoint::checkpoint_path(&other), &checkpoint).unwrap();
    // The runs are finished: extending them makes resume read their checkpoints.
    let resume = || mfcl(&["resume", mine.to_str().unwrap(), "--t-end", "0.3"]);
    let (code, err) = status_and_stderr(&mut resume());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("belong to different runs"), "{err}");

    let newer = mfcl_checkpoint::FORMAT_VERSION + 1;
    {
        let file = hdf5::File::open_rw(&checkpoint).unwrap();
        file.delete_attr("format_version").unwrap();
        file.new_attr::<u32>()
            .create("format_version")
            .unwrap()
            .write_scalar(&newer)
            .unwrap();
    }
    let (code, err) = status_and_stderr(&mut resume());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("format version {newer}")), "{err}");

    // Without a checkpoint the run starts over from the config in its run file; without
    // either, there is nothing to resume.
    std::fs::remove_file(&checkpoint).unwrap();
    let (code, err) = status_and_stderr(&mut resume());
    assert_eq!(code, Some(0), "{err}");
    std::fs::remove_file(&checkpoint).unwrap();
    std::fs::remove_file(&mine).unwrap();
    let (code, err) = status_and_stderr(&mut resume());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no such file"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Ctrl-C (SIGINT) stops the run between two steps with a checkpoint there: exit 1, one
/// line saying so, and `mfcl resume` completes the run as if nothing had happened.
#[test]
fn ctrl_c_checkpoints_and_resume_completes_the_run() {
    let reference = scratch("ctrl-c-reference");
    let interrupted = scratch("ctrl-c");
    let args = |path: &PathBuf| {
        let mut args = vec![
            "run".to_string(),
            "--out".into(),
            path.to_str().unwrap().into(),
        ];
        args.extend(SETTINGS.iter().map(|s| s.to_string()));
        args.extend(["--set".into(), "run.t_end=6".into()]);
        args
    };
    assert!(
        mfcl(
            &args(&reference)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        )
        .status()
        .unwrap()
        .success()
    );
    let child = mfcl(
        &args(&interrupted)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // The handler is in place once the run is stepping, which its first checkpoint shows.
    let started = Instant::now();
    while !mfcl_checkpoint::checkpoint_path(&interrupted).exists()
        && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let output = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        eprintln!("the run finished before the signal arrived; nothing to check");
        return;
    }
    assert_eq!(output.status.code(), Some(1), "{err}");
    // Not an error: where it stopped and how to go on, naming the file.
    let expected = format!("continue with: mfcl resume {}", interrupted.display());
    assert!(
        err.starts_with("stopped at t = ") && err.contains(&expected) && err.lines().count() == 1,
        "{err}"
    );
    assert!(
        mfcl(&["resume", interrupted.to_str().unwrap()])
            .status()
            .unwrap()
            .success()
    );
    let (a, b) = (
        read_run(&reference).unwrap(),
        read_run(&interrupted).unwrap(),
    );
    assert_eq!(a.trajectory, b.trajectory);
    assert_eq!(a.snapshots, b.snapshots);
}
