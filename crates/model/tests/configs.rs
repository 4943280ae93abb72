//! Config parsing, driven by the files under `data/configs`: every `good/*.toml` must load,
//! every `bad/*.toml` must fail with the message stated on its first line
//! (`# error: <part of the message>`). Edits (`--unset`, `--set`, also into the matrices of a
//! layer), the resolved document, the layer's defaults and its positive semi-definiteness
//! check (against closed-form eigenvalues) and `set_output` are tested here directly.

use std::f64::consts::PI;
use std::fs;
use std::path::{Path, PathBuf};

use mfcl_model::{
    Activation, Config, ConfigError, FeatureLaw, HiddenShape, OrderParameters, Regularizer,
    SolverKind,
};
use toml::{Table, Value};

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

/// Parses, then checks that the effective document and the resolved one both reproduce the
/// config.
fn load(text: &str, name: &str) -> Config {
    let config = Config::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again = Config::parse(&config.source)
        .unwrap_or_else(|e| panic!("{name}: source does not reparse: {e}\n{}", config.source));
    assert_eq!(
        again, config,
        "{name}: reparsing the source changed the config"
    );
    let resolved = config.resolved();
    let again = Config::parse(&resolved)
        .unwrap_or_else(|e| panic!("{name}: resolved does not reparse: {e}\n{resolved}"));
    assert_eq!(
        (&again.problem, &again.init, &again.run),
        (&config.problem, &config.init, &config.run),
        "{name}: reparsing the resolved document changed the config\n{resolved}"
    );
    assert_eq!(
        again.resolved(),
        resolved,
        "{name}: resolving is not idempotent"
    );
    config
}

