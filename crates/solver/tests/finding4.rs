//! Finding 4 at level 1: online SGD in dimension `n` on `data/configs/finding4.toml`, from
//! the same random starts as `mfcl basins` (`Q = r0 · U`, `R = R_0 I`), splits the two
//! neurons across the features as the reduced ODE's basins say (MODEL.md §7): about half
//! the runs without decorrelation, nearly all with `β = 1`.
//!
//! Heavy (about a minute in release): `cargo test --release -p mfcl-solver --test finding4
//! -- --ignored --nocapture`.

use mfcl_comparator::{Selection, Tally, selection_at, sphere_starts, uninformative};
use mfcl_model::Config;
use mfcl_solver::{Schedule, Sgd, Silent, drive};
use rayon::prelude::*;

const FINDING4: &str = include_str!("../../../data/configs/finding4.toml");

/// Dimension, start radius, model time and number of runs per `β`.
const DIMENSION: usize = 2_000;
const RADIUS: f64 = 0.1;
const T_END: f64 = 20.0;
const RUNS: usize = 48;

/// The outcome of each SGD run at decorrelation `beta`, and of the reduced ODE from the same
/// starts (`mfcl basins`' rule: the assignment of the final state).
fn outcomes(beta: f64) -> Vec<Selection> {
    let config = Config::parse_with(FINDING4, &[format!("model.decorrelation={beta:?}")]).unwrap();
    let norm2 = uninformative(&config.problem).unwrap().norm2;
    let starts = sphere_starts(2, 2, RADIUS, norm2, RUNS, 5);
    starts
        .par_iter()
        .enumerate()
        .map(|(seed, start)| {
            let mut sgd = Sgd::new(&config.problem, start, DIMENSION, seed as u64 + 1);
            let steps = (T_END * DIMENSION as f64) as u64;
            let schedule = Schedule {
                total_steps: steps,
                record_every: steps,
            };
            let path = drive(&mut sgd, &schedule, &mut Silent).expect("no divergence");
            selection_at(&path.state(path.t.len() - 1))
        })
        .collect()
}

#[test]
#[ignore = "heavy: 96 SGD runs in n = 2000; see the module docs"]
fn sgd_splits_neurons_across_features_with_decorrelation() {
    let independent = Tally::new(outcomes(0.0));
    let decorrelated = Tally::new(outcomes(1.0));
    println!(
        "n = {DIMENSION}, {RUNS} runs: distinct {} at β = 0, {} at β = 1; classes at β = 0 {:?}",
        independent.distinct.count,
        decorrelated.distinct.count,
        independent
            .classes
            .iter()
            .map(|(c, f)| (c.describe(), f.count))
            .collect::<Vec<_>>()
    );
    let se = (0.25 / RUNS as f64).sqrt();
    assert!(
        (independent.distinct.value - 0.5).abs() < 3.0 * se,
        "{independent:?}"
    );
    assert!(decorrelated.distinct.value >= 0.9, "{decorrelated:?}");
}
