//! Config parsing, driven by the files under `data/configs`: every `good/*.toml` must load,
//! every `bad/*.toml` must fail with the message stated on its first line
//! (`# error: <part of the message>`). Overrides (`--set`) are tested here directly.

use std::fs;
use std::path::{Path, PathBuf};

use mfcl_model::{
    Activation, Config, ConfigError, FeatureLaw, HiddenShape, Regularizer, SolverKind,
};

const CONFIGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/configs");

/// The `.toml` files of a folder under `data/configs`, sorted so that failures are stable.
fn files(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(CONFIGS).join(folder);
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    paths
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses, then checks that the effective document reproduces the config.
fn load(text: &str, name: &str) -> Config {
    let config = Config::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = Config::parse(&config.source)
        .unwrap_or_else(|e| panic!("{name}: source does not reparse: {e}\n{}", config.source));
    assert_eq!(
        again, config,
        "{name}: reparsing the source changed the config"
    );
    config
}

fn error(text: &str, overrides: &[&str]) -> String {
    match Config::parse_with(text, overrides) {
        Ok(config) => panic!("accepted {overrides:?}: {config:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_configs_load_and_round_trip() {
    let paths = files("good");
    assert!(paths.len() >= 6, "only {} good configs", paths.len());
    for path in paths {
        load(&read(&path), &path.display().to_string());
    }
}

#[test]
fn bad_configs_fail_with_their_stated_message() {
    let paths = files("bad");
    assert!(paths.len() >= 15, "only {} bad configs", paths.len());
    for path in paths {
        let text = read(&path);
        let expected = text
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("# error: "))
            .unwrap_or_else(|| {
                panic!(
                    "{}: first line must be `# error: <message>`",
                    path.display()
                )
            });
        match Config::parse(&text) {
            Ok(_) => panic!("{}: accepted", path.display()),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{}:\n  expected an error containing: {expected}\n  got: {e}",
                path.display()
            ),
        }
    }
}

#[test]
fn quickstart_is_the_worked_example() {
    let text = read(&Path::new(CONFIGS).join("quickstart.toml"));
    let config = load(&text, "quickstart.toml");
    assert_eq!(Config::quickstart(), config);
    let problem = &config.problem;
    assert_eq!(problem.features(), 1);
    assert_eq!(problem.hidden[0].shape, HiddenShape::Rademacher);
    assert_eq!(problem.hidden[0].scale, 2.0);
    assert_eq!(problem.regularizer, Regularizer::L2(0.5));
    assert_eq!(problem.noise.augment, 0.5);
    assert_eq!(config.run.particles, 1_000_000);
    assert_eq!(config.run.output.as_deref(), Some("runs/quickstart.h5"));
}

#[test]
fn an_empty_document_takes_every_default() {
    let config = load("", "empty");
    let problem = &config.problem;
    assert_eq!(problem.feature_law, FeatureLaw::Rademacher);
    assert_eq!(problem.activation, Activation::Tanh);
    assert!(!problem.negative);
    assert_eq!(problem.hidden.len(), 1);
    assert_eq!(
        (problem.hidden[0].shape.clone(), problem.hidden[0].scale),
        (HiddenShape::Rademacher, 1.0)
    );
    assert_eq!(
        (
            problem.noise.base,
            problem.noise.augment,
            problem.noise.correlation
        ),
        (1.0, 0.0, 0.0)
    );
    assert_eq!(
        (problem.learning_rate, problem.regularizer),
        (1.0, Regularizer::None)
    );
    assert_eq!(
        (config.init.overlaps.clone(), config.init.norm2),
        (vec![0.1], 1.0)
    );
    let run = &config.run;
    assert_eq!(run.solver, SolverKind::Particles);
    assert_eq!(
        (run.particles, run.dimension, run.seed),
        (100_000, 10_000, 1)
    );
    assert_eq!((run.t_end, run.dt), (10.0, 0.01));
    assert_eq!(
        (run.record_every, run.snapshot_every, run.checkpoint_every),
        (0.1, 1.0, 1.0)
    );
    assert_eq!(
        (run.checkpoint_every_secs, run.output.clone()),
        (None, None)
    );
}

#[test]
fn one_hidden_table_applies_to_every_feature_and_atoms_are_standardised() {
    let config = Config::parse(
        "[model]\nfeatures = 3\n[[model.hidden]]\nlaw = \"atoms\"\nscale = 2\natoms = [-1.0, 2.0]\nweights = [2.0, 1.0]",
    )
    .unwrap();
    let hidden = &config.problem.hidden;
    assert_eq!(hidden.len(), 3);
    assert!(hidden.iter().all(|law| *law == hidden[0]));
    assert_eq!(
        hidden[0].shape,
        HiddenShape::atoms(&[-1.0, 2.0], &[2.0, 1.0]).unwrap()
    );
    assert_eq!(config.init.overlaps, vec![0.1; 3]);
}

#[test]
fn overrides_take_typed_values_and_bare_strings() {
    let config = Config::parse_with(
        "",
        &[
            "model.noise.correlation=-0.5",
            "run.solver=sgd",
            "run.output = \"runs/a b.h5\"",
            "model.feature_law=sparse:0.25",
            "run.particles=1e3",
            "train.regularizer=elastic",
            "train.strength_l1=0.1",
            "train.strength_l2=2",
        ],
    )
    .unwrap();
    assert_eq!(config.problem.noise.correlation, -0.5);
    assert_eq!(config.run.solver, SolverKind::Sgd);
    assert_eq!(config.run.output.as_deref(), Some("runs/a b.h5"));
    assert_eq!(config.problem.feature_law, FeatureLaw::Sparse(0.25));
    assert_eq!(config.run.particles, 1000);
    assert_eq!(
        config.problem.regularizer,
        Regularizer::Elastic { l1: 0.1, l2: 2.0 }
    );
    // The overrides are part of the effective document.
    assert_eq!(Config::parse(&config.source).unwrap(), config);
}

#[test]
fn overrides_create_missing_sections_and_apply_in_order() {
    let config = Config::parse_with("", &["run.seed=3", "run.seed=4"]).unwrap();
    assert_eq!(config.run.seed, 4);
}

#[test]
fn overrides_index_arrays_and_take_arrays_and_inline_tables() {
    let text = "[model]\nfeatures = 2\n[[model.hidden]]\n[[model.hidden]]\nlaw = \"gaussian\"";
    let config = Config::parse_with(
        text,
        &["model.hidden.1.scale=2.2", "init.overlaps=[0.3,0.0]"],
    )
    .unwrap();
    assert_eq!(config.problem.hidden[1].scale, 2.2);
    assert_eq!(config.problem.hidden[1].shape, HiddenShape::Gaussian);
    assert_eq!(config.problem.hidden[0].scale, 1.0);
    assert_eq!(config.init.overlaps, vec![0.3, 0.0]);
    assert_eq!(Config::parse(&config.source).unwrap(), config);

    let config = Config::parse_with(
        "",
        &[
            "model.features=2",
            "model.hidden=[{law=\"rademacher\"},{law=\"sparse:0.6\"}]",
            "init.overlaps=[0.1,0.0]",
        ],
    )
    .unwrap();
    assert_eq!(config.problem.hidden[1].shape, HiddenShape::Sparse(0.6));
}

#[test]
fn malformed_overrides_are_rejected() {
    let text = "[model]\nfeatures = 1\n[[model.hidden]]\nscale = 1.0";
    let cases: &[(&str, &str)] = &[
        ("run.seed", "--set run.seed: expected key=value"),
        ("=3", "expected a dotted key"),
        ("run..seed=3", "expected a dotted key"),
        (
            "model.hidden.1.scale=2",
            "index 1 is out of range: model.hidden has length 1",
        ),
        (
            "model.hidden.scale=2",
            "model.hidden is an array: expected an index, not \"scale\"",
        ),
        (
            "model.features.x=2",
            "model.features = 1 is neither a table nor an array",
        ),
    ];
    for (arg, expected) in cases {
        let message = error(text, &[arg]);
        assert!(message.contains(expected), "--set {arg}: got {message}");
        assert!(matches!(
            Config::parse_with(text, &[arg]),
            Err(ConfigError::Override { .. })
        ));
    }
    // An array that the document does not have is an empty one.
    let message = error("", &["model.hidden.0.scale=2"]);
    assert!(
        message.contains("index 0 is out of range: model.hidden has length 0"),
        "{message}"
    );
}

#[test]
fn overrides_go_through_validation() {
    let message = error("", &["model.noise.corelation=0.5"]);
    assert!(
        message.contains("unknown key model.noise.corelation"),
        "{message}"
    );
    let message = error("", &["model.noise.correlation=1.5"]);
    assert!(
        message.contains("model.noise.correlation = 1.5: expected a number in [-1, 1]"),
        "{message}"
    );
    // A bare word where a number belongs is a string, and said so.
    let message = error("", &["run.t_end=ten"]);
    assert!(
        message.contains("run.t_end = \"ten\": expected a number > 0"),
        "{message}"
    );
}

/// Arbitrary values at every key, and every truncation of a full document, give a config or
/// an error, never a panic.
#[test]
fn no_input_panics() {
    let keys = [
        "format_version",
        "model",
        "model.features",
        "model.feature_law",
        "model.activation",
        "model.negatives",
        "model.hidden",
        "model.hidden.0",
        "model.hidden.0.law",
        "model.hidden.0.scale",
        "model.hidden.0.atoms",
        "model.hidden.0.weights",
        "model.noise",
        "model.noise.base",
        "model.noise.correlation",
        "train",
        "train.learning_rate",
        "train.regularizer",
        "train.strength",
        "init",
        "init.overlaps",
        "init.norm2",
        "run",
        "run.particles",
        "run.dt",
        "run.seed",
        "run.output",
        "run.checkpoint_every_secs",
    ];
    let values = [
        "nan",
        "-inf",
        "inf",
        "-1",
        "0",
        "1e300",
        "1.5",
        "9223372036854775807",
        "-9223372036854775808",
        "1.8446744073709552e19",
        "true",
        "\"\"",
        "x",
        "\"sparse:\"",
        "\"sparse:nan\"",
        "sparse:0",
        "atoms",
        "[]",
        "[1]",
        "[1e308, -1e308]",
        "[1e-300, 1]",
        "[[]]",
        "{}",
        "{a = 1}",
        "1979-05-27T07:32:00Z",
        "[{law = \"atoms\", atoms = [1e200, -1e200], weights = [1e-300, 1]}]",
    ];
    let quickstart = read(&Path::new(CONFIGS).join("quickstart.toml"));
    for key in keys {
        for value in values {
            let arg = format!("{key}={value}");
            let _ = Config::parse_with(&quickstart, &[arg.as_str()]);
        }
    }
    for end in (0..=quickstart.len()).filter(|&end| quickstart.is_char_boundary(end)) {
        let _ = Config::parse(&quickstart[..end]);
    }
}
