//! Decimation fidelity on the real abdomen CT (resampled to 0.75 mm, 250 HU): 90 % fewer
//! triangles with HD95 ≤ 0.5 mm to the undecimated conditioned surface; plus the
//! ~10k-triangle web version. `--nocapture` prints the figures.

use std::path::Path;
use std::time::Instant;

use medprint_mesh::isosurface::extract_isosurface;
use medprint_mesh::{
    condition, decimate, decimate_to_triangle_count, surface_distances, validate, ConditionOptions, DecimateOptions,
    Mesh,
};
use medprint_volume::resample::resample_to_spacing;

/// Bone-like threshold, HU.
const BONE_HU: f64 = 250.0;

/// The abdomen CT (3 mm) resampled to `spacing_mm` (trilinear), its 250 HU isosurface
/// conditioned without decimation.
fn conditioned_abdomen(spacing_mm: f64) -> Mesh {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-abdomen-3mm/ct.nii.gz");
    let scan = medprint_volume::nifti::read_nifti_scan(&path).expect("shared abdomen CT readable");
    let iso_stored = ((BONE_HU - scan.intercept) / scan.slope) as f32;
    let volume = resample_to_spacing(&scan.volume, [spacing_mm; 3]);
    let raw = extract_isosurface(&volume, iso_stored);
    let options = ConditionOptions {
        decimate: None,
        ..ConditionOptions::default()
    };
    let (m, report) = condition(raw, &options);
    assert!(report.check.is_printable(), "{report:?}");
    m
}

#[test]
fn ninety_percent_decimation_keeps_hd95_within_half_a_millimetre_on_real_ct() {
    // The 3 mm grid gives only ~10k triangles of voxel staircase, too coarse to drop 90 % of;
    // the clinical 0.75 mm grid (as in the benchmarks) gives ~140k.
    let spacing_mm = 0.75;
    let full = conditioned_abdomen(spacing_mm);
    assert!(full.triangles.len() > 100_000, "{} triangles", full.triangles.len());
    let start = Instant::now();
    let v = validate(&full);
    let validate_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let reduced = decimate(&full, &DecimateOptions::NINETY_PERCENT);
    let decimate_s = start.elapsed().as_secs_f64();
    let kept = reduced.triangles.len() as f64 / full.triangles.len() as f64;
    let d = surface_distances(&full, &reduced, 200_000).expect("distances");
    println!(
        "abdomen {spacing_mm} mm @{BONE_HU} HU: {} -> {} triangles (kept {:.1} %), HD95 {:.3} mm, mean {:.3} mm, Hausdorff {:.3} mm; \
         decimate {decimate_s:.2} s, validate {validate_s:.2} s ({} shells, {} intersecting pairs)",
        full.triangles.len(),
        reduced.triangles.len(),
        100.0 * kept,
        d.hd95_mm,
        d.mean_mm,
        d.hausdorff_mm,
        v.shells.len(),
        v.intersecting_pairs()
    );
    assert!(kept <= 0.10, "kept {kept}");
    assert!(d.hd95_mm <= 0.5, "{d:?}");
    assert!(d.mean_mm <= 0.2, "{d:?}");

    let web = decimate_to_triangle_count(&full, 10_000);
    println!("web version: {} triangles", web.triangles.len());
    assert!(
        web.triangles.len() <= 12_000 && web.triangles.len() >= 5_000,
        "{}",
        web.triangles.len()
    );
}
