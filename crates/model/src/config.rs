//! The config file (DESIGN.md "Config (TOML)"): parsing, `--unset` and `--set` edits,
//! validation, and the resolved document with every default written out.
//!
//! The document is read by hand rather than through serde so that every error can name the
//! full dotted key, the value as the user wrote it and what would have been accepted.

use toml::{Table, Value};

use crate::{
    Activation, FeatureLaw, HiddenLaw, HiddenShape, Noise, OrderParameters, Problem, Regularizer,
};

/// The config format this program reads (top-level key `format_version`, default 1).
pub const FORMAT_VERSION: i64 = 1;

/// The coefficient quadrature sums over every combination of the features' hidden atoms, so
/// their number is capped to keep one evaluation affordable.
const MAX_ATOM_COMBINATIONS: usize = 1_000_000;

/// The largest `model.neurons`. The coefficients pair every two neurons (`V` in both views),
/// so an evaluation costs at least `K²` times that of a pair; 8 keeps it affordable, as the
/// same bound on `model.features` does for the features.
const MAX_NEURONS: usize = 8;

/// `R(0) − Q(0)ᵀQ(0)` counts as positive semi-definite when its smallest eigenvalue is at
/// least `−PSD_TOLERANCE · max(1, max_k R_kk(0))`: the eigenvalues carry rounding errors of
/// that relative size, and a Gram matrix written as exactly `Q(0)ᵀQ(0)` (weights in the span of
/// the features) must not be refused for them.
const PSD_TOLERANCE: f64 = 1e-12;

/// The default `model.decorrelation`, `β`.
const DEFAULT_DECORRELATION: f64 = 1.0;

/// Which level of description carries out a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverKind {
    /// The mean-field particle system (level 2).
    Particles,
    /// Online SGD in dimension `n` (level 1).
    Sgd,
}

impl SolverKind {
    /// The config spelling.
    pub fn name(self) -> &'static str {
        match self {
            SolverKind::Particles => "particles",
            SolverKind::Sgd => "sgd",
        }
    }
}

/// How a run is carried out: the `[run]` section. Times are model times unless named `_secs`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSettings {
    /// The solver.
    pub solver: SolverKind,
    /// `N`, the number of particles (for [`SolverKind::Particles`]).
    pub particles: usize,
    /// `n`, the dimension (for [`SolverKind::Sgd`]).
    pub dimension: usize,
    /// Model time at which the run stops.
    pub t_end: f64,
    /// Time step of the particle solver, in `(0, t_end]`.
    pub dt: f64,
    /// Seed of every random stream of the run.
    pub seed: u64,
    /// Interval between trajectory records.
    pub record_every: f64,
    /// Interval between measure snapshots.
    pub snapshot_every: f64,
    /// Interval between checkpoints.
    pub checkpoint_every: f64,
    /// An additional wall-clock interval between checkpoints, in seconds.
    pub checkpoint_every_secs: Option<f64>,
    /// Path of the run file.
    pub output: Option<String>,
}

/// A validated config: the problem, the initial order parameters and the run settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The learning problem (`[model]` and `[train]`).
    pub problem: Problem,
    /// `Q(0)` (`p × K`) and `R(0)` (`K × K`), from `[init]`; `init.neurons` is
    /// `problem.neurons`.
    pub init: OrderParameters,
    /// How to run (`[run]`).
    pub run: RunSettings,
    /// The effective TOML document, overrides applied; parsing it gives this config again.
    pub source: String,
}

/// Why a config was rejected. Every variant names the offending key or argument.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not TOML; the message gives line and column.
    #[error("invalid TOML: {0}")]
    Syntax(String),
    /// A key that the schema does not know, usually a typo.
    #[error("unknown key {key} (allowed keys: {allowed})")]
    UnknownKey {
        /// Full dotted key.
        key: String,
        /// The keys allowed in that table.
        allowed: String,
    },
    /// A value of the wrong type, out of range or inconsistent with other keys.
    #[error("{key} = {value}: expected {allowed}")]
    Invalid {
        /// Full dotted key.
        key: String,
        /// The value as written (in TOML syntax).
        value: String,
        /// What would have been accepted.
        allowed: String,
    },
    /// A key that other keys make required.
    #[error("missing {key}: {reason}")]
    Missing {
        /// Full dotted key.
        key: String,
        /// Which setting requires it.
        reason: String,
    },
    /// A malformed `--set key=value` argument.
    #[error("--set {arg}: {reason}")]
    Override {
        /// The argument as given.
        arg: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An `--unset key` argument that is malformed or names a key the schema does not know.
    #[error("--unset {arg}: {reason}")]
    Unset {
        /// The argument as given.
        arg: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A document without `[model]`. Every other table may be left out, but a file without
    /// the problem is more likely the wrong file or a truncated one than a request for the
    /// all-defaults problem.
    #[error(
        "no [model] table: a config must define at least [model] \
         (data/configs/quickstart.toml is a complete example)"
    )]
    NoModel,
}

type Result<T> = std::result::Result<T, ConfigError>;

/// `at line L, column C: what` on one line; the toml crate's own rendering quotes the line
/// with a caret under it, over several lines.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    let Some(span) = error.span() else {
        return message.to_owned();
    };
    // A span inside a character (or beyond the text) is moved back to the character's
    // start: the message must not fail over the position it reports.
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let before = &text[..start];
    let literal = text.get(span).unwrap_or_default().trim();
    let message = beyond_toml_integers(literal).unwrap_or_else(|| message.replace('\n', "; "));
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("at line {line}, column {column}: {message}")
}

/// Why `literal` is no TOML integer when it is written as one but beyond 64 bits: the toml
/// crate's own words ("u64 value was too large", "as i128") name Rust types, not the range.
fn beyond_toml_integers(literal: &str) -> Option<String> {
    let digits = literal.strip_prefix(['+', '-']).unwrap_or(literal);
    let integral = digits.chars().all(|c| c.is_ascii_digit() || c == '_')
        && digits.chars().any(|c| c.is_ascii_digit());
    (integral && literal.replace('_', "").parse::<i64>().is_err()).then(|| {
        format!(
            "{literal} is outside the range of TOML integers, {} to {}",
            i64::MIN,
            i64::MAX
        )
    })
}

impl Config {
    /// Parses and validates a config document.
    pub fn parse(text: &str) -> Result<Config> {
        Config::parse_with::<&str>(text, &[])
    }

    /// Parses a config document, applies `--set key=value` overrides in order, then
    /// validates the result: [`Config::parse_edited`] without unsets.
    pub fn parse_with<S: AsRef<str>>(text: &str, overrides: &[S]) -> Result<Config> {
        Config::parse_edited::<S>(text, &[], overrides)
    }

