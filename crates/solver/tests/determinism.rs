//! Determinism contracts of the steppers (crate docs, "Determinism"):
//!
//! - a run depends on the config and the seed only: the same inputs give bit-identical
//!   trajectories and bit-identical final states whether rayon has one thread or two;
//! - different seeds give different runs;
//! - a checkpoint taken midway and resumed in a fresh stepper continues bit for bit like
//!   the uninterrupted run.
//!
//! `K = 1` and `K = 2` neurons (the latter also with a negative sample and with `elastic`,
//! whose soft thresholding acts entrywise), under 1, 2 and 3 threads.
//!
//! Sizes span several chunks with a ragged last one (`3·CHUNK + 5` particles,
//! `2·CHUNK + 3` SGD coordinates), so that per-chunk streams and the chunk-ordered
//! reductions are exercised across threads.

use mfcl_model::{Config, Trajectory};
use mfcl_solver::{
    CHUNK, ParticleState, ParticleSystem, Schedule, Sgd, SgdState, Silent, Stepper, drive,
};

const QUICKSTART: &str = include_str!("../../../data/configs/quickstart.toml");

fn config(overrides: &[&str]) -> Config {
    Config::parse_with(QUICKSTART, overrides).expect("valid test config")
}

/// p = 1, the quickstart (rademacher labels, L2).
fn quickstart() -> Config {
    config(&[])
}

/// p = 2, gaussian labels (stratified quantiles with seeded shuffles), a negative sample.
fn two_features_with_negative() -> Config {
    config(&[
        "model.features=2",
        "model.feature_law=\"gaussian\"",
        "model.negatives=1",
        "init.overlaps=[0.2, 0.1]",
    ])
}

/// p = 1, sparse labels, `l1` (soft thresholding in the particles, subgradient in SGD).
fn l1_sparse() -> Config {
    config(&[
        "model.feature_law=\"sparse:0.2\"",
        "train.regularizer=\"l1\"",
        "train.strength=0.05",
    ])
}

/// `K = 2` neurons with decorrelation `β = 1` on the two-feature problem (MODEL.md §7's
/// worked example, `data/configs/layer.toml`), from `Q(0) = [[0.3, 0.05], [0.05, 0.3]]`,
/// `R(0) = [[1, 0.1], [0.1, 0.8]]`.
fn layer(overrides: &[&str]) -> Config {
    let sets: Vec<&str> = ["init.norm2=[[1.0, 0.1], [0.1, 0.8]]"]
        .into_iter()
        .chain(overrides.iter().copied())
        .collect();
    Config::parse_with(include_str!("../../../data/configs/layer.toml"), &sets)
        .expect("valid test config")
}

/// `K = 2` with a negative sample.
fn layer_with_negative() -> Config {
    layer(&["model.negatives=1"])
}

/// `K = 2` with `elastic`: entrywise soft thresholding in the particles, subgradient in SGD.
fn layer_elastic() -> Config {
    let mut config = layer(&[]);
    config.problem.regularizer = mfcl_model::Regularizer::Elastic { l1: 0.05, l2: 0.3 };
    config
}

const PARTICLES: usize = 3 * CHUNK + 5;
const DIMENSION: usize = 2 * CHUNK + 3;
const DT: f64 = 0.01;

/// Runs `f` inside a dedicated rayon pool of `threads` threads.
fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

/// Asserts that two trajectories are equal bit for bit (not merely `==`, which would
/// identify 0.0 and -0.0).
fn assert_bit_identical(a: &Trajectory, b: &Trajectory, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: sample counts differ");
    let bits = |t: &Trajectory| -> Vec<u64> {
        t.t.iter()
            .chain(t.overlaps.iter().flatten())
            .chain(t.norm2.iter().flatten())
            .map(|x| x.to_bits())
            .collect()
    };
    assert!(
        bits(a) == bits(b),
        "{what}: trajectories differ\n{a:?}\n{b:?}"
    );
}

fn assert_positions_bit_identical(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x.to_bits() != y.to_bits());
    assert!(
        first.is_none(),
        "{what}: positions differ at index {first:?}"
    );
}

