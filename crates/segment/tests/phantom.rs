//! Bone segmentation of synthetic CTs with exactly known truth, and hostile input.

use medprint_segment::phantom::ct_phantom;
use medprint_segment::{
    body_mask, dice, segment_bone, volume_error_percent, BoneParams, SegmentError, ThresholdMethod,
};
use medprint_volume::{Geometry, Volume};

#[test]
fn phantom_bone_dice_and_volume_and_table_removed() {
    let p = ct_phantom([96, 96, 40], [1.0, 1.0, 2.0], 20.0, 7);
    let seg = segment_bone(&p.scan, &BoneParams::default()).expect("segment");
    let d = dice(seg.mask.data(), &p.bone).expect("sizes");
    let ve = volume_error_percent(seg.mask.data(), &p.bone)
        .expect("sizes")
        .expect("bone present");
    println!(
        "phantom: threshold {:?}, Dice {d:.4}, volume error {ve:.2} %, table voxels {}",
        seg.threshold, seg.table_voxels_removed
    );
    assert_eq!(
        seg.threshold.method,
        ThresholdMethod::HistogramInflection,
        "{}",
        seg.threshold.note
    );
    assert!(d >= 0.97, "Dice {d}");
    assert!(ve.abs() < 2.0, "volume error {ve} %");
    let table_in_mask = seg
        .mask
        .data()
        .iter()
        .zip(&p.table)
        .filter(|(&m, &t)| m != 0 && t != 0)
        .count();
    assert_eq!(table_in_mask, 0, "table voxels segmented as bone");
    assert!(
        seg.table_voxels_removed > 0,
        "the table lies above the threshold and must be reported"
    );
    // The surface field reproduces the mask exactly at 127.5.
    assert!(seg
        .surface_field
        .data()
        .iter()
        .zip(seg.mask.data())
        .all(|(&s, &m)| (s >= 128) == (m != 0)));
}

#[test]
fn body_mask_excludes_table() {
    let p = ct_phantom([64, 64, 8], [1.5, 1.5, 3.0], 20.0, 3);
    let body = body_mask(&p.scan).expect("body");
    let table_total = p.table.iter().filter(|&&t| t != 0).count() as u64;
    assert!(body.mask.iter().zip(&p.table).all(|(&b, &t)| !(b != 0 && t != 0)));
    assert_eq!(body.table_voxels, table_total);
    assert!(
        p.bone.iter().zip(&body.mask).all(|(&b, &m)| b == 0 || m != 0),
        "bone lies inside the body"
    );
}

#[test]
fn hostile_and_degenerate_volumes_do_not_panic() {
    let g = Geometry::default();
    let empty = Volume::<i16>::from_vec([0, 0, 0], vec![], g).expect("empty");
    assert!(matches!(
        segment_bone(&empty, &BoneParams::default()),
        Err(SegmentError::EmptyVolume { .. })
    ));
    let flat = Volume::<i16>::from_vec([0, 4, 4], vec![], g).expect("empty");
    assert!(segment_bone(&flat, &BoneParams::default()).is_err());

    let one = Volume::from_vec([1, 1, 1], vec![500i16], g).expect("one");
    let seg = segment_bone(&one, &BoneParams::default()).expect("one voxel");
    assert_eq!(seg.mask.len(), 1);
    assert_eq!(
        seg.mask.data()[0],
        0,
        "a 1 mm³ speck is below the minimum island volume"
    );

    let air = Volume::filled([16, 16, 4], -1000i16, g);
    let seg = segment_bone(&air, &BoneParams::default()).expect("air");
    assert!(seg.mask.data().iter().all(|&m| m == 0));
    assert!(seg.warnings.iter().any(|w| w.contains("no body")), "{:?}", seg.warnings);
    assert_eq!(seg.threshold.method, ThresholdMethod::DefaultForScanType);

    let bad = BoneParams {
        gaussian_sigma_mm: f64::NAN,
        ..BoneParams::default()
    };
    assert!(matches!(
        segment_bone(&air, &bad),
        Err(SegmentError::InvalidParameter { .. })
    ));
    let bad = BoneParams {
        threshold_override_hu: Some(1e9),
        ..BoneParams::default()
    };
    assert!(matches!(
        segment_bone(&air, &bad),
        Err(SegmentError::InvalidParameter { .. })
    ));
}

#[test]
fn user_override_is_used() {
    let p = ct_phantom([48, 48, 8], [2.0, 2.0, 3.0], 20.0, 5);
    let params = BoneParams {
        threshold_override_hu: Some(500.0),
        fill: false,
        ..BoneParams::default()
    };
    let seg = segment_bone(&p.scan, &params).expect("segment");
    assert_eq!(seg.threshold.method, ThresholdMethod::UserOverride);
    assert_eq!(seg.threshold.threshold_hu, 500.0);
    // At 500 HU without filling only the cortex (1000 HU) remains: marrow (300 HU) is lost.
    let marrow_kept = seg
        .mask
        .data()
        .iter()
        .zip(p.scan.data())
        .filter(|(&m, &v)| m != 0 && v < 400)
        .count();
    assert!(marrow_kept < 10, "{marrow_kept}");
}
