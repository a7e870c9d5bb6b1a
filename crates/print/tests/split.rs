//! Splitting for a 120 mm build volume: a large ellipsoid phantom and the real torso bone model.

use std::path::Path;

use medprint_mesh::shells::merge;
use medprint_mesh::{check_mesh, signed_volume_mm3, Mesh};
use medprint_print::primitives::{cuboid, ellipsoid};
use medprint_print::spatial::SurfaceIndex;
use medprint_print::split::{split_to_fit, SplitOptions, SplitResult};
use medprint_print::PrintError;

/// Checks every split invariant and returns (max vertex distance mm, relative volume error,
/// parts that also pass the full print check, i.e. have no degenerate triangle).
fn assert_split_reassembles(original: &Mesh, result: &SplitResult, options: &SplitOptions) -> (f64, f64, usize) {
    let mut printable = 0;
    for (n, part) in result.parts.iter().chain(&result.pins).enumerate() {
        let check = check_mesh(part);
        assert!(
            check.closed && check.manifold && check.oriented && check.outward,
            "part {n}: {check:?}"
        );
        printable += usize::from(check.is_printable());
        let (lo, hi) = part.bounds().expect("non-empty part");
        for a in 0..3 {
            let extent = f64::from(hi[a]) - f64::from(lo[a]);
            assert!(extent <= options.build_volume_mm[a], "part {n} axis {a}: {extent} mm");
        }
    }
    let assembled = merge(&result.parts);
    let index = SurfaceIndex::new(&assembled);
    let worst = original
        .vertices
        .iter()
        .map(|v| {
            index
                .closest_point(v.map(f64::from), 1.0)
                .map_or(f64::INFINITY, |(_, d)| d)
        })
        .fold(0.0f64, f64::max);
    let parts_volume: f64 = result.parts.iter().map(signed_volume_mm3).sum();
    let sockets = result.report.sockets_volume_mm3;
    let original_volume = signed_volume_mm3(original);
    let relative = (parts_volume + sockets - original_volume).abs() / original_volume;
    assert!(worst <= 0.1, "an original vertex is {worst} mm from every part");
    assert!(relative <= 0.005, "volume error {relative}");
    (worst, relative, printable)
}

#[test]
fn large_ellipsoid_splits_into_fitting_closed_parts() {
    let original = ellipsoid([10.0, -20.0, 30.0], [125.0, 90.0, 150.0], 5).expect("ellipsoid");
    let options = SplitOptions::default();
    let result = split_to_fit(&original, &options).expect("split");
    // 250 → 3 slabs, 180 → 2, 300 → 3: 18 cells, minus the empty corner cells of the ellipsoid.
    assert_eq!(result.report.cuts.len(), 2 + 1 + 2);
    assert!(result.parts.len() >= 12, "{:?}", result.report);
    assert!(result.report.connectors >= 12, "{:?}", result.report);
    let (worst, relative, printable) = assert_split_reassembles(&original, &result, &options);
    println!(
        "ellipsoid: {:?}, worst vertex {worst} mm, volume error {relative}, fully printable {printable}",
        result.report
    );
}

#[test]
fn long_box_is_cut_once_with_one_connector() {
    let original = cuboid([0.0; 3], [130.0, 50.0, 40.0]).expect("box");
    let options = SplitOptions::default();
    let result = split_to_fit(&original, &options).expect("split");
    assert_eq!(result.parts.len(), 2);
    assert_eq!(result.report.connectors, 1);
    assert!((result.report.cut_section_area_mm2[0] - 2000.0).abs() < 1e-6);
    let (_, relative, printable) = assert_split_reassembles(&original, &result, &options);
    assert!(relative < 1e-9, "exact clipping: {relative}");
    assert_eq!(printable, 3);
    // The pin sits on the cut plane where the 50 × 40 section is thickest: 20 mm from the edges
    // (on the ridge y ∈ [20, 30], z = 20).
    let (lo, hi) = result.pins[0].bounds().expect("pin");
    let centre = [0, 1, 2].map(|a| (f64::from(lo[a]) + f64::from(hi[a])) / 2.0);
    assert!((centre[0] - result.report.cuts[0].1).abs() < 1e-3);
    assert!(
        (19.5..=30.5).contains(&centre[1]) && (centre[2] - 20.0).abs() < 0.5,
        "{centre:?}"
    );
}

#[test]
fn model_that_fits_is_returned_whole() {
    let original = ellipsoid([0.0; 3], [40.0, 30.0, 20.0], 3).expect("ellipsoid");
    let result = split_to_fit(&original, &SplitOptions::default()).expect("split");
    assert_eq!(result.parts.len(), 1);
    assert!(result.pins.is_empty());
    assert_eq!(result.parts[0], original);
}

