//! Contrast is not bone: the real CT angiogram in ../shared/data (aorta and T12 reference masks)
//! and the non-contrast scans, on which nothing may change.

use medprint_segment::anomaly::{check_scan, AnomalyKind, ScanFacts};
use medprint_segment::contrast::{find_contrast_lumens, ContrastParams, ContrastPhase};
use medprint_segment::{body_mask, segment_bone, BoneParams, Components, Connectivity, Histogram};
use medprint_volume::nifti::read_nifti;

mod common;
use common::{data, read_hu};

fn read_mask(rel: &str) -> Vec<bool> {
    let v = read_nifti(&data(rel)).expect("readable mask");
    v.data().iter().map(|&x| x > 0.5).collect()
}

fn percent_covered(mask: &[u8], reference: &[bool]) -> f64 {
    let total = reference.iter().filter(|&&r| r).count();
    let hit = reference.iter().zip(mask).filter(|(&r, &m)| r && m != 0).count();
    100.0 * hit as f64 / total.max(1) as f64
}

#[test]
fn angiogram_aorta_and_heart_are_not_bone_and_t12_is() {
    let ct = read_hu("ct-chest-cta-1.5mm/ct.nii.gz");
    let aorta = read_mask("ct-chest-cta-1.5mm/aorta.nii.gz");
    let t12 = read_mask("ct-chest-cta-1.5mm/vertebra_T12.nii.gz");
    assert_eq!(aorta.len(), ct.len());
    let seg = segment_bone(&ct, &BoneParams::default()).expect("segment");
    let aorta_in_bone = percent_covered(seg.mask.data(), &aorta);
    let t12_covered = percent_covered(seg.mask.data(), &t12);
    // Without the contrast check, for comparison.
    let plain = segment_bone(
        &ct,
        &BoneParams {
            contrast: None,
            ..BoneParams::default()
        },
    )
    .expect("segment");
    println!(
        "ct-chest-cta-1.5mm: aorta in bone {aorta_in_bone:.2} % (without the contrast check {:.2} %), T12 covered {t12_covered:.2} % \
         (without {:.2} %); bone voxels {} (without {}); lumen voxels excluded {}; contrast {:?}; phase {:?}, trust {:.2}",
        percent_covered(plain.mask.data(), &aorta),
        percent_covered(plain.mask.data(), &t12),
        seg.mask.data().iter().filter(|&&m| m != 0).count(),
        plain.mask.data().iter().filter(|&&m| m != 0).count(),
        seg.lumen_voxels_excluded,
        seg.contrast.describe(),
        seg.contrast.phase,
        seg.contrast.trust,
    );
    assert!(seg.contrast.enhanced);
    assert_eq!(seg.contrast.phase, Some(ContrastPhase::Arterial));
    assert!(aorta_in_bone < 2.0, "aorta in bone {aorta_in_bone:.2} %");
    assert!(t12_covered >= 95.0, "T12 covered {t12_covered:.2} %");
    // No shell of bone around a lumen: a bone part holds cortex, some voxels ≥ 700 HU or at least
    // 5 % ≥ 500 HU (the thin cortex of a vertebra at 1.5 mm); a partial-volume wall around
    // contrast (below the lumen's 500 HU + 150 HU) does not. Such parts hold under 2 % of bone.
    let parts = Components::label(seg.mask.data(), ct.dims(), true, Connectivity::Face3d).expect("label");
    let dense = parts.any_voxel(|i| ct.data()[i] >= 700);
    let cortical = parts.count_voxels(|i| ct.data()[i] >= 500);
    let without: u64 = (0..parts.count())
        .filter(|&c| !dense[c] && (cortical[c] as f64) < 0.05 * parts.sizes[c] as f64)
        .map(|c| parts.sizes[c])
        .sum();
    let total: u64 = parts.sizes.iter().sum();
    println!("bone parts without cortex: {without} of {total} voxels");
    assert!(
        (without as f64) < 0.02 * total as f64,
        "{without} of {total} bone voxels in parts without cortex"
    );
}

#[test]
fn angiogram_dense_contrast_is_not_metal() {
    let ct = read_hu("ct-chest-cta-1.5mm/ct.nii.gz");
    let facts = ScanFacts {
        declared_ct: true,
        slice_gaps_mm: None,
    };
    let report = check_scan(&ct, &Histogram::of_volume(&ct, None), &facts);
    for a in &report.anomalies {
        println!("{:?} ({:.2}): {}", a.kind, a.trust, a.message);
    }
    assert!(report.anomalies.iter().any(|a| a.kind == AnomalyKind::ContrastEnhanced));
    let metal: Vec<_> = report
        .anomalies
        .iter()
        .filter(|a| a.kind == AnomalyKind::MetalObject)
        .collect();
    assert!(metal.is_empty(), "contrast called metal: {metal:#?}");
}

#[test]
fn non_contrast_scans_are_not_enhanced() {
    for rel in ["ct-abdomen-3mm/ct.nii.gz", "ct-torso-3mm/ct.nii.gz"] {
        let ct = read_hu(rel);
        let body = body_mask(&ct).expect("body");
        let lumens = find_contrast_lumens(&ct, &body, &ContrastParams::default()).expect("contrast check");
        println!("{rel}: {:?}", lumens.enhancement);
        assert!(!lumens.enhancement.enhanced, "{rel}: {:?}", lumens.enhancement);
        assert!(lumens.mask.is_empty());
    }
}
