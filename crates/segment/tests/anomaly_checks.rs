//! Anomaly checks (seed §2.1) on the real scans in ../shared/data and on the knee phantom with
//! known inserts (table, metal sphere, noise, truncated field of view), plus hostile volumes.

use medprint_phantom::{knee_phantom, KneePhantomSpec};
use medprint_segment::anomaly::{
    check_scan, check_scan_with_body, Anomaly, AnomalyKind, AnomalyReport, ScanFacts, Severity, METAL_HU,
    NOISE_WARNING_HU,
};
use medprint_segment::contrast::{find_contrast_lumens, ContrastParams};
use medprint_segment::{body_mask, Histogram};
use medprint_volume::nifti::read_nifti_scan;
use medprint_volume::resample::resample_to_spacing;
use medprint_volume::{Geometry, Volume};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

fn read_scan(rel: &str) -> Volume<i16> {
    let scan = read_nifti_scan(&data(rel)).expect("readable NIfTI");
    assert_eq!(
        (scan.slope, scan.intercept),
        (1.0, 0.0),
        "{rel}: stored values are the real values"
    );
    scan.volume
}

fn ct_facts() -> ScanFacts {
    ScanFacts {
        declared_ct: true,
        slice_gaps_mm: None,
    }
}

fn check(v: &Volume<i16>, facts: &ScanFacts) -> AnomalyReport {
    check_scan(v, &Histogram::of_volume(v, None), facts)
}

fn of_kind(r: &AnomalyReport, kind: AnomalyKind) -> Vec<&Anomaly> {
    r.anomalies.iter().filter(|a| a.kind == kind).collect()
}

fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt()
}

fn quiet_phantom_spec() -> KneePhantomSpec {
    KneePhantomSpec {
        dims: [160, 140, 60],
        spacing: [1.0, 1.0, 2.0],
        ..KneePhantomSpec::default()
    }
}

#[test]
fn mri_declared_as_ct_is_flagged_critical() {
    let mr = read_scan("mr-abdomen-3mm/mr.nii.gz");
    let r = check(&mr, &ct_facts());
    let flags = of_kind(&r, AnomalyKind::ModalityMismatch);
    assert_eq!(flags.len(), 1, "{:#?}", r.anomalies);
    assert_eq!(flags[0].severity, Severity::Critical);
    assert!(flags[0].message.starts_with("this does not look like a CT scan"));
    assert!(flags[0].trust <= 0.2);
    assert!(r.modality_score < 0.5, "score {}", r.modality_score);
    assert_eq!(r.anomalies[0].kind, AnomalyKind::ModalityMismatch, "most severe first");
    // Values are not HU: no HU-based findings on top.
    assert!(r.noise_hu.is_none());
    assert!(of_kind(&r, AnomalyKind::MetalObject).is_empty());
    // Declared as MR, the same scan raises no modality flag.
    let as_mr = check(
        &mr,
        &ScanFacts {
            declared_ct: false,
            slice_gaps_mm: None,
        },
    );
    assert!(of_kind(&as_mr, AnomalyKind::ModalityMismatch).is_empty());
}

#[test]
fn real_ct_scans_are_ct_like_and_quiet() {
    for rel in ["ct-abdomen-3mm/ct.nii.gz", "ct-torso-3mm/ct.nii.gz"] {
        let ct = read_scan(rel);
        let r = check(&ct, &ct_facts());
        assert!(
            of_kind(&r, AnomalyKind::ModalityMismatch).is_empty(),
            "{rel}: {:#?}",
            r.anomalies
        );
        assert!(r.modality_score > 0.9, "{rel}: score {}", r.modality_score);
        let noise = r.noise_hu.expect("noise estimated");
        assert!(noise > 1.0 && noise < NOISE_WARNING_HU, "{rel}: noise {noise} HU");
        assert!(of_kind(&r, AnomalyKind::HighNoise).is_empty());
        // 3 mm slices are at the limit, not beyond it.
        assert!(of_kind(&r, AnomalyKind::ThickSlices).is_empty());
        // The patient lies on a table that reaches the posterior image edge; the body mask
        // removes it, so the posterior side must not be reported as truncated.
        assert!(
            of_kind(&r, AnomalyKind::TruncatedFieldOfView)
                .iter()
                .all(|a| !a.message.contains("posterior")),
            "{rel}: {:#?}",
            r.anomalies
        );
        eprintln!(
            "{rel}: noise {noise:.1} HU, score {:.2}, {:#?}",
            r.modality_score, r.anomalies
        );
    }
}

