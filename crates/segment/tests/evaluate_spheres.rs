//! Phantoms with known geometry: concentric and shifted spheres, and the same sphere on
//! differently oriented grids (comparison in patient space).

use std::f64::consts::PI;

use medprint_segment::evaluate::{evaluate_labels, evaluate_masks, parse_class, ClassError, ClassPair, LabelSet};
use medprint_volume::{Geometry, Volume};

/// A ball of `radius` mm centred at `centre` (patient mm), rasterised on a grid: voxel centres inside → `label`.
fn ball(dims: [usize; 3], geometry: Geometry, centre: [f64; 3], radius: f64, label: u8) -> Volume<u8> {
    let mut data = vec![0u8; dims.iter().product()];
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                let p = geometry.index_to_patient([x as f64, y as f64, z as f64]);
                let r2: f64 = (0..3).map(|a| (p[a] - centre[a]).powi(2)).sum();
                if r2 <= radius * radius {
                    data[x + dims[0] * (y + dims[1] * z)] = label;
                }
            }
        }
    }
    Volume::from_vec(dims, data, geometry).expect("shape")
}

#[test]
fn concentric_spheres_10_and_12_mm() {
    let dims = [40, 40, 40];
    let geometry = Geometry::axis_aligned([1.0; 3], [0.0; 3]);
    let centre = [19.5, 19.5, 19.5];
    let small = ball(dims, geometry, centre, 10.0, 1);
    let large = ball(dims, geometry, centre, 12.0, 1);
    let m = evaluate_masks(small.data(), large.data(), dims, geometry.spacing).expect("valid");
    let analytic_dice = 2.0 * 10f64.powi(3) / (10f64.powi(3) + 12f64.powi(3));
    println!("concentric: {m:?}, analytic Dice {analytic_dice:.4}");
    assert!(
        (m.dice - analytic_dice).abs() <= 0.02 * analytic_dice,
        "Dice {}",
        m.dice
    );
    let analytic_jaccard = 10f64.powi(3) / 12f64.powi(3);
    assert!((m.jaccard - analytic_jaccard).abs() <= 0.02 * analytic_jaccard);
    let hd95 = m.hd95_mm.expect("both non-empty");
    let msd = m.mean_surface_distance_mm.expect("both non-empty");
    assert!(
        (hd95 - 2.0).abs() <= 0.5 && (msd - 2.0).abs() <= 0.5,
        "HD95 {hd95} MSD {msd}"
    );
    let ball_volume = |r: f64| 4.0 / 3.0 * PI * r.powi(3);
    assert!((m.pred_volume_mm3 - ball_volume(10.0)).abs() < 0.03 * ball_volume(10.0));
    assert!((m.volume_difference_mm3 - (m.pred_volume_mm3 - m.ref_volume_mm3)).abs() < 1e-9);
    // Symmetric metrics: swapping prediction and reference changes only the volume sign.
    let swapped = evaluate_masks(large.data(), small.data(), dims, geometry.spacing).expect("valid");
    assert_eq!((swapped.dice, swapped.hd95_mm), (m.dice, m.hd95_mm));
}

#[test]
fn sphere_shifted_three_slices_on_2_5_mm_spacing() {
    let dims = [40, 40, 24];
    let spacing = [1.0, 1.0, 2.5];
    let geometry = Geometry::axis_aligned(spacing, [0.0; 3]);
    let centre = [19.5, 19.5, 11.0 * 2.5];
    let a = ball(dims, geometry, centre, 14.0, 1);
    let shifted = ball(dims, geometry, [centre[0], centre[1], centre[2] + 3.0 * 2.5], 14.0, 1);
    let m = evaluate_masks(a.data(), shifted.data(), dims, spacing).expect("valid");
    let hd95 = m.hd95_mm.expect("both non-empty");
    // Each surface point lies |d cos θ| from the shifted sphere (d = 7.5 mm, cos θ uniform on
    // the sphere), so the 95th percentile is 0.95 d = 7.1 mm; the maximum is d = 7.5 mm.
    println!("shifted: HD95 {hd95:.3} mm, MSD {:?}", m.mean_surface_distance_mm);
    assert!((6.5..=8.0).contains(&hd95), "HD95 {hd95}");
    let msd = m.mean_surface_distance_mm.expect("both non-empty");
    assert!(msd < hd95 && msd > 2.0, "MSD {msd} (analytic d/2 = 3.75 mm)");
}

