//! `mfcl run` and `mfcl resume`: the particle system or SGD from a config (or from a
//! checkpoint), writing the run file, with a progress bar, a summary and a comparison with
//! the reduced ODE where one exists.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use indicatif::HumanCount;
use mfcl_checkpoint::{
    Cadence, FileError, FileKind, Header, LockHolder, Persist, Recorder, Recovered, RunLock,
    SolverState, checkpoint_path, checkpoint_step, claim_run, identify, previous_checkpoint_path,
    read_header, recover_checkpoint, run_of_checkpoint, writer_of,
};
use mfcl_comparator::{ComparatorError, Deviation};
use mfcl_model::{Config, RunSettings, SolverKind, Trajectory};
use mfcl_solver::{
    Generator, Interrupted, Observer, ObserverError, ParticleSystem, Schedule, Sgd, Snapshot,
    SolverError, Stepper, drive_from,
};
use serde_json::{Value, json};

use crate::config::{ConfigOptions, load};
use crate::failure::Failure;
use crate::output::{
    self, deviation_json, print_deviation, print_last_sample, step_unit, time, trajectory_json,
};
use crate::progress::Progress;
use crate::run_file::{Run, read_run_file, reference_ode};
use crate::{signals, threads};

/// `mfcl run`: an optional config, overrides, and how to run it.
#[derive(Args)]
pub struct RunArgs {
    /// The TOML config; without one, the embedded quickstart
    /// (data/configs/quickstart.toml).
    config: Option<PathBuf>,
    #[command(flatten)]
    options: ConfigOptions,
    /// Number of worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "K", value_parser = threads::parse_threads)]
    threads: Option<NonZeroUsize>,
    /// The run file to write (default: the config's run.output, else runs/NAME.h5); the
    /// checkpoint RUN.checkpoint.h5 and the folder RUN.snapshots go beside it.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
    /// Replace the run already at the output path (its run file, checkpoint and
    /// snapshots); without it, an existing run is refused.
    #[arg(long)]
    force: bool,
}

/// Arguments of `mfcl resume`.
#[derive(Args)]
pub struct ResumeArgs {
    /// The run file; its checkpoint is RUN.checkpoint.h5 beside it.
    run: PathBuf,
    /// Extend the run to this model time (at least the time already reached).
    #[arg(long = "t-end", value_name = "T")]
    t_end: Option<f64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "K", value_parser = threads::parse_threads)]
    threads: Option<NonZeroUsize>,
    /// Print one JSON document on stdout instead of a summary.
    #[arg(long)]
    json: bool,
}

/// What a run produced, whether it reached `t_end` or not.
pub struct RunReport {
    /// The samples recorded, up to `t_end` or up to the failure.
    pub trajectory: Trajectory,
    /// Why the run stopped early, if it did.
    pub error: Option<SolverError>,
    /// The solver that ran.
    pub solver: SolverKind,
    /// Particles or coordinates updated per step.
    pub size: usize,
    /// Steps taken by this invocation (a resumed run counts from its checkpoint).
    pub steps: u64,
    /// Wall time of building the initial state and stepping, I/O included (not the ODE
    /// comparison).
    pub wall: Duration,
    /// The run file written.
    pub run_file: PathBuf,
    /// The checkpoint beside it, if there is one (a run stopped before its first has none).
    pub checkpoint: Option<PathBuf>,
    /// Wall time spent writing the run file, snapshots and checkpoints.
    pub io: Duration,
    /// The signal that stopped the run, in words, if one did.
    pub interrupted: Option<&'static str>,
    /// The largest deviations from the reduced ODE over the recorded samples, or why there
    /// is no ODE to compare with.
    pub ode: Result<Deviation, ComparatorError>,
}

impl RunReport {
    /// Particle-steps (or coordinate-steps) per second of wall time.
    pub fn throughput(&self) -> f64 {
        self.size as f64 * self.steps as f64 / self.wall.as_secs_f64()
    }
}

