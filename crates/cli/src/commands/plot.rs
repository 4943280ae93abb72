//! `mfcl plot RUN.h5 --out PNG`: a one-page figure of a run (see `figures::run`).

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use mfcl_comparator::ComparatorError;
use mfcl_model::SolverKind;

use crate::failure::Failure;
use crate::run_file::{Run, read_run_file, reference_ode};
use crate::{figures, output};

/// Arguments of `mfcl plot`.
#[derive(Args)]
pub struct PlotArgs {
    /// The run file.
    run: PathBuf,
    /// The PNG to write (a PNG already there is replaced; any other file is refused).
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
}

/// `mfcl plot RUN.h5 --out PNG`.
pub fn plot(args: &PlotArgs) -> Result<(), Failure> {
    // Before reading the run file, which may be large, and integrating the reduced ODE.
    figures::prepare_output("--out", &args.out).map_err(Failure::input)?;
    let run = read_run_file(&args.run)?;
    let trajectory = &run.contents.trajectory;
    if trajectory.is_empty() {
        return Err(Failure::input(anyhow!(
            "{}: nothing to plot, no sample has been recorded yet",
            args.run.display()
        )));
    }
    // Without an ODE (l1, elastic, or one that fails) the figure shows the run alone.
    let ode = match reference_ode(&run.config, trajectory) {
        Ok(ode) => Some(ode),
        Err(ComparatorError::NoClosedOde(_)) => None,
        Err(error) => {
            eprintln!("warning: the reduced ODE failed, the figure shows the run alone: {error}");
            None
        }
    };
    let title = title(&args.run, &run, ode.is_some());
    figures::run::draw(
        &args.out,
        &title,
        trajectory,
        ode.as_ref(),
        &run.contents.snapshots,
    )
    .with_context(|| format!("cannot draw {}", args.out.display()))
    .map_err(Failure::input)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// The run file's name, the solver and its size, the seed; then where the run stopped if it
/// stopped before its `t_end` (a figure of part of a run must not pass for the whole), and
/// that there is no ODE to show when there is none.
fn title(path: &Path, run: &Run, has_ode: bool) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let settings = &run.config.run;
    let solver = match settings.solver {
        SolverKind::Particles => format!(
            "particles, N = {}, dt = {}",
            settings.particles, settings.dt
        ),
        SolverKind::Sgd => format!("SGD, n = {}", settings.dimension),
    };
    let mut notes = Vec::new();
    if let (false, Some(t)) = (run.is_complete(), run.t_reached()) {
        notes.push(format!(
            "stopped at t = {} of {}",
            output::time(t),
            output::time(settings.t_end)
        ));
    }
    if !has_ode {
        notes.push(format!(
            "regularizer {}, no reduced ODE",
            run.config.problem.regularizer.name()
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" — {}", notes.join("; "))
    };
    format!("{name}: {solver}, seed {}{notes}", settings.seed)
}

#[cfg(test)]
mod tests {
    use mfcl_checkpoint::{Header, RunContents};
    use mfcl_model::{Config, Trajectory};

    use super::*;

    /// A run of the quickstart (t_end = 10) recorded every 0.1 up to `t_end`, with the times
    /// summed step by step as a run's are, so that they carry rounding noise.
    fn run_up_to(t_end: f64) -> Run {
        let text = include_str!("../../../../data/configs/quickstart.toml");
        let mut trajectory = Trajectory::default();
        let mut t = 0.0;
        while t < t_end + 1e-9 {
            trajectory.push(t, &[0.1], 1.0);
            t += 0.1;
        }
        Run {
            path: "runs/qs.h5".into(),
            contents: RunContents {
                header: Header::new(text, "particles", 1),
                trajectory,
                snapshots: Vec::new(),
                diverged: None,
            },
            config: Config::parse(text).unwrap(),
        }
    }

    #[test]
    fn a_run_that_stopped_early_says_where() {
        let path = Path::new("runs/qs.h5");
        let stopped = title(path, &run_up_to(3.8), true);
        assert!(
            stopped.ends_with("seed 1 — stopped at t = 3.8 of 10"),
            "{stopped}"
        );
        let whole = title(path, &run_up_to(10.0), true);
        assert!(whole.starts_with("qs.h5: particles, N = "), "{whole}");
        assert!(!whole.contains("stopped"), "{whole}");
        let both = title(path, &run_up_to(3.8), false);
        assert!(
            both.ends_with("stopped at t = 3.8 of 10; regularizer l2, no reduced ODE"),
            "{both}"
        );
    }

    #[test]
    fn times_read_without_rounding_noise() {
        assert_eq!(format!("{}", 38.0 * 0.1), "3.8000000000000003");
        assert_eq!(output::time(38.0 * 0.1), "3.8");
        assert_eq!(output::time(0.1 + 0.2), "0.3");
        assert_eq!(output::time(4.78), "4.78");
        assert_eq!(output::time(20.0), "20");
        assert_eq!(output::time(0.0), "0");
        assert_eq!(output::time(1e-7), "0.0000001");
        assert_eq!(output::time(123456.25), "123456.25");
    }
}
