//! What `mfcl run` and `mfcl resume` check before any work: the memory a run needs against
//! what the machine has, its number of steps, and the volume it will write (docs/config.md
//! "Limits").

use std::path::Path;

use anyhow::anyhow;
use indicatif::{HumanBytes, HumanCount};
use mfcl_checkpoint::read_header;
use mfcl_model::{Config, SolverKind};
use mfcl_solver::{HISTOGRAM_BINS, PATTERNS, SNAPSHOT_LIMIT};

use crate::failure::Failure;

/// The most steps a run may take. A step costs at least a few nanoseconds per particle or
/// coordinate, so even one particle would take days; more is a typo in `run.dt` or
/// `run.t_end`.
const MAX_STEPS: f64 = 1e12;

/// Above this volume of snapshot files, run file and checkpoints, a run warns before it
/// starts.
const OUTPUT_WARNING: u64 = 10 << 30;

/// What a run holds in memory and writes, estimated from its config alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Solver steps from `t = 0` to `run.t_end`.
    pub steps: f64,
    /// Bytes per particle (or SGD coordinate) in memory.
    pub per_coordinate: u64,
    /// Snapshots from `t = 0` to `run.t_end`.
    pub snapshots: u64,
    /// Bytes in memory of all of them.
    pub snapshot_memory: u64,
    /// Bytes in memory at the peak: the solver's state, the trajectory, and every snapshot
    /// (a resumed run holds those taken so far).
    pub memory: u64,
    /// Bytes written: each snapshot twice (its file and the run file's copy), the
    /// trajectory, and two checkpoints (the latest and the previous one).
    pub output: u64,
}

impl Estimate {
    /// The estimate for `config`. Counts are taken in floating point, so that absurd sizes
    /// (`run.particles = 1e18`) give an absurd estimate rather than an overflow.
    pub fn of(config: &Config) -> Estimate {
        let run = &config.run;
        let problem = &config.problem;
        let (p, k) = (problem.features() as f64, problem.neurons as f64);
        let (size, steps) = match run.solver {
            SolverKind::Particles => (run.particles as f64, (run.t_end / run.dt).round()),
            SolverKind::Sgd => {
                let n = run.dimension as f64;
                (n, (run.t_end * n).round())
            }
        };
        // Labels are one byte per coordinate when their rows take at most PATTERNS patterns,
        // else p single-precision numbers; while drawn, they are p single-precision numbers
        // (counted twice: a vector may hold up to twice its length while it grows).
        let patterns = problem
            .feature_law
            .discrete_atoms()
            .map_or(f64::INFINITY, |atoms| (atoms.len() as f64).powf(p));
        let labels = if patterns <= PATTERNS as f64 {
            1.0
        } else {
            4.0 * p
        };
        let drawn = 8.0 * p;
        // SGD keeps this step's noise vectors: two views, three with the negative sample.
        let noise = match run.solver {
            SolverKind::Particles => 0.0,
            SolverKind::Sgd => 8.0 * if problem.negative { 3.0 } else { 2.0 },
        };
        let state = 8.0 * k + labels;
        let per_coordinate = state + drawn + noise;

        // A snapshot keeps at most SNAPSHOT_LIMIT coordinates (x and ξ), and one histogram
        // per pattern and neuron (edges and counts, the pattern itself).
        let kept = size.min(SNAPSHOT_LIMIT as f64);
        let histograms = patterns.min(PATTERNS as f64) * k;
        let bins = HISTOGRAM_BINS as f64;
        let snapshot =
            kept * (8.0 * k + 4.0 * p) + histograms * (8.0 * (2.0 * bins + 1.0) + 4.0 * p);
        let snapshots = (run.t_end / run.snapshot_every).floor() + 1.0;
        let records = (run.t_end / run.record_every).floor() + 1.0;
        let trajectory = records * 8.0 * (1.0 + p * k + k * k);

        let snapshot_memory = snapshots * snapshot;
        let memory = size * per_coordinate + trajectory + snapshot_memory;
        let checkpoint = size * (state + noise) + trajectory;
        let output = 2.0 * snapshots * snapshot + trajectory + 2.0 * checkpoint;
        Estimate {
            steps,
            per_coordinate: per_coordinate as u64,
            snapshots: snapshots as u64,
            snapshot_memory: snapshot_memory as u64,
            memory: memory as u64,
            output: output as u64,
        }
    }
}

