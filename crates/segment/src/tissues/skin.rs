//! Skin: the outer layer of the body, of a given thickness.
//!
//! Only voxels within a few voxels of the surface can be skin, so instead of a distance
//! transform of the whole grid, a box-shaped neighbourhood test (three running-window passes)
//! keeps the band near the outside, and only band voxels search a ball of offsets, nearest
//! first, for an outside voxel. The result equals thresholding the exact Euclidean distance.

use rayon::prelude::*;

/// 1 on body voxels whose centre lies within `thickness_mm` (mm) of the body surface, 0 elsewhere.
///
/// The surface lies half a voxel beyond the centres of the outermost body voxels, so a voxel is
/// skin when the Euclidean distance (mm) from its centre to the nearest outside voxel centre is
/// below the thickness plus half the smallest spacing. Faces where the scan cuts through the
/// body (grid border) are not skin. An empty outside (body fills the grid) gives no skin.
pub fn skin_layer(body: &[u8], dims: [usize; 3], spacing: [f64; 3], thickness_mm: f64) -> Vec<u8> {
    let [nx, ny, nz] = dims;
    let plane = nx * ny;
    let mut skin = vec![0u8; body.len()];
    if plane == 0 || nz == 0 {
        return skin;
    }
    let half_voxel = 0.5 * spacing.iter().copied().fold(f64::INFINITY, f64::min);
    let limit = thickness_mm + half_voxel;
    // Offsets (voxels) within the limit, nearest first; their per-axis reach.
    let reach: [i64; 3] = std::array::from_fn(|k| (limit / spacing[k]).floor().min(1e6) as i64);
    let mut ball: Vec<(f64, [i64; 3])> = Vec::new();
    for dz in -reach[2]..=reach[2] {
        for dy in -reach[1]..=reach[1] {
            for dx in -reach[0]..=reach[0] {
                let d = ((dx as f64 * spacing[0]).powi(2)
                    + (dy as f64 * spacing[1]).powi(2)
                    + (dz as f64 * spacing[2]).powi(2))
                .sqrt();
                if d < limit {
                    ball.push((d, [dx, dy, dz]));
                }
            }
        }
    }
    ball.sort_by(|a, b| a.0.total_cmp(&b.0));
    let reach = reach.map(|r| r as usize);
    let near = near_outside(body, dims, reach);
    skin.par_chunks_mut(plane).enumerate().for_each(|(z, out)| {
        for (i, o) in out.iter_mut().enumerate() {
            let index = z * plane + i;
            if body[index] == 0 || near[index] == 0 {
                continue;
            }
            let (x, y) = ((i % nx) as i64, (i / nx) as i64);
            let hit = ball.iter().any(|&(_, [dx, dy, dz])| {
                let (px, py, pz) = (x + dx, y + dy, z as i64 + dz);
                px >= 0
                    && py >= 0
                    && pz >= 0
                    && (px as usize) < nx
                    && (py as usize) < ny
                    && (pz as usize) < nz
                    && body[px as usize + nx * (py as usize + ny * pz as usize)] == 0
            });
            *o = u8::from(hit);
        }
    });
    skin
}

/// 1 where an outside voxel (body 0) lies within `reach[k]` voxels along every axis k (a box
/// neighbourhood), by running windows along x and y per slice (row-wise running counts), then
/// along z.
fn near_outside(body: &[u8], dims: [usize; 3], reach: [usize; 3]) -> Vec<u8> {
    let [nx, ny, nz] = dims;
    let plane = nx * ny;
    let mut in_slice = vec![0u8; body.len()];
    in_slice
        .par_chunks_mut(plane)
        .zip(body.par_chunks(plane))
        .for_each(|(out, slice)| {
            let mut along_x = vec![0u8; plane];
            for (row_out, row) in along_x.chunks_mut(nx).zip(slice.chunks(nx)) {
                let mut count = row.iter().take(reach[0].min(nx)).filter(|&&b| b == 0).count();
                for x in 0..nx {
                    if x + reach[0] < nx && row[x + reach[0]] == 0 {
                        count += 1;
                    }
                    if x > reach[0] && row[x - reach[0] - 1] == 0 {
                        count -= 1;
                    }
                    row_out[x] = u8::from(count > 0);
                }
            }
            // Along y: one running count per column, updated a whole row at a time.
            let mut counts = vec![0u32; nx];
            let row = |y: usize| &along_x[y * nx..][..nx];
            for y in 0..reach[1].min(ny) {
                counts.iter_mut().zip(row(y)).for_each(|(c, &v)| *c += u32::from(v));
            }
            for (y, out_row) in out.chunks_mut(nx).enumerate() {
                if y + reach[1] < ny {
                    counts
                        .iter_mut()
                        .zip(row(y + reach[1]))
                        .for_each(|(c, &v)| *c += u32::from(v));
                }
                if y > reach[1] {
                    counts
                        .iter_mut()
                        .zip(row(y - reach[1] - 1))
                        .for_each(|(c, &v)| *c -= u32::from(v));
                }
                out_row.iter_mut().zip(&counts).for_each(|(o, &c)| *o = u8::from(c > 0));
            }
        });
    let mut near = vec![0u8; body.len()];
    near.par_chunks_mut(plane).enumerate().for_each(|(z, out)| {
        let (lo, hi) = (z.saturating_sub(reach[2]), (z + reach[2]).min(nz - 1));
        for source in lo..=hi {
            out.iter_mut()
                .zip(&in_slice[source * plane..][..plane])
                .for_each(|(o, &s)| *o |= s);
        }
    });
    near
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::distance::distance_transform_mm;

    #[test]
    fn layer_of_a_slab_has_the_requested_thickness() {
        // A 1 mm grid, body from x = 2 to x = 17: a 2 mm skin is two voxels on each side.
        let dims = [20, 1, 1];
        let body: Vec<u8> = (0..20).map(|x| u8::from((2..18).contains(&x))).collect();
        let skin = skin_layer(&body, dims, [1.0; 3], 2.0);
        let on: Vec<usize> = (0..20).filter(|&x| skin[x] != 0).collect();
        assert_eq!(on, vec![2, 3, 16, 17]);
    }

    #[test]
    fn equals_the_thresholded_distance_transform() {
        let dims = [23, 19, 11];
        let spacing = [0.8, 1.1, 2.0];
        let body: Vec<u8> = (0..dims.iter().product::<usize>())
            .map(|i| {
                let (x, y, z) = (
                    (i % 23) as f64 - 11.0,
                    ((i / 23) % 19) as f64 - 9.0,
                    (i / 437) as f64 - 5.0,
                );
                u8::from((x / 9.0).powi(2) + (y / 7.5).powi(2) + (z / 6.0).powi(2) <= 1.0 || (i * 7919) % 13 == 0)
            })
            .collect();
        let outside: Vec<u8> = body.iter().map(|&b| u8::from(b == 0)).collect();
        let distance = distance_transform_mm(&outside, dims, spacing);
        for thickness in [0.5, 2.0, 3.7] {
            let limit = thickness + 0.4;
            let expected: Vec<u8> = distance
                .iter()
                .zip(&body)
                .map(|(&d, &b)| u8::from(b != 0 && f64::from(d) < limit))
                .collect();
            assert_eq!(
                skin_layer(&body, dims, spacing, thickness),
                expected,
                "thickness {thickness}"
            );
        }
    }
}
