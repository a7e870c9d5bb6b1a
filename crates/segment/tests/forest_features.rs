//! Forest features on phantoms with analytic values.

use medprint_segment::forest::{compute_features, FeatureConfig};
use medprint_segment::SegmentError;
use medprint_volume::{Geometry, Volume};

fn volume(dims: [usize; 3], spacing: [f64; 3], f: impl Fn(usize, usize, usize) -> i16) -> Volume<i16> {
    let data = (0..dims[2])
        .flat_map(|z| (0..dims[1]).flat_map(move |y| (0..dims[0]).map(move |x| (x, y, z))))
        .map(|(x, y, z)| f(x, y, z))
        .collect();
    Volume::from_vec(dims, data, Geometry::axis_aligned(spacing, [0.0; 3])).expect("shape")
}

fn column(config: &FeatureConfig, name: &str) -> usize {
    config
        .feature_names(0)
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no feature {name}"))
}

/// Slabs along x: soft tissue (x < 8), almost-bone 200 HU (x = 8, 9), clearly bone (x ≥ 10).
#[test]
fn neighbourhood_fractions_match_box_counts() {
    let scan = volume([20, 20, 20], [1.0; 3], |x, _, _| match x {
        0..=7 => 40,
        8..=9 => 200,
        _ => 1000,
    });
    let config = FeatureConfig {
        neighbourhood_radii_mm: vec![3.0, 1.0],
        ..FeatureConfig::default()
    };
    let at = |x: usize| scan.index(x, 10, 10);
    let corner = scan.index(0, 0, 0);
    let m = compute_features(&scan, &config, &[], &[at(9), at(2), at(15), corner]).expect("features");
    assert_eq!(m.rows(), 4);
    assert_eq!(m.columns(), config.feature_count(0));
    let near3 = column(&config, "near_bone_fraction_3mm");
    let clear3 = column(&config, "clearly_bone_fraction_3mm");
    let near1 = column(&config, "near_bone_fraction_1mm");
    let clear1 = column(&config, "clearly_bone_fraction_1mm");
    // x = 9, radius 3 voxels: box x 6..=12 holds 2 near-bone and 3 clearly-bone columns of 7.
    let row = m.row(0);
    assert!((row[near3] - 2.0 / 7.0).abs() < 1e-6, "{}", row[near3]);
    assert!((row[clear3] - 3.0 / 7.0).abs() < 1e-6, "{}", row[clear3]);
    assert!((row[near1] - 2.0 / 3.0).abs() < 1e-6);
    assert!((row[clear1] - 1.0 / 3.0).abs() < 1e-6);
    assert_eq!(row[column(&config, "intensity_hu")], 200.0);
    // Far from bone and inside bone.
    assert_eq!((m.row(1)[near3], m.row(1)[clear3]), (0.0, 0.0));
    assert_eq!((m.row(2)[near3], m.row(2)[clear3]), (0.0, 1.0));
    // The corner box is clamped to the grid: 4×4×4 voxels, all soft tissue.
    assert_eq!((m.row(3)[near3], m.row(3)[clear3]), (0.0, 0.0));
}

/// A linear ramp v = 20·X + 3·Y − 1·Z HU (X, Y, Z in mm) on anisotropic voxels: the Sobel
/// gradient is exactly (20, 3, −1) HU/mm, all gradients point the same way, and the box mean is
/// the centre value.
#[test]
fn gradient_and_local_statistics_of_a_ramp() {
    let spacing = [0.5, 1.0, 2.0];
    let scan = volume([16, 16, 16], spacing, |x, y, z| (10 * x + 3 * y) as i16 - 2 * z as i16);
    let config = FeatureConfig {
        local_radius_mm: 1.0,
        ..FeatureConfig::default()
    };
    let voxel = scan.index(8, 8, 8);
    let m = compute_features(&scan, &config, &[], &[voxel]).expect("features");
    let row = m.row(0);
    let expected = (20.0f32 * 20.0 + 3.0 * 3.0 + 1.0).sqrt();
    let g = row[column(&config, "gradient_hu_per_mm")];
    assert!((g - expected).abs() < 1e-3, "gradient {g} vs {expected}");
    let consistency = row[column(&config, "gradient_consistency")];
    assert!((consistency - 1.0).abs() < 1e-5, "consistency {consistency}");
    let centre = f32::from(scan.data()[voxel]);
    assert!((row[column(&config, "local_mean_hu")] - centre).abs() < 1e-3);
    // Box half-widths 2, 1, 1 voxels (1 mm / spacing, rounded): independent axes, so the
    // variance adds: 10²·2 + 3²·2/3 + 2²·2/3.
    let std_expected = (200.0f32 + 6.0 + 8.0 / 3.0).sqrt();
    let std = row[column(&config, "local_std_hu")];
    assert!((std - std_expected).abs() < 1e-2, "std {std} vs {std_expected}");
}

/// Noise has inconsistent gradient directions; a clean edge has consistent ones.
#[test]
fn gradient_consistency_separates_edges_from_noise() {
    let mut state = 12345u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) % 200) as i16 - 100
    };
    let noisy: Vec<i16> = (0..16 * 16 * 16).map(|_| noise()).collect();
    let noisy = Volume::from_vec([16; 3], noisy, Geometry::default()).expect("shape");
    let edge = volume([16; 3], [1.0; 3], |x, _, _| if x < 8 { 0 } else { 1000 });
    let config = FeatureConfig::default();
    let c = column(&config, "gradient_consistency");
    let v = noisy.index(8, 8, 8);
    let on_noise = compute_features(&noisy, &config, &[], &[v]).expect("features").row(0)[c];
    let on_edge = compute_features(&edge, &config, &[], &[v]).expect("features").row(0)[c];
    assert!(on_edge > 0.99, "edge {on_edge}");
    assert!(on_noise < 0.6, "noise {on_noise}");
}

#[test]
fn extra_inputs_are_scaled_and_checked() {
    let scan = volume([8, 8, 8], [1.0; 3], |x, _, _| x as i16);
    let extra = scan.map(|&v| (v * 30) as u8);
    let config = FeatureConfig::default();
    let m = compute_features(&scan, &config, &[&extra], &[scan.index(5, 1, 1)]).expect("features");
    assert_eq!(m.columns(), config.feature_count(1));
    assert!((m.row(0)[m.columns() - 1] - 150.0 / 255.0).abs() < 1e-6);

    let wrong = Volume::filled([4, 8, 8], 0u8, Geometry::default());
    assert!(matches!(
        compute_features(&scan, &config, &[&wrong], &[0]),
        Err(SegmentError::SizeMismatch { .. })
    ));
    assert!(matches!(
        compute_features(&scan, &config, &[], &[scan.len()]),
        Err(SegmentError::InvalidParameter { .. })
    ));
    let bad = FeatureConfig {
        neighbourhood_radii_mm: vec![f64::NAN],
        ..FeatureConfig::default()
    };
    assert!(matches!(
        compute_features(&scan, &bad, &[], &[0]),
        Err(SegmentError::InvalidParameter { .. })
    ));
    let empty = Volume::<i16>::from_vec([0, 0, 0], vec![], Geometry::default()).expect("shape");
    assert!(matches!(
        compute_features(&empty, &config, &[], &[]),
        Err(SegmentError::EmptyVolume { .. })
    ));
}