#[test]
fn hostile_input_is_refused() {
    let good = ellipsoid([0.0; 3], [40.0, 30.0, 20.0], 2).expect("ellipsoid");
    let options = SplitOptions::default();
    assert!(matches!(
        split_to_fit(&Mesh::default(), &options),
        Err(PrintError::EmptyMesh { .. })
    ));
    let mut nan = good.clone();
    nan.vertices[3][1] = f32::NAN;
    assert!(matches!(
        split_to_fit(&nan, &options),
        Err(PrintError::NonFiniteVertex { .. })
    ));
    let mut open = good.clone();
    open.triangles.pop();
    assert!(matches!(
        split_to_fit(&open, &options),
        Err(PrintError::NotClosed { .. })
    ));
    let mut bad_index = good.clone();
    bad_index.triangles[0][0] = 1_000_000;
    assert!(matches!(
        split_to_fit(&bad_index, &options),
        Err(PrintError::BadIndex { .. })
    ));
    for broken in [
        SplitOptions {
            build_volume_mm: [5.0, 120.0, 120.0],
            ..options
        },
        SplitOptions {
            build_volume_mm: [f64::NAN, 120.0, 120.0],
            ..options
        },
        SplitOptions {
            hole_diameter_mm: -3.0,
            ..options
        },
        SplitOptions {
            pin_diameter_mm: 3.5,
            ..options
        },
        SplitOptions {
            pin_length_mm: 9.0,
            ..options
        },
        SplitOptions {
            hole_depth_mm: 0.0,
            ..options
        },
        SplitOptions {
            min_hole_diameter_mm: 0.2,
            ..options
        },
        SplitOptions {
            min_hole_diameter_mm: f64::NAN,
            ..options
        },
    ] {
        assert!(
            matches!(split_to_fit(&good, &broken), Err(PrintError::BadParameter { .. })),
            "{broken:?}"
        );
    }
}

#[test]
fn thin_bars_get_reduced_connectors_down_to_the_smallest_socket() {
    // Square bars 150 mm long, cut once. The standard connector needs 2.5 mm of clearance
    // (1.5 mm socket radius + 1 mm wall), i.e. a 5 mm bar.
    let options = SplitOptions::default();
    for (side, expected_hole) in [(6.0, Some(3.0)), (4.0, Some(2.4)), (3.0, Some(1.8)), (2.0, None)] {
        let half = side / 2.0;
        let original = cuboid([0.0, -half, -half], [150.0, half, half]).expect("bar");
        let result = split_to_fit(&original, &options).expect("split");
        assert_eq!(result.parts.len(), 2, "{side} mm bar");
        let report = &result.report;
        match expected_hole {
            Some(hole) => {
                assert_eq!(report.connectors, 1, "{side} mm bar: {report:?}");
                assert_eq!(
                    report.reduced_connectors,
                    usize::from(hole < 3.0),
                    "{side} mm bar: {report:?}"
                );
                // Pin diameter = socket diameter − the 0.2 mm clearance (the cylinder's polygon
                // has a vertex on each axis, so its extent across is the diameter).
                let (lo, hi) = result.pins[0].bounds().expect("pin");
                let pin = f64::from(hi[1]) - f64::from(lo[1]);
                assert!((pin - (hole - 0.2)).abs() < 0.02, "{side} mm bar: pin {pin} mm");
                // It stays inside the bar with the scaled wall around it.
                let wall = half - pin / 2.0 - 0.1;
                assert!(wall >= hole / 3.0 - 1e-3, "{side} mm bar: wall {wall} mm");
            }
            None => {
                assert_eq!(report.connectors, 0, "{side} mm bar: {report:?}");
                assert_eq!(report.regions_without_connector, 1, "{side} mm bar: {report:?}");
            }
        }
        assert_split_reassembles(&original, &result, &options);
    }
}

fn torso_bone_model() -> Mesh {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-torso-3mm/ct.nii.gz");
    let scan = medprint_volume::nifti::read_nifti_scan(&path).expect("torso CT").volume;
    let bone = medprint_segment::bone::segment_bone(&scan, &Default::default()).expect("bone");
    let raw = medprint_mesh::isosurface::extract_isosurface(&bone.surface_field, 127.5);
    medprint_mesh::condition(raw, &Default::default()).0
}

#[test]
fn torso_bone_model_splits_for_120_mm() {
    let original = torso_bone_model();
    let (lo, hi) = original.bounds().expect("bounds");
    let options = SplitOptions::default();
    let result = split_to_fit(&original, &options).expect("split");
    let (worst, relative, printable) = assert_split_reassembles(&original, &result, &options);
    println!(
        "torso: extent {:?} mm, {} triangles, {:?}, worst vertex {worst} mm, volume error {relative}, \
         fully printable {printable}",
        [0, 1, 2].map(|a| hi[a] - lo[a]),
        original.triangles.len(),
        result.report
    );
    assert!(result.report.connectors > 0);
}
