//! Labels stored as one-byte pattern codes give the very trajectories of labels stored as
//! values: the sweeps read the same `f32` labels either way.

use mfcl_model::Config;
use mfcl_solver::{CHUNK, Labels, ParticleSystem, Population, Sgd, Stepper};

const QUICKSTART: &str = include_str!("../../../data/configs/quickstart.toml");
const LAYER: &str = include_str!("../../../data/configs/layer.toml");

/// Coordinates: more than two chunks, and a last block whose particles do not fill a group.
const N: usize = 2 * CHUNK + 1001;

/// p = 1, rademacher labels, K = 1.
fn quickstart() -> Config {
    Config::parse(QUICKSTART).expect("the quickstart parses")
}

/// p = 3, sparse labels (27 patterns), `l1`, K = 1.
fn sparse_three_features() -> Config {
    Config::parse_with(
        QUICKSTART,
        &[
            "model.features=3",
            "model.feature_law=\"sparse:0.3\"",
            "init.overlaps=[0.2, 0.1, -0.05]",
            "train.regularizer=\"l1\"",
            "train.strength=0.05",
        ],
    )
    .expect("valid test config")
}

/// p = 2, rademacher labels, K = 2 (MODEL.md §7's worked example).
fn layer() -> Config {
    Config::parse(LAYER).expect("the layer config parses")
}

/// The same population with its labels stored as values; `population` must hold codes.
fn as_values(population: &Population) -> Population {
    assert!(
        matches!(population.labels, Labels::Patterns { .. }),
        "a discrete law's labels are stored as codes"
    );
    let mut values = population.clone();
    values.labels = Labels::Values(population.labels.values(population.features));
    values
}

/// Steps both and asserts bit-identical `(Q, R)` after every step.
fn assert_same_steps(codes: &mut impl Stepper, values: &mut impl Stepper, steps: usize) {
    for step in 0..steps {
        assert_eq!(
            codes.order_parameters(),
            values.order_parameters(),
            "step {step}"
        );
        codes.step().expect("steps");
        values.step().expect("steps");
    }
    assert_eq!(codes.order_parameters(), values.order_parameters());
}

fn particles_agree(config: &Config) {
    let (problem, dt) = (&config.problem, 0.05);
    let mut codes = ParticleSystem::new(problem, &config.init, N, dt, 3);
    let mut state = codes.state().clone();
    state.population = as_values(&state.population);
    let mut values = ParticleSystem::resume(problem, dt, state);
    assert_same_steps(&mut codes, &mut values, 20);
    let (codes, values) = (codes.state(), values.state());
    assert_eq!(codes.population.x, values.population.x);
    assert_eq!(codes.population.streams, values.population.streams);
}

#[test]
fn particles_read_the_same_labels_from_codes_and_values() {
    particles_agree(&quickstart());
    particles_agree(&sparse_three_features());
    particles_agree(&layer());
}

fn sgd_agrees(config: &Config) {
    let problem = &config.problem;
    let start = Sgd::new(problem, &config.init, N, 5).state().clone();
    let mut codes = Sgd::resume(problem, start.clone());
    let mut state = start;
    state.population = as_values(&state.population);
    let mut values = Sgd::resume(problem, state);
    assert_same_steps(&mut codes, &mut values, 200);
    let (codes, values) = (codes.state(), values.state());
    assert_eq!(codes.population.x, values.population.x);
    assert_eq!(codes.noise, values.noise);
}

#[test]
fn sgd_reads_the_same_labels_from_codes_and_values() {
    sgd_agrees(&quickstart());
    sgd_agrees(&sparse_three_features());
    sgd_agrees(&layer());
}
