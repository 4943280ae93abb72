//! `mfcl`: the command line. Library crates return typed errors; this binary adds context
//! and maps failures to the exit codes of DESIGN.md (0 success, 1 failed check, 2 bad input).

mod commands;
mod output;
mod progress;
mod run;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Simulate how a nonlinear contrastive learner trains in the high-dimensional limit.
#[derive(Parser)]
#[command(name = "mfcl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate the particle system or SGD, and compare with the reduced ODE where one
    /// exists.
    Run(RunArgs),
    /// Integrate the reduced ODE for overlaps and norm (L2 or no regularizer only).
    Ode(ConfigArgs),
    /// Fixed points of the reduced ODE, their stability, and the growth rates at the
    /// uninformative state.
    FixedPoints(ConfigArgs),
}

/// A config file plus overrides, and the output format.
#[derive(Args)]
struct ConfigArgs {
    /// The TOML config (see the README's config reference).
    config: PathBuf,
    #[command(flatten)]
    options: ConfigOptions,
}

/// What every command that reads a config takes besides the config itself.
#[derive(Args)]
struct ConfigOptions {
    /// Override a config key, e.g. `--set model.noise.correlation=-0.5` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// `mfcl run`: an optional config, overrides, and how to run it.
#[derive(Args)]
struct RunArgs {
    /// The TOML config; without one, the embedded quickstart
    /// (data/configs/quickstart.toml).
    config: Option<PathBuf>,
    #[command(flatten)]
    options: ConfigOptions,
    /// Number of worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "K")]
    threads: Option<NonZeroUsize>,
    /// The run file to write. Run files are not implemented yet: ignored, with a warning.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

/// A failure and the exit code it maps to.
pub struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl Failure {
    /// Bad input or an unusable file: exit 2.
    pub fn input(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
        }
    }

    /// Valid input, but the work itself failed (a run diverged): exit 1.
    pub fn failed(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Ode(args) => commands::ode(&args),
        Command::FixedPoints(args) => commands::fixed_points(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}
