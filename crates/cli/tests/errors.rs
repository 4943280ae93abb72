//! Write failures a user meets: an output path that cannot be written, and a disk that fills
//! up during a run. Each gives exit 2 and one line saying what happened; what was written
//! up to the last checkpoint stays, and `mfcl resume` then completes the run exactly as an
//! uninterrupted one. (A missing config and a mistyped key are in `cli.rs`.)
//!
//! A full disk is simulated with a file-size limit (`RLIMIT_FSIZE`, which any user may
//! lower), and where this process may mount one, also with a small tmpfs that really runs
//! out of space.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mfcl_checkpoint::{checkpoint_path, load_checkpoint, read_run, snapshots_dir};

mod common;
use common::config_apart_from_output;

/// 20000 particles up to t = 1 with a snapshot and a checkpoint every 0.1: a snapshot adds
/// about 250 kB to the run file, a checkpoint takes about 290 kB.
const SMALL: [&str; 8] = [
    "--set",
    "run.particles=20000",
    "--set",
    "run.t_end=1",
    "--set",
    "run.snapshot_every=0.1",
    "--set",
    "run.checkpoint_every=0.1",
];

fn mfcl(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mfcl"));
    command.args(args);
    command
}

/// `mfcl run --out RUN` with `settings`.
fn run(path: &Path, settings: &[&str]) -> Command {
    mfcl(&[&["run", "--out", arg(path)][..], settings].concat())
}

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// An empty folder of this test's own.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-errors-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn succeeds(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A command that must fail with exit 2, nothing on stdout and one line on stderr; the line.
fn refused(command: &mut Command) -> String {
    let output = command.output().unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(output.stdout.is_empty(), "{message}");
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.starts_with("error: "), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    message
}

/// Lets no file that `command` writes grow beyond `bytes`: a write past it fails with
/// EFBIG ("File too large"), the way one fails with ENOSPC on a full disk.
fn limit_file_size(command: &mut Command, bytes: u64) -> &mut Command {
    // SAFETY: between fork and exec the closure calls only signal and setrlimit, which are
    // async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            // Past the limit the kernel sends SIGXFSZ, which would end the process; ignored
            // (and an ignored signal stays ignored across exec), the write fails instead.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Temporary files left in the run's folder or its snapshot folder.
fn leftovers(run: &Path) -> Vec<PathBuf> {
    [run.parent().unwrap().to_path_buf(), snapshots_dir(run)]
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "tmp"))
        .collect()
}

/// The run files, their snapshots and final checkpoints are the same.
fn assert_same_run(reference: &Path, resumed: &Path) {
    let (a, b) = (read_run(reference).unwrap(), read_run(resumed).unwrap());
    assert_eq!(
        config_apart_from_output(&a.header.config),
        config_apart_from_output(&b.header.config)
    );
    assert_eq!(a.trajectory, b.trajectory);
    assert_eq!(a.snapshots, b.snapshots);
    assert_eq!(
        load_checkpoint(reference).unwrap().state,
        load_checkpoint(resumed).unwrap().state
    );
}

#[test]
fn unwritable_output_paths_give_one_line() {
    let dir = scratch("unwritable");
    let settings = ["--set", "run.particles=2000", "--set", "run.t_end=0.1"];
    // Not even root may create files in /proc.
    let message = refused(&mut run(Path::new("/proc/mfcl.h5"), &settings));
    assert!(message.contains("/proc/mfcl.h5"), "{message}");

    let file = dir.join("file");
    std::fs::write(&file, "").unwrap();
    let message = refused(&mut run(&file.join("run.h5"), &settings));
    assert!(message.contains("is a file, not a folder"), "{message}");

    let folder = dir.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let message = refused(&mut run(&folder, &settings));
    assert!(
        message.contains("is a folder, not an mfcl run file"),
        "{message}"
    );
    assert!(
        !dir.join("folder.new.tmp").exists(),
        "the temporary is removed"
    );

    // Root writes into read-only folders all the same.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("running as root: the read-only folder is not checked");
        return;
    }
    let read_only = dir.join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    let mut permissions = std::fs::metadata(&read_only).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
    std::fs::set_permissions(&read_only, permissions).unwrap();
    let message = refused(&mut run(&read_only.join("run.h5"), &settings));
    assert!(message.contains("Permission denied"), "{message}");
}

