//! Volume and area against exact values.

mod conditioning_support;

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::{signed_volume_mm3, surface_area_mm2};
use std::f64::consts::PI;

#[test]
fn box_volume_and_area_are_exact_far_from_the_origin() {
    let m = cuboid([-250.0, 100.0, 1200.0], [-248.0, 103.0, 1204.0]);
    assert_eq!(signed_volume_mm3(&m), 24.0);
    assert_eq!(surface_area_mm2(&m), 52.0);
}

#[test]
fn fine_sphere_volume_and_area_within_a_tenth_of_a_percent() {
    let r = 12.5;
    let m = icosphere(6, r, [-30.0, 80.0, -500.0]);
    let v = signed_volume_mm3(&m);
    let a = surface_area_mm2(&m);
    let (v_true, a_true) = (4.0 / 3.0 * PI * r.powi(3), 4.0 * PI * r * r);
    assert!((v / v_true - 1.0).abs() < 1e-3, "volume {v} vs {v_true}");
    assert!((a / a_true - 1.0).abs() < 1e-3, "area {a} vs {a_true}");
}
