//! Tissue classes on a synthetic torso with analytic truth, and hostile input.

use medprint_segment::tissues::{exclude_metal, fix_small_regions};
use medprint_segment::{classify_tissues, dice, SegmentError, TissueClass, TissueParams};
use medprint_volume::{Geometry, Volume};

/// Voxel size (mm) of the phantom.
const SPACING: f64 = 1.5;
const DIMS: [usize; 3] = [200, 167, 60];
const BODY_CENTRE: [f64; 2] = [150.0, 125.0];
const BODY_AXES: [f64; 2] = [130.0, 100.0];
const FAT_MM: f64 = 15.0;
const LUNG_CENTRES: [[f64; 3]; 2] = [[95.0, 105.0, 45.0], [205.0, 105.0, 45.0]];
const LUNG_AXES: [f64; 3] = [40.0, 45.0, 33.0];
const TRACHEA: [f64; 2] = [150.0, 105.0];
const TRACHEA_RADIUS: f64 = 7.0;
/// The trachea runs down from the top of the grid to this height (mm), where the bronchus
/// joining both lungs runs along x.
const CARINA_Z: f64 = 50.0;
const BRONCHUS_X: [f64; 2] = [110.0, 190.0];
const AORTA: [f64; 2] = [180.0, 165.0];
const AORTA_RADIUS: f64 = 10.0;
const SPINE: [f64; 2] = [150.0, 195.0];
const SPINE_RADIUS: f64 = 16.0;
const SCREW_RADIUS: f64 = 4.0;
/// Dark streaks run along x from the screw at these y offsets (mm), out to this reach (mm).
const STREAK_HALF_WIDTH: f64 = 1.6;
const STREAK_REACH: f64 = 28.0;
const GAS_CENTRE: [f64; 3] = [95.0, 170.0, 20.0];
const GAS_RADIUS: f64 = 17.0;

/// Truth and scan of one voxel centre `p` (mm).
fn truth_at(p: [f64; 3]) -> (i16, Option<TissueClass>, bool) {
    let ellipse = |c: [f64; 2], a: [f64; 2]| ((p[0] - c[0]) / a[0]).powi(2) + ((p[1] - c[1]) / a[1]).powi(2);
    let q = ellipse(BODY_CENTRE, BODY_AXES);
    if q > 1.0 {
        return (-1000, None, false);
    }
    // Depth below the body surface (first-order distance to the ellipse).
    let (dx, dy) = (p[0] - BODY_CENTRE[0], p[1] - BODY_CENTRE[1]);
    let grad = ((dx / BODY_AXES[0].powi(2)).powi(2) + (dy / BODY_AXES[1].powi(2)).powi(2)).sqrt() / q.sqrt().max(1e-9);
    let depth = (1.0 - q.sqrt()) / grad.max(1e-9);
    let radial = |c: [f64; 2]| ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt();
    let in_lung = LUNG_CENTRES.iter().any(|c| {
        ((p[0] - c[0]) / LUNG_AXES[0]).powi(2)
            + ((p[1] - c[1]) / LUNG_AXES[1]).powi(2)
            + ((p[2] - c[2]) / LUNG_AXES[2]).powi(2)
            <= 1.0
    });
    let in_trachea = radial(TRACHEA) <= TRACHEA_RADIUS && p[2] >= CARINA_Z;
    let in_bronchus = (BRONCHUS_X[0]..=BRONCHUS_X[1]).contains(&p[0])
        && ((p[1] - TRACHEA[1]).powi(2) + (p[2] - CARINA_Z).powi(2)).sqrt() <= TRACHEA_RADIUS;
    let spine = radial(SPINE);
    let streak = (p[1] - SPINE[1]).abs() <= STREAK_HALF_WIDTH
        && (SCREW_RADIUS + 1.0..=STREAK_REACH).contains(&(p[0] - SPINE[0]).abs());
    let gas = ((p[0] - GAS_CENTRE[0]).powi(2) + (p[1] - GAS_CENTRE[1]).powi(2) + (p[2] - GAS_CENTRE[2]).powi(2)).sqrt()
        <= GAS_RADIUS;
    let (tissue_hu, class) = if spine <= SCREW_RADIUS {
        (3000, Some(TissueClass::Metal))
    } else if spine <= SPINE_RADIUS {
        (700, Some(TissueClass::Bone))
    } else if radial(AORTA) <= AORTA_RADIUS {
        (300, Some(TissueClass::Vessel))
    } else if in_trachea || in_bronchus {
        (-1000, Some(TissueClass::Airway))
    } else if in_lung {
        (-850, Some(TissueClass::Lung))
    } else if gas {
        (-1000, None)
    } else if depth < 2.0 {
        (-100, Some(TissueClass::Skin))
    } else if depth < FAT_MM {
        (-100, Some(TissueClass::Fat))
    } else {
        (40, Some(TissueClass::SoftTissue))
    };
    let hu = if streak && class != Some(TissueClass::Metal) {
        -600
    } else {
        tissue_hu
    };
    (hu, class, streak)
}

