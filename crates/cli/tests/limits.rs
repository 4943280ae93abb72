//! Limits before work (issue 19, item 7): each case of the issue is refused with exit 2
//! and a message naming the numbers, within seconds, where it used to abort, panic, hang or
//! read without end.

use std::path::Path;
use std::time::Duration;

mod common;

use common::{mfcl, mfcl_within, scratch, stderr};

/// The longest a refusal may take; the work it comes before would take far longer, or never
/// end.
const FAST: Duration = Duration::from_secs(20);

/// `path` as a command-line argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Exit 2 within [`FAST`], with one line on stderr that contains every one of `needles`.
fn refused_fast(args: &[&str], needles: &[&str]) -> String {
    let output = mfcl_within(args, FAST);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
    assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
    for needle in needles {
        assert!(message.contains(needle), "{args:?}: {message}");
    }
    message
}

/// `run.particles = 1e12` aborted with an allocation failure (exit 134); now the estimate
/// (17 bytes a particle for the quickstart) is refused against MemAvailable, both printed,
/// and nothing is written.
#[test]
fn a_run_beyond_the_memory_is_refused_before_work() {
    let dir = scratch("limits-memory");
    let out = dir.join("big.h5");
    let message = refused_fast(
        &["run", "--set", "run.particles=1e12", "--out", arg(&out)],
        &[
            "needs about 15.46 TiB of memory",
            "× 17 bytes",
            "available: lower run.particles",
        ],
    );
    assert!(message.contains("1,000,000,000,000 particles"), "{message}");
    // The same for SGD coordinates.
    refused_fast(
        &[
            "run",
            "--set",
            "run.solver=sgd",
            "--set",
            "run.dimension=1e12",
            "--set",
            "run.t_end=1e-9",
            "--set",
            "run.dt=1e-9",
            "--set",
            "run.record_every=1e-9",
            "--set",
            "run.snapshot_every=1e-9",
            "--set",
            "run.checkpoint_every=1e-9",
            "--out",
            arg(&out),
        ],
        &["coordinates ×", "available: lower run.dimension"],
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Steps beyond 10¹² are refused, with the count and the step.
#[test]
fn a_run_of_absurdly_many_steps_is_refused() {
    let dir = scratch("limits-steps");
    refused_fast(
        &[
            "run",
            "--set",
            "run.dt=1e-9",
            "--set",
            "run.t_end=1e4",
            "--set",
            "run.record_every=0.01",
            "--out",
            arg(&dir.join("long.h5")),
        ],
        &["1e13 steps of run.dt = 1e-9", "at most 1e12"],
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `init.norm2 = 1e100` panicked (capacity overflow in the quadrature's nodes) and `1e6`
/// hung in the first coefficient evaluation: every command that reads a config refuses
/// both, naming the key, the value and the range.
#[test]
fn a_state_outside_the_numerics_domain_is_refused_by_every_command() {
    let config = "data/configs/quickstart.toml";
    for (set, value) in [
        ("init.norm2=1e100", "1e100"),
        ("init.norm2=1e6", "1000000.0"),
    ] {
        for command in ["check", "coefficients", "ode", "fixed-points", "run"] {
            refused_fast(
                &[command, config, "--set", set],
                &[
                    &format!("init.norm2 = {value}: expected a number at most 7999.97"),
                    "pre-activation variance",
                    "at most 1e4",
                ],
            );
        }
    }
    // A layer's evaluation costs more: its bound is lower.
    refused_fast(
        &["check", "data/configs/layer.toml", "--set", "init.norm2=90"],
        &[
            "init.norm2 = 90: expected a number at most 79.704",
            "at most 1e2",
        ],
    );
    // At the bound, an evaluation is still quick.
    let output = mfcl_within(&["coefficients", config, "--set", "init.norm2=7999"], FAST);
    assert!(output.status.success(), "{}", stderr(&output));
}

/// `ode --set run.t_end=1e15` aborted allocating 8·10¹⁶ bytes of sample times; the horizon
/// is refused with its number of records.
#[test]
fn a_horizon_whose_samples_cannot_be_stored_is_refused() {
    refused_fast(
        &[
            "ode",
            "data/configs/quickstart.toml",
            "--set",
            "run.t_end=1e15",
        ],
        &[
            "run.t_end = 1000000000000000.0",
            "at most 10000000 trajectory records",
            "this horizon has 1e16",
        ],
    );
}

/// `mfcl check /dev/zero` read 2.1 GB before it failed; config files are read up to 1 MiB.
#[test]
fn config_files_are_read_up_to_one_mebibyte() {
    refused_fast(
        &["check", "/dev/zero"],
        &["/dev/zero is larger than 1 MiB, the most a config file may hold"],
    );
    let dir = scratch("limits-config-size");
    let head = "[model]\n#";
    let at_limit = format!("{head}{}\n", " ".repeat((1 << 20) - head.len() - 1));
    assert_eq!(at_limit.len(), 1 << 20);
    let path = dir.join("padded.toml");
    std::fs::write(&path, &at_limit).unwrap();
    let output = mfcl(&["check", arg(&path)]);
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(&path, format!("{at_limit} ")).unwrap();
    refused_fast(&["check", arg(&path)], &["is larger than 1 MiB"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--threads` had no upper bound; a count beyond four per core is capped, and a note says
/// so (results do not depend on it).
#[test]
fn threads_are_capped_with_a_note() {
    let dir = scratch("limits-threads");
    let output = mfcl_within(
        &[
            "run",
            "--set",
            "run.particles=2000",
            "--set",
            "run.t_end=0.2",
            "--threads",
            "1000000",
            "--out",
            arg(&dir.join("threads.h5")),
        ],
        FAST,
    );
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    assert!(
        message.contains("note: --threads 1000000: using ") && message.contains("4 per core"),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A seed of 2^63 got "expected an integer >= 0"; every integer message states the real
/// range, that of TOML's 64-bit integers.
#[test]
fn integer_messages_state_the_real_range() {
    let config = "data/configs/quickstart.toml";
    refused_fast(
        &["check", config, "--set", "run.seed=9223372036854775808"],
        &[
            "9223372036854775808 is outside the range of TOML integers, \
             -9223372036854775808 to 9223372036854775807",
        ],
    );
    refused_fast(
        &["check", config, "--set", "run.seed=-1"],
        &["run.seed = -1: expected an integer in [0, 9223372036854775807]"],
    );
    refused_fast(
        &["check", config, "--set", "run.particles=0"],
        &["run.particles = 0: expected an integer in [1, 9223372036854775807]"],
    );
}
