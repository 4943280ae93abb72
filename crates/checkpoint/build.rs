//! Records the source revision mfcl is built from (`MFCL_SOURCE_REVISION`), which every file
//! it writes carries: the git commit, with `+modified` when tracked files differ from it, or
//! `unknown` outside a git checkout (a source archive) or without git.

use std::path::Path;
use std::process::Command;

fn main() {
    let revision = git(&["rev-parse", "HEAD"]).map_or_else(
        || "unknown".to_owned(),
        |commit| match git(&[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]) {
            Some(changes) if changes.is_empty() => commit,
            _ => format!("{commit}+modified"),
        },
    );
    println!("cargo:rustc-env=MFCL_SOURCE_REVISION={revision}");
    // A commit moves HEAD or the branch it names (loose or packed); staging rewrites the
    // index. An edit to a tracked file touches neither: the sources themselves are watched.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = Path::new(&git_dir);
        for name in ["HEAD", "index", "packed-refs"] {
            println!("cargo:rerun-if-changed={}", git_dir.join(name).display());
        }
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={}", git_dir.join(branch).display());
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for watched in ["crates", "benches", "Cargo.toml", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
}

/// What `git ARGS` prints in this crate's folder, trimmed; `None` if it fails.
fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
