//! Bone segmentation of the real scans in ../shared/data.

use medprint_segment::{dice, segment_bone, BoneParams, ScanType, ThresholdMethod};
use medprint_volume::nifti::read_nifti;

mod common;
use common::{data, read_hu};

/// Label ids marked `is_bone = 1` in labels.tsv (header: id, name, is_bone).
fn bone_ids(tsv: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(data(tsv)).expect("labels.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let id_col = header.iter().position(|&h| h == "id").expect("id column");
    let bone_col = header.iter().position(|&h| h == "is_bone").expect("is_bone column");
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.get(bone_col)?.trim() == "1").then(|| f.get(id_col)?.trim().parse().ok())?
        })
        .collect()
}

#[test]
fn ct_abdomen_bone_dice() {
    let ct = read_hu("ct-abdomen-3mm/ct.nii.gz");
    let labels = read_nifti(&data("ct-abdomen-3mm/labels.nii.gz")).expect("labels");
    let ids = bone_ids("ct-abdomen-3mm/labels.tsv");
    assert!(ids.len() > 20, "bone ids parsed: {ids:?}");
    let truth: Vec<u8> = labels
        .data()
        .iter()
        .map(|&l| u8::from(ids.contains(&(l.round() as u8))))
        .collect();
    let seg = segment_bone(&ct, &BoneParams::default()).expect("segment");
    let d = dice(seg.mask.data(), &truth).expect("same grid");
    let (n_seg, n_truth) = (
        seg.mask.data().iter().filter(|&&m| m != 0).count(),
        truth.iter().filter(|&&m| m != 0).count(),
    );
    println!(
        "ct-abdomen-3mm: Dice {d:.4}; threshold {:.1} HU ({:?}: {}); bone voxels {n_seg} vs truth {n_truth}; islands removed {}; table voxels {}; warnings {:?}",
        seg.threshold.threshold_hu, seg.threshold.method, seg.threshold.note, seg.islands_removed, seg.table_voxels_removed, seg.warnings
    );
    assert!(d >= 0.90, "Dice {d}");
}

#[test]
fn ct_torso_is_plausible() {
    let ct = read_hu("ct-torso-3mm/ct.nii.gz");
    let seg = segment_bone(&ct, &BoneParams::default()).expect("segment");
    let body = medprint_segment::body_mask(&ct).expect("body");
    let bone = seg.mask.data().iter().filter(|&&m| m != 0).count() as f64;
    let fraction = bone / body.body_voxels as f64;
    println!(
        "ct-torso-3mm: threshold {:.1} HU ({:?}: {}); bone {:.2} % of body; body objects removed {} ({} voxels); table voxels above threshold {}; timings {:?}",
        seg.threshold.threshold_hu, seg.threshold.method, seg.threshold.note, fraction * 100.0, body.objects_removed, body.table_voxels, seg.table_voxels_removed, seg.timings_ms
    );
    // The skeleton is ~ 10–20 % of body volume (lungs inside the body mask lower the share).
    assert!((0.03..0.25).contains(&fraction), "bone fraction {fraction}");
    assert_ne!(seg.threshold.method, ThresholdMethod::UserOverride);
}

#[test]
fn mr_scan_falls_back_with_note() {
    let mr = read_hu("mr-abdomen-3mm/mr.nii.gz");
    // Uploaded as CT by mistake: the histogram has no fat component in HU.
    let seg = segment_bone(&mr, &BoneParams::default()).expect("segment");
    println!("mr as CT: {:?}", seg.threshold);
    assert_eq!(seg.threshold.method, ThresholdMethod::DefaultForScanType);
    assert!(seg.threshold.note.contains("fat"), "{}", seg.threshold.note);
    assert!(!seg.warnings.is_empty());
    let as_mr = segment_bone(
        &mr,
        &BoneParams {
            scan: ScanType::Mr,
            ..BoneParams::default()
        },
    )
    .expect("segment");
    assert!(as_mr.threshold.note.contains("Hounsfield"), "{}", as_mr.threshold.note);
}