#[test]
fn torso_hip_implant_is_found_and_abdomen_has_none() {
    let abdomen = read_scan("ct-abdomen-3mm/ct.nii.gz");
    let r = check(&abdomen, &ct_facts());
    assert!(of_kind(&r, AnomalyKind::MetalObject).is_empty(), "{:#?}", r.anomalies);

    // The torso scan holds a ≈ 11 cm³ object above 2500 HU low in the pelvis, with dark streaks
    // around it (an implant).
    let torso = read_scan("ct-torso-3mm/ct.nii.gz");
    let r = check(&torso, &ct_facts());
    let metal = of_kind(&r, AnomalyKind::MetalObject);
    assert!(!metal.is_empty(), "{:#?}", r.anomalies);
    assert!(metal[0].message.contains("streak"), "{}", metal[0].message);
    assert!(r.metal_voxels > 0);
    // The reported centre lies within 2 voxels of a metal voxel.
    let p = metal[0].location_mm.expect("metal location");
    let ijk = torso.geometry.patient_to_index(p).map(|c| c.round() as i64);
    let near_metal = (-2..=2).any(|dz| {
        (-2..=2).any(|dy| {
            (-2..=2).any(|dx| {
                let q = [ijk[0] + dx, ijk[1] + dy, ijk[2] + dz];
                q.iter().all(|&c| c >= 0)
                    && torso
                        .get(q[0] as usize, q[1] as usize, q[2] as usize)
                        .is_some_and(|x| x > METAL_HU)
            })
        })
    });
    assert!(near_metal, "metal centre {p:?} (voxel {ijk:?}) is not at the metal");
}

#[test]
fn phantom_table_is_reported_and_removed() {
    let phantom = knee_phantom(&quiet_phantom_spec());
    let r = check(&phantom.ct, &ct_facts());
    let table = of_kind(&r, AnomalyKind::ScannerTable);
    assert_eq!(table.len(), 1, "{:#?}", r.anomalies);
    assert_eq!(table[0].severity, Severity::Info);
    let p = table[0].location_mm.expect("table location");
    // The table top is 6 mm behind the body (semi-axis 45 mm): it lies posterior (+y).
    assert!(p[1] > phantom.spec.body_semi_axes[1], "table centre {p:?}");
    // Nothing else is wrong with the phantom.
    assert!(of_kind(&r, AnomalyKind::MetalObject).is_empty());
    assert!(
        of_kind(&r, AnomalyKind::TruncatedFieldOfView).is_empty(),
        "{:#?}",
        r.anomalies
    );
    assert!(
        of_kind(&r, AnomalyKind::ModalityMismatch).is_empty(),
        "{:#?}",
        r.anomalies
    );
    assert!(of_kind(&r, AnomalyKind::LowContrast).is_empty());
    // The same checks with a body mask from the caller give the same report.
    let body = body_mask(&phantom.ct).expect("body mask");
    let lumens = find_contrast_lumens(&phantom.ct, &body, &ContrastParams::default()).expect("contrast check");
    let reused = check_scan_with_body(
        &phantom.ct,
        &Histogram::of_volume(&phantom.ct, None),
        &ct_facts(),
        Some(&body),
        Some(&lumens),
    );
    assert_eq!(reused, r);
}

#[test]
fn metal_sphere_is_located_within_2_mm() {
    let mut phantom = knee_phantom(&quiet_phantom_spec());
    // 6 mm sphere at 3000 HU in the soft tissue beside the bone.
    let centre = [30.0, 15.0, 12.0];
    let g = phantom.ct.geometry;
    let [nx, ny, nz] = phantom.ct.dims();
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                if distance(g.index_to_patient([x as f64, y as f64, z as f64]), centre) <= 3.0 {
                    let i = phantom.ct.index(x, y, z);
                    phantom.ct.data_mut()[i] = 3000;
                }
            }
        }
    }
    let r = check(&phantom.ct, &ct_facts());
    let metal = of_kind(&r, AnomalyKind::MetalObject);
    assert_eq!(metal.len(), 1, "{:#?}", r.anomalies);
    let p = metal[0].location_mm.expect("location");
    assert!(distance(p, centre) <= 2.0, "found at {p:?}, inserted at {centre:?}");
    assert_eq!(metal[0].severity, Severity::Warning);
    assert!(metal[0].trust < 1.0);
    let sphere_voxels = (4.0 / 3.0 * std::f64::consts::PI * 27.0) / g.voxel_volume_mm3();
    let err = (r.metal_voxels as f64 - sphere_voxels).abs() / sphere_voxels;
    assert!(
        err < 0.3,
        "{} metal voxels for a {sphere_voxels:.0}-voxel sphere",
        r.metal_voxels
    );
}

