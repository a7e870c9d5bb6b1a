//! Taubin smoothing of a voxel staircase sphere.

mod conditioning_support;

use conditioning_support::{cuberille, mean_radius, mean_sphere_distance};
use medprint_mesh::smooth::{restore_volume, smooth_taubin, TAUBIN_LAMBDA, TAUBIN_MU};
use medprint_mesh::{check_mesh, signed_volume_mm3};

const R: f64 = 15.0;

fn staircase_sphere() -> medprint_mesh::Mesh {
    cuberille(34, 1.0, |p| p.iter().map(|c| c * c).sum::<f64>() <= R * R)
}

#[test]
fn taubin_removes_the_staircase_without_shrinking() {
    let stairs = staircase_sphere();
    let mut smooth = stairs.clone();
    smooth_taubin(&mut smooth, 10, TAUBIN_LAMBDA, TAUBIN_MU);

    let (v0, v1) = (signed_volume_mm3(&stairs), signed_volume_mm3(&smooth));
    let (d0, d1) = (mean_sphere_distance(&stairs, R), mean_sphere_distance(&smooth, R));
    let radius = mean_radius(&smooth);
    println!("volume {v0:.1} -> {v1:.1}; distance {d0:.3} -> {d1:.3}; radius {radius:.3}");
    assert!((v1 / v0 - 1.0).abs() < 0.01, "volume {v0} -> {v1}");
    assert!(d1 < 0.6 * d0, "staircase not removed: {d0} -> {d1}");
    assert!(radius > R - 0.2, "shrunk: mean radius {radius}");
    assert_eq!(check_mesh(&smooth), check_mesh(&stairs), "topology changed");
}

#[test]
fn restore_volume_brings_back_the_exact_volume() {
    let stairs = staircase_sphere();
    let target = signed_volume_mm3(&stairs);
    let mut m = stairs.clone();
    smooth_taubin(&mut m, 30, 0.6, -0.3); // deliberately shrinking
    let shrunk = signed_volume_mm3(&m);
    assert!(shrunk < 0.97 * target, "the shrinking filter did not shrink: {shrunk}");
    restore_volume(&mut m, target);
    let restored = signed_volume_mm3(&m);
    assert!((restored / target - 1.0).abs() < 1e-3, "{restored} vs {target}");
}
