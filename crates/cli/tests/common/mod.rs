//! What the binary's test files share: running `mfcl` from the repository root, and
//! reading what it printed.

// Each test file is its own crate and uses only some of these.
#![allow(dead_code)]

use std::process::{Command, Output};

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