struct Torso {
    scan: Volume<i16>,
    truth: Vec<u8>,
    streak: Vec<bool>,
}

fn torso() -> Torso {
    let n = DIMS.iter().product();
    let mut hu = Vec::with_capacity(n);
    let mut truth = Vec::with_capacity(n);
    let mut streak = Vec::with_capacity(n);
    for i in 0..n {
        let (x, y, z) = (i % DIMS[0], (i / DIMS[0]) % DIMS[1], i / (DIMS[0] * DIMS[1]));
        let p = [x, y, z].map(|c| (c as f64 + 0.5) * SPACING);
        let (v, class, s) = truth_at(p);
        // Deterministic noise of ±12 HU.
        let noise = ((i.wrapping_mul(2_654_435_761) >> 7) % 25) as i16 - 12;
        hu.push(v.saturating_add(noise));
        truth.push(class.map_or(0, TissueClass::label));
        streak.push(s);
    }
    let geometry = Geometry::axis_aligned([SPACING; 3], [0.0; 3]);
    Torso {
        scan: Volume::from_vec(DIMS, hu, geometry).expect("grid"),
        truth,
        streak,
    }
}

/// A naive bone mask: everything above 500 HU, metal included (to be excluded).
fn threshold_bone(scan: &Volume<i16>) -> Volume<u8> {
    scan.map(|&v| u8::from(v >= 500))
}

#[test]
fn torso_classes_match_truth() {
    let torso = torso();
    let bone = threshold_bone(&torso.scan);
    let result = classify_tissues(&torso.scan, &bone, &TissueParams::default()).expect("classify");
    let labels = result.labels.data();
    for class in TissueClass::ALL {
        let ours: Vec<u8> = labels.iter().map(|&l| u8::from(l == class.label())).collect();
        let truth: Vec<u8> = torso.truth.iter().map(|&l| u8::from(l == class.label())).collect();
        let d = dice(&ours, &truth).expect("same grid");
        println!(
            "phantom {:<12} Dice {d:.4}  ours {:>8} truth {:>8} voxels",
            class.name(),
            ours.iter().filter(|&&m| m != 0).count(),
            truth.iter().filter(|&&m| m != 0).count()
        );
        assert!(d >= 0.9, "{} Dice {d}", class.name());
    }
    println!(
        "metal removed from bone {}, bone holes filled {}, streak voxels relabelled {}, small-region voxels {}, airway threshold {} HU, warnings {:?}",
        result.metal_voxels_removed_from_bone,
        result.metal_bone_holes_filled,
        result.streak_voxels_relabelled,
        result.small_region_voxels_relabelled,
        result.airway_threshold_hu,
        result.warnings
    );
    assert!(
        result.metal_voxels_removed_from_bone > 0,
        "the naive bone mask held the screw"
    );
    let metal_in_bone = labels
        .iter()
        .zip(&torso.truth)
        .filter(|(&l, &t)| t == TissueClass::Metal.label() && l == TissueClass::Bone.label())
        .count();
    assert_eq!(metal_in_bone, 0, "metal voxels labelled bone");
    let mut streak_as_air = 0;
    let mut streak_in_bone_hole = 0;
    for ((&l, &t), &s) in labels.iter().zip(&torso.truth).zip(&torso.streak) {
        if s {
            if l == 0 || l == TissueClass::Lung.label() || l == TissueClass::Airway.label() {
                streak_as_air += 1;
            }
            if t == TissueClass::Bone.label() && l != TissueClass::Bone.label() {
                streak_in_bone_hole += 1;
            }
        }
    }
    let streak_total = torso.streak.iter().filter(|&&s| s).count();
    println!("streak voxels {streak_total}: as air/lung {streak_as_air}, bone holes left {streak_in_bone_hole}");
    assert!(streak_total > 500);
    assert_eq!(streak_as_air, 0);
    assert_eq!(streak_in_bone_hole, 0);
    let voxel_mm3 = SPACING.powi(3);
    for class in TissueClass::ALL {
        let v = result.voxels(class);
        assert!((result.volume_mm3(class) - v as f64 * voxel_mm3).abs() < 1e-6);
    }
    assert_eq!(result.voxels_per_class.iter().sum::<u64>(), labels.len() as u64);
    assert_eq!(result.probabilities.len(), 5);
    let fat = result
        .probabilities
        .iter()
        .find(|p| p.class == TissueClass::Fat)
        .expect("fat map");
    let centre = DIMS[0] / 2 + DIMS[0] * (DIMS[1] / 2 + DIMS[1] * 10);
    assert!(fat.map.data()[centre] < 20, "soft tissue in the body centre is not fat");
}

