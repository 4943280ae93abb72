//! `mfcl inspect RUN.h5`, and the reading of run files that every command taking one
//! shares: a file that cannot be used is bad input (exit 2) with one line saying why.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use mfcl_checkpoint::{RunContents, checkpoint_path, load_checkpoint, read_run};
use mfcl_model::{Config, RunSettings, SolverKind};
use serde_json::{Value, json};

use crate::{Failure, InspectArgs, output};

/// A run file, whole, and the config it was run with.
pub struct Run {
    /// What the file holds.
    pub contents: RunContents,
    /// The config stored in its header, parsed and validated.
    pub config: Config,
}

/// Reads the run file at `path` and parses its config. Missing, damaged and foreign files,
/// and configs that this version refuses, are bad input.
pub fn read_run_file(path: &Path) -> Result<Run, Failure> {
    // One line, as `main` prints it: HDF5 and TOML messages may contain line breaks.
    let unusable = |why: String| {
        Failure::input(anyhow!(
            "cannot read the run file {}",
            why.replace('\n', " ")
        ))
    };
    let name = path.display();
    if !path.exists() {
        return Err(unusable(format!("{name}: no such file")));
    }
    if path.is_dir() {
        return Err(unusable(format!("{name}: it is a folder")));
    }
    let contents = read_run(path).map_err(|error| {
        // The error's own text (not `{:#}`): it starts with the path and already ends with
        // what HDF5 said, its source. HDF5 locks a file while a process writes it: say what
        // that means (the hdf5 crate exposes no error code for it, only this text).
        let message = error.to_string();
        let hint = if message.contains("unable to lock file") {
            " (a run still writing it holds the lock: wait until it ends)"
        } else {
            ""
        };
        unusable(format!("{message}{hint}"))
    })?;
    let config = Config::parse(&contents.header.config)
        .map_err(|error| unusable(format!("{name}: the config it holds is invalid: {error}")))?;
    let features = config.problem.features();
    if let Some(found) = contents.trajectory.overlaps.first().map(Vec::len)
        && found != features
    {
        return Err(unusable(format!(
            "{name}: the trajectory has {found} overlaps per sample but the config has {features} features"
        )));
    }
    Ok(Run { contents, config })
}

/// `N` for particles, `n` for SGD: the size that sets a run's statistical error.
pub fn size(run: &RunSettings) -> usize {
    match run.solver {
        SolverKind::Particles => run.particles,
        SolverKind::Sgd => run.dimension,
    }
}

/// The checkpoint beside a run file, as far as it can be read.
enum CheckpointStatus {
    Missing,
    Unusable(String),
    Present { step: u64, t: f64 },
}

impl CheckpointStatus {
    /// The checkpoint of the run file `run`, at `checkpoint`.
    fn of(run: &Path, checkpoint: &Path, settings: &RunSettings) -> CheckpointStatus {
        if !checkpoint.exists() {
            return CheckpointStatus::Missing;
        }
        match load_checkpoint(run) {
            Err(error) => CheckpointStatus::Unusable(error.to_string()),
            Ok(checkpoint) => {
                let step = checkpoint.step();
                // The steppers' clocks: a particle step is dt, an SGD step 1/n (MODEL.md §1).
                let t = match settings.solver {
                    SolverKind::Particles => step as f64 * settings.dt,
                    SolverKind::Sgd => step as f64 / settings.dimension as f64,
                };
                CheckpointStatus::Present { step, t }
            }
        }
    }
}

/// What `inspect` reports, gathered once for both the summary and the JSON.
struct Description<'a> {
    path: &'a Path,
    run: &'a Run,
    checkpoint: PathBuf,
    status: CheckpointStatus,
}

impl Description<'_> {
    fn t_reached(&self) -> Option<f64> {
        self.run.contents.trajectory.t.last().copied()
    }

    fn snapshot_times(&self) -> Vec<f64> {
        self.run.contents.snapshots.iter().map(|s| s.t).collect()
    }

    fn json(&self) -> Value {
        let header = &self.run.contents.header;
        let settings = &self.run.config.run;
        let mut checkpoint = match &self.status {
            CheckpointStatus::Missing => json!({"present": false}),
            CheckpointStatus::Unusable(error) => json!({"present": true, "error": error}),
            CheckpointStatus::Present { step, t } => {
                json!({"present": true, "step": step, "t": t})
            }
        };
        checkpoint["path"] = json!(self.checkpoint.display().to_string());
        let mut doc = json!({
            "run_file": self.path.display().to_string(),
            "config": header.config,
            "solver": header.solver,
            "size": size(settings),
            "seed": header.seed,
            "created": header.created,
            "program_version": header.program_version,
            "t_reached": self.t_reached(),
            "t_end": settings.t_end,
            "samples": self.run.contents.trajectory.len(),
            "snapshots": {"count": self.run.contents.snapshots.len(), "t": self.snapshot_times()},
            "checkpoint": checkpoint,
        });
        if settings.solver == SolverKind::Particles {
            doc["dt"] = json!(settings.dt);
        }
        doc
    }

    fn print(&self) {
        let header = &self.run.contents.header;
        let settings = &self.run.config.run;
        let line = |name: &str, value: String| println!("{name:<13} {value}");
        line("run file", self.path.display().to_string());
        line(
            "solver",
            match settings.solver {
                SolverKind::Particles => {
                    format!(
                        "particles: N = {}, dt = {}",
                        settings.particles, settings.dt
                    )
                }
                SolverKind::Sgd => format!("sgd: n = {}", settings.dimension),
            },
        );
        line("seed", header.seed.to_string());
        line(
            "created",
            format!("{} by mfcl {}", header.created, header.program_version),
        );
        let samples = self.run.contents.trajectory.len();
        line(
            "time reached",
            match self.t_reached() {
                Some(t) => format!("{t} of t_end = {} ({samples} samples)", settings.t_end),
                None => format!("nothing recorded yet (t_end = {})", settings.t_end),
            },
        );
        let times = self.snapshot_times();
        line(
            "snapshots",
            if times.is_empty() {
                "none".into()
            } else {
                let times: Vec<String> = times.iter().map(f64::to_string).collect();
                format!("{}, at t = {}", times.len(), times.join(", "))
            },
        );
        let checkpoint = self.checkpoint.display();
        line(
            "checkpoint",
            match &self.status {
                CheckpointStatus::Missing => format!("none ({checkpoint} does not exist)"),
                CheckpointStatus::Unusable(error) => format!("unusable: {error}"),
                CheckpointStatus::Present { step, t } => {
                    format!("{checkpoint}: step {step}, t = {t}")
                }
            },
        );
        println!("config");
        for config_line in header.config.lines() {
            println!("    {config_line}");
        }
    }
}

/// `mfcl inspect RUN.h5 [--json]`.
pub fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let run = read_run_file(&args.run)?;
    let checkpoint = checkpoint_path(&args.run);
    let description = Description {
        path: &args.run,
        status: CheckpointStatus::of(&args.run, &checkpoint, &run.config.run),
        checkpoint,
        run: &run,
    };
    if args.json {
        output::print_json(&description.json());
    } else {
        description.print();
    }
    Ok(())
}
