//! Touching-bone separation on phantoms with analytic truth.

use medprint_segment::curing::{separate_touching_bones, SeparationParams};
use medprint_segment::SegmentError;
use medprint_volume::{Geometry, Volume};
use std::f64::consts::PI;

/// Mask of the voxel centres (mm) for which `inside` holds.
fn mask(dims: [usize; 3], spacing: [f64; 3], inside: impl Fn([f64; 3]) -> bool) -> Volume<u8> {
    let data = (0..dims.iter().product::<usize>())
        .map(|i| {
            let ijk = [i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1])];
            let p = [0, 1, 2].map(|a| (ijk[a] as f64 + 0.5) * spacing[a]);
            u8::from(inside(p))
        })
        .collect();
    Volume::from_vec(dims, data, Geometry::axis_aligned(spacing, [0.0; 3])).expect("grid")
}

/// Distance (mm) from `p` to the segment `a`–`b`.
fn to_segment(p: [f64; 3], a: [f64; 3], b: [f64; 3]) -> f64 {
    let ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    let ap = [p[0] - a[0], p[1] - a[1], p[2] - a[2]];
    let len2 = ab.iter().map(|v| v * v).sum::<f64>();
    let t = (ap.iter().zip(&ab).map(|(x, y)| x * y).sum::<f64>() / len2).clamp(0.0, 1.0);
    (0..3).map(|k| (ap[k] - t * ab[k]).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn capsule_is_one_bone() {
    // A 70 mm capsule of radius 8 mm, on an isotropic and on an anisotropic grid.
    for (dims, spacing) in [([40, 40, 100], [1.0, 1.0, 1.0]), ([50, 50, 50], [0.8, 0.8, 2.0])] {
        let (a, b) = ([20.0, 20.0, 15.0], [20.0, 20.0, 85.0]);
        let capsule = mask(dims, spacing, |p| to_segment(p, a, b) <= 8.0);
        let instances = separate_touching_bones(&capsule, &SeparationParams::default()).expect("separate");
        println!("capsule on {spacing:?} mm: {} instance(s)", instances.count);
        assert_eq!(instances.count, 1);
        let voxels = capsule.data().iter().filter(|&&m| m != 0).count();
        let total: f64 = instances.volume_mm3.iter().sum();
        assert!((total - voxels as f64 * capsule.geometry.voxel_volume_mm3()).abs() < 1e-6);
    }
}

#[test]
fn spheres_joined_by_a_neck_split_into_two() {
    // Spheres of radius 12 mm, centres 30 mm apart, joined by a neck of radius 3 mm.
    let (r, neck, spacing) = (12.0, 3.0, 0.75);
    let (c1, c2) = ([16.0, 16.0, 16.0], [46.0, 16.0, 16.0]);
    let dims = [83, 43, 43];
    let sphere = |p: [f64; 3], c: [f64; 3]| (0..3).map(|k| (p[k] - c[k]).powi(2)).sum::<f64>().sqrt() <= r;
    let dumbbell = mask(dims, [spacing; 3], |p| {
        sphere(p, c1) || sphere(p, c2) || (to_segment(p, c1, c2) <= neck && (c1[0]..=c2[0]).contains(&p[0]))
    });
    let instances = separate_touching_bones(&dumbbell, &SeparationParams::default()).expect("separate");
    // Truth: each half is a sphere plus the part of the neck outside it up to the mid-plane.
    let half_gap = (c2[0] - c1[0]) / 2.0;
    let neck_outside = PI * neck * neck * half_gap - 2.0 * PI / 3.0 * (r.powi(3) - (r * r - neck * neck).powf(1.5));
    let truth = 4.0 / 3.0 * PI * r.powi(3) + neck_outside;
    println!(
        "dumbbell: {} instances, volumes {:?} mm³, analytic {truth:.1} mm³ each",
        instances.count, instances.volume_mm3
    );
    assert_eq!(instances.count, 2);
    for &v in &instances.volume_mm3 {
        let error = (v - truth).abs() / truth;
        println!("  volume error {:.2} %", 100.0 * error);
        assert!(error < 0.03, "volume {v} vs {truth}");
    }
    // Each sphere centre is in a different instance.
    let at = |c: [f64; 3]| {
        let ijk = c.map(|x| (x / spacing) as usize);
        instances.labels.data()[ijk[0] + dims[0] * (ijk[1] + dims[1] * ijk[2])]
    };
    assert_ne!(at(c1), at(c2));
    assert!(at(c1) > 0 && at(c2) > 0);
}

#[test]
fn separate_blobs_stay_separate_and_hostile_input_fails_cleanly() {
    let spacing = [1.0; 3];
    let blobs = mask([30, 12, 12], spacing, |p| {
        let d = |c: f64| ((p[0] - c).powi(2) + (p[1] - 6.0).powi(2) + (p[2] - 6.0).powi(2)).sqrt();
        d(6.0) <= 4.0 || d(20.0) <= 4.0
    });
    let instances = separate_touching_bones(&blobs, &SeparationParams::default()).expect("separate");
    assert_eq!(instances.count, 2);

    let geometry = Geometry::axis_aligned(spacing, [0.0; 3]);
    let empty = Volume::from_vec([0, 3, 3], Vec::<u8>::new(), geometry).expect("empty grid");
    assert!(matches!(
        separate_touching_bones(&empty, &SeparationParams::default()),
        Err(SegmentError::EmptyVolume { .. })
    ));
    let nothing = Volume::filled([5, 5, 5], 0u8, geometry);
    assert_eq!(
        separate_touching_bones(&nothing, &SeparationParams::default())
            .expect("no bone")
            .count,
        0
    );
    let full = Volume::filled([6, 6, 6], 255u8, geometry);
    assert_eq!(
        separate_touching_bones(&full, &SeparationParams::default())
            .expect("all bone")
            .count,
        1
    );
    let bad = SeparationParams {
        min_depth_mm: f64::INFINITY,
        ..SeparationParams::default()
    };
    assert!(separate_touching_bones(&blobs, &bad).is_err());
}