/// The resolved document of `config` as a table, and the keys of its table at `path`.
fn resolved_keys(config: &Config, path: &[&str]) -> Vec<String> {
    let mut value = Value::Table(config.resolved().parse::<Table>().unwrap());
    for segment in path {
        value = match value {
            Value::Table(mut table) => table.remove(*segment).unwrap(),
            Value::Array(mut items) => items.swap_remove(segment.parse().unwrap()),
            other => panic!("{other} at {segment}"),
        };
    }
    value.as_table().unwrap().keys().cloned().collect()
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
fn example_configs_load_and_round_trip() {
    let paths = files("");
    assert!(paths.len() >= 5, "only {} example configs", paths.len());
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
fn a_document_without_model_is_refused() {
    for text in ["", "\n", "# only a comment\n", "[run]\nseed = 2"] {
        assert_eq!(Config::parse(text), Err(ConfigError::NoModel), "{text:?}");
    }
    assert_eq!(
        ConfigError::NoModel.to_string(),
        "no [model] table: a config must define at least [model] \
         (data/configs/quickstart.toml is a complete example)"
    );
    // A `--set` into [model] creates it.
    let config = Config::parse_with("", &["model.features=2", "init.overlaps=[0, 0]"]).unwrap();
    assert_eq!(config.problem.features(), 2);
}

#[test]
fn an_empty_model_table_takes_every_default() {
    let config = load("[model]", "[model]");
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
        (config.init.overlaps.clone(), config.init.norm2.clone()),
        (vec![0.1], vec![1.0])
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
    let config = Config::parse_with("[model]", &["run.seed=3", "run.seed=4"]).unwrap();
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
    // An array that the document does not have has no element to edit, even where its
    // default has one: the message says to set it whole.
    let message = error("[model]", &["model.hidden.0.scale=2"]);
    assert!(
        message.contains("index 0 is out of range: model.hidden is empty or not in the config"),
        "{message}"
    );
    assert!(message.contains("--set 'model.hidden=[...]'"), "{message}");
    let message = error(
        "[model]\nfeatures = 2\n[[model.hidden]]\nscale = 1.0\n",
        &["model.hidden.1.scale=2"],
    );
    assert!(
        message.contains("index 1 is out of range: model.hidden has length 1"),
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
    let message = error("[model]", &["run.t_end=ten"]);
    assert!(
        message.contains("run.t_end = \"ten\": expected a number > 0"),
        "{message}"
    );
}

fn quickstart_text() -> String {
    read(&Path::new(CONFIGS).join("quickstart.toml"))
}

fn edited(text: &str, unsets: &[&str], sets: &[&str]) -> Config {
    Config::parse_edited(text, unsets, sets)
        .unwrap_or_else(|e| panic!("--unset {unsets:?} --set {sets:?}: {e}"))
}

#[test]
fn unset_is_the_remedy_for_a_leftover_strength() {
    let quickstart = quickstart_text();
    let message = error(&quickstart, &["train.regularizer=none"]);
    assert!(
        message.contains(
            "train.strength = 0.5: expected no strength with regularizer = \"none\" \
             (remove it, or pass --unset train.strength)"
        ),
        "{message}"
    );
    let config = edited(
        &quickstart,
        &["train.strength"],
        &["train.regularizer=none"],
    );
    assert_eq!(config.problem.regularizer, Regularizer::None);
    // The edits are part of the effective document.
    assert_eq!(Config::parse(&config.source).unwrap(), config);

    let config = edited(
        &quickstart,
        &["train.strength"],
        &[
            "train.regularizer=elastic",
            "train.strength_l1=0.1",
            "train.strength_l2=0.2",
        ],
    );
    assert_eq!(
        config.problem.regularizer,
        Regularizer::Elastic { l1: 0.1, l2: 0.2 }
    );
}

#[test]
fn unsets_apply_before_sets() {
    let quickstart = quickstart_text();
    // Whatever the order of the arguments, a set of the key wins over its unset.
    let config = edited(&quickstart, &["run.seed"], &["run.seed=5"]);
    assert_eq!(config.run.seed, 5);
    let config = edited(&quickstart, &["run.output", "run.seed"], &[]);
    assert_eq!((config.run.output, config.run.seed), (None, 1));
}

#[test]
fn unsets_remove_tables_and_array_elements() {
    let text = read(&Path::new(CONFIGS).join("two_features.toml"));
    let base = Config::parse(&text).unwrap();
    // One hidden table left: it applies to both features.
    let config = edited(&text, &["model.hidden.1"], &[]);
    assert_eq!(
        config.problem.hidden,
        vec![base.problem.hidden[0].clone(); 2]
    );
    let config = edited(&text, &["init"], &[]);
    assert_eq!(
        (config.init.overlaps, config.init.norm2),
        (vec![0.1; 2], vec![1.0])
    );
    let message = Config::parse_edited(&text, &["init.overlaps.0"], &[])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("expected an array of one number per feature (2)"),
        "{message}"
    );
    assert_eq!(
        Config::parse_edited(&text, &["model"], &[]),
        Err(ConfigError::NoModel)
    );
}

#[test]
fn unsetting_an_absent_known_key_does_nothing() {
    let quickstart = quickstart_text();
    let config = Config::parse(&quickstart).unwrap();
    let unsets = [
        "run.checkpoint_every_secs",
        "model.hidden.3",
        "model.hidden.0.atoms",
        "model.hidden.0.weights.2",
        "init.overlaps.1",
    ];
    assert_eq!(edited(&quickstart, &unsets, &[]), config);
    // Nor does unsetting what a table that is not there would hold.
    assert_eq!(
        edited(
            "[model]",
            &["train.strength", "run.output", "model.noise.base"],
            &[]
        ),
        Config::parse("[model]").unwrap()
    );
}

#[test]
fn unsetting_an_unknown_key_is_an_error() {
    let cases: &[(&str, &str)] = &[
        (
            "train.strenght",
            "--unset train.strenght: unknown key train.strenght (allowed keys: learning_rate, \
             regularizer, strength, strength_l1, strength_l2)",
        ),
        (
            "modle",
            "--unset modle: unknown key modle (allowed keys: format_version, model, train, init, run)",
        ),
        (
            "model.hidden.0.scal",
            "unknown key model.hidden.0.scal (allowed keys: law, scale, atoms, weights)",
        ),
        (
            "model.hidden.law",
            "--unset model.hidden.law: model.hidden is an array: expected an index, not \"law\"",
        ),
        (
            "run.seed.0",
            "--unset run.seed.0: run.seed is neither a table nor an array",
        ),
        ("run..seed", "expected a dotted key such as run.seed"),
        ("", "expected a dotted key such as run.seed"),
        ("run.seed=3", "unknown key run.seed=3"),
    ];
    // Checked whether or not the document has the table, so that a typo is never a silent
    // no-op.
    for text in ["[model]", quickstart_text().as_str()] {
        for (arg, expected) in cases {
            let result = Config::parse_edited(text, &[arg], &[]);
            let message = result.clone().unwrap_err().to_string();
            assert!(message.contains(expected), "--unset {arg}: got {message}");
            assert!(matches!(result, Err(ConfigError::Unset { .. })), "{arg}");
        }
    }
}

#[test]
fn resolved_writes_every_default_and_only_the_keys_in_use() {
    let defaults = Config::parse("[model]").unwrap();
    let keys = |path: &[&str]| resolved_keys(&defaults, path);
    assert_eq!(
        keys(&[]),
        ["format_version", "model", "train", "init", "run"]
    );
    assert_eq!(
        keys(&["model"]),
        [
            "features",
            "feature_law",
            "activation",
            "negatives",
            "hidden",
            "noise"
        ]
    );
    assert_eq!(keys(&["model", "hidden", "0"]), ["law", "scale"]);
    assert_eq!(
        keys(&["model", "noise"]),
        ["base", "augment", "correlation"]
    );
    assert_eq!(keys(&["train"]), ["learning_rate", "regularizer"]);
    assert_eq!(keys(&["init"]), ["overlaps", "norm2"]);
    let run = [
        "solver",
        "particles",
        "dimension",
        "t_end",
        "dt",
        "seed",
        "record_every",
        "snapshot_every",
        "checkpoint_every",
    ];
    assert_eq!(keys(&["run"]), run);
    let resolved = defaults.resolved();
    for line in [
        "format_version = 1\n",
        "feature_law = \"rademacher\"\n",
        "[[model.hidden]]\nlaw = \"rademacher\"\nscale = 1.0\n",
        "regularizer = \"none\"\n",
        "overlaps = [0.1]\n",
        "solver = \"particles\"\nparticles = 100000\ndimension = 10000\n",
    ] {
        assert!(resolved.contains(line), "{line:?} in\n{resolved}");
    }

    let sgd = load(
        &read(&Path::new(CONFIGS).join("good/sgd_integer_floats.toml")),
        "sgd",
    );
    let all_run: Vec<&str> = run
        .into_iter()
        .chain(["checkpoint_every_secs", "output"])
        .collect();
    assert_eq!(resolved_keys(&sgd, &["run"]), all_run);
    assert_eq!(
        resolved_keys(&sgd, &["train"]),
        ["learning_rate", "regularizer", "strength"]
    );

    // One hidden table per feature, with atoms and weights for atoms laws.
    let atoms = load(
        &read(&Path::new(CONFIGS).join("good/two_features_atoms.toml")),
        "atoms",
    );
    assert_eq!(
        resolved_keys(&atoms, &["model", "hidden", "0"]),
        ["law", "scale", "atoms", "weights"]
    );
    assert_eq!(
        resolved_keys(&atoms, &["model", "hidden", "1"]),
        ["law", "scale"]
    );
    assert_eq!(
        resolved_keys(&atoms, &["train"]),
        ["learning_rate", "regularizer", "strength_l1", "strength_l2"]
    );
    let shared = Config::parse(
        "[model]\nfeatures = 3\n[[model.hidden]]\nlaw = \"atoms\"\natoms = [-1, 0, 3]",
    )
    .unwrap();
    let resolved = load(&shared.source, "shared").resolved();
    assert_eq!(
        resolved.matches("[[model.hidden]]").count(),
        3,
        "{resolved}"
    );
    assert_eq!(
        resolved.matches("weights = [1.0, 1.0, 1.0]").count(),
        3,
        "{resolved}"
    );
}

#[test]
fn resolved_uses_the_parser_spellings() {
    let config = edited(
        "[model]",
        &[],
        &[
            "model.feature_law=sparse:0.25",
            "model.activation=erf",
            "model.hidden=[{law=\"sparse:1\"}]",
            "run.solver=sgd",
            "run.checkpoint_every_secs=60",
            "run.output=runs/a \"b\".h5",
        ],
    );
    let resolved = load(&config.source, "spellings").resolved();
    for line in [
        "feature_law = \"sparse:0.25\"\n",
        "activation = \"erf\"\n",
        "law = \"sparse:1\"\n",
        "solver = \"sgd\"\n",
        "checkpoint_every_secs = 60.0\n",
    ] {
        assert!(resolved.contains(line), "{line:?} in\n{resolved}");
    }
    assert_eq!(
        Config::parse(&resolved).unwrap().run.output.as_deref(),
        Some("runs/a \"b\".h5")
    );
}

#[test]
fn resolved_keeps_counts_beyond_toml_integers() {
    // TOML integers stop at i64::MAX; larger seeds can only be written as integral floats.
    let config = edited("[model]", &[], &["run.seed=1.8e19", "run.particles=1e19"]);
    assert_eq!(config.run.seed, 18_000_000_000_000_000_000);
    let again = Config::parse(&config.resolved()).unwrap();
    assert_eq!(again.run, config.run);
}

#[test]
fn resolved_writes_a_hand_made_atoms_law_by_its_values() {
    // No document gives the atoms, so the standardised ones are written: the same law up
    // to rounding.
    let mut config = Config::parse("[model]").unwrap();
    config.problem.hidden[0].shape =
        HiddenShape::atoms(&[-1.0, 0.0, 3.0], &[1.0, 2.0, 1.0]).unwrap();
    let again = Config::parse(&config.resolved()).unwrap();
    let (
        HiddenShape::Atoms { values, weights },
        HiddenShape::Atoms {
            values: values_again,
            weights: weights_again,
        },
    ) = (
        &config.problem.hidden[0].shape,
        &again.problem.hidden[0].shape,
    )
    else {
        panic!("{:?}", again.problem.hidden[0]);
    };
    for (a, b) in values
        .iter()
        .zip(values_again)
        .chain(weights.iter().zip(weights_again))
    {
        assert!((a - b).abs() < 1e-15, "{a} against {b}");
    }
}

#[test]
fn set_output_records_the_path_in_the_source() {
    for text in [quickstart_text().as_str(), "[model]"] {
        let mut config = Config::parse(text).unwrap();
        // A path that TOML would read as a number must stay a string.
        for path in ["runs/other dir/x=1 \"q\".h5", "1.5"] {
            config.set_output(path).unwrap();
            assert_eq!(config.run.output.as_deref(), Some(path));
            let again = Config::parse(&config.source).unwrap();
            assert_eq!(again.run.output.as_deref(), Some(path));
            assert_eq!(again, config);
        }
        let before = config.clone();
        let message = config.set_output("").unwrap_err().to_string();
        assert!(
            message.contains("run.output = \"\": expected a non-empty string"),
            "{message}"
        );
        assert_eq!(config, before);
    }
}

/// Arbitrary values at every key, and every truncation of a full document, give a config or
/// an error, never a panic.
#[test]
fn no_input_panics() {
    let keys = [
        "format_version",
        "model",
        "model.features",
        "model.neurons",
        "model.decorrelation",
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
        "init.overlaps.0",
        "init.overlaps.1.1",
        "init.norm2",
        "init.norm2.0",
        "init.norm2.1.0",
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
        "[[1, 2], [3]]",
        "[[1e308, -1e308], [-1e308, 1e308]]",
        "[[1e-300, 1e300], [1e300, 1e-300]]",
        "[[nan, 0], [0, 1]]",
        "[[0.5, 0.5], [0.5, 0.5]]",
    ];
    let quickstart = read(&Path::new(CONFIGS).join("quickstart.toml"));
    let layer = layer_text();
    // The layer with a matrix `init.norm2`, so that its entries can be set.
    let layer_matrix = Config::parse_with(&layer, &["init.norm2=[[1.0, 0.0], [0.0, 1.0]]"])
        .unwrap()
        .source;
    for document in [&quickstart, &layer, &layer_matrix] {
        for key in keys {
            for value in values {
                let arg = format!("{key}={value}");
                let _ = Config::parse_with(document, &[arg.as_str()]);
            }
        }
    }
    for end in (0..=quickstart.len()).filter(|&end| quickstart.is_char_boundary(end)) {
        let _ = Config::parse(&quickstart[..end]);
    }
    let unsets = keys.iter().copied().chain([
        "",
        ".",
        "model.",
        "model.hidden.99",
        "model.hidden.-1",
        "init.overlaps.x",
        "init.norm2.0.0",
        "init.norm2.9",
    ]);
    for key in unsets {
        let _ = Config::parse_edited(&quickstart, &[key], &[]);
        let _ = Config::parse_edited("[model]", &[key], &[]);
    }
}

fn layer_text() -> String {
    read(&Path::new(CONFIGS).join("layer.toml"))
}

/// `p × K` overlaps and the `K × K` Gram matrix of a config, as row lists.
fn init_rows(config: &Config) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let k = config.init.neurons;
    let rows = |xs: &[f64]| xs.chunks(k).map(<[f64]>::to_vec).collect();
    (rows(&config.init.overlaps), rows(&config.init.norm2))
}

#[test]
fn the_layer_config_is_the_sgd_check_of_model_section_7() {
    let config = load(&layer_text(), "layer.toml");
    let problem = &config.problem;
    assert_eq!((problem.neurons, problem.decorrelation), (2, 1.0));
    assert_eq!(problem.features(), 2);
    assert_eq!(problem.hidden[0].shape, HiddenShape::Rademacher);
    assert_eq!(problem.hidden[1].shape, HiddenShape::Sparse(0.6));
    assert!(problem.hidden.iter().all(|law| law.scale == 2.0));
    assert_eq!(problem.regularizer, Regularizer::L2(0.5));
    assert_eq!(
        (
            problem.noise.base,
            problem.noise.augment,
            problem.noise.correlation
        ),
        (1.0, 0.5, 0.0)
    );
    assert_eq!(
        init_rows(&config),
        (
            vec![vec![0.3, 0.05], vec![0.05, 0.3]],
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        )
    );
    assert_eq!(config.init.overlap(0, 1), 0.05);
    assert_eq!(
        (config.run.solver, config.run.dimension, config.run.t_end),
        (SolverKind::Sgd, 20_000, 4.0)
    );
    // The state of the worked example, with the --set arguments of the file's comment.
    let example = edited(
        &layer_text(),
        &[],
        &[
            "init.overlaps=[[0.3, 0.1], [0.05, 0.2]]",
            "init.norm2=[[1.1, 0.2], [0.2, 0.9]]",
        ],
    );
    assert_eq!(
        init_rows(&example),
        (
            vec![vec![0.3, 0.1], vec![0.05, 0.2]],
            vec![vec![1.1, 0.2], vec![0.2, 0.9]]
        )
    );
}

#[test]
fn a_single_neuron_takes_the_layer_defaults_and_any_decorrelation() {
    let config = Config::parse("[model]").unwrap();
    assert_eq!(
        (config.problem.neurons, config.problem.decorrelation),
        (1, 1.0)
    );
    assert_eq!(config.init.neurons, 1);
    let config = load("[model]\ndecorrelation = 0", "beta = 0");
    assert_eq!(
        (config.problem.neurons, config.problem.decorrelation),
        (1, 0.0)
    );
    // R(0) as a 1 × 1 matrix is the number.
    let matrix = load(
        "[model]\n[init]\noverlaps = [0.6]\nnorm2 = [[0.36]]",
        "[[r]]",
    );
    assert_eq!(matrix.init, OrderParameters::single(vec![0.6], 0.36));
}

/// The default `init.overlaps` of a layer: neuron `k` at `0.1 / (1 + ⌊k/p⌋)` with feature
/// `k mod p`, 0.01 with the others, `R(0) = I`; valid for every `p` and `K`, and no two
/// neurons alike up to sign (a start that the ODE's neuron symmetries would keep alike).
#[test]
fn a_layer_by_default_starts_every_neuron_differently() {
    for p in 1..=8 {
        for k in 2..=8 {
            let config = Config::parse(&format!("[model]\nfeatures = {p}\nneurons = {k}"))
                .unwrap_or_else(|e| panic!("p = {p}, K = {k}: {e}"));
            let init = &config.init;
            for j in 0..p {
                for neuron in 0..k {
                    let expected = if j == neuron % p {
                        0.1 / (1 + neuron / p) as f64
                    } else {
                        0.01
                    };
                    assert_eq!(init.overlap(j, neuron), expected, "p = {p}, K = {k}");
                }
            }
            for a in 0..k {
                for b in 0..k {
                    assert_eq!(init.gram(a, b), if a == b { 1.0 } else { 0.0 });
                }
                for b in a + 1..k {
                    let column = |n: usize| (0..p).map(move |j| init.overlap(j, n));
                    let same = column(a).zip(column(b)).all(|(x, y)| x == y);
                    let opposite = column(a).zip(column(b)).all(|(x, y)| x == -y);
                    assert!(!same && !opposite, "p = {p}, K = {k}: neurons {a}, {b}");
                }
            }
        }
    }
}

/// `R(0) = tridiag(b, 1, b)` and `Q(0) = 0`: the eigenvalues of `R(0) − Q(0)ᵀQ(0)` are
/// `1 + 2b cos(iπ/(K+1))`, `i = 1..K`. The config is accepted exactly when the smallest is
/// `≥ 0`, and otherwise the message gives it to 6 significant digits (within half a unit
/// of the sixth).
#[test]
fn the_smallest_eigenvalue_reported_is_the_closed_form_one() {
    let mut refused = 0;
    for k in 2..=8 {
        for b in [0.3, 0.55, 0.8, 1.5, -0.7_f64] {
            let row = |a: usize| {
                let entries: Vec<String> = (0..k)
                    .map(|c| {
                        let x = if a == c {
                            1.0
                        } else if a.abs_diff(c) == 1 {
                            b
                        } else {
                            0.0
                        };
                        format!("{x:?}")
                    })
                    .collect();
                format!("[{}]", entries.join(", "))
            };
            let matrix: Vec<String> = (0..k).map(row).collect();
            let text = format!(
                "[model]\nneurons = {k}\n[init]\noverlaps = [{:?}]\nnorm2 = [{}]",
                vec![0.0; k],
                matrix.join(", ")
            );
            let smallest = 1.0 + 2.0 * b.abs() * (k as f64 * PI / (k + 1) as f64).cos();
            match Config::parse(&text) {
                Ok(_) => assert!(smallest >= 0.0, "K = {k}, b = {b}: accepted {smallest}"),
                Err(e) => {
                    let message = e.to_string();
                    let reported: f64 = message
                        .rsplit("its smallest eigenvalue is ")
                        .next()
                        .and_then(|x| x.parse().ok())
                        .unwrap_or_else(|| panic!("K = {k}, b = {b}: {message}"));
                    assert!(
                        (reported - smallest).abs() <= 5e-6 * smallest.abs(),
                        "K = {k}, b = {b}: reported {reported}, closed form {smallest}"
                    );
                    refused += 1;
                }
            }
        }
    }
    assert!(refused >= 15, "only {refused} refused");
}

#[test]
fn set_reaches_the_entries_of_a_layers_matrices() {
    let layer = layer_text();
    let config = edited(
        &layer,
        &[],
        &["init.overlaps.1=[0.0,0.3]", "init.overlaps.0.1=0.02"],
    );
    assert_eq!(init_rows(&config).0, vec![vec![0.3, 0.02], vec![0.0, 0.3]]);
    let config = edited(&layer, &[], &["init.overlaps.1.0=0.5"]);
    assert_eq!(init_rows(&config).0, vec![vec![0.3, 0.05], vec![0.5, 0.3]]);

    // Entry (k, l) of R(0) sets (l, k) too; a diagonal entry only itself.
    let matrix = "init.norm2=[[1.0, 0.0], [0.0, 1.0]]";
    let config = edited(
        &layer,
        &[],
        &[matrix, "init.norm2.0.1=0.2", "init.norm2.1.1=0.9"],
    );
    assert_eq!(init_rows(&config).1, vec![vec![1.0, 0.2], vec![0.2, 0.9]]);
    assert_eq!(Config::parse(&config.source).unwrap(), config);
    let config = edited(&layer, &[], &[matrix, "init.norm2.1.0=0.2"]);
    assert_eq!(init_rows(&config).1, vec![vec![1.0, 0.2], vec![0.2, 1.0]]);
    // Row k sets column k.
    let config = edited(
        "[model]\nneurons = 3\n[init]\nnorm2 = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]",
        &[],
        &["init.norm2.2=[0.1, -0.2, 0.8]"],
    );
    assert_eq!(
        init_rows(&config).1,
        vec![
            vec![1.0, 0.0, 0.1],
            vec![0.0, 1.0, -0.2],
            vec![0.1, -0.2, 0.8]
        ]
    );
    // The mirrored entries are in the effective document.
    assert_eq!(Config::parse(&config.source).unwrap(), config);

    // An edited matrix goes through validation like a written one.
    let message = error(&layer, &[matrix, "init.norm2.0.1=2"]);
    assert!(
        message.contains(
            "init.norm2 = [[1.0, 2], [2, 1.0]]: expected a matrix with R(0) − Q(0)ᵀQ(0) \
             positive semi-definite"
        ),
        "{message}"
    );
    // A row of the wrong length is mirrored nowhere and reported as that row.
    let message = error(&layer, &[matrix, "init.norm2.1=[0.2]"]);
    assert!(
        message.contains("init.norm2.1 = [0.2]: expected a list of 2 numbers, one per neuron"),
        "{message}"
    );
    let message = error(&layer, &["init.overlaps.1=[0.0]"]);
    assert!(
        message.contains("init.overlaps.1 = [0.0]: expected a list of 2 numbers, one per neuron"),
        "{message}"
    );
}

#[test]
fn set_into_a_layers_matrices_names_the_bad_index() {
    let layer = layer_text();
    let matrix = "init.norm2=[[1.0, 0.0], [0.0, 1.0]]";
    let cases: &[(&[&str], &str)] = &[
        // layer.toml writes R(0) as the number 1.0.
        (
            &["init.norm2.0.1=0.2"],
            "init.norm2 = 1.0 is not an array; set it whole, e.g. --set 'init.norm2=[...]'",
        ),
        (
            &[matrix, "init.norm2.2.0=0.1"],
            "index 2 is out of range: init.norm2 has length 2",
        ),
        (
            &[matrix, "init.norm2.0.2=0.1"],
            "index 2 is out of range: init.norm2.0 has length 2",
        ),
        (
            &[matrix, "init.norm2.one.0=0.1"],
            "init.norm2 is an array: expected an index, not \"one\"",
        ),
        (
            &["init.overlaps.2=[0.0, 0.1]"],
            "index 2 is out of range: init.overlaps has length 2",
        ),
        (
            &["init.overlaps.0.5=0.1"],
            "index 5 is out of range: init.overlaps.0 has length 2",
        ),
        (
            &["init.overlaps.0.1.0=0.1"],
            "init.overlaps.0.1 = 0.05 is neither a table nor an array",
        ),
    ];
    for (sets, expected) in cases {
        let result = Config::parse_with(&layer, sets);
        let message = result.clone().unwrap_err().to_string();
        assert!(message.contains(expected), "--set {sets:?}: got {message}");
        assert!(
            matches!(result, Err(ConfigError::Override { .. })),
            "{sets:?}"
        );
    }
    // A matrix that the document does not give has no entries to edit yet.
    let message = error("[model]\nneurons = 2", &["init.norm2.0.1=0.2"]);
    assert!(
        message.contains("index 0 is out of range: init.norm2 is empty or not in the config"),
        "{message}"
    );
}

#[test]
fn unset_reaches_the_rows_of_a_layers_matrices() {
    let layer = layer_text();
    // Known keys: a row removed leaves a matrix of the wrong shape, which validation names.
    let message = Config::parse_edited(&layer, &["init.overlaps.1"], &[])
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("init.overlaps = [[0.3, 0.05]]: expected a list of 2 rows"),
        "{message}"
    );
    // R(0) is a number here: nothing to remove.
    let config = Config::parse(&layer).unwrap();
    assert_eq!(
        edited(&layer, &["init.norm2.1", "init.norm2.0.1"], &[]),
        config
    );
    let defaults = edited(&layer, &["init"], &[]);
    assert_eq!(
        init_rows(&defaults),
        (
            vec![vec![0.1, 0.01], vec![0.01, 0.1]],
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        )
    );
}

