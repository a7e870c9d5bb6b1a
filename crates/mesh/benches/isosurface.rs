//! Isosurface extraction on a synthetic CT-like volume (no data needed).
//!
//! `cargo bench -p medprint-mesh --bench isosurface`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use medprint_mesh::isosurface::extract_isosurface;
use medprint_volume::{Geometry, Volume};

/// A 256³ i16 "CT" (HU): air, an elliptic soft-tissue body, a few hollow bones (cortical shell
/// around marrow) and deterministic noise, so the bone surface at 200 HU is large and ragged.
fn synthetic_ct(n: usize) -> Volume<i16> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 61) as i16 - 30
    };
    let c = n as f64 / 2.0;
    let bones = [(0.55, 0.5, 0.09), (0.35, 0.45, 0.06), (0.7, 0.6, 0.05)];
    let mut data = Vec::with_capacity(n * n * n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let (x, y) = ((i as f64 - c) / c, (j as f64 - c) / c);
                let mut hu = if (x / 0.9).powi(2) + (y / 0.7).powi(2) < 1.0 {
                    40.0
                } else {
                    -1000.0
                };
                for (bx, by, r) in bones {
                    let wobble = 1.0 + 0.1 * (k as f64 * 0.05).sin();
                    let d = (((i as f64) / n as f64 - bx).powi(2) + ((j as f64) / n as f64 - by).powi(2)).sqrt();
                    if d < r * wobble {
                        hu = if d > 0.7 * r * wobble { 1200.0 } else { 60.0 };
                    }
                }
                data.push(hu as i16 + noise());
            }
        }
    }
    Volume::from_vec([n; 3], data, Geometry::axis_aligned([0.75; 3], [0.0; 3])).expect("shape")
}

fn bench_isosurface(c: &mut Criterion) {
    let volume = synthetic_ct(256);
    let mut group = c.benchmark_group("isosurface");
    group.sample_size(10);
    group.throughput(Throughput::Elements(volume.len() as u64));
    for iso in [200.0, -500.0] {
        group.bench_function(format!("ct256_iso{iso}"), |b| {
            b.iter(|| extract_isosurface(&volume, iso))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_isosurface);
criterion_main!(benches);
