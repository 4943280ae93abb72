//! `mfcl plot RUN.h5 --out PNG [--pair A,B] [--at T]...`: a one-page figure of a run (see
//! `figures::run`); the flags pick what a layer's figure shows of its joint measure.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use mfcl_comparator::ComparatorError;
use mfcl_model::SolverKind;

use crate::failure::Failure;
use crate::figures::run::Layer;
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
    /// For a layer: the two neurons whose joint density is drawn, numbered from 1
    /// [default: 1,2].
    #[arg(long, value_name = "A,B", value_parser = parse_pair)]
    pair: Option<(usize, usize)>,
    /// For a layer: draw the joint density at the snapshot nearest to time T (repeat the
    /// flag or give a comma list, at most 4 times) [default: the first and last snapshot].
    #[arg(
        long,
        value_name = "T",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    at: Vec<f64>,
}

/// At most this many `--at` times: each is a row of heat maps.
const MAX_AT: usize = 4;

/// Clap's parser of `--pair A,B`: two whole numbers of at least 1; whether they are
/// distinct neurons of the run is checked once the run is read ([`layer`]).
fn parse_pair(text: &str) -> Result<(usize, usize), String> {
    let numbers: Vec<Option<usize>> = text
        .split(',')
        .map(|n| n.trim().parse().ok().filter(|&n| n >= 1))
        .collect();
    match numbers[..] {
        [Some(a), Some(b)] => Ok((a, b)),
        _ => Err("expected two neuron numbers from 1, as A,B (e.g. 1,2)".to_owned()),
    }
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
    let layer = layer(args, &run).map_err(Failure::input)?;
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
    match layer {
        Some(layer) => {
            figures::run::draw_layer(&args.out, &title, trajectory, ode.as_ref(), &layer)
        }
        None => figures::run::draw(
            &args.out,
            &title,
            trajectory,
            ode.as_ref(),
            &run.contents.snapshots,
        ),
    }
    .with_context(|| format!("cannot draw {}", args.out.display()))
    .map_err(Failure::input)?;
    println!("wrote {}", args.out.display());
    Ok(())
}

/// What a layer's figure shows of the measure: `--pair` checked against the run's neurons
/// and `--at` against its snapshots; `None` for a single neuron, which takes neither flag.
fn layer<'a>(args: &PlotArgs, run: &'a Run) -> anyhow::Result<Option<Layer<'a>>> {
    let neurons = run.config.problem.neurons;
    if neurons == 1 {
        if let Some((a, b)) = args.pair {
            bail!("--pair {a},{b}: the run has a single neuron, and a single neuron has no pair");
        }
        if !args.at.is_empty() {
            bail!(
                "--at: it picks the snapshots of a layer's joint density; the run has a single neuron, whose figure draws up to six snapshots"
            );
        }
        return Ok(None);
    }
    let (a, b) = args.pair.unwrap_or((1, 2));
    if a > neurons || b > neurons {
        bail!("--pair {a},{b}: the run has {neurons} neurons, numbered 1 to {neurons}");
    }
    if a == b {
        bail!("--pair {a},{b}: the two neurons must differ");
    }
    let snapshots = &run.contents.snapshots;
    let times: Vec<f64> = snapshots.iter().map(|s| s.t).collect();
    let (joint, marginals) = if args.at.is_empty() {
        // The start and the end, and the evolution between in the per-neuron densities.
        let mut ends = match times.len() {
            0 => Vec::new(),
            n => vec![0, n - 1],
        };
        ends.dedup();
        let marginals = figures::run::chosen(snapshots);
        (ends, marginals)
    } else {
        let mut picked = args
            .at
            .iter()
            .map(|&t| {
                nearest_snapshot(&times, t).ok_or_else(|| {
                    anyhow!(
                        "--at {}: no snapshot near that time; {}",
                        output::time(t),
                        available(&times)
                    )
                })
            })
            .collect::<anyhow::Result<Vec<usize>>>()?;
        picked.sort_unstable();
        picked.dedup();
        if picked.len() > MAX_AT {
            bail!(
                "--at: at most {MAX_AT} snapshots (one row of heat maps each), {} asked",
                picked.len()
            );
        }
        // The per-neuron densities at the same times, so that they are the marginals of
        // the heat maps.
        let marginals = picked.iter().map(|&i| &snapshots[i]).collect();
        (picked, marginals)
    };
    Ok(Some(Layer {
        pair: (a - 1, b - 1),
        marginals,
        joint: joint.iter().map(|&i| &snapshots[i]).collect(),
    }))
}

