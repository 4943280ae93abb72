//! The generic checkpoint test: run to the middle, write a checkpoint file, restore it into
//! a fresh solver, run to the end, and compare with the uninterrupted run bit for bit — for
//! particles and SGD, one neuron and a layer of two, every generator, with one and two
//! threads.

use std::path::PathBuf;

use mfcl_checkpoint::{Header, Persist, SolverState, load_checkpoint, save_checkpoint};
use mfcl_model::{Config, OrderParameters, Problem, Trajectory};
use mfcl_solver::{
    Generator, Observer, ObserverError, ParticleSystem, Schedule, Sgd, Silent, Stepper, drive,
    drive_from,
};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-resume-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("run.h5")
}

fn in_pool<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(work)
}

/// Runs `fresh()` to the end uninterrupted; then again to `split` steps, through a checkpoint
/// file, into `restore(state)`, to the end. Returns both trajectories and final states.
fn split_run<S: Persist>(
    name: &str,
    header: &Header,
    schedule: &Schedule,
    split: u64,
    fresh: impl Fn() -> S,
    restore: impl Fn(SolverState) -> S,
) -> [(Trajectory, Vec<u8>); 2] {
    let mut whole = fresh();
    let straight = drive(&mut whole, schedule, &mut Silent).unwrap();

    // Stopped by an observer at `split`, as a crash would stop it: the schedule is the
    // whole run's, so the samples before the split are the ones the whole run records.
    let mut first = fresh();
    let before = drive(&mut first, schedule, &mut StopAt(split))
        .unwrap_err()
        .trajectory;
    assert_eq!(first.steps_taken(), split);
    let path = scratch(name);
    save_checkpoint(&path, header, first.state_ref(), &before, 0).unwrap();
    drop(first);
    let checkpoint = load_checkpoint(&path).unwrap();
    assert_eq!(checkpoint.trajectory, before);
    let population = match &checkpoint.state {
        SolverState::Particles(state) => &state.population,
        SolverState::Sgd(state) => &state.population,
    };
    assert_eq!(population.generator, header.generator);
    assert!(
        population
            .streams
            .iter()
            .all(|s| s.generator() == header.generator)
    );
    let mut second = restore(checkpoint.state);
    let resumed = drive_from(&mut second, schedule, checkpoint.trajectory, &mut Silent).unwrap();
    assert_eq!(second.steps_taken(), schedule.total_steps);
    [
        (straight, fingerprint(&whole)),
        (resumed, fingerprint(&second)),
    ]
}

/// Stops the run after a given step.
struct StopAt(u64);

impl<S: Stepper> Observer<S> for StopAt {
    fn after_step(&mut self, stepper: &S, _: &Trajectory) -> Result<(), ObserverError> {
        if stepper.steps_taken() == self.0 {
            return Err("stop".into());
        }
        Ok(())
    }
}

/// Every bit of the final state: positions, labels and stream states, via the checkpoint.
fn fingerprint<S: Persist>(stepper: &S) -> Vec<u8> {
    format!("{:?}", stepper.state_ref()).into_bytes()
}

/// [`split_run`] with every generator, on one and two threads: the resumed run equals
/// the uninterrupted one, trajectory and final state, bit for bit. `fresh` makes the
/// stepper for a generator; the header is `solver`'s with the config text `source`.
#[allow(clippy::too_many_arguments)]
fn split_everywhere<S: Persist>(
    name: &str,
    source: &str,
    solver: &str,
    neurons: usize,
    schedule: &Schedule,
    split: u64,
    fresh: impl Fn(Generator) -> S + Sync,
    restore: impl Fn(SolverState) -> S + Sync,
) {
    for generator in Generator::ALL {
        let header = Header::new(source, solver, 1, neurons, generator);
        for threads in [1, 2] {
            let [a, b] = in_pool(threads, || {
                split_run(
                    &format!("{name}{threads}-{generator:?}"),
                    &header,
                    schedule,
                    split,
                    || fresh(generator),
                    &restore,
                )
            });
            assert_eq!(a.0, b.0, "trajectory, {generator}, {threads} threads");
            assert_eq!(a.1, b.1, "final state, {generator}, {threads} threads");
        }
    }
}

/// Particles of `problem` from `init` split at step 23 of 0.6 / 0.01 (40 000 particles:
/// three chunks, so that two threads split them).
fn particles_split(name: &str, source: &str, problem: &Problem, init: &OrderParameters) {
    split_everywhere(
        name,
        source,
        "particles",
        problem.neurons,
        &Schedule::new(0.6, 0.01, 0.1),
        23,
        |generator| ParticleSystem::with_generator(problem, init, 40_000, 0.01, 3, generator),
        |state| match state {
            SolverState::Particles(state) => ParticleSystem::resume(problem, 0.01, state),
            SolverState::Sgd(_) => panic!("a particle checkpoint"),
        },
    );
}

/// SGD on `problem` from `init` at `n = 40 000`, split at step 777 of 2000.
fn sgd_split(name: &str, source: &str, problem: &Problem, init: &OrderParameters) {
    let n = 40_000;
    split_everywhere(
        name,
        source,
        "sgd",
        problem.neurons,
        &Schedule::new(0.05, 1.0 / n as f64, 0.01),
        777,
        |generator| Sgd::with_generator(problem, init, n, 5, generator),
        |state| match state {
            SolverState::Sgd(state) => Sgd::resume(problem, state),
            SolverState::Particles(_) => panic!("an SGD checkpoint"),
        },
    );
}

/// The two-feature problem learnt by a layer of two neurons (β = 1), each leaning towards
/// one feature at the start.
fn layer_of_two(config: &Config) -> (Problem, OrderParameters) {
    let problem = Problem {
        neurons: 2,
        decorrelation: 1.0,
        ..config.problem.clone()
    };
    let init = OrderParameters {
        neurons: 2,
        overlaps: vec![0.3, 0.05, 0.05, 0.2],
        norm2: vec![1.0, 0.1, 0.1, 1.0],
    };
    (problem, init)
}

#[test]
fn particles_resume_bit_for_bit() {
    let config = Config::parse_with(
        include_str!("../../../data/configs/two_features.toml"),
        &["model.negatives=1"],
    )
    .unwrap();
    particles_split("particles", &config.source, &config.problem, &config.init);
}

#[test]
fn a_layer_of_particles_resumes_bit_for_bit() {
    let config = Config::parse(include_str!("../../../data/configs/two_features.toml")).unwrap();
    let (problem, init) = layer_of_two(&config);
    particles_split("layer", &config.source, &problem, &init);
}

#[test]
fn sgd_resumes_bit_for_bit() {
    let config = Config::parse_with(
        include_str!("../../../data/configs/quickstart.toml"),
        &["init.overlaps=[0.5]", "run.solver=sgd", "model.negatives=1"],
    )
    .unwrap();
    sgd_split("sgd", &config.source, &config.problem, &config.init);
}

#[test]
fn a_layer_of_sgd_resumes_bit_for_bit() {
    let config = Config::parse_with(
        include_str!("../../../data/configs/two_features.toml"),
        &["run.solver=sgd", "model.negatives=1"],
    )
    .unwrap();
    let (problem, init) = layer_of_two(&config);
    sgd_split("sgd-layer", &config.source, &problem, &init);
}