fn run_particles(config: &Config, seed: u64, schedule: &Schedule) -> (Trajectory, ParticleState) {
    let mut system = ParticleSystem::new(&config.problem, &config.init, PARTICLES, DT, seed);
    let trajectory = drive(&mut system, schedule, &mut Silent).expect("no divergence");
    (trajectory, system.state().clone())
}

fn run_sgd(config: &Config, seed: u64, schedule: &Schedule) -> (Trajectory, SgdState) {
    let mut sgd = Sgd::new(&config.problem, &config.init, DIMENSION, seed);
    let trajectory = drive(&mut sgd, schedule, &mut Silent).expect("no divergence");
    (trajectory, sgd.state().clone())
}

/// 40 particle steps (t = 0.4), recorded every 3 steps so that the last record is off-grid.
const PARTICLE_SCHEDULE: Schedule = Schedule {
    total_steps: 40,
    record_every: 3,
};

/// 300 SGD steps (t ≈ 0.009 at n = 2·CHUNK + 3), recorded every 25.
const SGD_SCHEDULE: Schedule = Schedule {
    total_steps: 300,
    record_every: 25,
};

/// One thread against each of `others`.
fn particles_thread_independent(config: &Config, name: &str, others: &[usize]) {
    let one = with_threads(1, || run_particles(config, 7, &PARTICLE_SCHEDULE));
    assert_eq!(
        one.0.len(),
        1 + 13 + 1,
        "t = 0, 13 grid records and the last step"
    );
    for &threads in others {
        let other = with_threads(threads, || run_particles(config, 7, &PARTICLE_SCHEDULE));
        let name = format!("{name}, 1 vs {threads} threads");
        assert_bit_identical(&one.0, &other.0, &name);
        assert_positions_bit_identical(&one.1.population.x, &other.1.population.x, &name);
        assert!(one.1 == other.1, "{name}: final particle states differ");
    }
}

/// One thread against each of `others`.
fn sgd_thread_independent(config: &Config, name: &str, others: &[usize]) {
    let one = with_threads(1, || run_sgd(config, 7, &SGD_SCHEDULE));
    assert_eq!(one.0.len(), 1 + 12);
    for &threads in others {
        let other = with_threads(threads, || run_sgd(config, 7, &SGD_SCHEDULE));
        let name = format!("{name}, 1 vs {threads} threads");
        assert_bit_identical(&one.0, &other.0, &name);
        assert_positions_bit_identical(&one.1.population.x, &other.1.population.x, &name);
        assert_positions_bit_identical(&one.1.noise, &other.1.noise, &name);
        assert!(one.1 == other.1, "{name}: final SGD states differ");
    }
}

#[test]
fn particles_do_not_depend_on_thread_count_p1() {
    particles_thread_independent(&quickstart(), "particles, quickstart", &[2]);
}

#[test]
fn particles_do_not_depend_on_thread_count_p2_negative() {
    particles_thread_independent(
        &two_features_with_negative(),
        "particles, p = 2, negative",
        &[2],
    );
}

#[test]
fn particles_do_not_depend_on_thread_count_l1() {
    particles_thread_independent(&l1_sparse(), "particles, l1", &[2]);
}

#[test]
fn sgd_does_not_depend_on_thread_count_p1() {
    sgd_thread_independent(&quickstart(), "sgd, quickstart", &[2]);
}

#[test]
fn sgd_does_not_depend_on_thread_count_p2_negative() {
    sgd_thread_independent(&two_features_with_negative(), "sgd, p = 2, negative", &[2]);
}

#[test]
fn sgd_does_not_depend_on_thread_count_l1() {
    sgd_thread_independent(&l1_sparse(), "sgd, l1", &[2]);
}

#[test]
fn particles_do_not_depend_on_thread_count_k2() {
    particles_thread_independent(&layer(&[]), "particles, K = 2", &[2, 3]);
    particles_thread_independent(&layer_with_negative(), "particles, K = 2, negative", &[3]);
    particles_thread_independent(&layer_elastic(), "particles, K = 2, elastic", &[2]);
}