/// `mfcl run [CONFIG]`.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    signals::install();
    let mut config = load(args.config.as_deref(), &args.options)?;
    // The config reads up to 8 neurons (the ODE takes them); the solvers are built for fewer.
    if config.problem.neurons > mfcl_solver::MAX_NEURONS {
        return Err(Failure::input(anyhow!(
            "model.neurons = {}: the particle and SGD solvers support at most {} neurons (`mfcl ode` and `mfcl fixed-points` take up to 8)",
            config.problem.neurons,
            mfcl_solver::MAX_NEURONS
        )));
    }
    crate::limits::check_run(&config)?;
    let path = output_path(args.out.as_deref(), &config, args.config.as_deref());
    if let Some(config_path) = &args.config
        && same_file(config_path, &path)
    {
        return Err(Failure::input(anyhow!(
            "--out {}: that is the config file itself; a run file needs a path of its own",
            path.display()
        )));
    }
    // Refused before any work: what is at the output paths must be mfcl's own. Before the
    // lock, so that no lock file is left beside a file that is no run.
    claim_run(&path, false).map_err(|error| busy_or(&path, Failure::input(error)))?;
    let _lock = lock_run(&path, "mfcl run")?;
    if !args.force {
        refuse_existing_run(&path)?;
    }
    // The stored config says where the run went, whatever chose the path.
    config
        .set_output(&path.to_string_lossy())
        .map_err(Failure::input)?;
    let header = Header::new(
        &config.source,
        config.run.solver.name(),
        config.run.seed,
        config.problem.neurons,
        Generator::CURRENT,
    );
    let job = Job {
        config,
        path,
        header,
        recorded: Trajectory::default(),
        snapshots: Vec::new(),
        start: None,
    };
    execute(job, args.threads, args.options.json)
}

/// Whether `a` and `b` name one existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Takes the run's lock for `command`, first creating the run's folder (the lock file goes
/// there): one process writes a run at a time, and the lock is released when the process
/// ends, however it ends.
fn lock_run(run: &Path, command: &str) -> Result<RunLock, Failure> {
    if let Some(directory) = run.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(directory).map_err(|error| {
            // For a file where a folder should be, the system says only "File exists".
            let why = match directory.ancestors().find(|a| a.is_file()) {
                Some(file) => format!("{} is a file, not a folder", file.display()),
                None => error.to_string(),
            };
            Failure::input(anyhow!(
                "cannot create the output folder {}: {why}",
                directory.display()
            ))
        })?;
    }
    RunLock::acquire(run, command).map_err(|error| match error {
        FileError::Io { .. } => {
            Failure::input(anyhow!("cannot write the run {}: {error}", run.display()))
        }
        _ => Failure::input(error),
    })
}

/// The refusal of a second writer.
fn busy(run: &Path, writer: LockHolder) -> Failure {
    Failure::input(FileError::Busy {
        run: run.to_path_buf(),
        writer,
    })
}

/// The `refusal` of a check made before the lock, unless a writer holds the run: then that
/// is what to say (the check may have seen a file in the middle of its writes).
fn busy_or(run: &Path, refusal: Failure) -> Failure {
    match writer_of(run) {
        Some(writer) => busy(run, writer),
        None => refusal,
    }
}

/// `mfcl run` replaces a run only with `--force`: refuses a run file at `path`, or a
/// checkpoint without one, saying how to continue the run or to replace it.
fn refuse_existing_run(path: &Path) -> Result<(), Failure> {
    let checkpoint = checkpoint_path(path);
    if identify(path) == FileKind::Missing && identify(&checkpoint) == FileKind::Missing {
        return Ok(());
    }
    let name = path.display();
    let replace = "or pass --force to replace it";
    let refusal = match read_run_file(path) {
        Ok(run) if run.is_complete() && final_checkpoint_in_place(&run) => format!(
            "{name} holds a finished run (t_end = {}): extend it with `mfcl resume {name} --t-end T`, {replace}",
            time(run.config.run.t_end)
        ),
        Ok(run) => format!(
            "{name} holds an unfinished run (t = {} of {}): continue it with `mfcl resume {name}`, {replace}",
            time(run.t_reached().unwrap_or(0.0)),
            time(run.config.run.t_end)
        ),
        Err(_) if !path.exists() => format!(
            "{name} is missing but its checkpoint {} is there: continue the run with `mfcl resume {name}` (which rebuilds the run file), {replace}",
            checkpoint.display()
        ),
        Err(_) => {
            format!("{name} already holds a run: continue it with `mfcl resume {name}`, {replace}")
        }
    };
    Err(Failure::input(anyhow!(refusal)))
}

