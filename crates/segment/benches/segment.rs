//! Default bone segmentation of a synthetic 256³ CT.

use criterion::{criterion_group, criterion_main, Criterion};
use medprint_segment::phantom::ct_phantom;
use medprint_segment::{segment_bone, BoneParams};

fn bench_segment(c: &mut Criterion) {
    let phantom = ct_phantom([256, 256, 256], [0.75, 0.75, 0.75], 20.0, 1);
    let params = BoneParams::default();
    let mut group = c.benchmark_group("segment");
    group.sample_size(10);
    group.bench_function("segment_bone_256^3", |b| {
        b.iter(|| segment_bone(&phantom.scan, &params))
    });
    group.finish();
    if let Ok(seg) = segment_bone(&phantom.scan, &params) {
        for (stage, ms) in &seg.timings_ms {
            println!("stage {stage}: {ms:.1} ms");
        }
    }
}

criterion_group!(benches, bench_segment);
criterion_main!(benches);