/// The run file outgrows the limit with its third snapshot, after the checkpoint at t = 0.1.
#[test]
fn a_full_disk_during_a_snapshot_stops_the_run_and_resume_completes_it() {
    let reference = scratch("snapshot-reference").join("run.h5");
    succeeds(&mut run(&reference, &SMALL));

    let full = scratch("snapshot-full").join("run.h5");
    let message = refused(limit_file_size(&mut run(&full, &SMALL), 700 << 10));
    assert!(message.contains("File too large"), "{message}");
    assert!(
        message.contains(&format!("mfcl resume {}", arg(&full))),
        "{message}"
    );
    assert!(leftovers(&full).is_empty(), "{:?}", leftovers(&full));
    let checkpoint = load_checkpoint(&full).expect("the last checkpoint is intact");
    assert!(
        (1..100).contains(&checkpoint.step()),
        "{}",
        checkpoint.step()
    );

    succeeds(&mut mfcl(&["resume", arg(&full)]));
    assert_same_run(&reference, &full);
}

/// A checkpoint too large to write leaves the previous one in place, whole.
#[test]
fn a_full_disk_during_a_checkpoint_keeps_the_previous_one() {
    // 100000 particles: a checkpoint takes 1.25 MB, a snapshot (every other particle) 0.6 MB.
    let settings = [
        "--set",
        "run.particles=100000",
        "--set",
        "run.checkpoint_every=0.1",
    ];
    let reference = scratch("checkpoint-reference").join("run.h5");
    succeeds(&mut run(
        &reference,
        &[&settings[..], &["--set", "run.t_end=0.8"]].concat(),
    ));

    let full = scratch("checkpoint-full").join("run.h5");
    succeeds(&mut run(
        &full,
        &[&settings[..], &["--set", "run.t_end=0.5"]].concat(),
    ));
    let before = load_checkpoint(&full).unwrap();
    let message = refused(limit_file_size(
        &mut mfcl(&["resume", arg(&full), "--t-end", "0.8"]),
        1000 << 10,
    ));
    let checkpoint = checkpoint_path(&full);
    assert!(
        message.contains(&format!("cannot write {}", checkpoint.display())),
        "{message}"
    );
    assert!(leftovers(&full).is_empty(), "{:?}", leftovers(&full));
    assert_eq!(load_checkpoint(&full).unwrap(), before);

    // As the message says: plain `resume`, the run file remembers the new t_end.
    succeeds(&mut mfcl(&["resume", arg(&full)]));
    assert_same_run(&reference, &full);
}

/// A tmpfs mounted for one test, unmounted when it ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` where this process may not mount (not root, or no CAP_SYS_ADMIN).
    fn mount(dir: PathBuf, size: &str) -> Option<Tmpfs> {
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "tmpfs",
                arg(&dir),
            ])
            .output()
            .is_ok_and(|output| output.status.success());
        mounted.then_some(Tmpfs(dir))
    }

    fn resize(&self, size: &str) {
        succeeds(Command::new("mount").args(["-o", &format!("remount,size={size}"), arg(&self.0)]));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazily: a process that another test started may have inherited a descriptor of a
        // file here (HDF5 opens files without O_CLOEXEC) and keep the disk busy a moment.
        let _ = Command::new("umount").arg("--lazy").arg(&self.0).output();
    }
}

/// The real thing: ENOSPC on a 2 MB tmpfs, where the run's files together fill the disk.
#[test]
fn a_disk_that_runs_out_of_space_stops_the_run_and_resume_completes_it() {
    let Some(disk) = Tmpfs::mount(scratch("tmpfs"), "2m") else {
        eprintln!("cannot mount a tmpfs here (not root?): the real full disk is not checked");
        return;
    };
    let reference = scratch("tmpfs-reference").join("run.h5");
    succeeds(&mut run(&reference, &SMALL));

    let full = disk.0.join("run.h5");
    let message = refused(&mut run(&full, &SMALL));
    assert!(message.contains("os error 28"), "{message}");
    assert!(leftovers(&full).is_empty(), "{:?}", leftovers(&full));

    disk.resize("32m");
    succeeds(&mut mfcl(&["resume", arg(&full)]));
    assert_same_run(&reference, &full);
}
