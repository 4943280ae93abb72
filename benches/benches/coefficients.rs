//! One coefficient evaluation (`g_j`, `g_0`, `v`) against a reference kernel: the same
//! number of `tanh` evaluations, each followed by the six multiply-adds that the cheapest
//! possible quadrature would need. The ratio of the two is the figure to watch: it is
//! what the quadrature costs beyond its unavoidable transcendental work. Likewise one ODE
//! trajectory against the right-hand sides it evaluates.

use std::hint::black_box;

use std::cell::Cell;

use criterion::{Criterion, criterion_group, criterion_main};
use mfcl_comparator::{Dopri5, ReducedOde, Tolerance};
use mfcl_model::Config;

fn coefficient_evaluation(c: &mut Criterion) {
    let problem = Config::quickstart().problem;
    let (overlaps, norm2) = ([0.3], 1.2);
    let points = problem.quadrature_evaluations(&overlaps, norm2);
    let mut group = c.benchmark_group("coefficients");
    group.bench_function("quickstart", |b| {
        b.iter(|| problem.coefficients(black_box(&overlaps), black_box(norm2)))
    });
    group.bench_function(format!("reference_tanh_x{points}"), |b| {
        b.iter(|| reference_kernel(black_box(points)))
    });
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
    let y = vec![config.init.overlaps[0], config.init.norm2];
    let mut stepper = Dopri5::new(rhs, 0.0, y, 0.01, Tolerance::default());
    for k in 1..=100 {
        let target = k as f64 * 0.1;
        while stepper.t < target {
            stepper.step(target).expect("quickstart integrates");
        }
    }
    count.get()
}

criterion_group!(benches, coefficient_evaluation, ode_trajectory);
criterion_main!(benches);