#[test]
fn hostile_inputs_are_errors() {
    let geometry = Geometry::axis_aligned([1.0; 3], [0.0; 3]);
    let params = TissueParams::default();
    let empty = Volume::from_vec([0, 4, 4], Vec::<i16>::new(), geometry).expect("empty grid");
    let empty_mask = Volume::from_vec([0, 4, 4], Vec::<u8>::new(), geometry).expect("empty grid");
    assert!(matches!(
        classify_tissues(&empty, &empty_mask, &params),
        Err(SegmentError::EmptyVolume { .. })
    ));
    let dims = [12, 10, 6];
    let air = Volume::filled(dims, -1000i16, geometry);
    let no_bone = Volume::filled(dims, 0u8, geometry);
    assert!(classify_tissues(&air, &no_bone, &params).is_err(), "all air");
    let metal = Volume::filled(dims, 3071i16, geometry);
    assert!(classify_tissues(&metal, &no_bone, &params).is_err(), "all metal");
    let soft = Volume::filled(dims, 40i16, geometry);
    let wrong = Volume::filled([12, 10, 5], 0u8, geometry);
    assert!(matches!(
        classify_tissues(&soft, &wrong, &params),
        Err(SegmentError::SizeMismatch { .. })
    ));
    let bad = TissueParams {
        skin_thickness_mm: f64::NAN,
        ..TissueParams::default()
    };
    assert!(classify_tissues(&soft, &no_bone, &bad).is_err());
    let extremes = Volume::from_vec(
        dims,
        (0..dims.iter().product::<usize>())
            .map(|i| if i % 2 == 0 { i16::MIN } else { i16::MAX })
            .collect(),
        geometry,
    )
    .expect("grid");
    // Alternating extremes: either an error or labels, never a panic.
    let _ = classify_tissues(&extremes, &no_bone, &params);
    // A uniform soft-tissue block is one body: no lung, no airway.
    let block = classify_tissues(&soft, &no_bone, &params).expect("soft block");
    assert_eq!(block.voxels(TissueClass::Lung), 0);
    assert_eq!(block.voxels(TissueClass::Airway), 0);
}

#[test]
fn metal_helpers() {
    let geometry = Geometry::axis_aligned([2.0; 3], [0.0; 3]);
    let mut bone = Volume::filled([4, 4, 4], 1u8, geometry);
    let mut metal = vec![0u8; 64];
    metal[5] = 1;
    metal[6] = 1;
    assert_eq!(exclude_metal(&mut bone, &metal).expect("same size"), 2);
    assert_eq!(bone.data().iter().filter(|&&b| b == 0).count(), 2);
    assert!(exclude_metal(&mut bone, &metal[..10]).is_err());
    let mut labels = Volume::filled([4, 4, 4], 6u8, geometry);
    labels.data_mut()[21] = 3;
    assert_eq!(fix_small_regions(&mut labels, 10.0).expect("fix"), 1);
    assert!(fix_small_regions(&mut labels, -1.0).is_err());
}
