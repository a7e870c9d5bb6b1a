//! Slice previews of a real abdominal CT with its reference bone labels.

use std::path::{Path, PathBuf};

use medprint_preview::palette::BONE_IVORY;
use medprint_preview::{render_slice, write_slice_previews, Overlay, Plane, Window};
use medprint_volume::nifti::read_nifti;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ct-abdomen-3mm")
        .join(name)
}

/// Label ids marked `is_bone` = 1 in labels.tsv.
fn bone_ids() -> Vec<u8> {
    let tsv = std::fs::read_to_string(data("labels.tsv")).expect("labels.tsv");
    tsv.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.get(2) == Some(&"1")).then(|| cols[0].parse().ok()).flatten()
        })
        .collect()
}

#[test]
fn bone_labels_overlay_bright_bone_on_real_ct() {
    let scan = read_nifti(&data("ct.nii.gz"))
        .expect("ct")
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16);
    let labels = read_nifti(&data("labels.nii.gz"))
        .expect("labels")
        .map(|v| v.round().clamp(0.0, 255.0) as u8);
    let bones = bone_ids();
    assert!(!bones.is_empty());
    // Slice through the centroid of the vertebral labels (spine: always bone in every plane).
    let centroid = {
        let d = labels.dims();
        let (mut sum, mut n) = ([0.0f64; 3], 0.0);
        for k in 0..d[2] {
            for j in 0..d[1] {
                for i in 0..d[0] {
                    let l = labels.get(i, j, k).unwrap_or(0);
                    if (26..=50).contains(&l) {
                        let p = labels.geometry.index_to_patient([i as f64, j as f64, k as f64]);
                        sum = [sum[0] + p[0], sum[1] + p[1], sum[2] + p[2]];
                        n += 1.0;
                    }
                }
            }
        }
        assert!(n > 0.0, "no vertebra label");
        sum.map(|c| c / n)
    };
    // Write the real-data previews (look at them with MEDPRINT_PREVIEW_KEEP=dir).
    let tmp = tempfile::tempdir().expect("tempdir");
    let keep = std::env::var_os("MEDPRINT_PREVIEW_KEEP").map(|d| PathBuf::from(d).join("real"));
    let dir = keep.as_deref().unwrap_or(tmp.path());
    let ivory: Vec<(u8, [u8; 3])> = bones.iter().map(|&b| (b, BONE_IVORY)).collect();
    let soft = Overlay {
        labels: &labels,
        colors: &ivory,
        alpha: 0.3,
    };
    assert_eq!(
        write_slice_previews(dir, &scan, Some(&soft), Some(centroid))
            .expect("written")
            .len(),
        3
    );
    let marker = [255, 0, 255];
    let colors: Vec<(u8, [u8; 3])> = bones.iter().map(|&b| (b, marker)).collect();
    let overlay = Overlay {
        labels: &labels,
        colors: &colors,
        alpha: 1.0,
    };
    for plane in Plane::ALL {
        let plain = render_slice(&scan, None, plane, Some(centroid), Window::SOFT_TISSUE, 256);
        let labelled = render_slice(&scan, Some(&overlay), plane, Some(centroid), Window::SOFT_TISSUE, 256);
        assert_eq!(plain.dimensions(), labelled.dimensions());
        // Where the overlay paints bone the CT itself must be brighter than the rest of the
        // body: the reference labels and the scan are resampled onto the same patient positions
        // (a flipped or shifted overlay would land on soft tissue and fail this).
        let (mut bone_sum, mut bone_n, mut other_sum, mut other_n) = (0u64, 0u64, 0u64, 0u64);
        for (p, q) in plain.pixels().zip(labelled.pixels()) {
            let g = u64::from(p.0[0]);
            if p.0[0] != p.0[1] || p.0[1] != p.0[2] {
                continue; // annotation text
            }
            if q.0 == marker {
                (bone_sum, bone_n) = (bone_sum + g, bone_n + 1);
            } else if g > u64::from(Window::SOFT_TISSUE.gray(-100.0)) {
                (other_sum, other_n) = (other_sum + g, other_n + 1);
            }
        }
        assert!(
            bone_n > 200 && other_n > 1000,
            "{plane:?}: {bone_n} bone, {other_n} body pixels"
        );
        let (bone_mean, other_mean) = (bone_sum as f64 / bone_n as f64, other_sum as f64 / other_n as f64);
        assert!(
            bone_mean > other_mean + 40.0,
            "{plane:?}: bone mean gray {bone_mean:.1} vs body {other_mean:.1}"
        );
    }
}
