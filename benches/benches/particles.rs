//! The particle step and the SGD step against reference kernels measured in the same run.
//!
//! - Particle reference: per particle one Gaussian draw (rand_distr's ziggurat on one
//!   xoshiro256++, the generator of format-1 and format-2 runs), the fused affine update
//!   `x ← a x + b ξ + s η`, and the two moment sums `Σ ξ x`, `Σ x²`.
//! - Particle floor: the same loop with the Gaussian replaced by a counter-hashed uniform:
//!   memory traffic and sums only, the least any particle step can cost. The figures to
//!   watch are the ratios step / floor and step / reference.
//! - Layer (`K = 2`, `p = 2`) reference: per particle two Gaussian draws, the update
//!   `x ← A x + B ξ + S η` with `2 × 2` matrices, and the moment sums `Σ ξ xᵀ` (4) and
//!   `Σ x xᵀ` (3, upper triangle). The layer's step also evaluates the coefficients once
//!   (a fixed cost per step, independent of `N`), measured on its own as `coefficients`, so
//!   that the sweep's share can be read off: `step − coefficients` against the reference.
//!   Its floor replaces the two Gaussians by counter-hashed uniforms.
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
    for n in [2_000_000usize] {
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
        let constants = [0.99, 0.003, 0.006];
        group.bench_function(BenchmarkId::new("reference_kernel", n), |b| {
            b.iter(|| {
                particle_kernel(black_box(&mut x), &xi, black_box(constants), || {
                    rng.sample(StandardNormal)
                })
            })
        });
        let mut counter = 0u64;
        group.bench_function(BenchmarkId::new("floor_kernel", n), |b| {
            b.iter(|| {
                particle_kernel(black_box(&mut x), &xi, black_box(constants), || {
                    hashed_uniform(&mut counter)
                })
            })
        });
    }
    group.finish();
}

/// The particle step of a layer of `K = 2` neurons on two features (MODEL.md §7's worked
/// example), one thread, against its reference kernel.
fn particle_step_layer(c: &mut Criterion) {
    let config = Config::parse(include_str!("../../data/configs/layer.toml"))
        .expect("the layer config parses");
    let mut group = c.benchmark_group("particle_step_k2");
    group.sample_size(20);
    let n = 2_000_000usize;
    let single = pool(1);
    let mut system =
        single.install(|| ParticleSystem::new(&config.problem, &config.init, n, 0.01, 1));
    group.bench_function(BenchmarkId::new("threads1", n), |b| {
        b.iter(|| single.install(|| system.step().expect("this run does not diverge")))
    });
    // At the state the step benchmark left, where the step evaluated them, on the step's
    // quadrature.
    let state = system.order_parameters().clone();
    let quadrature = mfcl_solver::quadrature(&config.problem);
    group.bench_function("coefficients", |b| {
        b.iter(|| {
            config
                .problem
                .coefficients_with(black_box(&state), quadrature)
        })
    });
    let mut x = vec![0.5f64; 2 * n];
    let xi: Vec<f32> = alternating_labels(2 * n);
    let mut rng = stream(1, 0);
    let constants = [
        [[0.99, 0.001], [0.001, 0.98]],
        [[0.003, 0.0001], [0.0002, 0.002]],
        [[0.006, 0.0005], [0.0005, 0.005]],
    ];
    group.bench_function(BenchmarkId::new("reference_kernel", n), |b| {
        b.iter(|| {
            layer_kernel(black_box(&mut x), &xi, black_box(constants), || {
                rng.sample(StandardNormal)
            })
        })
    });
    let mut counter = 0u64;
    group.bench_function(BenchmarkId::new("floor_kernel", n), |b| {
        b.iter(|| {
            layer_kernel(black_box(&mut x), &xi, black_box(constants), || {
                hashed_uniform(&mut counter)
            })
        })
    });
    group.finish();
}

/// `x ← A x + B ξ + S η` per particle (`ξ` row `j` of `B` is feature `j`'s drive), then
/// `Σ ξ_j x_k` and `Σ x_k x_l` (`k ≤ l`), with `η` from `noise`.
#[inline(always)]
fn layer_kernel(
    x: &mut [f64],
    xi: &[f32],
    [a, b, s]: [[[f64; 2]; 2]; 3],
    mut noise: impl FnMut() -> f64,
) -> [f64; 7] {
    let mut sums = [0.0; 7];
    for (x, xi) in x.chunks_exact_mut(2).zip(xi.chunks_exact(2)) {
        let eta: [f64; 2] = [noise(), noise()];
        let xi = [f64::from(xi[0]), f64::from(xi[1])];
        let old = [x[0], x[1]];
        for k in 0..2 {
            x[k] = a[k][0] * old[0]
                + s[k][0] * eta[0]
                + a[k][1] * old[1]
                + s[k][1] * eta[1]
                + b[0][k] * xi[0]
                + b[1][k] * xi[1];
        }
        sums[0] += xi[0] * x[0];
        sums[1] += xi[0] * x[1];
        sums[2] += xi[1] * x[0];
        sums[3] += xi[1] * x[1];
        sums[4] += x[0] * x[0];
        sums[5] += x[0] * x[1];
        sums[6] += x[1] * x[1];
    }
    sums
}

/// A uniform on `[−½, ½)` from a hashed counter (a multiply and a shift): the floor
/// kernels' stand-in for a Gaussian, nearly free.
#[inline(always)]
fn hashed_uniform(counter: &mut u64) -> f64 {
    *counter = counter.wrapping_add(1);
    let h = counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    f64::from_bits(((h ^ (h >> 29)) >> 12) | 0x3ff0_0000_0000_0000) - 1.5
}

/// `ξ = ±1` alternately: the labels of the reference kernels.
fn alternating_labels(n: usize) -> Vec<f32> {
    (0..n)
        .map(|k| if k % 2 == 0 { 1.0 } else { -1.0 })
        .collect()
}

/// `x ← a x + b ξ + s η` per particle, then `Σ ξ x` and `Σ x²`, with `η` from `noise`.
#[inline(always)]
fn particle_kernel(
    x: &mut [f64],
    xi: &[f32],
    [a, b, s]: [f64; 3],
    mut noise: impl FnMut() -> f64,
) -> [f64; 2] {
    let mut sums = [0.0; 2];
    for (x, xi) in x.iter_mut().zip(xi) {
        let eta = noise();
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

criterion_group!(benches, particle_step, particle_step_layer, sgd_step);
criterion_main!(benches);
