//! The figures of `mfcl plot`, `basins --plot` and `sweep --plot` as a user meets them: an
//! output that cannot be written is refused before any work, a file that is not a PNG is
//! never replaced, and a run that stopped early is drawn, by mfcl and by
//! `scripts/plot_run.py`.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod common;

use common::{is_png, mfcl, mfcl_within, scratch, stderr};

/// The longest a refusal may take; the work it must come before takes far longer.
const FAST: Duration = Duration::from_secs(5);

/// `path` as a command-line argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A basins run of a million starts (an hour of work) and a sweep of 2000 values (minutes),
/// each drawing to `png`.
fn long_work(png: &Path) -> [Vec<&str>; 2] {
    [
        vec![
            "basins",
            "data/configs/finding2.toml",
            "--samples",
            "1000000",
            "--plot",
            arg(png),
        ],
        vec![
            "sweep",
            "data/configs/finding3.toml",
            "--param",
            "model.noise.correlation",
            "--values",
            "-0.9:0.9:2000",
            "--plot",
            arg(png),
        ],
    ]
}

/// Exit 2 within [`FAST`], with one line on stderr that contains `needle`.
fn refused_fast(args: &[&str], needle: &str) {
    let output = mfcl_within(args, FAST);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

/// Tests run as root, who ignores permission bits: a folder that takes no files is
/// /proc's, and one that cannot be created lies under a regular file.
#[test]
fn an_unwritable_figure_is_refused_before_the_work() {
    let dir = scratch("figures-unwritable");
    let file = dir.join("notes.txt");
    std::fs::write(&file, "not a folder\n").unwrap();
    let cases = [
        (PathBuf::from("/proc/mfcl.png"), "cannot write in /proc: "),
        (
            file.join("figure.png"),
            &format!("{} is a file, not a folder", file.display()),
        ),
        (dir.join("figure.svg"), "its name must end in .png"),
    ];
    for (png, needle) in &cases {
        for args in long_work(png) {
            refused_fast(&args, needle);
        }
    }
    let folder = dir.join("folder.png");
    std::fs::create_dir(&folder).unwrap();
    for args in long_work(&folder) {
        refused_fast(&args, &format!("{} is a folder", folder.display()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A run of the embedded quickstart that diverges at about t = 0.3 of 2 (a linear
/// activation without regularization, a large learning rate): a run file of a run that
/// stopped early, in under a second.
fn stopped_run(dir: &Path) -> PathBuf {
    let run = dir.join("diverged.h5");
    let mut args = vec!["run", "--out", arg(&run)];
    for set in [
        "run.particles=2000",
        "run.t_end=2",
        "model.activation=linear",
        "train.strength=0",
        "train.learning_rate=5",
    ] {
        args.extend(["--set", set]);
    }
    let output = mfcl(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    run
}

/// A PNG at the output is replaced; a text file or a run file there is refused and left as
/// it was, byte for byte; and the run that stopped early is drawn.
#[test]
fn only_png_images_are_replaced() {
    let dir = scratch("figures-replace");
    let run = stopped_run(&dir);
    let png = dir.join("figure.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\nan old figure").unwrap();
    let output = mfcl(&["plot", arg(&run), "--out", arg(&png)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000, "redrawn");

    let text = dir.join("notes.png");
    std::fs::write(&text, "my notes\n").unwrap();
    let disguised = dir.join("run.png");
    std::fs::copy(&run, &disguised).unwrap();
    let cases = [(&text, "a text file"), (&disguised, "an mfcl run file")];
    for (path, kind) in cases {
        let before = std::fs::read(path).unwrap();
        let needle = format!(
            "--out {0}: {0} exists and is {kind}, not a PNG image; refusing to replace it",
            path.display()
        );
        refused_fast(&["plot", arg(&run), "--out", arg(path)], &needle);
        for args in long_work(path) {
            let needle = needle.replacen("--out", "--plot", 1);
            refused_fast(&args, &needle);
        }
        assert_eq!(
            std::fs::read(path).unwrap(),
            before,
            "{} untouched",
            path.display()
        );
        assert!(!is_png(path));
    }
    // The checks' probe files are gone.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(!name.to_string_lossy().ends_with(".probe"), "{name:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `scripts/plot_run.py` draws a run file, where Python has h5py and matplotlib.
#[test]
fn the_python_script_draws_a_run_file() {
    let repository = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let python = |args: &[&str]| {
        std::process::Command::new("python3")
            .args(args)
            .current_dir(repository)
            .output()
    };
    if !python(&["-c", "import h5py, matplotlib"]).is_ok_and(|o| o.status.success()) {
        eprintln!("python3 with h5py and matplotlib is not installed: the script is not run");
        return;
    }
    let dir = scratch("figures-python");
    let run = stopped_run(&dir);
    let png = dir.join("script.png");
    let output = python(&["scripts/plot_run.py", arg(&run), "--out", arg(&png)]).unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(is_png(&png));
    std::fs::remove_dir_all(&dir).unwrap();
}
