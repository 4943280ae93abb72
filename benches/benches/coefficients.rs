//! One coefficient evaluation against a reference kernel: the same number of `tanh`
//! evaluations, each followed by the six multiply-adds that the cheapest possible quadrature
//! would need. The ratio of the two is the figure to watch: it is what the quadrature costs
//! beyond its unavoidable transcendental work. This for the single neuron (`g_j`, `g_0`, `v`
//! at the quickstart), for a layer (`g`, `G_0`, `V` at MODEL.md §7's worked example,
//! `K = 2`, `p = 2`), and for layers of `K = 1 … 4` neurons to show how the cost grows.
//! Likewise one ODE trajectory against the right-hand sides it evaluates.

use std::hint::black_box;

use std::cell::Cell;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mfcl_comparator::{Dopri5, ReducedOde, Tolerance};
use mfcl_model::{Config, OrderParameters, Problem};

fn coefficient_evaluation(c: &mut Criterion) {
    let problem = Config::quickstart().problem;
    let state = OrderParameters::single(vec![0.3], 1.2);
    let points = problem.quadrature_evaluations(&state);
    let mut group = c.benchmark_group("coefficients");
    group.bench_function("quickstart", |b| {
        b.iter(|| problem.coefficients(black_box(&state)))
    });
    group.bench_function(format!("reference_tanh_x{points}"), |b| {
        b.iter(|| reference_kernel(black_box(points)))
    });
    group.finish();
}

/// MODEL.md §7's worked example (`data/configs/layer.toml`: two features, `β = 1`) as a
/// layer of `neurons` neurons.
fn layer_problem(neurons: usize) -> Problem {
    let mut problem = Config::parse(include_str!("../../data/configs/layer.toml"))
        .expect("the worked example's config is valid (tested)")
        .problem;
    problem.neurons = neurons;
    problem
}

/// The worked example (`K = 2`, `p = 2`, `Q = [[0.3, 0.1], [0.05, 0.2]]`,
/// `R = [[1.1, 0.2], [0.2, 0.9]]`): target 20 ms.
fn layer_evaluation(c: &mut Criterion) {
    let problem = layer_problem(2);
    let state = OrderParameters {
        neurons: 2,
        overlaps: vec![0.3, 0.1, 0.05, 0.2],
        norm2: vec![1.1, 0.2, 0.2, 0.9],
    };
    let points = problem.quadrature_evaluations(&state);
    let mut group = c.benchmark_group("layer");
    group.sample_size(20);
    group.bench_function("worked_example", |b| {
        b.iter(|| problem.coefficients(black_box(&state)))
    });
    group.bench_function(format!("reference_tanh_x{points}"), |b| {
        b.iter(|| reference_kernel(black_box(points)))
    });
    group.finish();
}

/// `K = 1 … 4` on the worked example's two features, at a moderate state (`Q_jk` from 0.1
/// to 0.45, `R = 0.9 I + 0.1`), each with its activation evaluations in its name: `K = 1`
/// is the single-neuron reduction, `K ≥ 2` the layer's expansion, as `Problem::coefficients`
/// chooses. The larger `K` take seconds per evaluation, so few samples.
fn layer_growth(c: &mut Criterion) {
    let mut group = c.benchmark_group("layer_growth");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(10));
    for k in 1..=4 {
        let problem = layer_problem(k);
        let state = OrderParameters {
            neurons: k,
            overlaps: (0..2 * k).map(|i| 0.1 + 0.05 * i as f64).collect(),
            norm2: (0..k * k)
                .map(|i| if i / k == i % k { 1.0 } else { 0.1 })
                .collect(),
        };
        let points = problem.quadrature_evaluations(&state);
        group.bench_function(format!("K{k}_x{points}"), |b| {
            b.iter(|| problem.coefficients(black_box(&state)))
        });
    }
    group.finish();
}

/// `points` tanh evaluations with six accumulations each.
fn reference_kernel(points: usize) -> f64 {
    let mut sums = [0.0f64; 6];
    let step = 16.0 / points as f64;
    for k in 0..points {
        let t = (-8.0 + k as f64 * step).tanh();
        let d = 1.0 - t * t;
        let w = step;
        sums[0] += w * t;
        sums[1] += w * d;
        sums[2] += w * t * d;
        sums[3] += w * t * t;
        sums[4] += w * d * d;
        sums[5] += w * d * t * t;
    }
    sums.iter().sum()
}

/// The quickstart's ODE over `t ∈ [0, 10]`, recorded every 0.1, against a reference: as
/// many evaluations of the right-hand side, at the fixed point, as the integration makes.
/// The ratio is what Dormand–Prince and the landing on the record grid add to the
/// right-hand sides themselves.
fn ode_trajectory(c: &mut Criterion) {
    let config = Config::quickstart();
    let ode = ReducedOde::new(&config.problem).expect("quickstart is L2");
    let evaluations = rhs_evaluations(&ode, &config);
    let mut group = c.benchmark_group("ode");
    group.sample_size(10);
    group.bench_function("quickstart_t10", |b| {
        b.iter(|| {
            ode.integrate(&config.init, 10.0, 0.1, Tolerance::default())
                .expect("quickstart integrates")
        })
    });
    let state = [0.8209634, 0.8273171];
    let mut derivative = [0.0; 2];
    group.bench_function(format!("reference_rhs_x{evaluations}"), |b| {
        b.iter(|| {
            for _ in 0..evaluations {
                ode.rhs(black_box(&state), &mut derivative);
            }
            derivative
        })
    });
    group.finish();
}

/// How many right-hand sides `ReducedOde::integrate` evaluates on the quickstart: the same
/// steps, landing on every multiple of 0.1, with a counting right-hand side.
fn rhs_evaluations(ode: &ReducedOde, config: &Config) -> usize {
    let count = Cell::new(0);
    let rhs = |s: &[f64], d: &mut [f64]| {
        count.set(count.get() + 1);
        ode.rhs(s, d)
    };
    let y = config.init.coordinates();
    let mut stepper = Dopri5::new(rhs, 0.0, y, 0.01, Tolerance::default());
    for k in 1..=100 {
        let target = k as f64 * 0.1;
        while stepper.t < target {
            stepper.step(target).expect("quickstart integrates");
        }
    }
    count.get()
}

criterion_group!(
    benches,
    coefficient_evaluation,
    layer_evaluation,
    layer_growth,
    ode_trajectory
);
criterion_main!(benches);