#[test]
fn sgd_does_not_depend_on_thread_count_k2() {
    sgd_thread_independent(&layer(&[]), "sgd, K = 2", &[2, 3]);
    sgd_thread_independent(&layer_with_negative(), "sgd, K = 2, negative", &[3]);
    sgd_thread_independent(&layer_elastic(), "sgd, K = 2, elastic", &[2]);
}

/// Differences beyond t = 0 (where both start at the requested exact moments).
fn assert_runs_differ(a: &Trajectory, b: &Trajectory, what: &str) {
    assert_eq!(a.t, b.t);
    let m = (a.cosine(), b.cosine());
    let differing = (1..a.len())
        .filter(|&k| m.0[k] != m.1[k] && a.norm2[k] != b.norm2[k])
        .count();
    assert_eq!(
        differing,
        a.len() - 1,
        "{what}: seeds 7 and 8 coincide somewhere"
    );
    // Plausibly different, not different in the last bit: the sampling noise is at least
    // ~1/√size, far above rounding.
    let last = a.len() - 1;
    let gap = (a.norm2[last][0] - b.norm2[last][0]).abs();
    assert!(gap > 1e-9, "{what}: final R differs by only {gap:e}");
}

#[test]
fn different_seeds_give_different_runs() {
    let config = two_features_with_negative();
    let (a, sa) = run_particles(&config, 7, &PARTICLE_SCHEDULE);
    let (b, sb) = run_particles(&config, 8, &PARTICLE_SCHEDULE);
    assert_runs_differ(&a, &b, "particles");
    assert!(sa != sb);
    // The labels of gaussian particles are shuffled per seed (p = 2): they differ too.
    assert!(sa.population.labels != sb.population.labels);

    let config = quickstart();
    let (a, sa) = run_sgd(&config, 7, &SGD_SCHEDULE);
    let (b, sb) = run_sgd(&config, 8, &SGD_SCHEDULE);
    assert_runs_differ(&a, &b, "sgd");
    assert!(
        sa.population.labels != sb.population.labels,
        "SGD features are drawn per seed"
    );
}

/// The samples of `full` recorded strictly after time `t`.
fn after(full: &Trajectory, t: f64) -> Trajectory {
    let mut tail = Trajectory::default();
    for k in (0..full.len()).filter(|&k| full.t[k] > t) {
        tail.push(full.t[k], &full.state(k));
    }
    tail
}

/// Runs `split` steps, checkpoints, then continues both the original stepper and a fresh
/// one resumed from the checkpoint: both must match the uninterrupted run bit for bit.
fn particles_checkpoint(config: &Config, name: &str) {
    let schedule = PARTICLE_SCHEDULE;
    let split = 17; // not a multiple of record_every: the first leg ends off-grid
    let (uninterrupted, final_state) = run_particles(config, 11, &schedule);

    let mut original = ParticleSystem::new(&config.problem, &config.init, PARTICLES, DT, 11);
    let first_leg = Schedule {
        total_steps: split,
        ..schedule
    };
    let head = drive(&mut original, &first_leg, &mut Silent).unwrap();
    assert_eq!(head.t.last().copied(), Some(split as f64 * DT));
    let checkpoint = original.state().clone();
    assert!(
        checkpoint.previous.is_some(),
        "the extrapolation needs the last coefficients"
    );

    let mut resumed = ParticleSystem::resume(&config.problem, DT, checkpoint.clone());
    assert_eq!(resumed.steps_taken(), split);
    assert_eq!(resumed.order_parameters(), original.order_parameters());
    let tail_resumed = drive(&mut resumed, &schedule, &mut Silent).unwrap();
    let tail_original = drive(&mut original, &schedule, &mut Silent).unwrap();

    let expected = after(&uninterrupted, split as f64 * DT);
    assert!(expected.len() >= 2);
    assert_bit_identical(&tail_resumed, &expected, &format!("{name}: resumed"));
    assert_bit_identical(&tail_original, &expected, &format!("{name}: continued"));
    assert!(
        *resumed.state() == final_state,
        "{name}: resumed final state differs"
    );
    assert!(
        *original.state() == final_state,
        "{name}: continued final state differs"
    );
    // The head plus the tail is the whole run (apart from the extra sample at the split).
    let head_on_grid = after(&head, -1.0);
    for k in 0..head_on_grid.len() - 1 {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&head_on_grid.norm2[k]), bits(&uninterrupted.norm2[k]));
    }
}