/// `mfcl resume RUN.h5 [--t-end T]`: continues from the checkpoint beside the run file,
/// rebuilding the run file from it first, so that the result equals an uninterrupted run.
/// A finished run is reported as such, and nothing is recomputed.
pub fn resume(args: &ResumeArgs) -> Result<(), Failure> {
    signals::install();
    let name = args.run.display();
    let checkpoint_file = checkpoint_path(&args.run);
    refuse_what_is_no_run(args).map_err(|refusal| busy_or(&args.run, refusal))?;
    let _lock = lock_run(&args.run, "mfcl resume")?;
    if let Some(finished) = finished(args)? {
        report_finished(&finished, args.json);
        return Ok(());
    }
    // Refused before any work: what is at the output paths must be mfcl's own.
    claim_run(&args.run, true).map_err(Failure::input)?;
    crate::limits::check_resume(&args.run, args.t_end)?;
    // Only the header: a snapshot that a full disk left incomplete does not matter, the run
    // file is rebuilt anyway.
    let run_file = read_header(&args.run);
    let checkpointed = checkpoint_file.exists() || previous_checkpoint_path(&args.run).exists();
    let (header, recorded, snapshots, start) = if checkpointed {
        let Recovered { checkpoint, notes } = recover_checkpoint(&args.run)
            .with_context(|| format!("cannot resume {name}: no usable checkpoint"))
            .map_err(Failure::input)?;
        // What was damaged or missing, and what stands in for it.
        for note in notes {
            eprintln!("warning: {note}");
        }
        let header = match run_file {
            Ok(header) if !same_run(&header.config, &checkpoint.header.config) => {
                return Err(Failure::input(anyhow!(
                    "{name} and {} belong to different runs: their configs differ",
                    checkpoint_file.display()
                )));
            }
            // The checkpoint's state carries its generator, which the run file must record.
            Ok(header) if header.generator != checkpoint.header.generator => {
                return Err(Failure::input(anyhow!(
                    "{name} and {} belong to different runs: they record the random \
                     generators {} and {}",
                    checkpoint_file.display(),
                    header.generator,
                    checkpoint.header.generator
                )));
            }
            // The run file's config is the one to go on with: an extension (`--t-end`)
            // records its new t_end there before its first checkpoint.
            Ok(header) => header,
            Err(error) => {
                let why = match identify(&args.run) {
                    FileKind::Missing => format!("{name}: no such file"),
                    _ => error.to_string(),
                };
                eprintln!("warning: {why}; rebuilding the run file from the checkpoint");
                checkpoint.header
            }
        };
        (
            header,
            checkpoint.trajectory,
            checkpoint.snapshots,
            Some(checkpoint.state),
        )
    } else {
        // Stopped before its first checkpoint: a run is determined by its config and its
        // generator, which the run file's header holds, so starting over gives exactly what
        // resuming would.
        let header = run_file
            .with_context(|| {
                format!("cannot resume {name}: no checkpoint, and the run file is unusable")
            })
            .map_err(Failure::input)?;
        eprintln!("note: {name} has no checkpoint yet; starting it again from t = 0");
        (header, Trajectory::default(), Vec::new(), None)
    };
    let sets: Vec<String> = args
        .t_end
        .iter()
        .map(|t| format!("run.t_end={t:?}"))
        .collect();
    let mut config = Config::parse_with(&header.config, &sets)
        .with_context(|| format!("invalid config in {}", checkpoint_file.display()))
        .map_err(Failure::input)?;
    let reached = recorded.t.last().copied().unwrap_or(0.0);
    if config.run.t_end < reached {
        return Err(Failure::input(anyhow!(
            "--t-end {}: before the checkpoint's time {}; a run can be extended, not shortened",
            time(config.run.t_end),
            time(reached)
        )));
    }
    // Moved files go on where they are now, and say so.
    config
        .set_output(&args.run.to_string_lossy())
        .map_err(Failure::input)?;
    let header = Header {
        config: config.source.clone(),
        ..header
    };
    let job = Job {
        config,
        path: args.run.clone(),
        header,
        recorded,
        snapshots,
        start,
    };
    execute(job, args.threads, args.json)
}

