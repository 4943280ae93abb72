//! `mfcl`: the command line. Library crates return typed errors; this binary adds context
//! and maps failures to the exit codes of DESIGN.md (0 success, 1 failed check, 2 bad input).

mod basins;
mod commands;
mod compare;
mod export;
mod figures;
mod inspect;
mod output;
mod plot;
mod progress;
mod run;
mod sweep;

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
    /// Continue a run from the checkpoint beside its run file; with --t-end, extend it.
    Resume(ResumeArgs),
    /// Integrate the reduced ODE for overlaps and norm (L2 or no regularizer only).
    Ode(ConfigArgs),
    /// Fixed points of the reduced ODE, their stability, and the growth rates at the
    /// uninformative state.
    FixedPoints(ConfigArgs),
    /// The probability that a random start near the uninformative state selects each
    /// feature (basins of attraction), from the reduced ODE or from particle runs; with
    /// --plot, the phase portrait of (m_1, m_2) for two features.
    Basins(BasinsArgs),
    /// The steady state reached from the config's initial condition for each value of one
    /// config key: cosines, norm, stability, and the growth rates at the uninformative state.
    Sweep(SweepArgs),
    /// Compare a run file's trajectory with the reduced ODE (L2 or no regularizer only);
    /// exit 1 when a cosine deviates by more than the tolerance.
    Compare(CompareArgs),
    /// Write a run file's trajectory or snapshots as CSV or NumPy .npy files.
    Export(ExportArgs),
    /// Draw a run file as a PNG: cosines and norm against time (with the ODE where one
    /// exists) and the density snapshots.
    Plot(PlotArgs),
    /// Describe a run file: config, solver, size, progress, snapshots and checkpoint.
    Inspect(InspectArgs),
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
    /// The run file to write (default: the config's run.output, else runs/NAME.h5); the
    /// checkpoint RUN.checkpoint.h5 and the folder RUN.snapshots go beside it.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

/// How `mfcl basins` follows its starts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BasinSolver {
    /// The reduced ODE from `Q = r0 u`, `R = R_0` (L2 or no regularizer).
    Ode,
    /// Independent particle runs (the config's N and dt, seeds seed, seed + 1, ...) from
    /// `Q = 0`, `R = R_0`: the finite-size check of the ODE picture.
    Particles,
}

impl BasinSolver {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            BasinSolver::Ode => "ode",
            BasinSolver::Particles => "particles",
        }
    }
}

/// Arguments of `mfcl basins`.
#[derive(Args)]
struct BasinsArgs {
    /// The TOML config; its run.seed seeds the starts.
    config: PathBuf,
    #[command(flatten)]
    options: ConfigOptions,
    /// Number of starts (default 1000 for the ODE, 200 particle runs).
    #[arg(long, value_name = "K")]
    samples: Option<usize>,
    /// Radius r0 of the ODE's starts Q = r0 u, u uniform on the unit sphere (default 0.02).
    #[arg(long, value_name = "R0")]
    radius: Option<f64>,
    /// Follow the starts with the reduced ODE or with particle runs.
    #[arg(long, value_enum, default_value = "ode")]
    solver: BasinSolver,
    /// Also draw the phase portrait of (m_1, m_2) as a PNG (two features only).
    #[arg(long, value_name = "PNG")]
    plot: Option<PathBuf>,
}

/// Arguments of `mfcl sweep`.
#[derive(Args)]
struct SweepArgs {
    /// The TOML config; the steady state is sought from its [init].
    config: PathBuf,
    #[command(flatten)]
    options: ConfigOptions,
    /// The dotted config key to vary, e.g. model.noise.correlation.
    #[arg(long, value_name = "KEY")]
    param: String,
    /// K evenly spaced values from A to B inclusive, e.g. -0.9:0.9:19.
    #[arg(long, value_name = "A:B:K", allow_hyphen_values = true)]
    values: String,
    /// Also draw the steady state and growth rates against the value as a PNG.
    #[arg(long, value_name = "PNG")]
    plot: Option<PathBuf>,
}

/// Arguments of `mfcl resume`.
#[derive(Args)]
struct ResumeArgs {
    /// The run file; its checkpoint is RUN.checkpoint.h5 beside it.
    run: PathBuf,
    /// Extend the run to this model time (at least the time already reached).
    #[arg(long = "t-end", value_name = "T")]
    t_end: Option<f64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "K")]
    threads: Option<NonZeroUsize>,
    /// Print one JSON document on stdout instead of a summary.
    #[arg(long)]
    json: bool,
}

/// Arguments of `mfcl compare`.
#[derive(Args)]
struct CompareArgs {
    /// The run file.
    run: PathBuf,
    /// Largest allowed `max_t |m_j - m_j^ODE|` for every feature. Default: it follows the
    /// run's statistical error, 5/sqrt(N) + 1e-4 (dt/0.01)^2 for N particles with step dt,
    /// 10/sqrt(n) for SGD in dimension n. Starts very near the uninformative state amplify
    /// fluctuations further and may need a larger tolerance.
    #[arg(long, value_name = "X")]
    tol: Option<f64>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of `mfcl export`.
#[derive(Args)]
struct ExportArgs {
    /// The run file.
    run: PathBuf,
    /// What to export.
    #[arg(long, value_enum)]
    what: export::What,
    /// The file format.
    #[arg(long, value_enum)]
    format: export::Format,
    /// The folder to write into (created if missing; files of the same name are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Arguments of `mfcl plot`.
#[derive(Args)]
struct PlotArgs {
    /// The run file.
    run: PathBuf,
    /// The PNG to write.
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
}

/// Arguments of `mfcl inspect`.
#[derive(Args)]
struct InspectArgs {
    /// The run file; its checkpoint is RUN.checkpoint.h5 beside it.
    run: PathBuf,
    /// Print one JSON document on stdout instead of a summary.
    #[arg(long)]
    json: bool,
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
    restore_default_sigpipe();
    // Lets inspect, compare, export and plot read a run file while `mfcl run` is still
    // writing it; HDF5's advisory lock would refuse them. Set before any thread starts.
    if std::env::var_os("HDF5_USE_FILE_LOCKING").is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("HDF5_USE_FILE_LOCKING", "FALSE") };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Resume(args) => run::resume(&args),
        Command::Ode(args) => commands::ode(&args),
        Command::FixedPoints(args) => commands::fixed_points(&args),
        Command::Basins(args) => basins::run(&args),
        Command::Sweep(args) => sweep::sweep(&args),
        Command::Compare(args) => compare::compare(&args),
        Command::Export(args) => export::export(&args),
        Command::Plot(args) => plot::plot(&args),
        Command::Inspect(args) => inspect::inspect(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {:#}", failure.error);
            ExitCode::from(failure.code)
        }
    }
}

/// Rust ignores SIGPIPE, which turns `mfcl ... | head` into a panic on the first write after
/// `head` exits; the default action ends the process quietly, as other command-line tools do.
fn restore_default_sigpipe() {
    // SAFETY: resetting a signal's disposition to its default is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