    /// Parses a config document, edits it, then validates the result. The edits apply in
    /// this order: first every `--unset key` removes its key (a dotted path as for `--set`,
    /// array elements by index: `train.strength`, `model.hidden.1`, `init`), then every
    /// `--set key=value` in turn, so that a set always wins over an unset of the same key.
    ///
    /// Integer segments index arrays, also the rows and entries of a layer's `init`
    /// matrices (`init.overlaps.1.0`, `init.norm2.0.1`). A set into `init.norm2` keeps it
    /// symmetric: entry `(k, l)` sets `(l, k)` too, and row `k` sets column `k`.
    ///
    /// An unset key must be one that the schema knows, but need not be in the document:
    /// unsetting an absent key does nothing, so that scripts may unset whatever a config
    /// might hold.
    pub fn parse_edited<S: AsRef<str>>(text: &str, unsets: &[S], sets: &[S]) -> Result<Config> {
        let mut table: Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Syntax(syntax_message(text, &e)))?;
        for arg in unsets {
            apply_unset(&mut table, arg.as_ref())?;
        }
        for arg in sets {
            apply_override(&mut table, arg.as_ref())?;
        }
        // Reading takes keys out of the tables; the document itself is kept for `source`.
        let mut root = Section::new(String::new(), table.clone())?;
        root.get("format_version", FORMAT_VERSION).integer(
            &format!("{FORMAT_VERSION} (the only format version this program reads)"),
            |&v: &i64| v == FORMAT_VERSION,
        )?;
        let model = root.take("model").ok_or(ConfigError::NoModel)?;
        let mut problem = read_model(model.section()?)?;
        read_train(root.section("train")?, &mut problem)?;
        let init = read_init(root.section("init")?, &problem)?;
        let run = read_run(root.section("run")?)?;
        // Cannot fail for a table that passed validation; reported rather than unwrapped.
        let source = toml::to_string(&table).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Ok(Config {
            problem,
            init,
            run,
            source,
        })
    }

    /// The config as a TOML document with every default written out: one `[[model.hidden]]`
    /// table per feature (atoms laws with their `atoms` and `weights` as the document gave
    /// them), exactly the strengths that the regularizer uses, and
    /// `run.checkpoint_every_secs` and `run.output` only if set. This is what `mfcl check`
    /// prints; parsing it gives this config's problem, init and run again.
    ///
    /// A layer (`K ≥ 2`) has `model.neurons` and `model.decorrelation`, `init.overlaps` as
    /// `p` rows of `K` numbers and `init.norm2` as the full `K × K` matrix. A single neuron
    /// with the default `β` resolves exactly as before layers existed (flat overlaps, a
    /// number for `norm2`, neither model key), so that its documents stay byte for byte the
    /// same; a `β` other than the default, which a single neuron ignores, is still written so
    /// that the document gives the same problem.
    pub fn resolved(&self) -> String {
        // Atoms laws are written as the document gave them: see `written_atoms`.
        let document: Table = self.source.parse().unwrap_or_default();
        let problem = &self.problem;
        let hidden = problem
            .hidden
            .iter()
            .enumerate()
            .map(|(j, law)| {
                let mut entries = vec![
                    ("law", Value::from(law.shape.name())),
                    ("scale", law.scale.into()),
                ];
                if let HiddenShape::Atoms { values, weights } = &law.shape {
                    let (atoms, weights) = written_atoms(&document, j)
                        .unwrap_or_else(|| (numbers(values), numbers(weights)));
                    entries.extend([("atoms", atoms), ("weights", weights)]);
                }
                table(entries).into()
            })
            .collect();
        let noise = &problem.noise;
        let layer =
            (problem.neurons != 1 || problem.decorrelation != DEFAULT_DECORRELATION).then(|| {
                [
                    ("neurons", count(problem.neurons as u64)),
                    ("decorrelation", problem.decorrelation.into()),
                ]
            });
        let model = table(
            [("features", count(problem.features() as u64))]
                .into_iter()
                .chain(layer.into_iter().flatten())
                .chain([
                    ("feature_law", problem.feature_law.name().into()),
                    ("activation", problem.activation.name().into()),
                    ("negatives", count(problem.negative.into())),
                    ("hidden", Value::Array(hidden)),
                    (
                        "noise",
                        table([
                            ("base", noise.base.into()),
                            ("augment", noise.augment.into()),
                            ("correlation", noise.correlation.into()),
                        ])
                        .into(),
                    ),
                ]),
        );
        let strengths = match problem.regularizer {
            Regularizer::None => vec![],
            Regularizer::L2(l) | Regularizer::L1(l) => vec![("strength", l)],
            Regularizer::Elastic { l1, l2 } => vec![("strength_l1", l1), ("strength_l2", l2)],
        };
        let train = table(
            [
                ("learning_rate", problem.learning_rate.into()),
                ("regularizer", problem.regularizer.name().into()),
            ]
            .into_iter()
            .chain(strengths.into_iter().map(|(key, l)| (key, l.into()))),
        );
        let init = &self.init;
        let init = if init.neurons == 1 {
            table([
                ("overlaps", numbers(&init.overlaps)),
                ("norm2", init.norm2[0].into()),
            ])
        } else {
            table([
                ("overlaps", rows(&init.overlaps, init.neurons)),
                ("norm2", rows(&init.norm2, init.neurons)),
            ])
        };
        let run = &self.run;
        let optional = [
            (
                "checkpoint_every_secs",
                run.checkpoint_every_secs.map(Value::from),
            ),
            ("output", run.output.as_deref().map(Value::from)),
        ];
        let run = table(
            [
                ("solver", run.solver.name().into()),
                ("particles", count(run.particles as u64)),
                ("dimension", count(run.dimension as u64)),
                ("t_end", run.t_end.into()),
                ("dt", run.dt.into()),
                ("seed", count(run.seed)),
                ("record_every", run.record_every.into()),
                ("snapshot_every", run.snapshot_every.into()),
                ("checkpoint_every", run.checkpoint_every.into()),
            ]
            .into_iter()
            .chain(
                optional
                    .into_iter()
                    .filter_map(|(key, value)| Some((key, value?))),
            ),
        );
        table([
            ("format_version", FORMAT_VERSION.into()),
            ("model", model.into()),
            ("train", train.into()),
            ("init", init.into()),
            ("run", run.into()),
        ])
        .to_string()
    }

    /// Sets `run.output`, in the settings and in `source`, so that the stored document
    /// records the path that a run actually writes (`--out`). A path that `run.output`
    /// does not accept (the empty one) is refused and the config left as it was.
    pub fn set_output(&mut self, path: &str) -> Result<()> {
        // Quoted, so that the path is read as a string whatever it looks like.
        let set = format!("run.output={}", Value::from(path));
        *self = Config::parse_with(&self.source, &[set])?;
        Ok(())
    }

    /// The quickstart of `data/configs/quickstart.toml`, compiled in.
    pub fn quickstart() -> Config {
        Config::parse(include_str!("../../../data/configs/quickstart.toml"))
            .expect("the embedded quickstart config is valid (tested)")
    }
}