#[test]
fn noise_estimate_matches_known_phantom_noise() {
    for sigma in [20.0, 150.0] {
        let spec = KneePhantomSpec {
            noise_hu: sigma,
            ..quiet_phantom_spec()
        };
        let r = check(&knee_phantom(&spec).ct, &ct_facts());
        let noise = f64::from(r.noise_hu.expect("noise estimated"));
        assert!(
            (noise - sigma).abs() < 0.15 * sigma,
            "σ = {sigma} HU estimated as {noise:.1} HU"
        );
        let flagged = of_kind(&r, AnomalyKind::HighNoise);
        if sigma < f64::from(NOISE_WARNING_HU) {
            assert!(flagged.is_empty(), "{:#?}", r.anomalies);
        } else {
            assert_eq!(flagged.len(), 1, "{:#?}", r.anomalies);
            assert_eq!(flagged[0].severity, Severity::Critical);
        }
    }
}

#[test]
fn body_cut_by_image_border_is_reported_with_its_sides() {
    // Body semi-axis 62 mm along x (left–right) in a grid of ±39.5 mm: cut on both sides.
    let spec = KneePhantomSpec {
        dims: [80, 140, 30],
        ..quiet_phantom_spec()
    };
    let r = check(&knee_phantom(&spec).ct, &ct_facts());
    let cut = of_kind(&r, AnomalyKind::TruncatedFieldOfView);
    assert_eq!(cut.len(), 2, "{:#?}", r.anomalies);
    assert!(cut.iter().any(|a| a.message.contains("patient's left side")));
    assert!(cut.iter().any(|a| a.message.contains("patient's right side")));
    for a in cut {
        let p = a.location_mm.expect("location");
        assert!((p[0].abs() - 39.5).abs() < 1.0, "contact centre {p:?} on the x border");
    }
}

#[test]
fn thick_uneven_and_missing_slices() {
    let phantom = knee_phantom(&KneePhantomSpec {
        dims: [160, 140, 12],
        spacing: [1.0, 1.0, 6.0],
        ..KneePhantomSpec::default()
    });
    let mut gaps = vec![6.0; 11];
    gaps[3] = 12.0; // one slice missing
    gaps[7] = 7.0; // uneven (> 10 % off, < 1.5 ×)
    let r = check(
        &phantom.ct,
        &ScanFacts {
            declared_ct: true,
            slice_gaps_mm: Some(gaps),
        },
    );
    let thick = of_kind(&r, AnomalyKind::ThickSlices);
    assert_eq!(thick.len(), 1);
    assert_eq!(thick[0].severity, Severity::Critical);
    let uneven = of_kind(&r, AnomalyKind::UnevenSlices);
    assert_eq!(uneven.len(), 2, "{:#?}", r.anomalies);
    let missing = uneven
        .iter()
        .find(|a| a.severity == Severity::Critical)
        .expect("missing slice flagged");
    assert!(missing.message.contains("about 1 slice"), "{}", missing.message);
    let z = missing.location_mm.expect("gap location")[2];
    let expected = phantom.ct.geometry.index_to_patient([0.0, 0.0, 3.5])[2];
    assert!((z - expected).abs() < 1e-6, "gap at z = {z}, expected {expected}");
    assert!(uneven.iter().any(|a| a.severity == Severity::Warning));
    assert!(r.trust() <= 0.5);

    // 4 mm slices: a warning only; even gaps: nothing.
    let phantom = knee_phantom(&KneePhantomSpec {
        dims: [160, 140, 12],
        spacing: [1.0, 1.0, 4.0],
        ..KneePhantomSpec::default()
    });
    let r = check(
        &phantom.ct,
        &ScanFacts {
            declared_ct: true,
            slice_gaps_mm: Some(vec![4.0; 11]),
        },
    );
    let thick = of_kind(&r, AnomalyKind::ThickSlices);
    assert_eq!(thick.len(), 1);
    assert_eq!(thick[0].severity, Severity::Warning);
    assert!(of_kind(&r, AnomalyKind::UnevenSlices).is_empty());
}

