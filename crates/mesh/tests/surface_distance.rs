//! Hausdorff, HD95 and mean surface distance against analytic truths.

mod conditioning_support;

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::{surface_distances, DistanceError, Mesh};

#[test]
fn concentric_spheres_are_one_millimetre_apart() {
    let inner = icosphere(5, 20.0, [5.0, -3.0, 100.0]);
    let outer = icosphere(5, 21.0, [5.0, -3.0, 100.0]);
    let d = surface_distances(&inner, &outer, 50_000).expect("valid meshes");
    // Chordal error of a level-5 icosphere of radius 21 mm is below 0.01 mm.
    assert!((d.hausdorff_mm - 1.0).abs() < 0.02, "{d:?}");
    assert!((d.hd95_mm - 1.0).abs() < 0.02, "{d:?}");
    assert!((d.mean_mm - 1.0).abs() < 0.02, "{d:?}");
    assert!(d.mean_mm <= d.hd95_mm + 1e-9 && d.hd95_mm <= d.hausdorff_mm + 1e-9);
}

#[test]
fn identical_surfaces_are_zero_apart() {
    let m = icosphere(3, 10.0, [0.0; 3]);
    let d = surface_distances(&m, &m, 10_000).expect("valid");
    assert!(d.hausdorff_mm < 1e-6, "{d:?}");
}

#[test]
fn shifted_box_distances_match_geometry() {
    // Unit-free check on a box moved 2 mm along x: Hausdorff is exactly 2 mm (the end
    // faces), the side faces overlap except for a 2 mm strip.
    let a = cuboid([0.0; 3], [10.0, 10.0, 10.0]);
    let b = cuboid([2.0, 0.0, 0.0], [12.0, 10.0, 10.0]);
    let d = surface_distances(&a, &b, 60_000).expect("valid");
    assert!((d.hausdorff_mm - 2.0).abs() < 1e-4, "{d:?}");
    // Per direction: end faces (200 of 600 mm²) at 2 mm except where they lie within the
    // other box's side faces; side strips 2 mm wide at ≤ 2 mm. Mean lies well inside (0, 2).
    assert!(d.mean_mm > 0.3 && d.mean_mm < 1.2, "{d:?}");
    assert!((d.hd95_mm - 2.0).abs() < 0.05, "{d:?}");
}

#[test]
fn malformed_meshes_are_errors() {
    let good = icosphere(1, 1.0, [0.0; 3]);
    assert_eq!(
        surface_distances(&Mesh::default(), &good, 10),
        Err(DistanceError::EmptySurface("first"))
    );
    let nan = Mesh {
        vertices: vec![[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        triangles: vec![[0, 1, 2]],
    };
    assert_eq!(
        surface_distances(&good, &nan, 10),
        Err(DistanceError::NonFinite("second"))
    );
    let bad_index = Mesh {
        vertices: vec![[0.0; 3]],
        triangles: vec![[0, 1, 2]],
    };
    assert_eq!(
        surface_distances(&bad_index, &good, 10),
        Err(DistanceError::IndexOutOfRange("first"))
    );
    let flat = Mesh {
        vertices: vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]],
        triangles: vec![[0, 1, 2]],
    };
    assert_eq!(
        surface_distances(&good, &flat, 10),
        Err(DistanceError::EmptySurface("second"))
    );
    // Far-apart surfaces and a single sample still work.
    let far = icosphere(1, 1.0, [1000.0, 0.0, 0.0]);
    let d = surface_distances(&good, &far, 0).expect("valid");
    assert!(d.hausdorff_mm > 997.0 && d.hausdorff_mm < 1001.0, "{d:?}");
}