/// The snapshot nearest to `t` among `times` (increasing), if `t` lies between the first
/// and the last or within half an interval beyond them; a single snapshot matches its own
/// time only (to rounding, as times are sums of steps).
fn nearest_snapshot(times: &[f64], t: f64) -> Option<usize> {
    let nearest =
        (0..times.len()).min_by(|&i, &j| (times[i] - t).abs().total_cmp(&(times[j] - t).abs()))?;
    let rounding = 1e-9 * t.abs().max(1.0);
    let interval = match times.len() {
        1 => 0.0,
        n if nearest == n - 1 => times[n - 1] - times[n - 2],
        _ if nearest == 0 => times[1] - times[0],
        // Between two snapshots: the nearer one.
        _ => f64::INFINITY,
    };
    ((times[nearest] - t).abs() <= 0.5 * interval + rounding).then_some(nearest)
}

/// "the run file has snapshots at t = 0, 1, …, 10": every time up to a dozen, else the
/// first and last few and how many there are.
fn available(times: &[f64]) -> String {
    let list = |times: &[f64]| -> Vec<String> { times.iter().map(|&t| output::time(t)).collect() };
    match times.len() {
        0 => "the run file holds no snapshot".to_owned(),
        n if n <= 12 => format!(
            "the run file has snapshots at t = {}",
            list(times).join(", ")
        ),
        n => format!(
            "the run file has {n} snapshots, at t = {}, …, {}",
            list(&times[..5]).join(", "),
            list(&times[n - 3..]).join(", ")
        ),
    }
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
                header: Header::new(text, "particles", 1, 1, mfcl_solver::Generator::CURRENT),
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
    fn a_time_picks_the_nearest_snapshot_within_the_recorded_span() {
        // Times as a run sums them, with rounding noise.
        let times = [0.0, 0.9999999999999999, 2.0000000000000004, 3.0];
        assert_eq!(nearest_snapshot(&times, 1.0), Some(1));
        assert_eq!(nearest_snapshot(&times, 1.4), Some(1));
        assert_eq!(nearest_snapshot(&times, 1.6), Some(2));
        // Half an interval beyond the ends, and no further.
        assert_eq!(nearest_snapshot(&times, 3.5), Some(3));
        assert_eq!(nearest_snapshot(&times, 3.6), None);
        assert_eq!(nearest_snapshot(&times, -0.5), Some(0));
        assert_eq!(nearest_snapshot(&times, -0.6), None);
        assert_eq!(nearest_snapshot(&times, f64::NAN), None);
        assert_eq!(nearest_snapshot(&[2.0], 2.0 + 1e-12), Some(0));
        assert_eq!(nearest_snapshot(&[2.0], 2.1), None);
        assert_eq!(nearest_snapshot(&[], 0.0), None);
    }

    #[test]
    fn the_available_times_are_listed_shortly() {
        assert_eq!(available(&[]), "the run file holds no snapshot");
        assert_eq!(
            available(&[0.0, 0.5, 1.0]),
            "the run file has snapshots at t = 0, 0.5, 1"
        );
        let many: Vec<f64> = (0..=40).map(|k| f64::from(k) * 0.25).collect();
        assert_eq!(
            available(&many),
            "the run file has 41 snapshots, at t = 0, 0.25, 0.5, 0.75, 1, …, 9.5, 9.75, 10"
        );
    }

    #[test]
    fn a_pair_is_two_whole_numbers_from_one() {
        assert_eq!(parse_pair("1,3"), Ok((1, 3)));
        assert_eq!(parse_pair(" 2 , 1 "), Ok((2, 1)));
        for bad in ["0,1", "1", "1,2,3", "a,b", "1.5,2", ""] {
            assert!(parse_pair(bad).is_err(), "{bad}");
        }
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