#[test]
fn resolved_writes_a_layer_as_nested_lists() {
    let config = load(&layer_text(), "layer.toml");
    let resolved = config.resolved();
    for text in [
        "[model]\nfeatures = 2\nneurons = 2\ndecorrelation = 1.0\nfeature_law = \"rademacher\"\n",
        "[init]\noverlaps = [[0.3, 0.05], [0.05, 0.3]]\nnorm2 = [[1.0, 0.0], [0.0, 1.0]]\n",
    ] {
        assert!(resolved.contains(text), "{text:?} in\n{resolved}");
    }
    // A single neuron with a decorrelation strength keeps it, though it has no effect.
    let single = load("[model]\ndecorrelation = 0.3", "beta");
    let resolved = single.resolved();
    assert!(
        resolved.contains("features = 1\nneurons = 1\ndecorrelation = 0.3\n"),
        "{resolved}"
    );
    assert!(
        resolved.contains("overlaps = [0.1]\nnorm2 = 1.0\n"),
        "{resolved}"
    );
}

/// A single neuron resolves byte for byte as before layers existed: run files store this
/// text.
#[test]
fn resolved_single_neuron_documents_are_unchanged() {
    let expected = r#"format_version = 1

[model]
features = 1
feature_law = "rademacher"
activation = "tanh"
negatives = 0

[[model.hidden]]
law = "rademacher"
scale = 2.0

[model.noise]
base = 1.0
augment = 0.5
correlation = 0.0

[train]
learning_rate = 1.0
regularizer = "l2"
strength = 0.5

[init]
overlaps = [0.1]
norm2 = 1.0

[run]
solver = "particles"
particles = 1000000
dimension = 10000
t_end = 10.0
dt = 0.01
seed = 1
record_every = 0.1
snapshot_every = 1.0
checkpoint_every = 1.0
output = "runs/quickstart.h5"
"#;
    assert_eq!(Config::quickstart().resolved(), expected);
    // Nor does naming the single neuron, or writing R(0) as a 1 × 1 matrix, change it.
    let named = edited(
        &quickstart_text(),
        &[],
        &[
            "model.neurons=1",
            "model.decorrelation=1.0",
            "init.norm2=[[1.0]]",
        ],
    );
    assert_eq!(named.resolved(), expected);
}