/// Refuses a path that holds no run file of mfcl's (exit 2, the file untouched): what
/// `resume` does first, before it takes the run's lock.
fn refuse_what_is_no_run(args: &ResumeArgs) -> Result<(), Failure> {
    let name = args.run.display();
    let checkpoint_file = checkpoint_path(&args.run);
    match identify(&args.run) {
        FileKind::RunFile | FileKind::DamagedHdf5 => {}
        FileKind::Missing if checkpoint_file.exists() => {}
        FileKind::Missing => {
            return Err(Failure::input(anyhow!(
                "cannot resume {name}: no such file"
            )));
        }
        FileKind::Checkpoint => {
            let run =
                run_of_checkpoint(&args.run).map_or("RUN.h5".into(), |r| r.display().to_string());
            return Err(Failure::input(anyhow!(
                "{name} is a checkpoint; resume its run file: mfcl resume {run}"
            )));
        }
        // A snapshot file is HDF5 without mfcl's `format` attribute; its folder names its run.
        _ if args
            .run
            .parent()
            .is_some_and(|folder| folder.extension() == Some("snapshots".as_ref())) =>
        {
            let run = args.run.parent().map(|folder| folder.with_extension("h5"));
            return Err(Failure::input(anyhow!(
                "{name} is a snapshot of a run; resume its run file: mfcl resume {}",
                run.unwrap_or_default().display()
            )));
        }
        kind => {
            return Err(Failure::input(anyhow!(
                "cannot resume {name}: it is {kind}, not an mfcl run file (left untouched)"
            )));
        }
    }
    Ok(())
}

/// The run when it is already finished (and `--t-end` does not extend it); refuses a
/// `--t-end` before the time reached.
fn finished(args: &ResumeArgs) -> Result<Option<Run>, Failure> {
    let name = args.run.display();
    let Ok(run) = read_run_file(&args.run) else {
        return Ok(None);
    };
    let reached = run.t_reached().unwrap_or(0.0);
    if let Some(t_end) = args.t_end.filter(|&t| t < reached) {
        return Err(Failure::input(anyhow!(
            "--t-end {}: {name} has already reached t = {}; a run can be extended, not shortened",
            time(t_end),
            time(reached)
        )));
    }
    let extends = args.t_end.is_some_and(|t| t > run.config.run.t_end);
    Ok((run.is_complete() && !extends && final_checkpoint_in_place(&run)).then_some(run))
}

/// Whether the checkpoint beside a complete run file is the run's last, or there is none. A
/// run killed after recording its last sample but before its last checkpoint was in place
/// has a whole trajectory and an earlier checkpoint: resuming it restores the last one.
fn final_checkpoint_in_place(run: &Run) -> bool {
    if !checkpoint_path(&run.path).exists() {
        return true;
    }
    let settings = &run.config.run;
    let total_steps =
        Schedule::new(settings.t_end, step_size(settings), settings.record_every).total_steps;
    checkpoint_step(&run.path).is_ok_and(|step| step == total_steps)
}

/// Model time per step: `dt` for particles, `1/n` for SGD (MODEL.md §1).
fn step_size(settings: &RunSettings) -> f64 {
    match settings.solver {
        SolverKind::Particles => settings.dt,
        SolverKind::Sgd => 1.0 / settings.dimension as f64,
    }
}

/// What `resume` says of a finished run: that it is complete, where it ended.
fn report_finished(run: &Run, json: bool) {
    let path = run.path.display().to_string();
    let t_end = run.config.run.t_end;
    if json {
        let mut doc = trajectory_json(&run.contents.trajectory);
        doc["run_file"] = json!(path);
        doc["complete"] = json!(true);
        output::print_json(&doc);
    } else {
        println!(
            "{path} is complete (t = {} of t_end = {}): nothing to resume; extend it with --t-end T",
            time(run.t_reached().unwrap_or(t_end)),
            time(t_end)
        );
    }
}

