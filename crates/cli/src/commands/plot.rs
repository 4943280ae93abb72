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
    // Without an ODE (l1, elastic, or one that fails) the figure shows the run alone, and
    // its title says why.
    let (ode, no_ode) = match reference_ode(&run.config, trajectory) {
        Ok(ode) => (Some(ode), None),
        Err(ComparatorError::NoClosedOde(regularizer)) => (
            None,
            Some(format!("regularizer {regularizer}, no reduced ODE")),
        ),
        Err(error) => {
            eprintln!("warning: the reduced ODE failed, the figure shows the run alone: {error}");
            (None, Some("the reduced ODE fails".to_owned()))
        }
    };
    let title = title(&args.run, &run, no_ode);
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
fn title(path: &Path, run: &Run, no_ode: Option<String>) -> String {
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
        let how = if run.contents.diverged.is_some() {
            "diverged after"
        } else {
            "stopped at"
        };
        notes.push(format!(
            "{how} t = {} of {}",
            output::time(t),
            output::time(settings.t_end)
        ));
    }
    notes.extend(no_ode);
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
    use mfcl_model::{Config, OrderParameters, Trajectory};

    use super::*;

    /// A run of the quickstart (t_end = 10) recorded every 0.1 up to `t_end`, with the times
    /// summed step by step as a run's are, so that they carry rounding noise.
    fn run_up_to(t_end: f64) -> Run {
        let text = include_str!("../../../../data/configs/quickstart.toml");
        let mut trajectory = Trajectory::default();
        let mut t = 0.0;
        while t < t_end + 1e-9 {
            trajectory.push(t, &OrderParameters::single(vec![0.1], 1.0));
            t += 0.1;
        }
        Run {
            path: "runs/qs.h5".into(),
            contents: RunContents {
                header: Header::new(text, "particles", 1, 1),
                format_version: mfcl_checkpoint::FORMAT_VERSION,
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
        let stopped = title(path, &run_up_to(3.8), None);
        assert!(
            stopped.ends_with("seed 1 — stopped at t = 3.8 of 10"),
            "{stopped}"
        );
        let whole = title(path, &run_up_to(10.0), None);
        assert!(whole.starts_with("qs.h5: particles, N = "), "{whole}");
        assert!(!whole.contains("stopped"), "{whole}");
        let no_ode = Some("regularizer l1, no reduced ODE".to_owned());
        let both = title(path, &run_up_to(3.8), no_ode);
        assert!(
            both.ends_with("stopped at t = 3.8 of 10; regularizer l1, no reduced ODE"),
            "{both}"
        );
        let mut diverged = run_up_to(3.8);
        diverged.contents.diverged = Some("the run diverged at t = 3.81".into());
        let diverged = title(path, &diverged, Some("the reduced ODE fails".into()));
        assert!(
            diverged.ends_with("diverged after t = 3.8 of 10; the reduced ODE fails"),
            "{diverged}"
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
