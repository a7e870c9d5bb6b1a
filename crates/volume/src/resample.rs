//! Resampling of i16 volumes: to a new voxel spacing (trilinear), and of an irregular slice
//! stack onto a regular grid (uneven spacing, gantry tilt).

use rayon::prelude::*;

use crate::{Geometry, Volume};

fn round_i16(v: f64) -> i16 {
    v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// Linear interpolation weights along one axis: for each output index, the lower input index
/// and the weight of the upper neighbour. Positions are clamped to `[0, n-1]`.
fn axis_weights(n_in: usize, n_out: usize, position: impl Fn(usize) -> f64) -> Vec<(usize, f64)> {
    (0..n_out)
        .map(|o| {
            let x = position(o).clamp(0.0, (n_in - 1) as f64);
            let lo = (x.floor() as usize).min(n_in.saturating_sub(2));
            let t = if n_in == 1 { 0.0 } else { x - lo as f64 };
            (lo, t)
        })
        .collect()
}

/// Resamples `v` to voxel size `spacing` (mm along i, j, k) by trilinear interpolation.
///
/// The physical field (voxel edges) is kept: each axis gets `round(n·s / s')` voxels (at least
/// one) and the origin moves so that the first voxel's edge stays where it was. Directions are
/// unchanged. Samples outside the old voxel centres repeat the edge value. Values are rounded
/// to the nearest integer. Parallel over output slices (k).
pub fn resample_to_spacing(v: &Volume<i16>, spacing: [f64; 3]) -> Volume<i16> {
    let dims = v.dims();
    let old = v.geometry;
    let mut new_dims = [0usize; 3];
    let mut origin = old.origin;
    for a in 0..3 {
        let extent = dims[a] as f64 * old.spacing[a];
        new_dims[a] = ((extent / spacing[a]).round() as usize).max(1);
        let shift = 0.5 * (spacing[a] - old.spacing[a]);
        for (r, o) in origin.iter_mut().enumerate() {
            *o += old.direction[r][a] * shift;
        }
    }
    let geometry = Geometry {
        spacing,
        origin,
        direction: old.direction,
    };
    if v.is_empty() {
        return Volume::filled(new_dims, 0, geometry);
    }
    // Continuous old index of new index o along axis a.
    let weights: Vec<Vec<(usize, f64)>> = (0..3)
        .map(|a| {
            let (s_old, s_new) = (old.spacing[a], spacing[a]);
            axis_weights(dims[a], new_dims[a], |o| {
                (0.5 * (s_new - s_old) + o as f64 * s_new) / s_old
            })
        })
        .collect();
    let (nx, ny) = (dims[0], dims[1]);
    let src = v.data();
    let at = |x: usize, y: usize, z: usize| f64::from(src[x + nx * (y + ny * z)]);
    let next = |i: usize, n: usize| (i + 1).min(n - 1);
    let mut out = vec![0i16; new_dims[0] * new_dims[1] * new_dims[2]];
    out.par_chunks_mut(new_dims[0] * new_dims[1])
        .enumerate()
        .for_each(|(k, slice)| {
            let (z0, tz) = weights[2][k];
            let z1 = next(z0, dims[2]);
            for (j, row) in slice.chunks_mut(new_dims[0]).enumerate() {
                let (y0, ty) = weights[1][j];
                let y1 = next(y0, ny);
                for (i, d) in row.iter_mut().enumerate() {
                    let (x0, tx) = weights[0][i];
                    let x1 = next(x0, nx);
                    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
                    let plane = |z| {
                        lerp(
                            lerp(at(x0, y0, z), at(x1, y0, z), tx),
                            lerp(at(x0, y1, z), at(x1, y1, z), tx),
                            ty,
                        )
                    };
                    *d = round_i16(lerp(plane(z0), plane(z1), tz));
                }
            }
        });
    // The buffer was allocated with exactly new_dims voxels, so the shape always matches.
    Volume::from_vec(new_dims, out, geometry).unwrap_or_else(|_| Volume::filled(new_dims, 0, geometry))
}

/// An irregular stack of parallel 2D slices to be put onto a regular grid.
pub struct SliceStack<'a> {
    /// Slices, x-fastest, `columns × rows` each, stacked in order of increasing position.
    pub data: &'a [i16],
    /// Voxels along i.
    pub columns: usize,
    /// Voxels along j.
    pub rows: usize,
    /// In-plane spacing along i and j (mm).
    pub in_plane_spacing: [f64; 2],
    /// Position of each slice along the normal relative to the first (mm, increasing).
    pub along_normal: &'a [f64],
    /// Origin offset of each slice from the first along i and j directions (mm).
    pub in_plane_offsets: &'a [[f64; 2]],
    /// Value for output samples that no slice covers.
    pub fill: i16,
}

/// Samples the stack on a regular grid: output slice `k` lies `k · spacing_k` mm along the
/// normal from the first slice, and output voxel `(i, j)` sits `i·dx` and `j·dy` mm along the
/// row and column directions from the first slice's origin. Each input slice is sampled
/// bilinearly at its own in-plane offset (shear correction for gantry tilt), then the two
/// slices bracketing the output position are blended linearly. Parallel over output slices.
pub fn resample_slice_stack(stack: &SliceStack<'_>, output_slices: usize, spacing_k: f64) -> Vec<i16> {
    let (nx, ny) = (stack.columns, stack.rows);
    let plane = nx * ny;
    let m = stack.along_normal.len();
    let mut out = vec![stack.fill; plane * output_slices];
    let sample = |s: usize, x: f64, y: f64| -> Option<f64> {
        if !(x >= -1e-9 && y >= -1e-9 && x <= (nx - 1) as f64 + 1e-9 && y <= (ny - 1) as f64 + 1e-9) {
            return None;
        }
        let (x, y) = (x.clamp(0.0, (nx - 1) as f64), y.clamp(0.0, (ny - 1) as f64));
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(nx - 1), (y0 + 1).min(ny - 1));
        let (tx, ty) = (x - x0 as f64, y - y0 as f64);
        let base = &stack.data[s * plane..(s + 1) * plane];
        let at = |xx: usize, yy: usize| f64::from(base[xx + nx * yy]);
        let top = at(x0, y0) + (at(x1, y0) - at(x0, y0)) * tx;
        let bottom = at(x0, y1) + (at(x1, y1) - at(x0, y1)) * tx;
        Some(top + (bottom - top) * ty)
    };
    out.par_chunks_mut(plane).enumerate().for_each(|(k, slice)| {
        let z = k as f64 * spacing_k;
        let upper = stack.along_normal.partition_point(|&p| p < z).min(m - 1);
        let lower = upper.saturating_sub(1);
        let span = stack.along_normal[upper] - stack.along_normal[lower];
        let t = if span > 0.0 {
            ((z - stack.along_normal[lower]) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let shift = |s: usize| {
            let o = stack.in_plane_offsets[s];
            [o[0] / stack.in_plane_spacing[0], o[1] / stack.in_plane_spacing[1]]
        };
        let (sl, su) = (shift(lower), shift(upper));
        for j in 0..ny {
            for i in 0..nx {
                let (x, y) = (i as f64, j as f64);
                let a = sample(lower, x - sl[0], y - sl[1]);
                let b = sample(upper, x - su[0], y - su[1]);
                let v = match (a, b) {
                    (Some(a), Some(b)) => a + (b - a) * t,
                    (Some(a), None) => a,
                    (None, Some(b)) => b,
                    (None, None) => continue,
                };
                slice[i + nx * j] = round_i16(v);
            }
        }
    });
    out
}
