//! Conditioning throughput on a large synthetic surface (icosphere, 1.3 M triangles).

#[path = "../tests/conditioning_support/mod.rs"]
mod conditioning_support;

use criterion::{criterion_group, criterion_main, Criterion};
use medprint_mesh::smooth::{smooth_taubin, TAUBIN_LAMBDA, TAUBIN_MU};
use medprint_mesh::{check_mesh, condition, decimate, surface_distances, validate, ConditionOptions, DecimateOptions};

fn conditioning(c: &mut Criterion) {
    let sphere = conditioning_support::icosphere(8, 80.0, [0.0; 3]);
    let mut group = c.benchmark_group("icosphere_1.3M_triangles");
    group.sample_size(10);
    group.bench_function("check_mesh", |b| b.iter(|| check_mesh(&sphere)));
    group.bench_function("validate", |b| b.iter(|| validate(&sphere)));
    group.bench_function("surface_distances_100k_samples", |b| {
        let reduced = decimate(&sphere, &DecimateOptions::NINETY_PERCENT);
        b.iter(|| surface_distances(&sphere, &reduced, 100_000))
    });
    group.bench_function("smooth_taubin_10", |b| {
        b.iter(|| {
            let mut m = sphere.clone();
            smooth_taubin(&mut m, 10, TAUBIN_LAMBDA, TAUBIN_MU);
            m
        })
    });
    group.bench_function("decimate_to_25_percent", |b| {
        b.iter(|| decimate(&sphere, &DecimateOptions::default()))
    });
    group.bench_function("condition_default", |b| {
        b.iter(|| condition(sphere.clone(), &ConditionOptions::default()))
    });
    group.finish();
}

criterion_group!(benches, conditioning);
criterion_main!(benches);