/// The memory this machine has available for a new process (`MemAvailable` in
/// /proc/meminfo); `None` where the system does not say.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// Refuses a run that could not finish (too many steps) or not fit in memory, before any
/// work, and warns when it will write more than [`OUTPUT_WARNING`].
pub fn check_run(config: &Config) -> Result<(), Failure> {
    let run = &config.run;
    let estimate = Estimate::of(config);
    let (what, size_key, count) = match run.solver {
        SolverKind::Particles => ("particles", "particles", run.particles),
        SolverKind::Sgd => ("coordinates", "dimension", run.dimension),
    };
    if estimate.steps > MAX_STEPS {
        let per_step = match run.solver {
            SolverKind::Particles => format!("run.dt = {:?}", run.dt),
            SolverKind::Sgd => format!("1 / run.dimension = 1 / {}", run.dimension),
        };
        return Err(Failure::input(anyhow!(
            "this run would take {:e} steps of {per_step} to reach run.t_end = {}; at most \
             {MAX_STEPS:e} are allowed (a run that long would never finish)",
            estimate.steps,
            run.t_end
        )));
    }
    if let Some(available) = available_memory()
        && estimate.memory > available
    {
        let remedy = if estimate.snapshot_memory > estimate.memory / 2 {
            "raise run.snapshot_every".to_owned()
        } else {
            format!("lower run.{size_key}")
        };
        return Err(Failure::input(anyhow!(
            "this run needs about {} of memory ({} {what} × {} bytes, plus its trajectory and \
             its {} snapshots, {} that a resume holds at once) but the machine has {} \
             available: {remedy}",
            HumanBytes(estimate.memory),
            HumanCount(count as u64),
            estimate.per_coordinate,
            HumanCount(estimate.snapshots),
            HumanBytes(estimate.snapshot_memory),
            HumanBytes(available),
        )));
    }
    if estimate.output > OUTPUT_WARNING {
        eprintln!(
            "warning: this run will write about {} (snapshots, run file and checkpoints); \
             raise run.snapshot_every or lower run.{size_key} to write less",
            HumanBytes(estimate.output),
        );
    }
    Ok(())
}

/// [`check_run`] for `mfcl resume RUN [--t-end T]`: the config that the run file holds,
/// extended to `t_end`. A run file whose header cannot be read is left for `resume` to
/// report (or to rebuild from its checkpoint).
pub fn check_resume(run_file: &Path, t_end: Option<f64>) -> Result<(), Failure> {
    let Ok(header) = read_header(run_file) else {
        return Ok(());
    };
    let sets: Vec<String> = t_end.iter().map(|t| format!("run.t_end={t:?}")).collect();
    match Config::parse_with(&header.config, &sets) {
        Ok(config) => check_run(&config),
        // `resume` reports an invalid config, or an invalid --t-end, in its own words.
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(sets: &[&str]) -> Config {
        let quickstart = Config::quickstart().source;
        Config::parse_with(&quickstart, sets).unwrap()
    }

    /// The quickstart's problem (one rademacher feature, one neuron): 8 bytes of `x`, a
    /// byte of label, 8 while the labels are drawn.
    #[test]
    fn a_particle_run_needs_its_state_trajectory_and_snapshots() {
        let estimate = Estimate::of(&config(&[
            "run.particles=1000000",
            "run.t_end=10",
            "run.record_every=0.1",
            "run.snapshot_every=1",
        ]));
        assert_eq!(estimate.steps, 1000.0);
        assert_eq!(estimate.per_coordinate, 17);
        let trajectory = 101 * 8 * 3;
        // 65536 coordinates (x and ξ) and two histograms (one per rademacher atom).
        let snapshot = 65536 * 12 + 2 * (8 * 201 + 4);
        assert_eq!(estimate.memory, 17_000_000 + trajectory + 11 * snapshot);
        let checkpoint = 9_000_000 + trajectory;
        assert_eq!(
            estimate.output,
            2 * 11 * snapshot + trajectory + 2 * checkpoint
        );
    }

    /// A layer's SGD coordinates: `x` for each neuron, the noise of two views; labels of
    /// two gaussian features stay two single-precision numbers.
    #[test]
    fn sgd_coordinates_hold_their_noise() {
        let estimate = Estimate::of(&config(&[
            "model.features=2",
            "model.neurons=2",
            "model.feature_law=gaussian",
            "init.overlaps=[[0.1, 0.0], [0.0, 0.1]]",
            "run.solver=sgd",
            "run.dimension=1000",
            "run.t_end=2",
        ]));
        assert_eq!(estimate.steps, 2000.0);
        assert_eq!(estimate.per_coordinate, 16 + 8 + 16 + 16);
    }

    /// The quickstart writes a few MiB; a snapshot every step of a long run, gigabytes.
    #[test]
    fn many_snapshots_pass_the_output_warning() {
        assert!(Estimate::of(&Config::quickstart()).output < 100 << 20);
        let estimate = Estimate::of(&config(&["run.t_end=100", "run.snapshot_every=0.01"]));
        // 10001 snapshots of 65536 coordinates (12 bytes each), twice.
        assert!(estimate.output > OUTPUT_WARNING, "{estimate:?}");
        assert!(estimate.output > 2 * 10001 * 65536 * 12, "{estimate:?}");
    }

    #[test]
    fn absurd_sizes_give_absurd_estimates_without_overflow() {
        let estimate = Estimate::of(&config(&["run.particles=1e18"]));
        assert!(estimate.memory > 1 << 60, "{estimate:?}");
        let refused = check_run(&config(&["run.particles=1e12"])).err().unwrap();
        let message = format!("{:#}", refused.error);
        assert_eq!(refused.code, 2);
        if available_memory().is_some() {
            assert!(message.contains("needs about 15.46 TiB"), "{message}");
            assert!(message.contains("available"), "{message}");
        }
    }

    #[test]
    fn steps_beyond_the_bound_are_refused() {
        let refused = check_run(&config(&[
            "run.dt=1e-9",
            "run.t_end=1e4",
            "run.record_every=0.01",
        ]))
        .err()
        .unwrap();
        let message = format!("{:#}", refused.error);
        assert!(message.contains("1e13 steps of run.dt = 1e-9"), "{message}");
    }
}