/// Whether two stored configs are of the same run: equal apart from `run.t_end`, which an
/// extension changes in the run file before the checkpoint catches up, and `run.output`,
/// which follows the files when they are moved.
fn same_run(a: &str, b: &str) -> bool {
    match (Config::parse(a), Config::parse(b)) {
        (Ok(a), Ok(mut b)) => {
            b.run.t_end = a.run.t_end;
            b.run.output.clone_from(&a.run.output);
            (a.problem, a.init, a.run) == (b.problem, b.init, b.run)
        }
        _ => a == b,
    }
}

/// Turns a stop signal (Ctrl-C, SIGTERM, SIGHUP) into a clean stop between two steps (see
/// [`drive_with_recorder`]).
struct StopSignal;

impl<S: Stepper> Observer<S> for StopSignal {
    fn after_step(&mut self, stepper: &S, _: &Trajectory) -> Result<(), ObserverError> {
        if let Some(signal) = signals::received() {
            return Err(format!(
                "interrupted by {signal}; a checkpoint at t = {} is written: continue with `mfcl resume`",
                time(stepper.time())
            )
            .into());
        }
        Ok(())
    }
}

/// What to run and where to write it.
struct Job {
    config: Config,
    path: PathBuf,
    header: Header,
    /// Samples and snapshots of a resumed run so far (empty for a fresh run).
    recorded: Trajectory,
    snapshots: Vec<Snapshot>,
    /// The checkpointed state to continue from, drawing with `header.generator`; `None`
    /// starts at `t = 0` with that generator.
    start: Option<SolverState>,
}

/// `--out`, else the config's `run.output`, else `runs/NAME.h5` after the config file.
fn output_path(out: Option<&Path>, config: &Config, config_path: Option<&Path>) -> PathBuf {
    out.map(Path::to_path_buf)
        .or_else(|| config.run.output.as_ref().map(PathBuf::from))
        .unwrap_or_else(|| {
            let stem = config_path
                .and_then(Path::file_stem)
                .map_or("run".into(), |s| s.to_string_lossy());
            PathBuf::from("runs").join(format!("{stem}.h5"))
        })
}

fn execute(job: Job, threads: Option<NonZeroUsize>, json: bool) -> Result<(), Failure> {
    // The bar is for a person watching: not for a redirected stderr, and not with --json,
    // whose reader is a program.
    let show_progress = !json && std::io::stderr().is_terminal();
    let config = job.config.clone();
    let work = || simulate(job, show_progress);
    let report = threads::install(threads, work)??;
    if json {
        output::print_json(&run_json(&report));
    } else if let Some(error) = &report.error {
        // A summary of a run cut short would mislead. A divergence is explained by what led
        // to it; a run stopped on purpose (Ctrl-C) or by a failed write only by where it was.
        match error {
            SolverError::Diverged { .. } => output::print_trajectory(&report.trajectory),
            _ => output::print_last_sample(&report.trajectory),
        }
    } else {
        print_run_summary(&config, &report);
    }
    match (report.error, report.interrupted) {
        // Stopped on purpose: no error, but not a finished run either (exit 1), and the way
        // on, naming the file. Scripts read this line (scripts/sweep.slurm): its form is
        // documented in docs/commands.md.
        (Some(SolverError::Stopped { t, .. }), Some(signal)) => Err(Failure::stopped(anyhow!(
            "stopped at t = {} by {signal}; continue with: mfcl resume {}",
            time(t),
            report.run_file.display()
        ))),
        (Some(error), _) => Err(Failure::failed(error)),
        (None, _) => Ok(()),
    }
}