const ROOT_KEYS: &[&str] = &["format_version", "model", "train", "init", "run"];
const MODEL_KEYS: &[&str] = &[
    "features",
    "neurons",
    "decorrelation",
    "feature_law",
    "activation",
    "negatives",
    "hidden",
    "noise",
];
const HIDDEN_KEYS: &[&str] = &["law", "scale", "atoms", "weights"];
const NOISE_KEYS: &[&str] = &["base", "augment", "correlation"];
const TRAIN_KEYS: &[&str] = &[
    "learning_rate",
    "regularizer",
    "strength",
    "strength_l1",
    "strength_l2",
];
const INIT_KEYS: &[&str] = &["overlaps", "norm2"];
const RUN_KEYS: &[&str] = &[
    "solver",
    "particles",
    "dimension",
    "t_end",
    "dt",
    "seed",
    "record_every",
    "snapshot_every",
    "checkpoint_every",
    "checkpoint_every_secs",
    "output",
];

/// The tables of the document by dotted path, `#` standing for any array index, with the
/// keys that each allows: what the reader accepts and what `--unset` may name.
const TABLES: &[(&str, &[&str])] = &[
    ("", ROOT_KEYS),
    ("model", MODEL_KEYS),
    ("model.hidden.#", HIDDEN_KEYS),
    ("model.noise", NOISE_KEYS),
    ("train", TRAIN_KEYS),
    ("init", INIT_KEYS),
    ("run", RUN_KEYS),
];
/// The keys whose values are arrays, whose elements `--unset` may name by index.
const ARRAYS: &[&str] = &[
    "model.hidden",
    "model.hidden.#.atoms",
    "model.hidden.#.weights",
    "init.overlaps",
    "init.overlaps.#",
    "init.norm2",
    "init.norm2.#",
];

