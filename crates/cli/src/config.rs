//! The config that commands read: the file, its `--unset` and `--set` edits, and validation.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use mfcl_checkpoint::{FileKind, identify};
use mfcl_model::Config;

use crate::failure::Failure;

/// A config file plus edits, and the output format.
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
    /// Remove a config key, e.g. `--unset train.strength` (repeatable; applied before the
    /// `--set`s, so a key can be removed and given anew).
    #[arg(long = "unset", value_name = "KEY")]
    pub unsets: Vec<String>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Reads and validates a config with its edits; without a path, the embedded quickstart,
/// so that `mfcl run` works out of the box and still takes edits.
pub fn load(path: Option<&Path>, options: &ConfigOptions) -> Result<Config, Failure> {
    load_with(path, options, &[])
}

/// [`load`], with `extra` applied after the user's `--set`s (a sweep's value).
pub fn load_with(
    path: Option<&Path>,
    options: &ConfigOptions,
    extra: &[String],
) -> Result<Config, Failure> {
    let (text, name) = match path {
        Some(path) => (read_text(path)?, path.display().to_string()),
        // `source` is the quickstart's own document, so edits apply to it as to a file.
        None => (
            Config::quickstart().source,
            "(the embedded quickstart)".into(),
        ),
    };
    let sets: Vec<&str> = options
        .sets
        .iter()
        .chain(extra)
        .map(String::as_str)
        .collect();
    let unsets: Vec<&str> = options.unsets.iter().map(String::as_str).collect();
    Config::parse_edited(&text, &unsets, &sets)
        .with_context(|| format!("invalid config {name}"))
        .map_err(Failure::input)
}

/// The largest config file read. The largest config that mfcl reads (eight features with
/// many atoms, a layer's matrices) is a few KiB; a file beyond this is not a config, or is
/// a device such as /dev/zero that would be read without end.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The config file's text, at most [`MAX_CONFIG_BYTES`]; a run file or another binary file
/// given as a config gets a sentence saying what it is instead of a UTF-8 error.
fn read_text(path: &Path) -> Result<String, Failure> {
    let name = path.display();
    let cannot_read = |error: std::io::Error| {
        Failure::input(match error.kind() {
            std::io::ErrorKind::NotFound => anyhow!("cannot read config {name}: no such file"),
            std::io::ErrorKind::IsADirectory => {
                anyhow!("cannot read config {name}: it is a folder")
            }
            _ => anyhow!("cannot read config {name}: {error}"),
        })
    };
    let file = std::fs::File::open(path).map_err(cannot_read)?;
    // One byte beyond the limit tells a file at the limit from a larger one.
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(Failure::input(anyhow!(
            "{name} is larger than {} MiB, the most a config file may hold: not a config",
            MAX_CONFIG_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        let kind = identify(path);
        let hint = match kind {
            FileKind::RunFile => {
                format!("; did you mean `mfcl resume {name}` or `mfcl inspect {name}`?")
            }
            _ => String::new(),
        };
        Failure::input(anyhow!(
            "{name} is {}, not a TOML config{hint}",
            kind.describe()
        ))
    })
}
