//! The particle step and the SGD step against reference kernels measured in the same run.
//!
//! - Particle reference: per particle one Gaussian draw (the same sampler and generator),
//!   the fused affine update `x ← a x + b ξ + s η`, and the two moment sums `Σ ξ x`, `Σ x²`.
//!   That is the least any particle step can do; the figure to watch is the ratio.
//! - SGD reference: per coordinate two Gaussian draws, the update
//!   `x ← x − (a ξ + b₁ ν₁ + b₂ ν₂ + c x)` and the four sums `Σ ξ x`, `Σ x²`, `Σ x ν_s`.
//!
//! Thread counts are fixed with a rayon pool per measurement, so "1 thread" means one.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use mfcl_model::Config;
use mfcl_solver::{ParticleSystem, Sgd, Stepper, stream};
use rand::RngExt;
use rand_distr::StandardNormal;

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

fn particle_step(c: &mut Criterion) {
    let config = Config::quickstart();
    let mut group = c.benchmark_group("particle_step");
    group.sample_size(20);
    for n in [1_000_000usize] {
        for threads in [1, 2] {
            let pool = pool(threads);
            let mut system =
                pool.install(|| ParticleSystem::new(&config.problem, &config.init, n, 0.01, 1));
            group.bench_function(BenchmarkId::new(format!("threads{threads}"), n), |b| {
                b.iter(|| pool.install(|| system.step().expect("the quickstart does not diverge")))
            });
        }
        let mut x = vec![0.5f64; n];
        let xi = alternating_labels(n);
        let mut rng = stream(1, 0);
        group.bench_function(BenchmarkId::new("reference_kernel", n), |b| {
            b.iter(|| {
                particle_kernel(
                    black_box(&mut x),
                    &xi,
                    &mut rng,
                    black_box([0.99, 0.003, 0.006]),
                )
            })
        });
    }
    group.finish();
}

/// `ξ = ±1` alternately: the labels of the reference kernels.
fn alternating_labels(n: usize) -> Vec<f32> {
    (0..n)
        .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 })
        .collect()
}

fn particle_kernel(
    x: &mut [f64],
    xi: &[f32],
    rng: &mut mfcl_solver::Stream,
    [a, b, s]: [f64; 3],
) -> [f64; 2] {
    let mut sums = [0.0; 2];
    for (x, xi) in x.iter_mut().zip(xi) {
        let eta: f64 = rng.sample(StandardNormal);
        let xi = f64::from(*xi);
        *x = a * *x + b * xi + s * eta;
        sums[0] += xi * *x;
        sums[1] += *x * *x;
    }
    sums
}

fn sgd_step(c: &mut Criterion) {
    let mut config = Config::quickstart();
    config.init.overlaps = vec![0.6];
    let mut group = c.benchmark_group("sgd_step");
    group.sample_size(20);
    let single = pool(1);
    for n in [10_000usize, 1_000_000] {
        let mut sgd = single.install(|| Sgd::new(&config.problem, &config.init, n, 1));
        group.bench_function(BenchmarkId::new("threads1", n), |b| {
            b.iter(|| single.install(|| sgd.step().expect("SGD does not diverge here")))
        });
        let mut x = vec![0.5f64; n];
        let mut nu = vec![0.0f64; 2 * n];
        let xi = alternating_labels(n);
        let mut rng = stream(1, 0);
        group.bench_function(BenchmarkId::new("reference_kernel", n), |b| {
            b.iter(|| {
                sgd_kernel(
                    black_box(&mut x),
                    &xi,
                    &mut nu,
                    &mut rng,
                    black_box([1e-4, 1e-3, 1e-3, 1e-5]),
                )
            })
        });
    }
    group.finish();
}

fn sgd_kernel(
    x: &mut [f64],
    xi: &[f32],
    nu: &mut [f64],
    rng: &mut mfcl_solver::Stream,
    [a, b1, b2, c]: [f64; 4],
) -> [f64; 4] {
    let mut sums = [0.0; 4];
    for ((x, xi), nu) in x.iter_mut().zip(xi).zip(nu.chunks_exact_mut(2)) {
        let xi = f64::from(*xi);
        *x -= a * xi + b1 * nu[0] + b2 * nu[1] + c * *x;
        nu[0] = rng.sample(StandardNormal);
        nu[1] = rng.sample(StandardNormal);
        sums[0] += xi * *x;
        sums[1] += *x * *x;
        sums[2] += *x * nu[0];
        sums[3] += *x * nu[1];
    }
    sums
}

criterion_group!(benches, particle_step, sgd_step);
criterion_main!(benches);
