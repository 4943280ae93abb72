//! `mfcl plot RUN.h5 --out PNG`: a one-page figure of a run (see `figures::run`).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use mfcl_comparator::ComparatorError;
use mfcl_model::{Config, SolverKind};

use crate::failure::Failure;
use crate::figures;
use crate::run_file::{Run, read_run_file, reference_ode};

/// Arguments of `mfcl plot`.
#[derive(Args)]
pub struct PlotArgs {
    /// The run file.
    run: PathBuf,
    /// The PNG to write.
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
}

/// `mfcl plot RUN.h5 --out PNG`.
pub fn plot(args: &PlotArgs) -> Result<(), Failure> {
    figures::ensure_png("--out", &args.out).map_err(Failure::input)?;
    let Run { contents, config } = read_run_file(&args.run)?;
    let trajectory = &contents.trajectory;
    if trajectory.is_empty() {
        return Err(Failure::input(anyhow!(
            "{}: nothing to plot, no sample has been recorded yet",
            args.run.display()
        )));
    }
    // Without an ODE (l1, elastic, or one that fails) the figure shows the run alone.
    let ode = match reference_ode(&config, trajectory) {
        Ok(ode) => Some(ode),
        Err(ComparatorError::NoClosedOde(_)) => None,
        Err(error) => {
            eprintln!("warning: the reduced ODE failed, the figure shows the run alone: {error}");
            None
        }
    };
    figures::prepare_output(&args.out).map_err(Failure::input)?;
    let title = title(&args.run, &config, ode.is_some());
    figures::run::draw(
        &args.out,
        &title,
        trajectory,
        ode.as_ref(),
        &contents.snapshots,
    )
    .with_context(|| format!("cannot draw {}", args.out.display()))
    .map_err(Failure::input)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The run file's name, the solver and its size, the seed, and that there is no ODE to
/// show when there is none.
fn title(path: &Path, config: &Config, has_ode: bool) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let run = &config.run;
    let solver = match run.solver {
        SolverKind::Particles => format!("particles, N = {}, dt = {}", run.particles, run.dt),
        SolverKind::Sgd => format!("SGD, n = {}", run.dimension),
    };
    let no_ode = if has_ode {
        String::new()
    } else {
        format!(
            " — regularizer {}, no reduced ODE",
            config.problem.regularizer.name()
        )
    };
    format!("{name}: {solver}, seed {}{no_ode}", run.seed)
}
