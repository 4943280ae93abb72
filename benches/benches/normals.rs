//! Normal deviates: the batched generator against the ziggurat it replaced (rand_distr's
//! `StandardNormal` on one xoshiro256++), per block of 4096 deviates.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mfcl_solver::normals::LaneStream;
use mfcl_solver::stream;
use rand::RngExt;
use rand_distr::StandardNormal;

const BLOCK: usize = 4096;

fn normals(c: &mut Criterion) {
    let mut group = c.benchmark_group("normals");
    group.throughput(Throughput::Elements(BLOCK as u64));
    let mut out = vec![0.0f64; BLOCK];
    let mut rng = stream(1, 0);
    group.bench_function("ziggurat", |b| {
        b.iter(|| {
            for z in out.iter_mut() {
                *z = rng.sample(StandardNormal);
            }
            black_box(&out);
        })
    });
    let mut lanes = LaneStream::from_stream(stream(1, 0));
    group.bench_function("batched", |b| {
        b.iter(|| {
            lanes.fill(&mut out);
            black_box(&out);
        })
    });
    group.bench_function("batched_baseline", |b| {
        b.iter(|| {
            lanes.fill_portable(&mut out);
            black_box(&out);
        })
    });
    group.finish();
}

criterion_group!(benches, normals);
criterion_main!(benches);
