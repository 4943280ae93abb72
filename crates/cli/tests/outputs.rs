//! Figures and exports replace only their own files (issue 19, items 3 and 4): a figure is
//! written through a temporary, so a failed one leaves nothing and a link at its path is
//! replaced, not followed; an export writes a manifest naming its run, replaces only the
//! files that a manifest of the same run lists, and refuses a folder of another run's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::{is_png, mfcl, scratch, stderr};

/// `path` as a command-line argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A small finished run in `dir`, of seed `seed`.
fn small_run(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let run = dir.join(format!("{name}.h5"));
    let seed = format!("run.seed={seed}");
    let output = mfcl(&[
        "run",
        "--set",
        "run.particles=2000",
        "--set",
        "run.t_end=0.5",
        "--set",
        "run.snapshot_every=0.25",
        "--set",
        &seed,
        "--out",
        arg(&run),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    run
}

/// Every file under `dir` (not following links), with its bytes, or its target for a link.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = path.symlink_metadata().unwrap();
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            files.insert(path, target.into_os_string().into_encoded_bytes());
        } else if meta.is_dir() {
            files.extend(contents(&path));
        } else {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

fn is_link(path: &Path) -> bool {
    path.symlink_metadata()
        .is_ok_and(|meta| meta.file_type().is_symlink())
}

/// `mfcl ARGS` with writes beyond 0 bytes failing (EFBIG), as on a full disk.
fn mfcl_unable_to_write(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 0; trap '' XFSZ; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .env("RAYON_NUM_THREADS", "2")
        .output()
        .expect("sh runs")
}

/// A plot that failed to write left a 0-byte PNG, which then blocked the retry ("exists
/// and is an empty file, not a PNG image"); now it leaves nothing, and the retry draws.
#[test]
fn a_failed_plot_leaves_nothing_and_the_retry_draws() {
    let dir = scratch("outputs-failed-plot");
    let run = small_run(&dir, "run", 1);
    let before = contents(&dir);
    let png = dir.join("figure.png");
    let failed = mfcl_unable_to_write(&["plot", arg(&run), "--out", arg(&png)]);
    assert_eq!(failed.status.code(), Some(2), "{}", stderr(&failed));
    assert!(
        stderr(&failed).contains("cannot write"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(contents(&dir), before, "the failed plot left a file");
    let output = mfcl(&["plot", arg(&run), "--out", arg(&png)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(is_png(&png));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `plot --out` at a symbolic link wrote the link's target; now the link is replaced by the
/// figure and the target keeps its bytes. A link to something that is not a PNG is refused,
/// as that file itself would be, and left as it was.
#[test]
fn a_figure_replaces_a_link_at_its_path_and_never_its_target() {
    let dir = scratch("outputs-link");
    let run = small_run(&dir, "run", 1);
    let target = dir.join("target.png");
    let output = mfcl(&["plot", arg(&run), "--out", arg(&target)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let figure = std::fs::read(&target).unwrap();
    let link = dir.join("link.png");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let output = mfcl(&["plot", arg(&run), "--out", arg(&link)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!is_link(&link) && is_png(&link));
    assert_eq!(std::fs::read(&target).unwrap(), figure);

    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "my notes\n").unwrap();
    let to_notes = dir.join("notes.png");
    std::os::unix::fs::symlink(&notes, &to_notes).unwrap();
    let output = mfcl(&["plot", arg(&run), "--out", arg(&to_notes)]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("not a PNG image; refusing to replace it"));
    assert!(is_link(&to_notes));
    assert_eq!(std::fs::read(&notes).unwrap(), b"my notes\n");

    // sweep --plot draws the same way.
    let swept = dir.join("swept.png");
    std::os::unix::fs::symlink(&target, &swept).unwrap();
    let output = mfcl(&[
        "sweep",
        "data/configs/finding3.toml",
        "--param",
        "model.noise.correlation",
        "--values",
        "-0.8:0.8:3",
        "--plot",
        arg(&swept),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!is_link(&swept) && is_png(&swept));
    assert_eq!(std::fs::read(&target).unwrap(), figure);
    // No temporary is left beside the figures.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn export(run: &Path, what: &str, format: &str, out: &Path) -> Output {
    mfcl(&[
        "export",
        arg(run),
        "--what",
        what,
        "--format",
        format,
        "--out",
        arg(out),
    ])
}

fn manifest(folder: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(folder.join("mfcl-export.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The manifest names the source run (path, start time, seed, run id) and every file that
/// the exports of that run wrote into the folder; a second export of the same run adds to
/// it, and replaces its own files.
#[test]
fn an_export_names_its_run_and_its_files_in_a_manifest() {
    let dir = scratch("outputs-manifest");
    let run = small_run(&dir, "run", 3);
    let out = dir.join("export");
    let output = export(&run, "trajectory", "csv", &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let doc = manifest(&out);
    assert_eq!(doc["source"]["run_file"], arg(&run));
    assert_eq!(doc["source"]["seed"], 3);
    assert!(
        doc["source"]["created"].as_str().unwrap().len() >= 20,
        "{doc}"
    );
    assert!(doc["source"]["run_id"].is_string(), "{doc}");
    assert_eq!(doc["files"], serde_json::json!(["trajectory.csv"]));

    let output = export(&run, "snapshots", "npy", &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let files = manifest(&out)["files"].as_array().unwrap().clone();
    assert_eq!(files[0], "trajectory.csv");
    assert_eq!(files[1], "snapshots.csv");
    // Three snapshots (t = 0, 0.25, 0.5) of five arrays each.
    assert_eq!(files.len(), 2 + 3 * 5);
    let mut on_disk: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "mfcl-export.json")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = files
        .iter()
        .map(|f| f.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    // Again: its own files are replaced, the manifest unchanged.
    let before = std::fs::read(out.join("mfcl-export.json")).unwrap();
    let output = export(&run, "trajectory", "csv", &out);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read(out.join("mfcl-export.json")).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Exporting a run into a folder that holds another run's export mixed their files; now it
/// is refused, and the folder keeps every byte.
#[test]
fn an_export_into_another_runs_folder_is_refused_untouched() {
    let dir = scratch("outputs-other-run");
    let first = small_run(&dir, "first", 1);
    let second = small_run(&dir, "second", 2);
    let out = dir.join("export");
    let output = export(&first, "snapshots", "csv", &out);
    assert!(output.status.success(), "{}", stderr(&output));
    let before = contents(&out);
    for (what, format) in [("snapshots", "csv"), ("trajectory", "npy")] {
        let output = export(&second, what, format, &out);
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{message}");
        assert!(
            message.contains("holds an export of another run") && message.contains(arg(&first)),
            "{message}"
        );
        assert_eq!(contents(&out), before);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Files that no manifest of the run lists are the user's: refused before anything is
/// written, even where a later file of the same export is the one in the way.
#[test]
fn an_export_replaces_only_the_files_its_manifest_lists() {
    let dir = scratch("outputs-unlisted");
    let run = small_run(&dir, "run", 1);
    let out = dir.join("export");
    std::fs::create_dir(&out).unwrap();
    // The last file of the snapshot export, an exported-looking array of someone else's.
    let theirs = out.join("snapshot_000002_atoms.npy");
    std::fs::write(&theirs, b"\x93NUMPY not mine to replace").unwrap();
    let before = contents(&out);
    let output = export(&run, "snapshots", "npy", &out);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("snapshot_000002_atoms.npy exists"),
        "{message}"
    );
    assert_eq!(
        contents(&out),
        before,
        "a refused export wrote into the folder"
    );

    // A listed file that the user has since replaced with their own is refused too.
    let fresh = dir.join("fresh");
    let output = export(&run, "trajectory", "csv", &fresh);
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::write(fresh.join("trajectory.csv"), "my,own\n1,2\n").unwrap();
    let before = contents(&fresh);
    let output = export(&run, "trajectory", "csv", &fresh);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(contents(&fresh), before);

    // A manifest that is not one leaves the folder to its owner.
    let foreign = dir.join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("mfcl-export.json"), "{\"mine\": true}\n").unwrap();
    let before = contents(&foreign);
    let output = export(&run, "trajectory", "csv", &foreign);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("is not a manifest of mfcl export"),
        "{message}"
    );
    assert_eq!(contents(&foreign), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
