//! The config that commands read: the file, its `--set` overrides, and validation.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use mfcl_model::Config;

use crate::failure::Failure;

/// A config file plus overrides, and the output format.
#[derive(Args)]
pub struct ConfigArgs {
    /// The TOML config (see the README's config reference).
    pub config: PathBuf,
    #[command(flatten)]
    pub options: ConfigOptions,
}

/// What every command that reads a config takes besides the config itself.
#[derive(Args)]
pub struct ConfigOptions {
    /// Override a config key, e.g. `--set model.noise.correlation=-0.5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Reads and validates a config with its `--set` overrides; without a path, the embedded
/// quickstart, so that `mfcl run` works out of the box and still takes overrides.
pub fn load(path: Option<&Path>, sets: &[String]) -> Result<Config, Failure> {
    let (text, name) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))
                .map_err(Failure::input)?;
            (text, path.display().to_string())
        }
        // `source` is the quickstart's own document, so overrides apply to it as to a file.
        None => (
            Config::quickstart().source,
            "(the embedded quickstart)".into(),
        ),
    };
    Config::parse_with(&text, sets)
        .with_context(|| format!("invalid config {name}"))
        .map_err(Failure::input)
}