#[test]
fn same_sphere_on_a_flipped_offset_2_mm_grid_is_compared_in_patient_space() {
    let centre = [5.0, -12.0, 30.0];
    let radius = 18.0;
    let ref_dims = [50, 50, 50];
    let ref_geometry = Geometry::axis_aligned([1.0; 3], [centre[0] - 24.5, centre[1] - 24.5, centre[2] - 24.5]);
    let reference = ball(ref_dims, ref_geometry, centre, radius, 1);
    // i → -x, j → +y, k → -z, 2 mm voxels, origin at the far corner, x lattice offset by 0.2 mm.
    let pred_dims = [28, 26, 27];
    let pred_geometry = Geometry {
        spacing: [2.0; 3],
        origin: [centre[0] + 27.3, centre[1] - 24.5, centre[2] + 26.5],
        direction: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]],
    };
    let pred = ball(pred_dims, pred_geometry, centre, radius, 1);
    let class = [ClassPair {
        name: "ball".into(),
        pred: LabelSet::single(1),
        reference: LabelSet::single(1),
    }];
    let result = evaluate_labels(&pred, &reference, Some(&class)).expect("valid");
    assert!(result.resampled);
    let m = &result.classes[0];
    println!("flipped 2 mm grid: {m:?}");
    assert!(m.dice >= 0.9, "Dice {}", m.dice);
    assert!(m.hd95_mm.expect("non-empty") <= 2.0, "HD95 {:?}", m.hd95_mm);
    // Control: the same voxels read as if on an unflipped grid put the ball elsewhere.
    let mut misplaced = pred.clone();
    misplaced.geometry.direction = Geometry::default().direction;
    misplaced.geometry.origin = [centre[0] + 10.0, centre[1] - 24.5, centre[2] - 10.0];
    let wrong = evaluate_labels(&misplaced, &reference, Some(&class)).expect("valid");
    assert!(wrong.classes[0].dice < 0.5, "control Dice {}", wrong.classes[0].dice);
}

#[test]
fn default_classes_are_the_label_values_present() {
    let dims = [30, 30, 30];
    let geometry = Geometry::axis_aligned([1.5; 3], [0.0; 3]);
    let mut reference = ball(dims, geometry, [22.0; 3], 8.0, 3);
    let pred = ball(dims, geometry, [22.0; 3], 8.0, 3);
    reference.data_mut()[0] = 7;
    let result = evaluate_labels(&pred, &reference, None).expect("valid");
    assert!(!result.resampled);
    let names: Vec<&str> = result.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["3", "7"]);
    assert_eq!(result.classes[0].dice, 1.0);
    assert_eq!(result.classes[1].dice, 0.0);
    assert!(result.classes[1].hd95_mm.is_none() && result.classes[1].note.is_some());
}

#[test]
fn non_label_values_are_rejected() {
    let geometry = Geometry::default();
    let labels = Volume::from_vec([2, 1, 1], vec![0.0f32, 1.0], geometry).expect("shape");
    for bad in [-1.0f32, 0.5, f32::NAN, 1e6] {
        let ct = Volume::from_vec([2, 1, 1], vec![0.0f32, bad], geometry).expect("shape");
        assert!(evaluate_labels(&ct, &labels, None).is_err(), "{bad}");
    }
}

#[test]
fn label_tables_select_bones_and_reject_junk() {
    let table = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-abdomen-3mm/labels.tsv");
    let bone = parse_class(&format!("bone={}", table.display())).expect("TotalSegmentator table");
    // Vertebrae (26..=50 in TotalSegmentator v2) are bone; the liver (5) and costal cartilages (117) are not.
    assert!(bone.labels.contains(30) && !bone.labels.contains(5) && !bone.labels.contains(117));
    let kidney = parse_class(&format!("kidney={}", table.display())).expect("by name prefix");
    assert!(kidney.labels.contains(2) && kidney.labels.contains(3) && !kidney.labels.contains(1));

    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let junk = write("junk.tsv", "id\tname\tis_bone\n1\tfemur\t1\nthis is not a row\n");
    match parse_class(&format!("bone={}", junk.display())) {
        Err(ClassError::Table { line, .. }) => assert_eq!(line, 3),
        other => panic!("expected a table error, got {other:?}"),
    }
    let bad_flag = write("flag.tsv", "id\tname\tis_bone\n1\tfemur\tyes\n");
    assert!(matches!(
        parse_class(&format!("bone={}", bad_flag.display())),
        Err(ClassError::Table { line: 2, .. })
    ));
    let no_header = write("nohead.tsv", "1\tfemur\t1\n");
    assert!(matches!(
        parse_class(&format!("bone={}", no_header.display())),
        Err(ClassError::Table { line: 1, .. })
    ));
    let binary = write("bin.tsv", "\u{0}\u{1}garbage");
    assert!(parse_class(&format!("bone={}", binary.display())).is_err());
    let no_bone = write("nobone.tsv", "# comment\nid\tname\tis_bone\n\n1\tliver\t0\n");
    assert!(matches!(
        parse_class(&format!("bone={}", no_bone.display())),
        Err(ClassError::NoMatch { .. })
    ));
    assert!(matches!(
        parse_class("bone=/nonexistent/labels.tsv"),
        Err(ClassError::Io { .. })
    ));
}