/// Builds (or restores) the stepper that the config names and drives it.
fn simulate(mut job: Job, show_progress: bool) -> Result<RunReport, Failure> {
    let start = job.start.take();
    let (problem, init, run) = (&job.config.problem, &job.config.init, &job.config.run);
    let generator = job.header.generator;
    // The clock starts before construction: drawing labels and the initial state is part
    // of what a run costs.
    let started = Instant::now();
    let dt = step_size(run);
    match (run.solver, start) {
        (SolverKind::Particles, None) => {
            let mut stepper = ParticleSystem::with_generator(
                problem,
                init,
                run.particles,
                run.dt,
                run.seed,
                generator,
            );
            drive_with_recorder(&mut stepper, dt, job, show_progress, started)
        }
        (SolverKind::Particles, Some(SolverState::Particles(state))) => {
            check_size(state.population.len(), run.particles, "particles")?;
            let mut stepper = ParticleSystem::resume(problem, run.dt, state);
            drive_with_recorder(&mut stepper, dt, job, show_progress, started)
        }
        (SolverKind::Sgd, None) => {
            let mut stepper =
                Sgd::with_generator(problem, init, run.dimension, run.seed, generator);
            drive_with_recorder(&mut stepper, dt, job, show_progress, started)
        }
        (SolverKind::Sgd, Some(SolverState::Sgd(state))) => {
            check_size(state.population.len(), run.dimension, "coordinates")?;
            let mut stepper = Sgd::resume(problem, state);
            drive_with_recorder(&mut stepper, dt, job, show_progress, started)
        }
        (solver, Some(_)) => Err(Failure::input(anyhow!(
            "the checkpoint's state is not of the {} solver that its config names",
            solver.name()
        ))),
    }
}

fn check_size(found: usize, expected: usize, what: &str) -> Result<(), Failure> {
    if found == expected {
        return Ok(());
    }
    Err(Failure::input(anyhow!(
        "the checkpoint holds {found} {what} but its config asks for {expected}"
    )))
}

/// Drives `stepper` (time step `dt`) with the run file's recorder and the optional
/// progress bar, then compares what it recorded with the ODE.
fn drive_with_recorder<S: Persist>(
    stepper: &mut S,
    dt: f64,
    job: Job,
    show_progress: bool,
    started: Instant,
) -> Result<RunReport, Failure> {
    let config = &job.config;
    let run = &config.run;
    let schedule = Schedule::new(run.t_end, dt, run.record_every);
    let cadence = Cadence::new(
        run.snapshot_every,
        run.checkpoint_every,
        run.checkpoint_every_secs,
        dt,
        schedule.total_steps,
    );
    let features = config.problem.features();
    let recorder = Recorder::start(
        &job.path,
        job.header,
        features,
        config.problem.feature_law,
        cadence,
        &job.recorded,
        &job.snapshots,
    )
    // The error names the file.
    .context("cannot write the run file")
    .map_err(Failure::input)?;
    let progress = Progress::start(
        &schedule,
        run.t_end,
        stepper.size(),
        run.solver,
        show_progress,
    );
    let mut observer = (progress, (recorder, StopSignal));
    let steps_before = stepper.steps_taken();
    let (trajectory, error) = match drive_from(stepper, &schedule, job.recorded, &mut observer) {
        Ok(trajectory) => (trajectory, None),
        Err(Interrupted { error, trajectory }) => (trajectory, Some(error)),
    };
    let (progress, (mut recorder, StopSignal)) = observer;
    let interrupted = signals::received();
    progress.finish();
    let written = match (recorder.take_failure(), &error) {
        (Some(error), _) => Err(error),
        // Stopped between two steps: checkpoint exactly there, so that resume loses nothing.
        (None, _) if interrupted.is_some() => recorder.checkpoint(stepper, &trajectory),
        (None, Some(error @ SolverError::Diverged { .. })) => {
            recorder.record_divergence(&error.to_string())
        }
        (None, _) => Ok(()),
    };
    // The last checkpoint must be on disk before the run reports success.
    written
        .and_then(|()| recorder.finish())
        .map_err(|error| write_failed(error, &job.path, stepper.time()))?;
    // After the last write: the wall time contains every interval counted as I/O.
    let wall = started.elapsed();
    let checkpoint = recorder.checkpoint_path();
    Ok(RunReport {
        // A fresh stepper always records t = 0, and the ODE lands on every time it is given.
        ode: reference_ode(config, &trajectory).map(|ode| {
            mfcl_comparator::deviation(&trajectory, &ode)
                .expect("the ODE is sampled on the run's grid")
        }),
        trajectory,
        error,
        solver: run.solver,
        size: stepper.size(),
        steps: stepper.steps_taken() - steps_before,
        wall,
        run_file: job.path,
        checkpoint: checkpoint.exists().then_some(checkpoint),
        io: recorder.io_time(),
        interrupted,
    })
}

