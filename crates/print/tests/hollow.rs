//! Hollowing a sphere phantom: wall volume against the analytic shell, drainage at the bottom.

use std::f64::consts::PI;

use medprint_mesh::{check_mesh, signed_volume_mm3, Mesh};
use medprint_print::hollow::{hollow, HollowOptions};
use medprint_print::primitives::{cuboid, ellipsoid};

const R: f64 = 30.0;
const WALL: f64 = 3.0;

fn analytic_wall() -> f64 {
    4.0 / 3.0 * PI * (R.powi(3) - (R - WALL).powi(3))
}

#[test]
fn sphere_hollowed_without_drain_matches_analytic_wall() {
    let sphere = ellipsoid([5.0, -4.0, 12.0], [R; 3], 5).expect("sphere");
    let options = HollowOptions {
        wall_mm: WALL,
        pitch_mm: 1.0,
        drain_diameter_mm: None,
        up: [0.0, 0.0, 1.0],
        min_cavity_mm3: 1000.0,
    };
    let (out, report) = hollow(&sphere, &options).expect("hollow");
    let check = check_mesh(&out);
    assert!(check.is_printable(), "{check:?}");
    assert_eq!(check.shells, 2);
    assert_eq!(report.cavities, 1);
    // The outer surface is the input's; the inner sphere is resampled at the pitch.
    let inner = signed_volume_mm3(&sphere) - signed_volume_mm3(&out);
    let inner_exact = 4.0 / 3.0 * PI * (R - WALL).powi(3);
    let wall_error = (report.wall_volume_mm3 - analytic_wall()).abs() / analytic_wall();
    println!(
        "wall {} mm³ vs analytic {} mm³ ({wall_error:.4}); cavity {inner} vs {inner_exact}",
        report.wall_volume_mm3,
        analytic_wall()
    );
    assert!(wall_error < 0.02, "wall volume error {wall_error}");
}

#[test]
fn sphere_hollowed_with_drain_at_the_bottom() {
    let sphere = ellipsoid([0.0; 3], [R; 3], 5).expect("sphere");
    let options = HollowOptions {
        wall_mm: WALL,
        pitch_mm: 1.0,
        drain_diameter_mm: Some(3.0),
        up: [0.0, 0.0, 1.0],
        min_cavity_mm3: 1000.0,
    };
    let (out, report) = hollow(&sphere, &options).expect("hollow");
    let check = check_mesh(&out);
    assert!(check.is_printable(), "{check:?}");
    assert_eq!(check.shells, 1, "the drain joins cavity and outside");
    assert_eq!(report.drains.len(), 1);
    let drain = report.drains[0];
    assert!(drain.inner[2] <= -(R - WALL) + options.pitch_mm + 1e-6, "{drain:?}");
    assert!((drain.outer[2] + R).abs() < 1.0, "{drain:?}");
    let expected = analytic_wall() - PI * 1.5 * 1.5 * WALL;
    let error = (report.wall_volume_mm3 - expected).abs() / expected;
    println!(
        "drained wall {} mm³ vs {expected} mm³ ({error:.4})",
        report.wall_volume_mm3
    );
    assert!(error < 0.03, "{error}");
}

#[test]
fn thin_part_stays_solid_and_bad_input_is_refused() {
    let slab = cuboid([0.0; 3], [40.0, 40.0, 4.0]).expect("slab");
    let options = HollowOptions {
        wall_mm: WALL,
        pitch_mm: 1.0,
        ..Default::default()
    };
    let (out, report) = hollow(&slab, &options).expect("hollow");
    assert_eq!(report.cavities, 0);
    assert_eq!(out, slab);
    assert!(hollow(&Mesh::default(), &options).is_err());
    let mut open = slab.clone();
    open.triangles.pop();
    assert!(hollow(&open, &options).is_err());
    assert!(hollow(
        &slab,
        &HollowOptions {
            wall_mm: -1.0,
            ..options
        }
    )
    .is_err());
    assert!(hollow(
        &slab,
        &HollowOptions {
            pitch_mm: 0.0,
            ..options
        }
    )
    .is_err());
    assert!(hollow(
        &slab,
        &HollowOptions {
            up: [f64::NAN, 0.0, 1.0],
            ..options
        }
    )
    .is_err());
    assert!(hollow(
        &slab,
        &HollowOptions {
            drain_diameter_mm: Some(0.0),
            ..options
        }
    )
    .is_err());
    // A grid far too fine is refused, not allocated.
    assert!(hollow(
        &slab,
        &HollowOptions {
            pitch_mm: 0.001,
            ..options
        }
    )
    .is_err());
}

#[test]
fn small_cavity_is_left_solid() {
    // Wall 2.5 mm in a 8 mm sphere: a 5.5 mm cavity of ≈ 697 mm³.
    let sphere = ellipsoid([0.0; 3], [8.0; 3], 4).expect("sphere");
    let options = HollowOptions {
        pitch_mm: 0.5,
        ..Default::default()
    };
    let (out, report) = hollow(&sphere, &options).expect("hollow");
    assert_eq!(report.cavities, 0);
    assert_eq!(out, sphere);
    let keep_small = HollowOptions {
        min_cavity_mm3: 100.0,
        ..options
    };
    let (out, report) = hollow(&sphere, &keep_small).expect("hollow");
    assert_eq!(report.cavities, 1);
    assert!(check_mesh(&out).is_printable());
}