/// A dotted path with every index replaced by `#`, as in [`TABLES`] and [`ARRAYS`].
fn schema_path(path: &str) -> String {
    path.split('.')
        .map(|segment| {
            if segment.parse::<usize>().is_ok() {
                "#"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The keys allowed in the table at `path`; `None` if `path` is not a table.
fn table_keys(path: &str) -> Option<&'static [&'static str]> {
    let path = schema_path(path);
    TABLES
        .iter()
        .find(|(table, _)| *table == path)
        .map(|(_, keys)| *keys)
}

/// `[model]`; the training keys are filled in by [`read_train`].
fn read_model(mut model: Section) -> Result<Problem> {
    let p = model
        .get("features", 1)
        .integer("an integer in [1, 8]", |p: &usize| (1..=8).contains(p))?;
    let neurons = model
        .get("neurons", 1)
        .integer(&format!("an integer in [1, {MAX_NEURONS}]"), |k: &usize| {
            (1..=MAX_NEURONS).contains(k)
        })?;
    let decorrelation = model
        .get("decorrelation", DEFAULT_DECORRELATION)
        .number("a number >= 0", |x| x >= 0.0)?;
    let feature_law = model.get("feature_law", "rademacher").law(
        &[
            ("rademacher", FeatureLaw::Rademacher),
            ("gaussian", FeatureLaw::Gaussian),
        ],
        FeatureLaw::Sparse,
    )?;
    let activation = model
        .get("activation", "tanh")
        .choice(&[Activation::Tanh, Activation::Erf, Activation::Linear].map(|a| (a.name(), a)))?;
    let negatives = model
        .get("negatives", 0)
        .integer("0 or 1", |n: &u8| *n <= 1)?;

    let hidden_item = model.get("hidden", Value::Array(vec![Value::Table(Table::new())]));
    let allowed = if p == 1 {
        "an array of one table".to_string()
    } else {
        format!("an array of one table for all features or one table per feature ({p})")
    };
    let mut hidden = hidden_item
        .elements(&allowed, |n| n == 1 || n == p)?
        .into_iter()
        .map(read_hidden)
        .collect::<Result<Vec<_>>>()?;
    if hidden.len() == 1 {
        hidden = vec![hidden[0].clone(); p];
    }
    let combinations = hidden
        .iter()
        .map(|law| law.shape.discrete_atoms().map_or(1, |atoms| atoms.len()))
        .fold(1usize, usize::saturating_mul);
    if combinations > MAX_ATOM_COMBINATIONS {
        return Err(hidden_item.invalid(format!(
            "at most {MAX_ATOM_COMBINATIONS} combinations of hidden atoms over all features \
             (these laws have {combinations}): the coefficient quadrature sums over each"
        )));
    }

    let mut noise = model.section("noise")?;
    let noise = Noise {
        base: noise
            .get("base", 1.0)
            .number("a number >= 0", |x| x >= 0.0)?,
        augment: noise
            .get("augment", 0.0)
            .number("a number >= 0", |x| x >= 0.0)?,
        correlation: noise
            .get("correlation", 0.0)
            .number("a number in [-1, 1]", |x| (-1.0..=1.0).contains(&x))?,
    };
    Ok(Problem {
        feature_law,
        hidden,
        activation,
        negative: negatives == 1,
        noise,
        learning_rate: 1.0,
        regularizer: Regularizer::None,
        neurons,
        decorrelation,
    })
}

/// One `[[model.hidden]]` table.
fn read_hidden(item: Item) -> Result<HiddenLaw> {
    let mut table = item.section()?;
    // `None` stands for "atoms", whose shape needs the `atoms` and `weights` keys.
    let shape = table.get("law", "rademacher").law(
        &[
            ("rademacher", Some(HiddenShape::Rademacher)),
            ("gaussian", Some(HiddenShape::Gaussian)),
            ("uniform", Some(HiddenShape::Uniform)),
            ("atoms", None),
        ],
        |s| Some(HiddenShape::Sparse(s)),
    )?;
    let scale = table
        .get("scale", 1.0)
        .number("a number >= 0", |x| x >= 0.0)?;
    let shape = match shape {
        Some(shape) => shape,
        None => read_atoms(&mut table)?,
    };
    // Whatever `read_atoms` did not take is there without law = "atoms".
    for key in ["atoms", "weights"] {
        if let Some(item) = table.take(key) {
            return Err(item.invalid(format!("no {key} unless law = \"atoms\"")));
        }
    }
    Ok(HiddenLaw { shape, scale })
}

/// The `atoms` and `weights` of a hidden table with law = "atoms".
fn read_atoms(table: &mut Section) -> Result<HiddenShape> {
    let atoms = table.require("atoms", "required with law = \"atoms\"")?;
    let values = atoms
        .elements("an array of at least 2 numbers", |n| n >= 2)?
        .iter()
        .map(|atom| atom.number("a number", |_| true))
        .collect::<Result<Vec<_>>>()?;
    let n = values.len();
    let weights = table
        .get("weights", equal_weights(n))
        .elements(&format!("an array of one number per atom ({n})"), |len| {
            len == n
        })?
        .iter()
        .map(|weight| weight.number("a number > 0", |w| w > 0.0))
        .collect::<Result<Vec<_>>>()?;
    HiddenShape::atoms(&values, &weights)
        .ok_or_else(|| atoms.invalid("atoms that are not all equal (a law of nonzero variance)"))
}

/// The default `weights` of `n` atoms.
fn equal_weights(n: usize) -> Value {
    Value::Array(vec![Value::from(1.0); n])
}

/// `[train]`: learning rate and regularizer.
fn read_train(mut train: Section, problem: &mut Problem) -> Result<()> {
    problem.learning_rate = train
        .get("learning_rate", 1.0)
        .number("a number > 0", |x| x > 0.0)?;
    let name = train
        .get("regularizer", "none")
        .choice(&["none", "l2", "l1", "elastic"].map(|name| (name, name)))?;
    let reason = format!("required with regularizer = \"{name}\"");
    let mut strength = |key: &str| {
        train
            .require(key, &reason)?
            .number("a number >= 0", |x| x >= 0.0)
    };
    problem.regularizer = match name {
        "l2" => Regularizer::L2(strength("strength")?),
        "l1" => Regularizer::L1(strength("strength")?),
        "elastic" => Regularizer::Elastic {
            l1: strength("strength_l1")?,
            l2: strength("strength_l2")?,
        },
        _ => Regularizer::None,
    };
    // The regularizer took the strengths it uses; any other one contradicts it. Usually it
    // is left over from another regularizer (a `--set train.regularizer=none` on a config
    // with a strength), hence the remedy.
    for key in ["strength", "strength_l1", "strength_l2"] {
        if let Some(item) = train.take(key) {
            return Err(item.invalid(format!(
                "no {key} with regularizer = \"{name}\" (remove it, or pass --unset {})",
                item.key
            )));
        }
    }
    Ok(())
}

/// `[init]`: `Q(0)` and `R(0)` for the problem's `p` features and `K` neurons.
fn read_init(mut init: Section, problem: &Problem) -> Result<OrderParameters> {
    let (p, k) = (problem.features(), problem.neurons);
    let overlaps = init.get("overlaps", default_overlaps(p, k));
    let overlaps = if k == 1 {
        overlaps
            .elements(&format!("an array of one number per feature ({p})"), |n| {
                n == p
            })?
            .iter()
            .map(|q| {
                // A layer's rows where a single neuron takes numbers: model.neurons forgotten.
                let allowed = if q.value.is_array() {
                    "a number (lists of rows are for model.neurons >= 2)"
                } else {
                    "a number"
                };
                q.number(allowed, |_| true)
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let rows = format!(
            "a list of {p} rows, one per feature, each a list of {k} numbers, one per neuron \
             (model.neurons = {k})"
        );
        numbers_of(&overlaps.matrix(&rows, p, k)?)?
    };
    let norm2 = init.get("norm2", 1.0);
    // A matrix is checked for shape, symmetry and diagonal here; a number stands for
    // `norm2 · I`.
    let gram = match norm2.value {
        Value::Array(_) => Some(read_gram(&norm2, k)?),
        _ => None,
    };
    if k == 1 {
        // Cauchy–Schwarz against orthonormal features: no weight vector has Σ Q_j² > R.
        let bound: f64 = overlaps.iter().map(|q| q * q).sum();
        let allowed = format!("a number > 0 and at least the sum of squared overlaps ({bound})");
        let r = match &gram {
            Some(gram) if gram[0] >= bound => gram[0],
            Some(_) => return Err(norm2.invalid(allowed)),
            None => norm2.number(&allowed, |r| r > 0.0 && r >= bound)?,
        };
        let state = OrderParameters::single(overlaps, r);
        check_domain(problem, &state, &norm2, gram.is_some())?;
        return Ok(state);
    }
    let state = match &gram {
        Some(gram) => OrderParameters {
            neurons: k,
            overlaps,
            norm2: gram.clone(),
        },
        None => {
            let r = norm2.number(&gram_shape(k), |r| r > 0.0)?;
            OrderParameters::isotropic(k, overlaps, r)
        }
    };
    // `NᵀN / n = R(0) − Q(0)ᵀQ(0)` for the part of the weights orthogonal to the features
    // (MODEL.md §7, initial law): it must be a Gram matrix itself.
    let noise: Vec<f64> = (0..k * k)
        .map(|i| {
            let (a, b) = (i / k, i % k);
            state.gram(a, b)
                - (0..p)
                    .map(|j| state.overlap(j, a) * state.overlap(j, b))
                    .sum::<f64>()
        })
        .collect();
    // NaN (from overflowing entries) is kept as the smallest, and refused, where `f64::min`
    // would drop it.
    let smallest = symmetric_eigenvalues(noise, k)
        .into_iter()
        .fold(
            f64::INFINITY,
            |m, x| if x < m || x.is_nan() { x } else { m },
        );
    let scale = (0..k).map(|a| state.gram(a, a)).fold(1.0, f64::max);
    if smallest.is_nan() || smallest < -PSD_TOLERANCE * scale {
        let psd = "R(0) − Q(0)ᵀQ(0) positive semi-definite (Q(0) is init.overlaps)";
        return Err(norm2.invalid(match gram {
            Some(_) => format!(
                "a matrix with {psd}; its smallest eigenvalue is {}",
                significant(smallest)
            ),
            None => {
                let r = state.gram(0, 0);
                // Here the smallest eigenvalue is `r − λ_max(Q(0)ᵀQ(0))`.
                format!(
                    "a number at least the largest eigenvalue of Q(0)ᵀQ(0), {}, so that \
                     R(0) = norm2 · I has {psd}; with norm2 = {r} its smallest eigenvalue \
                     is {}",
                    significant(r - smallest),
                    significant(smallest)
                )
            }
        }));
    }
    check_domain(problem, &state, &norm2, gram.is_some())?;
    Ok(state)
}

/// The largest pre-activation variance `E[h_k²]` that an initial state may give a single
/// neuron. The coefficient quadrature spaces its nodes by the activation's scale over the
/// pre-activation's spread, so one evaluation costs about `E[h²]` times that at `E[h²] = 1`:
/// 0.2 s here, and without a bound a large `init.norm2` would never finish (or overflow
/// the node count).
const MAX_VARIANCE: f64 = 1e4;

/// [`MAX_VARIANCE`] for a layer (`K ≥ 2`), whose evaluation integrates over more
/// pre-activations at once and costs about `E[h²]^1.5` times that at `E[h²] = 1`: seconds
/// to minutes here, depending on the hidden laws.
const MAX_LAYER_VARIANCE: f64 = 1e2;

/// Refuses a state outside the domain of the coefficient quadrature: every neuron's
/// pre-activation variance `E[h_k²] = R_kk (σ_a² + σ_e²) + Σ_j ⟨c_j²⟩ Q_jk²` must be at most
/// [`MAX_VARIANCE`] ([`MAX_LAYER_VARIANCE`] for a layer). The message blames the factor that
/// is furthest from its usual size of about 1: `init.norm2` (its diagonal entry, for a
/// matrix), the noise, or a hidden law's scale.
fn check_domain(
    problem: &Problem,
    state: &OrderParameters,
    norm2: &Item,
    gram_written: bool,
) -> Result<()> {
    let k = state.neurons;
    let limit = if k == 1 {
        MAX_VARIANCE
    } else {
        MAX_LAYER_VARIANCE
    };
    let noise = &problem.noise;
    let view_variance = noise.view_variance();
    for neuron in 0..k {
        let r = state.gram(neuron, neuron);
        let hidden: Vec<f64> = problem
            .hidden
            .iter()
            .enumerate()
            .map(|(j, law)| law.second_moment() * state.overlap(j, neuron).powi(2))
            .collect();
        let hidden_part: f64 = hidden.iter().sum();
        let variance = r * view_variance + hidden_part;
        if variance <= limit {
            continue;
        }
        let which = if k == 1 {
            String::new()
        } else {
            format!(" for neuron {}", neuron + 1)
        };
        let domain = format!(
            "the pre-activation variance R_kk (σ_a² + σ_e²) + Σ_j ⟨c_j²⟩ Q_jk² of every \
             neuron must be at most {limit:e}, the domain of the coefficient quadrature, whose \
             cost grows with it (here {variance:.3e}{which})",
        );
        let invalid = |key: String, value: f64, allowed: String| ConfigError::Invalid {
            key,
            value: shown(value),
            allowed,
        };
        // NaN compares false: a state that overflows is blamed on its norm or noise.
        let hidden_dominates = hidden_part > r * view_variance;
        if !hidden_dominates {
            if r.ln().abs() >= view_variance.ln().abs() / 2.0 {
                let most = shown(significant((limit - hidden_part) / view_variance));
                let allowed = format!("a number at most {most}: {domain}");
                return Err(match (gram_written, k) {
                    (false, _) => norm2.invalid(allowed),
                    (true, 1) => invalid(format!("{}.0.0", norm2.key), r, allowed),
                    (true, _) => invalid(format!("{}.{neuron}.{neuron}", norm2.key), r, allowed),
                });
            }
            let (key, value) = if noise.base >= noise.augment {
                ("base", noise.base)
            } else {
                ("augment", noise.augment)
            };
            return Err(invalid(
                format!("model.noise.{key}"),
                value,
                format!("a smaller noise: {domain}"),
            ));
        }
        // The feature that contributes most; the first table when all laws are alike, as
        // one table for all features is.
        let alike = problem.hidden.iter().all(|law| *law == problem.hidden[0]);
        let j = if alike {
            0
        } else {
            (0..hidden.len())
                .max_by(|&a, &b| hidden[a].total_cmp(&hidden[b]))
                .unwrap_or(0)
        };
        return Err(invalid(
            format!("model.hidden.{j}.scale"),
            problem.hidden[j].scale,
            format!("a smaller scale: {domain}"),
        ));
    }
    Ok(())
}

/// A number for a message: the shortest text that reads back as `x`, in exponent notation
/// when large or small (`1e100`, not a hundred digits).
fn shown(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else {
        Value::from(x).to_string()
    }
}

/// The default `init.overlaps`. A single neuron starts at 0.1 with every feature. A layer
/// deals its neurons to the features in turn: neuron `k` (from 0) starts at
/// `0.1 / (1 + ⌊k/p⌋)` with feature `k mod p` and at 0.01 with every other. Neurons that
/// start alike (equal columns of `Q(0)`, `R(0) = I`) stay alike under the reduced ODE, since
/// permuting neurons is a symmetry of the dynamics, and would never show whether they
/// specialise; so every neuron starts different, none at exactly zero overlap.
fn default_overlaps(p: usize, k: usize) -> Value {
    if k == 1 {
        return Value::Array(vec![Value::from(0.1); p]);
    }
    let overlap = |j: usize, neuron: usize| {
        if j == neuron % p {
            0.1 / (1 + neuron / p) as f64
        } else {
            0.01
        }
    };
    Value::Array(
        (0..p)
            .map(|j| Value::Array((0..k).map(|neuron| overlap(j, neuron).into()).collect()))
            .collect(),
    )
}

/// What `init.norm2` accepts for `K` neurons, as to its shape.
fn gram_shape(k: usize) -> String {
    if k == 1 {
        return "a number > 0, or a 1 × 1 matrix [[r]]".into();
    }
    format!(
        "a number > 0 (R(0) = norm2 · I) or a {k} × {k} symmetric matrix, a list of {k} rows of \
         {k} numbers"
    )
}

/// `init.norm2` written as a matrix: `K` rows of `K` numbers, symmetric, with a positive
/// diagonal. Row-major.
fn read_gram(item: &Item, k: usize) -> Result<Vec<f64>> {
    let entries = item.matrix(&gram_shape(k), k, k)?;
    let gram = numbers_of(&entries)?;
    for a in 0..k {
        for b in a + 1..k {
            // Compared as numbers, so that `1` and `1.0` agree.
            if gram[a * k + b] != gram[b * k + a] {
                let mirror = &entries[b * k + a];
                return Err(entries[a * k + b].invalid(format!(
                    "the same value as {} = {} (R(0) is symmetric)",
                    mirror.key, mirror.value
                )));
            }
        }
    }
    for a in 0..k {
        if gram[a * k + a] <= 0.0 {
            return Err(entries[a * k + a]
                .invalid("a number > 0 (a diagonal entry of R(0), a neuron's squared norm)"));
        }
    }
    Ok(gram)
}

/// The values of entries that must be numbers.
fn numbers_of(entries: &[Item]) -> Result<Vec<f64>> {
    entries
        .iter()
        .map(|entry| entry.number("a number", |_| true))
        .collect()
}

/// The eigenvalues, in no particular order, of the symmetric `n × n` matrix `a` (row-major).
fn symmetric_eigenvalues(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut vectors = vec![0.0; n * n];
    crate::symmetric_eigen(&mut a, &mut vectors, n);
    (0..n).map(|i| a[i * n + i]).collect()
}

/// `x` rounded to 6 significant digits, for messages.
fn significant(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(5_i32.saturating_sub(x.abs().log10().floor() as i32));
    // Subnormal `x` would need a scale beyond the floats.
    let scaled = x * scale;
    if scaled.is_finite() {
        scaled.round() / scale
    } else {
        x
    }
}

/// The most trajectory samples a config may ask for (`run.t_end / run.record_every`).
/// Every command keeps its trajectory in memory, at most 1 KiB a sample (`1 + pK + K²`
/// numbers): 10 GiB at this bound for the largest problem, more than any plot or comparison
/// reads.
const MAX_RECORDS: u64 = 10_000_000;

/// What an integer key without a bound of its own takes: from `min` to the largest TOML
/// integer (TOML integers are 64-bit signed).
fn integer_from(min: u64) -> String {
    format!("an integer in [{min}, {}]", i64::MAX)
}

/// `[run]`.
fn read_run(mut run: Section) -> Result<RunSettings> {
    let solver = run
        .get("solver", "particles")
        .choice(&[SolverKind::Particles, SolverKind::Sgd].map(|s| (s.name(), s)))?;
    let particles = run
        .get("particles", 100_000)
        .integer(&integer_from(1), |n: &usize| *n >= 1)?;
    let dimension = run
        .get("dimension", 10_000)
        .integer(&integer_from(1), |n: &usize| *n >= 1)?;
    let horizon = run.get("t_end", 10.0);
    let t_end = horizon.number("a number > 0", |x| x > 0.0)?;
    let dt = run
        .get("dt", 0.01)
        .number(&format!("a number in (0, t_end] = (0, {t_end}]"), |dt| {
            dt > 0.0 && dt <= t_end
        })?;
    let seed = run
        .get("seed", 1)
        .integer(&integer_from(0), |_: &u64| true)?;
    // The particle solver takes whole steps of dt: any other time would be rounded to one.
    let is_whole = |x: f64| {
        let steps = x / dt;
        solver != SolverKind::Particles || (steps - steps.round()).abs() <= 1e-9 * steps.max(1.0)
    };
    if !is_whole(t_end) {
        return Err(ConfigError::Invalid {
            key: "run.t_end".into(),
            value: t_end.to_string(),
            allowed: format!("a multiple of run.dt = {dt}"),
        });
    }
    let mut interval = |key: &str, default: f64| {
        run.get(key, default).number(
            &format!("a number > 0 that is a multiple of run.dt = {dt}"),
            |x| x > 0.0 && is_whole(x),
        )
    };
    let record_every = interval("record_every", 0.1)?;
    let snapshot_every = interval("snapshot_every", 1.0)?;
    let checkpoint_every = interval("checkpoint_every", 1.0)?;
    let records = t_end / record_every;
    if records > MAX_RECORDS as f64 {
        return Err(horizon.invalid(format!(
            "at most {MAX_RECORDS} trajectory records, one per run.record_every = \
             {record_every}: this horizon has {} (raise run.record_every or lower run.t_end)",
            shown(significant(records))
        )));
    }
    let checkpoint_every_secs = run
        .take("checkpoint_every_secs")
        .map(|item| item.number("a number > 0", |x| x > 0.0))
        .transpose()?;
    let output = run
        .take("output")
        .map(|item| item.string("a non-empty string").map(str::to_owned))
        .transpose()?;
    Ok(RunSettings {
        solver,
        particles,
        dimension,
        t_end,
        dt,
        seed,
        record_every,
        snapshot_every,
        checkpoint_every,
        checkpoint_every_secs,
        output,
    })
}

/// A table of the resolved document, its entries in the order given.
fn table<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Table {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

fn numbers(xs: &[f64]) -> Value {
    Value::Array(xs.iter().map(|&x| x.into()).collect())
}

/// A row-major matrix of `columns` columns as a list of rows.
fn rows(xs: &[f64], columns: usize) -> Value {
    Value::Array(xs.chunks(columns).map(numbers).collect())
}

/// A count as TOML: an integer, or above `i64::MAX`, which TOML integers cannot hold, the
/// integral float that the reader also accepts (and that such a count was read from).
fn count(n: u64) -> Value {
    i64::try_from(n).map_or(Value::Float(n as f64), Value::Integer)
}

/// The `atoms` and `weights` that `document` gives feature `j`'s atoms law, as written
/// (equal weights where none are). The law keeps them standardised, and standardising those
/// again is not exact in floating point: written back, the law's own values would read as a
/// slightly different law. `None` for a config whose document does not have them (one
/// built by hand), which then falls back to those values.
fn written_atoms(document: &Table, j: usize) -> Option<(Value, Value)> {
    let hidden = document.get("model")?.get("hidden")?.as_array()?;
    // One table for all features, or one per feature.
    let law = hidden.get(if hidden.len() == 1 { 0 } else { j })?;
    let atoms = law.get("atoms")?;
    let weights = match law.get("weights") {
        Some(weights) => weights.clone(),
        None => equal_weights(atoms.as_array()?.len()),
    };
    Some((atoms.clone(), weights))
}

/// A table being read, with its dotted path.
struct Section {
    path: String,
    table: Table,
}

/// One value taken out of a table, with its full dotted key.
struct Item {
    key: String,
    value: Value,
    /// Whether the value is the default, which an error message then says.
    defaulted: bool,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Section {
    /// Rejects keys that [`TABLES`] does not allow at `path` before anything is read, so that
    /// a misspelt key is reported as such rather than as a missing or defaulted one.
    fn new(path: String, table: Table) -> Result<Section> {
        let allowed = table_keys(&path).expect("the reader opens only the tables of TABLES");
        if let Some(key) = table.keys().find(|key| !allowed.contains(&key.as_str())) {
            return Err(ConfigError::UnknownKey {
                key: join(&path, key),
                allowed: allowed.join(", "),
            });
        }
        Ok(Section { path, table })
    }

    fn take(&mut self, name: &str) -> Option<Item> {
        let value = self.table.remove(name)?;
        Some(Item {
            key: join(&self.path, name),
            value,
            defaulted: false,
        })
    }

    /// The value of `name`, or `default` (validated like any other value).
    fn get(&mut self, name: &str, default: impl Into<Value>) -> Item {
        self.take(name).unwrap_or_else(|| Item {
            key: join(&self.path, name),
            value: default.into(),
            defaulted: true,
        })
    }

    fn require(&mut self, name: &str, reason: &str) -> Result<Item> {
        self.take(name).ok_or_else(|| ConfigError::Missing {
            key: join(&self.path, name),
            reason: reason.to_string(),
        })
    }

    /// A sub-table; an absent one reads as empty, so that every key takes its default.
    fn section(&mut self, name: &str) -> Result<Section> {
        self.get(name, Table::new()).section()
    }
}

impl Item {
    fn invalid(&self, allowed: impl Into<String>) -> ConfigError {
        let value = match self.value {
            Value::Float(x) => shown(x),
            ref value => value.to_string(),
        };
        let value = if self.defaulted {
            format!("{value} (the default)")
        } else {
            value
        };
        ConfigError::Invalid {
            key: self.key.clone(),
            value,
            allowed: allowed.into(),
        }
    }

    fn section(self) -> Result<Section> {
        match self.value {
            Value::Table(table) => Section::new(self.key, table),
            _ => Err(self.invalid("a table")),
        }
    }

    /// The elements of an array whose length passes `len_ok`, each keyed `key.i`.
    fn elements(&self, allowed: &str, len_ok: impl Fn(usize) -> bool) -> Result<Vec<Item>> {
        match &self.value {
            Value::Array(items) if len_ok(items.len()) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, value)| Item {
                    key: format!("{}.{i}", self.key),
                    value: value.clone(),
                    defaulted: self.defaulted,
                })
                .collect()),
            _ => Err(self.invalid(allowed)),
        }
    }

    /// The entries of a `rows × columns` matrix written as a list of rows, row-major, each
    /// keyed `key.i.j`: the matrices of `[init]`, whose rows hold one number per neuron.
    /// `allowed` describes the whole matrix; a row of the wrong length is reported as that
    /// row.
    fn matrix(&self, allowed: &str, rows: usize, columns: usize) -> Result<Vec<Item>> {
        let lines = self.elements(allowed, |n| n == rows)?;
        // A flat list (or anything else that is not a list of lists) is a shape error of
        // the whole, not of its first element.
        if lines.iter().any(|line| !line.value.is_array()) {
            return Err(self.invalid(allowed));
        }
        let row = format!("a list of {columns} numbers, one per neuron");
        let mut entries = Vec::with_capacity(rows * columns);
        for line in &lines {
            entries.extend(line.elements(&row, |n| n == columns)?);
        }
        Ok(entries)
    }

    /// A finite number (TOML integers included) that passes `ok`.
    fn number(&self, allowed: &str, ok: impl Fn(f64) -> bool) -> Result<f64> {
        let x = match self.value {
            Value::Float(x) => x,
            Value::Integer(i) => i as f64,
            _ => return Err(self.invalid(allowed)),
        };
        if !x.is_finite() {
            return Err(self.invalid("a finite number"));
        }
        if ok(x) {
            Ok(x)
        } else {
            Err(self.invalid(allowed))
        }
    }

    /// A non-negative integer that fits `T` and passes `ok`. Integral floats count, so that
    /// `particles = 1e6` reads as written.
    fn integer<T: TryFrom<u64>>(&self, allowed: &str, ok: impl Fn(&T) -> bool) -> Result<T> {
        let n = match self.value {
            Value::Integer(i) => u64::try_from(i).ok(),
            Value::Float(x) if x.fract() == 0.0 && x >= 0.0 && x < 2f64.powi(64) => Some(x as u64),
            _ => None,
        };
        n.and_then(|n| T::try_from(n).ok())
            .filter(ok)
            .ok_or_else(|| self.invalid(allowed))
    }

    /// A non-empty string.
    fn string(&self, allowed: &str) -> Result<&str> {
        match &self.value {
            Value::String(s) if !s.is_empty() => Ok(s),
            _ => Err(self.invalid(allowed)),
        }
    }

    /// One of the named `options`.
    fn choice<T: Clone>(&self, options: &[(&str, T)]) -> Result<T> {
        let allowed = one_of(options);
        lookup(options, self.string(&allowed)?).ok_or_else(|| self.invalid(allowed))
    }

    /// A law: one of the `named` ones, or `"sparse:S"` with `0 < S <= 1`.
    fn law<T: Clone>(&self, named: &[(&str, T)], sparse: impl Fn(f64) -> T) -> Result<T> {
        let allowed = format!("{}, or \"sparse:S\" with 0 < S <= 1", one_of(named));
        let text = self.string(&allowed)?;
        let law = match text.strip_prefix("sparse:") {
            Some(s) => s.parse().ok().filter(|s| *s > 0.0 && *s <= 1.0).map(sparse),
            None => lookup(named, text),
        };
        law.ok_or_else(|| self.invalid(allowed))
    }
}

fn lookup<T: Clone>(options: &[(&str, T)], text: &str) -> Option<T> {
    options
        .iter()
        .find(|(name, _)| *name == text)
        .map(|(_, value)| value.clone())
}

fn one_of<T>(options: &[(&str, T)]) -> String {
    let names: Vec<String> = options
        .iter()
        .map(|(name, _)| format!("\"{name}\""))
        .collect();
    format!("one of {}", names.join(", "))
}

/// Applies one `--set key=value` to the document. The value is TOML (`0.5`, `"sgd"`,
/// `[0.1, 0.0]`, `{ law = "gaussian" }`) or else a bare string (`sgd`). Integer segments
/// index arrays; missing tables on the way are created. A set into `init.norm2` is
/// mirrored by [`mirror_gram`].
fn apply_override(root: &mut Table, arg: &str) -> Result<()> {
    let fail = |reason: String| ConfigError::Override {
        arg: arg.to_string(),
        reason,
    };
    let Some((key, text)) = arg.split_once('=') else {
        return Err(fail("expected key=value".into()));
    };
    let segments = dotted(key).map_err(fail)?;
    let text = text.trim();
    // An integer beyond TOML's would otherwise be taken as a bare string, and be refused
    // as "not an integer".
    if let Some(reason) = beyond_toml_integers(text) {
        return Err(fail(reason));
    }
    let value = format!("v = {text}")
        .parse::<Table>()
        .ok()
        .filter(|doc| doc.len() == 1)
        .and_then(|mut doc| doc.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_string()));

    // A missing entry becomes a table, or an empty array when indexed, so that the index is
    // then reported out of range; the last one is overwritten by the value anyway.
    let vacant = |next: Option<&&str>| match next {
        Some(s) if s.parse::<usize>().is_ok() => Value::Array(Vec::new()),
        _ => Value::Table(Table::new()),
    };
    let mut node = root
        .entry(segments[0])
        .or_insert_with(|| vacant(segments.get(1)));
    for (i, segment) in segments.iter().enumerate().skip(1) {
        let at = segments[..i].join(".");
        node = match node {
            Value::Table(table) => table
                .entry(*segment)
                .or_insert_with(|| vacant(segments.get(i + 1))),
            Value::Array(items) => {
                let len = items.len();
                let index: usize = segment
                    .parse()
                    .map_err(|_| fail(not_an_index(&at, segment)))?;
                items.get_mut(index).ok_or_else(|| {
                    fail(if len == 0 {
                        // Defaults are filled in after the edits: an array the document does
                        // not give has no elements to edit yet.
                        format!(
                            "index {index} is out of range: {at} is empty or not in the config \
                             (where its default applies); set it whole, e.g. --set '{at}=[...]'"
                        )
                    } else {
                        format!("index {index} is out of range: {at} has length {len}")
                    })
                })?
            }
            // A key that may hold an array holds something else: `init.norm2` a number.
            other if ARRAYS.contains(&schema_path(&at).as_str()) => {
                return Err(fail(format!(
                    "{at} = {other} is not an array; set it whole, e.g. --set '{at}=[...]'"
                )));
            }
            other => {
                return Err(fail(format!(
                    "{at} = {other} is neither a table nor an array"
                )));
            }
        };
    }
    *node = value;
    mirror_gram(root, &segments);
    Ok(())
}

/// After a `--set` into `init.norm2`, keeps the matrix symmetric: setting entry `(k, l)`
/// sets `(l, k)` to the same value, and setting row `k` sets column `k` to it. Mirrors
/// only into entries that the matrix has; a row of the wrong length is left for
/// validation to report.
fn mirror_gram(root: &mut Table, segments: &[&str]) {
    let ["init", "norm2", indices @ ..] = segments else {
        return;
    };
    let Some(Value::Array(gram)) = root.get_mut("init").and_then(|init| init.get_mut("norm2"))
    else {
        return;
    };
    let indices: Option<Vec<usize>> = indices.iter().map(|s| s.parse().ok()).collect();
    let entry = |k: usize, l: usize| gram.get(k).and_then(|row| row.get(l)).cloned();
    // `(k, l, value)`: what was set at `(k, l)`, to be written at `(l, k)`.
    let set: Vec<(usize, usize, Value)> = match indices.as_deref() {
        Some(&[k, l]) if k != l => entry(k, l).map(|value| (k, l, value)).into_iter().collect(),
        Some(&[k]) if gram.get(k).and_then(Value::as_array).map(Vec::len) == Some(gram.len()) => (0
            ..gram.len())
            .filter(|&l| l != k)
            .filter_map(|l| Some((k, l, entry(k, l)?)))
            .collect(),
        _ => Vec::new(),
    };
    for (k, l, value) in set {
        if let Some(Value::Array(row)) = gram.get_mut(l)
            && let Some(mirror) = row.get_mut(k)
        {
            *mirror = value;
        }
    }
}

/// The segments of a dotted key (`model.hidden.1.scale`), as `--set` and `--unset` take it.
fn dotted(key: &str) -> std::result::Result<Vec<&str>, String> {
    let key = key.trim();
    let segments: Vec<&str> = key.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(format!(
            "expected a dotted key such as run.seed, not \"{key}\""
        ));
    }
    Ok(segments)
}

fn not_an_index(array: &str, segment: &str) -> String {
    format!("{array} is an array: expected an index, not \"{segment}\"")
}

/// Applies one `--unset key` to the document: removes the key, or the array element, if
/// the document has it.
fn apply_unset(root: &mut Table, arg: &str) -> Result<()> {
    let fail = |reason: String| ConfigError::Unset {
        arg: arg.to_string(),
        reason,
    };
    let segments = dotted(arg).map_err(fail)?;
    // The key is checked against the schema, not the document, so that a misspelt key is
    // an error even where the document has nothing to remove.
    for (i, segment) in segments.iter().enumerate() {
        let at = segments[..i].join(".");
        let known = match table_keys(&at) {
            Some(keys) if keys.contains(segment) => Ok(()),
            Some(keys) => Err(ConfigError::UnknownKey {
                key: join(&at, segment),
                allowed: keys.join(", "),
            }
            .to_string()),
            None if ARRAYS.contains(&schema_path(&at).as_str()) => segment
                .parse::<usize>()
                .map(|_| ())
                .map_err(|_| not_an_index(&at, segment)),
            None => Err(format!("{at} is neither a table nor an array")),
        };
        known.map_err(fail)?;
    }

    let (last, parents) = segments.split_last().expect("a dotted key has a segment");
    let Some((first, rest)) = parents.split_first() else {
        root.remove(*last);
        return Ok(());
    };
    let mut parent = root.get_mut(*first);
    for segment in rest {
        parent = match parent {
            Some(Value::Table(table)) => table.get_mut(*segment),
            Some(Value::Array(items)) => segment.parse().ok().and_then(|i: usize| items.get_mut(i)),
            _ => None,
        };
    }
    // Nothing to remove where the document lacks the key. A value where the schema has a
    // table or an array is left for validation to report.
    match parent {
        Some(Value::Table(table)) => {
            table.remove(*last);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Config, significant, symmetric_eigenvalues};
    use std::f64::consts::PI;

    /// Text from a damaged file (decoded with replacement characters) or typed with
    /// multi-byte characters anywhere, in strings, numbers, escapes and keys: every error
    /// message is made without panicking over the position it reports.
    #[test]
    fn multi_byte_characters_anywhere_give_messages() {
        let document = include_str!("../../../data/configs/quickstart.toml");
        for inserted in [
            "é",
            "\u{FFFD}",
            "€",
            "𝄞",
            "\u{0}é",
            "\\é",
            "\\ué",
            "\\U0001é",
            "0xé",
            "1eé",
            "'''é",
            "\"é",
            "é\"",
            "#é",
            "[é",
            "\u{7f}é",
            "\té",
            "+é",
            "1979-05-27Té",
        ] {
            for (at, _) in document.char_indices() {
                let rest = &document[at..];
                // Inserted before the character there, and in its place.
                let replaced: String = rest.chars().skip(1).collect();
                for text in [rest, &replaced] {
                    let edited = format!("{}{inserted}{text}", &document[..at]);
                    if let Err(error) = Config::parse(&edited) {
                        assert!(!error.to_string().is_empty());
                    }
                }
            }
        }
    }

    fn sorted(mut xs: Vec<f64>) -> Vec<f64> {
        xs.sort_by(f64::total_cmp);
        xs
    }

    /// `tridiag(b, a, b)` of size `n` has the eigenvalues `a + 2b cos(iπ/(n+1))`.
    #[test]
    fn jacobi_gives_the_eigenvalues_of_tridiagonal_toeplitz_matrices() {
        for n in 1..=8_usize {
            let (a, b) = (0.7, -1.3);
            let matrix = (0..n * n)
                .map(|i| match (i / n).abs_diff(i % n) {
                    0 => a,
                    1 => b,
                    _ => 0.0,
                })
                .collect();
            let expected = sorted(
                (1..=n)
                    .map(|i| a + 2.0 * b * (i as f64 * PI / (n + 1) as f64).cos())
                    .collect(),
            );
            for (x, y) in sorted(symmetric_eigenvalues(matrix, n))
                .iter()
                .zip(&expected)
            {
                assert!((x - y).abs() < 1e-14, "n = {n}: {x} against {y}");
            }
        }
    }

    /// `O D Oᵀ` for `O` a product of rotations by angles of every pair of axes has the
    /// eigenvalues of `D`, clustered and of both signs here.
    #[test]
    fn jacobi_gives_the_eigenvalues_of_a_rotated_diagonal_matrix() {
        let n = 8;
        let diagonal = [3.0, -2.0, 1e-9, 0.0, 1.0, 1.0 + 1e-12, -1e-9, 0.5];
        let mut o: Vec<f64> = (0..n * n)
            .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
            .collect();
        for p in 0..n {
            for q in p + 1..n {
                let angle = 0.3 + 0.17 * (p * n + q) as f64;
                let (s, c) = angle.sin_cos();
                for r in 0..n {
                    let (x, y) = (o[r * n + p], o[r * n + q]);
                    o[r * n + p] = c * x - s * y;
                    o[r * n + q] = s * x + c * y;
                }
            }
        }
        let matrix = (0..n * n)
            .map(|i| {
                let (r, c) = (i / n, i % n);
                (0..n)
                    .map(|k| o[r * n + k] * diagonal[k] * o[c * n + k])
                    .sum()
            })
            .collect();
        let expected = sorted(diagonal.to_vec());
        for (x, y) in sorted(symmetric_eigenvalues(matrix, n))
            .iter()
            .zip(&expected)
        {
            assert!((x - y).abs() < 1e-14, "{x} against {y}");
        }
    }

    #[test]
    fn messages_round_to_six_significant_digits() {
        assert_eq!(significant(-0.019230199429886796), -0.0192302);
        assert_eq!(significant(1.2345678e-9), 1.23457e-9);
        assert_eq!(significant(-272.79220613), -272.792);
        assert_eq!(significant(0.0), 0.0);
        assert_eq!(significant(1e-320), 1e-320);
    }
}
