//! `mfcl inspect RUN.h5`: a run file's config, solver, size, random generator, progress,
//! snapshots and checkpoint.

use std::path::{Path, PathBuf};

use clap::Args;
use mfcl_checkpoint::{checkpoint_path, load_checkpoint};
use mfcl_model::{RunSettings, SolverKind};
use serde_json::{Value, json};

use crate::failure::Failure;
use crate::output::{self, time};
use crate::run_file::{Run, read_run_file, size};

/// Arguments of `mfcl inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// The run file; its checkpoint is RUN.checkpoint.h5 beside it.
    run: PathBuf,
    /// Print one JSON document on stdout instead of a summary.
    #[arg(long)]
    json: bool,
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
            "source_revision": header.source_revision,
            // Files of formats 1 to 3 record none.
            "run_id": (!header.run_id.is_empty()).then_some(&header.run_id),
            "t_reached": self.t_reached(),
            "t_end": settings.t_end,
            "neurons": self.run.config.problem.neurons,
            "format_version": self.run.contents.format_version,
            "generator": header.generator.name(),
            "samples": self.run.contents.trajectory.len(),
            "snapshots": {"count": self.run.contents.snapshots.len(), "t": self.snapshot_times()},
            "checkpoint": checkpoint,
            "complete": self.run.is_complete(),
            "diverged": self.run.contents.diverged,
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
        let format = self.run.contents.format_version;
        line(
            "file format",
            if format < mfcl_checkpoint::FORMAT_VERSION {
                format!("version {format} (an earlier mfcl's; `mfcl resume` upgrades it)")
            } else {
                format!("version {format}")
            },
        );
        line("generator", header.generator.name().to_owned());
        line(
            "created",
            format!("{} by mfcl {}", header.created, header.program_version),
        );
        line("source", header.source_revision.clone());
        let samples = self.run.contents.trajectory.len();
        line(
            "time reached",
            match self.t_reached() {
                Some(t) => format!(
                    "{} of t_end = {} ({samples} samples)",
                    time(t),
                    time(settings.t_end)
                ),
                None => format!("nothing recorded yet (t_end = {})", time(settings.t_end)),
            },
        );
        if let Some(reason) = &self.run.contents.diverged {
            line("diverged", reason.clone());
        }
        if self.run.config.problem.neurons > 1 {
            line(
                "neurons",
                format!(
                    "K = {}, decorrelation beta = {}",
                    self.run.config.problem.neurons, self.run.config.problem.decorrelation
                ),
            );
        }
        let times = self.snapshot_times();
        line(
            "snapshots",
            if times.is_empty() {
                "none".into()
            } else {
                let times: Vec<String> = times.iter().map(|&t| time(t)).collect();
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
                    format!("{checkpoint}: step {step}, t = {}", time(*t))
                }
            },
        );
        if !self.run.contents.trajectory.is_empty() {
            println!("last sample");
            output::print_last_sample(&self.run.contents.trajectory);
        }
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