fn sgd_checkpoint(config: &Config, name: &str) {
    let schedule = SGD_SCHEDULE;
    let split = 137;
    let (uninterrupted, final_state) = run_sgd(config, 11, &schedule);

    let mut original = Sgd::new(&config.problem, &config.init, DIMENSION, 11);
    let first_leg = Schedule {
        total_steps: split,
        ..schedule
    };
    drive(&mut original, &first_leg, &mut Silent).unwrap();
    let checkpoint = original.state().clone();

    let mut resumed = Sgd::resume(&config.problem, checkpoint.clone());
    assert_eq!(resumed.steps_taken(), split);
    let (a, b) = (resumed.order_parameters(), original.order_parameters());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.norm2), bits(&b.norm2), "{name}: resumed R");
    assert_eq!(a.overlaps, b.overlaps, "{name}: resumed Q");
    let tail_resumed = drive(&mut resumed, &schedule, &mut Silent).unwrap();
    let tail_original = drive(&mut original, &schedule, &mut Silent).unwrap();

    let expected = after(&uninterrupted, resumed.time_of(split));
    assert!(expected.len() >= 2);
    assert_bit_identical(&tail_resumed, &expected, &format!("{name}: resumed"));
    assert_bit_identical(&tail_original, &expected, &format!("{name}: continued"));
    assert!(
        *resumed.state() == final_state,
        "{name}: resumed final state differs"
    );
    assert!(
        *original.state() == final_state,
        "{name}: continued final state differs"
    );
}

#[test]
fn particles_resume_from_a_checkpoint_bit_for_bit() {
    particles_checkpoint(&quickstart(), "particles, quickstart");
    particles_checkpoint(&l1_sparse(), "particles, l1");
}

#[test]
fn particles_resume_from_a_checkpoint_bit_for_bit_p2_negative() {
    particles_checkpoint(&two_features_with_negative(), "particles, p = 2, negative");
}

#[test]
fn particles_resume_from_a_checkpoint_bit_for_bit_k2() {
    particles_checkpoint(&layer(&[]), "particles, K = 2");
    particles_checkpoint(&layer_elastic(), "particles, K = 2, elastic");
}

#[test]
fn sgd_resumes_from_a_checkpoint_bit_for_bit_k2() {
    sgd_checkpoint(&layer_with_negative(), "sgd, K = 2, negative");
}

#[test]
fn sgd_resumes_from_a_checkpoint_bit_for_bit() {
    sgd_checkpoint(&quickstart(), "sgd, quickstart");
    sgd_checkpoint(&two_features_with_negative(), "sgd, p = 2, negative");
}

/// The checkpoint is taken under one thread count and resumed under another.
#[test]
fn checkpoint_resumes_under_another_thread_count() {
    let config = l1_sparse();
    let (uninterrupted, final_state) =
        with_threads(2, || run_particles(&config, 3, &PARTICLE_SCHEDULE));
    let checkpoint = with_threads(1, || {
        let mut system = ParticleSystem::new(&config.problem, &config.init, PARTICLES, DT, 3);
        let first = Schedule {
            total_steps: 20,
            ..PARTICLE_SCHEDULE
        };
        drive(&mut system, &first, &mut Silent).unwrap();
        system.state().clone()
    });
    let (tail, state) = with_threads(2, || {
        let mut system = ParticleSystem::resume(&config.problem, DT, checkpoint);
        let tail = drive(&mut system, &PARTICLE_SCHEDULE, &mut Silent).unwrap();
        (tail, system.state().clone())
    });
    assert_bit_identical(
        &tail,
        &after(&uninterrupted, 20.0 * DT),
        "resumed across pools",
    );
    assert!(state == final_state);
}