#[test]
fn hostile_volumes_do_not_panic() {
    let g = Geometry::default();
    let hostile_gaps = ScanFacts {
        declared_ct: true,
        slice_gaps_mm: Some(vec![f64::NAN, -3.0, 0.0, f64::INFINITY]),
    };
    for dims in [[0, 0, 0], [0, 5, 5], [1, 1, 1], [1, 1, 5], [3, 3, 3]] {
        for value in [-1000i16, 0, 3071, i16::MIN, i16::MAX] {
            let v = Volume::filled(dims, value, g);
            let r = check(&v, &ct_facts());
            assert!(r.modality_score.is_finite());
            let _ = check(&v, &hostile_gaps);
        }
    }
    // All air, declared CT: only one CT component, so flagged; nothing else.
    let air = Volume::filled([20, 20, 20], -1000i16, g);
    let r = check(&air, &ct_facts());
    assert_eq!(r.anomalies.len(), 1, "{:#?}", r.anomalies);
    assert_eq!(r.anomalies[0].kind, AnomalyKind::ModalityMismatch);
    // Duplicate and broken positions are flagged, not ignored.
    let v = Volume::filled([4, 4, 5], 0i16, g);
    let r = check(&v, &hostile_gaps);
    assert!(of_kind(&r, AnomalyKind::UnevenSlices)
        .iter()
        .any(|a| a.severity == Severity::Critical));
    // A body mask of the wrong size is ignored.
    let phantom = knee_phantom(&KneePhantomSpec {
        dims: [40, 40, 10],
        ..KneePhantomSpec::default()
    });
    let mut body = body_mask(&phantom.ct).expect("body");
    body.mask.truncate(10);
    let _ = check_scan_with_body(
        &phantom.ct,
        &Histogram::of_volume(&phantom.ct, None),
        &ct_facts(),
        Some(&body),
        None,
    );
}

#[test]
fn report_serializes_with_lowercase_names() {
    let r = check(&read_scan("mr-abdomen-3mm/mr.nii.gz"), &ct_facts());
    let json = serde_json::to_string(&r).expect("json");
    assert!(json.contains("\"severity\":\"critical\""), "{json}");
    assert!(json.contains("\"kind\":\"modality_mismatch\""), "{json}");
    assert!(json.contains("\"modality_score\""), "{json}");
}

/// Timing on the 88-Mvoxel benchmark volume (torso resampled to 0.75 mm). Run with
/// `cargo test -p medprint-segment --release --test anomaly_checks -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: needs ~1 GB and a release build"]
fn timing_on_88_mvoxel_volume() {
    let torso = read_scan("ct-torso-3mm/ct.nii.gz");
    let big = resample_to_spacing(&torso, [0.75; 3]);
    eprintln!("volume {:?} = {:.1} Mvoxel", big.dims(), big.len() as f64 / 1e6);
    let facts = ct_facts();
    let clock = Instant::now();
    let histogram = Histogram::of_volume(&big, None);
    let t_hist = clock.elapsed();
    let clock = Instant::now();
    let body = body_mask(&big).expect("body");
    let t_body = clock.elapsed();
    for _ in 0..3 {
        let clock = Instant::now();
        let r = check_scan_with_body(&big, &histogram, &facts, Some(&body), None);
        let t_checks = clock.elapsed();
        eprintln!(
            "histogram {:.0} ms, body mask {:.0} ms, checks with body {:.0} ms; {} findings, noise {:?}",
            t_hist.as_secs_f64() * 1e3,
            t_body.as_secs_f64() * 1e3,
            t_checks.as_secs_f64() * 1e3,
            r.anomalies.len(),
            r.noise_hu
        );
    }
    let clock = Instant::now();
    let r = check_scan(&big, &histogram, &facts);
    eprintln!(
        "check_scan (computes the body mask) {:.0} ms: {:#?}",
        clock.elapsed().as_secs_f64() * 1e3,
        r.anomalies
    );
}
