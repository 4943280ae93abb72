//! `mfcl plot` of a layer as a user meets it: the figure grows a row of joint densities per
//! chosen snapshot, `--pair` and `--at` pick what it shows, and what they cannot pick is
//! refused (exit 2) before anything is written.

use std::path::{Path, PathBuf};

mod common;

use common::{is_png, mfcl, refused, scratch, stderr};

/// `path` as a command-line argument.
fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A short run of `config` (2000 particles up to t = 1, snapshots at t = 0 and 1) with the
/// extra `--set`s (which may change these), written to `dir/name`.
fn small_run(dir: &Path, name: &str, config: &str, sets: &[&str]) -> PathBuf {
    let run = dir.join(name);
    let mut args = vec!["run", config, "--out", arg(&run)];
    for set in ["run.particles=2000", "run.t_end=1"].iter().chain(sets) {
        args.extend(["--set", set]);
    }
    let output = mfcl(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    run
}

/// A layer of two neurons on two Rademacher features: four `ξ`-patterns.
fn two_neurons(dir: &Path) -> PathBuf {
    small_run(dir, "two.h5", "data/configs/two_neurons.toml", &[])
}

/// `(width, height)` of a PNG, from its header chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(is_png(path), "{} is a PNG", path.display());
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// `mfcl plot RUN --out PNG ARGS`, which must succeed, and the size of the figure.
fn plot(run: &Path, png: &Path, args: &[&str]) -> (u32, u32) {
    let mut all = vec!["plot", arg(run), "--out", arg(png)];
    all.extend(args);
    let output = mfcl(&all);
    assert!(output.status.success(), "{all:?}: {}", stderr(&output));
    png_size(png)
}

/// The figure is 1500 wide; below the title band (50) and the time panels (420) come the
/// per-neuron densities (380) and one row of heat maps (370) per chosen snapshot: the first
/// and the last by default, or those of `--at`.
#[test]
fn a_layer_figure_has_a_row_of_joint_densities_per_chosen_snapshot() {
    let dir = scratch("plot-layer-rows");
    let run = two_neurons(&dir);
    let png = dir.join("two.png");
    assert_eq!(plot(&run, &png, &[]), (1500, 50 + 420 + 380 + 2 * 370));
    assert_eq!(plot(&run, &png, &["--at", "1"]), (1500, 1220));
    // The nearest snapshot; the same one twice is one row.
    assert_eq!(
        plot(&run, &png, &["--at", "0.9", "--at", "1"]),
        (1500, 1220)
    );
    assert_eq!(
        plot(&run, &png, &["--at", "1,0", "--pair", "2,1"]),
        (1500, 1590)
    );

    // Three neurons step slowly and integrate their ODE slowly: a few steps, and l1, which
    // has no ODE (the figure shows the run alone).
    let three = small_run(
        &dir,
        "three.h5",
        "data/configs/two_neurons.toml",
        &[
            "model.neurons=3",
            "init.overlaps=[[0.3, 0.05, 0.1], [0.05, 0.3, 0.1]]",
            "train.regularizer=l1",
            "run.t_end=0.1",
            "run.snapshot_every=0.05",
        ],
    );
    assert_eq!(plot(&three, &png, &["--pair", "1,3"]), (1500, 1590));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A pair that is not two distinct neurons of the run, or a time with no snapshot near it,
/// is refused naming the problem, and the PNG already at `--out` is left as it was.
#[test]
fn pairs_and_times_that_do_not_fit_the_run_are_refused() {
    let dir = scratch("plot-layer-refused");
    let run = two_neurons(&dir);
    let png = dir.join("old.png");
    let old = b"\x89PNG\r\n\x1a\nan old figure";
    std::fs::write(&png, old).unwrap();
    let cases = [
        (
            vec!["--pair", "1,3"],
            "--pair 1,3: the run has 2 neurons, numbered 1 to 2",
        ),
        (
            vec!["--pair", "1,1"],
            "--pair 1,1: the two neurons must differ",
        ),
        (
            vec!["--at", "5"],
            "--at 5: no snapshot near that time; the run file has snapshots at t = 0, 1",
        ),
        (
            vec!["--at", "0,-1"],
            "--at -1: no snapshot near that time; the run file has snapshots at t = 0, 1",
        ),
    ];
    for (extra, needle) in &cases {
        let mut args = vec!["plot", arg(&run), "--out", arg(&png)];
        args.extend(extra);
        refused(&args, needle);
        assert_eq!(std::fs::read(&png).unwrap(), old, "{extra:?}: untouched");
    }
    // Not two whole numbers from 1: clap's own refusal, exit 2.
    let output = mfcl(&["plot", arg(&run), "--out", arg(&png), "--pair", "0,1"]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("expected two neuron numbers from 1, as A,B"));

    // A file that is not a PNG is refused before the pair is looked at, and kept.
    let text = dir.join("notes.png");
    std::fs::write(&text, "my notes\n").unwrap();
    refused(
        &["plot", arg(&run), "--out", arg(&text), "--pair", "1,2"],
        "exists and is a text file, not a PNG image; refusing to replace it",
    );
    assert_eq!(std::fs::read(&text).unwrap(), b"my notes\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A single neuron has no pair and no joint density to place in time; its figure is drawn
/// as before without the flags.
#[test]
fn a_single_neuron_takes_neither_flag() {
    let dir = scratch("plot-layer-single");
    let run = small_run(&dir, "one.h5", "data/configs/quickstart.toml", &[]);
    let png = dir.join("one.png");
    refused(
        &["plot", arg(&run), "--out", arg(&png), "--pair", "1,2"],
        "a single neuron has no pair",
    );
    refused(
        &["plot", arg(&run), "--out", arg(&png), "--at", "1"],
        "--at: it picks the snapshots of a layer's joint density",
    );
    assert!(!png.exists());
    assert_eq!(plot(&run, &png, &[]), (1500, 1050));
    std::fs::remove_dir_all(&dir).unwrap();
}
