//! One coefficient evaluation (`g_j`, `g_0`, `v`) against a reference kernel: the same
//! number of `tanh` evaluations, each followed by the six multiply-adds that the cheapest
//! possible quadrature would need. The ratio of the two is the figure to watch: it is
//! what the quadrature costs beyond its unavoidable transcendental work.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
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

fn ode_trajectory(c: &mut Criterion) {
    let config = Config::quickstart();
    let ode = mfcl_comparator::ReducedOde::new(&config.problem).expect("quickstart is L2");
    let mut group = c.benchmark_group("ode");
    group.sample_size(10);
    group.bench_function("quickstart_t10", |b| {
        b.iter(|| {
            ode.integrate(
                &config.init,
                10.0,
                0.1,
                mfcl_comparator::Tolerance::default(),
            )
            .expect("quickstart integrates")
        })
    });
    group.finish();
}

criterion_group!(benches, coefficient_evaluation, ode_trajectory);
criterion_main!(benches);
