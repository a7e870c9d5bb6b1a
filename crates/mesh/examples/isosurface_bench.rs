//! Times `extract_isosurface` on a raw little-endian int16 volume and prints JSON
//! `{seconds, triangles, vertices}` for the best of 3 runs (used by scripts/bench_peers.py).
//! With `--condition` first, it extracts once and instead times, one run each, the
//! conditioning of that surface: smoothing (10 Taubin iterations with volume restore) plus
//! decimation to 25 % (`seconds`, the pair the VTK peer runs), and the whole default
//! [`condition`] chain (`condition_seconds`: also speck removal, repairs, self-intersection
//! check and validation).
//!
//! Usage: `isosurface_bench [--condition] FILE NX NY NZ [ISO] [OFFSET_BYTES] [SX SY SZ]`
//! (an uncompressed NIfTI-1 `.nii` works with OFFSET_BYTES = its `vox_offset`).

use std::io::{Read, Seek, SeekFrom};
use std::time::Instant;

use medprint_mesh::isosurface::extract_isosurface;
use medprint_mesh::smooth::{restore_volume, smooth_taubin, TAUBIN_LAMBDA, TAUBIN_MU};
use medprint_mesh::{condition, decimate, signed_volume_mm3, ConditionOptions, Mesh};
use medprint_volume::{Geometry, Volume};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let conditioning = args.first().is_some_and(|a| a == "--condition");
    if conditioning {
        args.remove(0);
    }
    if args.len() < 4 {
        return Err("usage: isosurface_bench FILE NX NY NZ [ISO] [OFFSET_BYTES] [SX SY SZ]".into());
    }
    let dims = [args[1].parse()?, args[2].parse()?, args[3].parse()?];
    let iso: f32 = args.get(4).map_or(Ok(200.0), |s| s.parse())?;
    let offset: usize = args.get(5).map_or(Ok(0), |s| s.parse())?;
    let mut spacing = [1.0; 3];
    for (a, s) in spacing.iter_mut().enumerate() {
        if let Some(text) = args.get(6 + a) {
            *s = text.parse()?;
        }
    }
    let voxels: usize = dims.iter().product();
    let data = read_i16_le(&args[0], offset as u64, voxels)?;
    let volume = Volume::from_vec(dims, data, Geometry::axis_aligned(spacing, [0.0; 3]))?;

    if conditioning {
        return time_conditioning(&extract_isosurface(&volume, iso));
    }
    let mut best = f64::INFINITY;
    let mut mesh = Default::default();
    for _ in 0..3 {
        let start = Instant::now();
        mesh = extract_isosurface(&volume, iso);
        best = best.min(start.elapsed().as_secs_f64());
    }
    let mesh: Mesh = mesh;
    println!(
        "{{\"seconds\": {best:.6}, \"triangles\": {}, \"vertices\": {}}}",
        mesh.triangle_count(),
        mesh.vertices.len()
    );
    Ok(())
}

/// Prints the JSON line of the `--condition` mode.
fn time_conditioning(surface: &Mesh) -> Result<(), Box<dyn std::error::Error>> {
    let options = ConditionOptions::default();
    let start = Instant::now();
    let mut smoothed = surface.clone();
    let volume = signed_volume_mm3(&smoothed);
    smooth_taubin(&mut smoothed, options.smooth_iterations, TAUBIN_LAMBDA, TAUBIN_MU);
    restore_volume(&mut smoothed, volume);
    let reduced = decimate(&smoothed, &options.decimate.unwrap_or_default());
    let seconds = start.elapsed().as_secs_f64();
    drop(smoothed);
    let start = Instant::now();
    let (conditioned, report) = condition(surface.clone(), &options);
    let condition_seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"seconds\": {seconds:.6}, \"triangles\": {}, \"vertices\": {}, \"input_triangles\": {}, \
         \"condition_seconds\": {condition_seconds:.6}, \"condition_triangles\": {}, \"printable\": {}}}",
        reduced.triangle_count(),
        reduced.vertices.len(),
        surface.triangle_count(),
        conditioned.triangle_count(),
        report.check.is_printable()
    );
    Ok(())
}

/// Reads `count` little-endian i16 samples from `path` at byte `offset`, in 1 MiB chunks (so the
/// peak memory is the volume itself, not the volume plus the file bytes).
fn read_i16_le(path: &str, offset: u64, count: usize) -> std::io::Result<Vec<i16>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut data = Vec::with_capacity(count);
    let mut chunk = vec![0u8; 1 << 20];
    while data.len() < count {
        let want = (2 * (count - data.len())).min(chunk.len());
        file.read_exact(&mut chunk[..want])?;
        data.extend(chunk[..want].chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])));
    }
    Ok(data)
}
