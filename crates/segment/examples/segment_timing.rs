//! Per-stage timings of `segment_bone` on a clinical-size CT: the torso resampled to 0.75 mm
//! (488 × 404 × 448 ≈ 88 Mvoxel).
//!
//! `cargo run --release -p medprint-segment --example segment_timing [path/to/ct.nii.gz] [spacing_mm]`

use medprint_segment::{segment_bone, BoneParams};
use medprint_volume::nifti::read_nifti_scan;
use medprint_volume::resample::resample_to_spacing;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-torso-3mm/ct.nii.gz")
    });
    let spacing: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(0.75);
    let scan = read_nifti_scan(&path)?.volume;
    let start = Instant::now();
    let scan = resample_to_spacing(&scan, [spacing; 3]);
    println!(
        "resampled to {:?} ({:.1} Mvoxel) in {:.0} ms",
        scan.dims(),
        scan.len() as f64 / 1e6,
        start.elapsed().as_secs_f64() * 1e3
    );
    let params = BoneParams::default();
    for run in 0..2 {
        let start = Instant::now();
        let seg = segment_bone(&scan, &params)?;
        let total = start.elapsed().as_secs_f64() * 1e3;
        let bone = seg.mask.data().iter().filter(|&&m| m != 0).count();
        println!(
            "run {run}: total {total:.0} ms, threshold {:.1} HU, {bone} bone voxels",
            seg.threshold.threshold_hu
        );
        for (stage, ms) in &seg.timings_ms {
            println!("  {stage:<12} {ms:8.1} ms");
        }
    }
    Ok(())
}
