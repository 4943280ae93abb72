//! `mfcl`: the command line. Library crates return typed errors; this binary adds context
//! and maps failures to the exit codes of DESIGN.md (0 success, 1 failed check, 2 bad input).

//!
//! The crate is layered, and imports point downwards only:
//! - `commands/`: one module per subcommand, owning its arguments, work and output;
//! - `figures/`: the shared chart module and one module per figure;
//! - at the bottom, what every command shares: `failure`, `config`, `run_file`, `output`,
//!   `progress`, `signals` and `threads`, which import nothing above them.

mod commands;
mod config;
mod failure;
mod figures;
mod limits;
mod output;
mod progress;
mod run_file;
mod signals;
mod threads;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use commands::{
    basins::BasinsArgs, compare::CompareArgs, export::ExportArgs, inspect::InspectArgs,
    plot::PlotArgs, run::ResumeArgs, run::RunArgs, sweep::SweepArgs,
};
use config::ConfigArgs;

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
    /// Validate a config with its edits and print it resolved, every default filled in
    /// (exit 2 with the reason if it is invalid).
    Check(ConfigArgs),
    /// The coefficient functionals g (drive), G_0 (self term) and V (noise) at the config's
    /// init state (MODEL.md §7).
    Coefficients(ConfigArgs),
    /// Integrate the reduced ODE for overlaps and norm (L2 or no regularizer only).
    Ode(ConfigArgs),
    /// Fixed points of the reduced ODE, their stability, and the growth rates at the
    /// uninformative state.
    FixedPoints(ConfigArgs),
    /// The probability that a random start near the uninformative state selects each
    /// feature (basins of attraction; for a layer, which feature each neuron learns), from
    /// the reduced ODE or from particle runs, optionally for each value of one config key;
    /// with --plot, the fractions against that value, or the phase portrait of (m_1, m_2)
    /// for one neuron on two features.
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
    /// exists) and the density snapshots; for a layer, also the cosines between neurons and
    /// the joint density of a pair of neurons per ξ-pattern.
    Plot(PlotArgs),
    /// Describe a run file: config, solver, size, progress, snapshots and checkpoint.
    Inspect(InspectArgs),
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
        Command::Run(args) => commands::run::run(&args),
        Command::Resume(args) => commands::run::resume(&args),
        Command::Check(args) => commands::check::check(&args),
        Command::Coefficients(args) => commands::coefficients::coefficients(&args),
        Command::Ode(args) => commands::ode::ode(&args),
        Command::FixedPoints(args) => commands::fixed_points::fixed_points(&args),
        Command::Basins(args) => commands::basins::run(&args),
        Command::Sweep(args) => commands::sweep::sweep(&args),
        Command::Compare(args) => commands::compare::compare(&args),
        Command::Export(args) => commands::export::export(&args),
        Command::Plot(args) => commands::plot::plot(&args),
        Command::Inspect(args) => commands::inspect::inspect(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if failure.is_error {
                eprintln!("error: {:#}", failure.error);
            } else {
                eprintln!("{:#}", failure.error);
            }
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
