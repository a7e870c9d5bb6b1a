//! Times [`condition`] with its default options, whole and step by step, on
//! (a) the 1.3 M-triangle icosphere of the conditioning bench and (b) the real isosurface
//! of the torso CT resampled to 0.75 mm (the clinical-size benchmark of `medprint convert`).
//!
//! Usage: `condition_timing [CT.nii.gz]` (default `../shared/data/ct-torso-3mm/ct.nii.gz`
//! relative to the workspace root). Prints one line per step and the best of 3 whole runs.

#[path = "../tests/conditioning_support/mod.rs"]
mod conditioning_support;

use std::path::PathBuf;
use std::time::Instant;

use medprint_mesh::isosurface::extract_isosurface;
use medprint_mesh::repair::{
    remove_degenerate_and_duplicate_triangles, remove_small_shells, repair_topology, weld_vertices,
};
use medprint_mesh::smooth::{restore_volume, smooth_taubin, TAUBIN_LAMBDA, TAUBIN_MU};
use medprint_mesh::{
    check_mesh, condition, decimate, signed_volume_mm3, validate, ConditionOptions, DecimateOptions, Mesh,
};
use medprint_volume::nifti::read_nifti_scan;
use medprint_volume::resample::resample_to_spacing;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ct = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-torso-3mm/ct.nii.gz")
    });
    println!("threads: {}", rayon::current_num_threads());

    let sphere = conditioning_support::icosphere(8, 80.0, [0.0; 3]);
    report("icosphere", &sphere);

    let scan = read_nifti_scan(&ct)?;
    let volume = resample_to_spacing(&scan.volume, [0.75; 3]);
    let start = Instant::now();
    let surface = extract_isosurface(&volume, 200.0);
    println!("isosurface {:?}: {:.3} s", volume.dims(), start.elapsed().as_secs_f64());
    drop(volume);
    report("torso CT 0.75 mm, iso 200 HU", &surface);
    Ok(())
}

/// Prints the per-step timings of the sequential reference chain and the best of three
/// whole [`condition`] runs.
fn report(name: &str, input: &Mesh) {
    println!(
        "== {name}: {} triangles, {} vertices",
        input.triangles.len(),
        input.vertices.len()
    );
    let options = ConditionOptions::default();
    let mut step = Stopwatch::new();
    let c = check_mesh(input);
    step.lap("check_mesh (input)");
    println!("   input check: {c:?}");
    let mut m = input.clone();
    step.lap("clone");
    weld_vertices(&mut m, 0.0);
    step.lap("weld_vertices");
    remove_degenerate_and_duplicate_triangles(&mut m);
    step.lap("remove_degenerate_and_duplicate");
    let mut m = remove_small_shells(&m, options.min_shell_volume_mm3);
    step.lap("remove_small_shells");
    let volume = signed_volume_mm3(&m);
    step.lap("signed_volume");
    smooth_taubin(&mut m, options.smooth_iterations, TAUBIN_LAMBDA, TAUBIN_MU);
    step.lap("smooth_taubin");
    restore_volume(&mut m, volume);
    step.lap("restore_volume");
    let mut m = decimate(&m, &DecimateOptions::default());
    step.lap("decimate");
    repair_topology(&mut m);
    step.lap("repair_topology");
    let c = check_mesh(&m);
    step.lap("check_mesh (output)");
    let v = validate(&m);
    step.lap("validate (output)");
    println!(
        "   validate: {} shells, {} valid, {} intersecting pairs",
        v.shells.len(),
        v.shells.iter().filter(|s| s.is_valid()).count(),
        v.intersecting_pairs()
    );
    let v = validate(input);
    step.lap("validate (input)");
    println!(
        "   validate input: {} triangles, {} shells, {} intersecting pairs",
        input.triangles.len(),
        v.shells.len(),
        v.intersecting_pairs()
    );
    println!(
        "   sequential steps total {:.3} s, {} triangles, printable {}",
        step.total(),
        m.triangles.len(),
        c.is_printable()
    );

    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let copy = input.clone();
        let start = Instant::now();
        let (out, r) = condition(copy, &options);
        best = best.min(start.elapsed().as_secs_f64());
        assert!(r.check.is_printable(), "{r:?}");
        drop(out);
    }
    println!("   condition() best of 3: {best:.3} s");
}

/// Lap timer.
struct Stopwatch {
    first: Instant,
    last: Instant,
}

impl Stopwatch {
    fn new() -> Self {
        let now = Instant::now();
        Self { first: now, last: now }
    }

    fn lap(&mut self, what: &str) {
        let now = Instant::now();
        println!("   {what:<34} {:7.3} s", (now - self.last).as_secs_f64());
        self.last = now;
    }

    fn total(&self) -> f64 {
        self.last.duration_since(self.first).as_secs_f64()
    }
}