/// A write that failed during a run, a full disk most often. A checkpoint replaces the
/// previous one only once complete and the snapshot files it counts are written the same
/// way, so the last checkpoint is intact, and `mfcl resume` rebuilds the run file from it
/// (even when the failed write was to the run file) and carries on as if nothing happened.
fn write_failed(error: FileError, run: &Path, t: f64) -> Failure {
    Failure::input(anyhow!(
        "the run stopped at t = {}: cannot write {error}; what was written up to the last \
         checkpoint is kept: free space (or fix the cause) and run `mfcl resume {}` to continue",
        time(t),
        run.display()
    ))
}

/// The trajectory, plus `"wall_seconds"`, `"steps"` and `"steps_per_second"` (solver
/// steps), `"particle_steps_per_second"` or `"coordinate_steps_per_second"` (steps times
/// the particles or coordinates each updates), `"io_seconds"`, `"run_file"`, `"checkpoint"`
/// (`null` without a checkpoint file), `"ode_deviation"` where an ODE exists and `"error"`
/// if the run stopped early.
fn run_json(report: &RunReport) -> Value {
    let mut doc = trajectory_json(&report.trajectory);
    let wall = report.wall.as_secs_f64();
    doc["wall_seconds"] = json!(wall);
    doc["steps"] = json!(report.steps);
    doc["steps_per_second"] = json!(report.steps as f64 / wall);
    // "particle_steps_per_second" or "coordinate_steps_per_second": the key names its unit.
    let unit = step_unit(report.solver).replace('-', "_");
    doc[format!("{unit}_per_second")] = json!(report.throughput());
    doc["io_seconds"] = json!(report.io.as_secs_f64());
    doc["run_file"] = json!(report.run_file.display().to_string());
    doc["checkpoint"] = json!(report.checkpoint.as_ref().map(|c| c.display().to_string()));
    if let Ok(deviation) = &report.ode {
        doc["ode_deviation"] = deviation_json(deviation, report.trajectory.neurons);
    }
    if let Some(error) = &report.error {
        doc["error"] = json!(error.to_string());
    }
    doc
}

/// The solver and its size, the final state, the deviation from the ODE, the cost.
fn print_run_summary(config: &Config, report: &RunReport) {
    let run = &config.run;
    match run.solver {
        SolverKind::Particles => println!(
            "particles: N = {}, dt = {}, t_end = {}, seed = {}",
            run.particles,
            run.dt,
            time(run.t_end),
            run.seed
        ),
        SolverKind::Sgd => println!(
            "sgd: n = {}, t_end = {}, seed = {}",
            run.dimension,
            time(run.t_end),
            run.seed
        ),
    }
    let trajectory = &report.trajectory;
    println!();
    print_last_sample(trajectory);
    println!();
    match &report.ode {
        Ok(deviation) => print_deviation(deviation, trajectory),
        Err(ComparatorError::NoClosedOde(regularizer)) => println!(
            "no ODE to compare with: the moments do not close for regularizer \"{regularizer}\""
        ),
        Err(error) => println!("no ODE to compare with: {error}"),
    }
    println!();
    println!(
        "{} steps in {:.2} s: {} {}/s",
        report.steps,
        report.wall.as_secs_f64(),
        HumanCount(report.throughput() as u64),
        step_unit(run.solver)
    );
    println!(
        "run file {} ({}); writing took {:.2} s, {:.1}% of the wall time",
        report.run_file.display(),
        report
            .checkpoint
            .as_ref()
            .map_or("no checkpoint".into(), |c| format!(
                "checkpoint {}",
                c.display()
            )),
        report.io.as_secs_f64(),
        100.0 * report.io.as_secs_f64() / report.wall.as_secs_f64()
    );
}
