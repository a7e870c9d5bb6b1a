//! Times [`validate`] on the largest real surface: the torso CT resampled to 0.75 mm, its
//! 200 HU isosurface (~1.8 M triangles) before and after the default [`condition`].
//!
//! Usage: `validate_timing [CT.nii.gz]` (default `../shared/data/ct-torso-3mm/ct.nii.gz`
//! relative to the workspace root). Prints best-of-3 seconds and the verdicts.

use std::path::PathBuf;
use std::time::Instant;

use medprint_mesh::isosurface::extract_isosurface;
use medprint_mesh::validate::intersecting_pairs;
use medprint_mesh::{check_mesh, condition, validate, ConditionOptions, Mesh};
use medprint_volume::nifti::read_nifti_scan;
use medprint_volume::resample::resample_to_spacing;
use medprint_volume::Volume;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ct = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-torso-3mm/ct.nii.gz")
    });
    println!("threads: {}", rayon::current_num_threads());
    let scan = read_nifti_scan(&ct)?;
    let surface = extract_isosurface(&resample_to_spacing(&scan.volume, [0.75; 3]), 200.0);
    time_validate("torso 0.75 mm isosurface", &surface);
    let (conditioned, report) = condition(surface, &ConditionOptions::default());
    println!("condition: {:?}", report.self_intersections);
    time_validate("conditioned", &conditioned);
    // A binary mask's staircase surface, as the pipeline conditions after segmentation.
    let volume = resample_to_spacing(&scan.volume, [0.75; 3]);
    let mask = Volume::from_vec(
        volume.dims(),
        volume.data().iter().map(|&v| u8::from(v > 200)).collect(),
        volume.geometry,
    )?;
    drop(volume);
    let (conditioned, report) = condition(extract_isosurface(&mask, 0.5), &ConditionOptions::default());
    println!(
        "mask surface condition: {:?}, printable {}",
        report.self_intersections,
        report.check.is_printable()
    );
    time_validate("conditioned mask surface", &conditioned);
    Ok(())
}

fn time_validate(name: &str, m: &Mesh) {
    let mut best = f64::INFINITY;
    let mut verdict = None;
    for _ in 0..3 {
        let start = Instant::now();
        verdict = Some(validate(m));
        best = best.min(start.elapsed().as_secs_f64());
    }
    let start = Instant::now();
    let pairs = intersecting_pairs(m).len();
    let pairs_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let check = check_mesh(m).is_printable();
    println!(
        "   of which intersecting_pairs {pairs_s:.3} s ({pairs} pairs); check_mesh alone {:.3} s (printable {check})",
        start.elapsed().as_secs_f64()
    );
    let Some(v) = verdict else { return };
    println!(
        "{name}: {} triangles, validate best of 3 {best:.3} s; {} shells ({} valid), {} intersecting pairs, valid {}",
        m.triangles.len(),
        v.shells.len(),
        v.shells.iter().filter(|s| s.is_valid()).count(),
        v.intersecting_pairs(),
        v.is_valid()
    );
}
