//! Metal: detection, removal from bone, the streak-artefact zone around it and the bone holes
//! its streaks cut.

use crate::components::Connectivity;
use crate::evaluate::distance::distance_transform_mm;
use crate::morphology::{close_in_slice, fill_holes};
use crate::SegmentError;
use medprint_volume::Volume;
use rayon::prelude::*;

/// 1 where the scan is at least `metal_min_hu` (HU), 0 elsewhere, with the number of metal voxels.
pub fn metal_mask(scan: &Volume<i16>, metal_min_hu: i16) -> (Vec<u8>, u64) {
    let mask: Vec<u8> = scan.data().par_iter().map(|&v| u8::from(v >= metal_min_hu)).collect();
    let count = mask
        .par_chunks(1 << 16)
        .map(|chunk| chunk.iter().filter(|&&m| m != 0).count() as u64)
        .sum();
    (mask, count)
}

/// Clears from `bone` (nonzero = bone) every voxel where `metal` is nonzero; returns how many
/// bone voxels were cleared. Errors when the two grids differ in size.
pub fn exclude_metal(bone: &mut Volume<u8>, metal: &[u8]) -> Result<u64, SegmentError> {
    if bone.len() != metal.len() {
        return Err(SegmentError::SizeMismatch {
            left: bone.len(),
            right: metal.len(),
        });
    }
    Ok(bone
        .data_mut()
        .par_chunks_mut(1 << 16)
        .zip(metal.par_chunks(1 << 16))
        .map(|(bone, metal)| {
            let mut cleared = 0;
            for (b, &m) in bone.iter_mut().zip(metal) {
                if *b != 0 && m != 0 {
                    *b = 0;
                    cleared += 1;
                }
            }
            cleared
        })
        .sum())
}

/// An axis-aligned box of a grid: `start` (voxel index per axis) and `size` (voxels per axis).
#[derive(Debug, Clone, Copy, PartialEq)]
struct GridBox {
    start: [usize; 3],
    size: [usize; 3],
}

impl GridBox {
    /// Bounding box of the nonzero voxels of `mask`, grown by `margin_mm` (mm) and clipped to
    /// the grid; `None` when nothing is set.
    fn around(mask: &[u8], dims: [usize; 3], spacing: [f64; 3], margin_mm: f64) -> Option<Self> {
        let [nx, ny, _] = dims;
        let plane = (nx * ny).max(1);
        // Per slice: a fast scan for any set voxel, then the bounds of the set rows and columns.
        let (low, high) = mask
            .par_chunks(plane)
            .enumerate()
            .filter(|(_, slice)| slice.iter().any(|&m| m != 0))
            .map(|(z, slice)| {
                let mut low = [usize::MAX, usize::MAX, z];
                let mut high = [0, 0, z];
                for (y, row) in slice.chunks(nx.max(1)).enumerate() {
                    if let Some(first) = row.iter().position(|&m| m != 0) {
                        let last = row.iter().rposition(|&m| m != 0).unwrap_or(first);
                        low = [low[0].min(first), low[1].min(y), z];
                        high = [high[0].max(last), high[1].max(y), z];
                    }
                }
                (low, high)
            })
            .reduce_with(|a, b| {
                (
                    std::array::from_fn(|k| a.0[k].min(b.0[k])),
                    std::array::from_fn(|k| a.1[k].max(b.1[k])),
                )
            })?;
        let reach: [usize; 3] = std::array::from_fn(|k| (margin_mm / spacing[k]).ceil() as usize + 1);
        let start: [usize; 3] = std::array::from_fn(|k| low[k].saturating_sub(reach[k]));
        let size = std::array::from_fn(|k| (high[k] + reach[k] + 1).min(dims[k]) - start[k]);
        Some(Self { start, size })
    }

    /// Linear index in the full grid of box voxel `(0, y, z)`.
    fn row_start(&self, dims: [usize; 3], y: usize, z: usize) -> usize {
        self.start[0] + dims[0] * ((self.start[1] + y) + dims[1] * (self.start[2] + z))
    }

    /// Copy of the box's voxels of `full` (x-fastest).
    fn extract<T: Copy + Default + Send + Sync>(&self, full: &[T], dims: [usize; 3]) -> Vec<T> {
        let [sx, sy, _] = self.size;
        let mut out = vec![T::default(); sx * sy * self.size[2]];
        out.par_chunks_mut((sx * sy).max(1)).enumerate().for_each(|(z, slice)| {
            for (y, row) in slice.chunks_mut(sx.max(1)).enumerate() {
                let from = self.row_start(dims, y, z);
                row.copy_from_slice(&full[from..from + sx]);
            }
        });
        out
    }

    /// Calls `f(full_index, box_index)` for every voxel of the box.
    fn for_each(&self, dims: [usize; 3], mut f: impl FnMut(usize, usize)) {
        let [sx, sy, sz] = self.size;
        for z in 0..sz {
            for y in 0..sy {
                let from = self.row_start(dims, y, z);
                for x in 0..sx {
                    f(from + x, x + sx * (y + sy * z));
                }
            }
        }
    }
}

/// 1 within `radius_mm` (mm, Euclidean) of any metal voxel and inside `body`, 0 elsewhere: where
/// streak artefacts (dark and bright bands radiating from metal) are expected. The distance
/// transform runs only on the bounding box of the metal grown by the radius (implants are small).
pub fn artefact_zone(metal: &[u8], body: &[u8], dims: [usize; 3], spacing: [f64; 3], radius_mm: f64) -> Vec<u8> {
    let mut zone = vec![0u8; metal.len()];
    let Some(region) = GridBox::around(metal, dims, spacing, radius_mm) else {
        return zone;
    };
    let distance = distance_transform_mm(&region.extract(metal, dims), region.size, spacing);
    let radius = radius_mm as f32;
    region.for_each(dims, |i, j| zone[i] = u8::from(body[i] != 0 && distance[j] <= radius));
    zone
}

/// Fills the holes that metal streaks cut into bone: `bone ∪ metal` is closed in every axial slice
/// by a square of half-width `closing_mm` (mm), its in-slice holes filled, and the voxels this
/// adds inside `zone` (and not metal) become bone. Works on the zone's bounding box grown by
/// 30 mm plus the closing (so bone rings reaching beyond the zone close inside the box).
/// Returns the voxels added.
pub fn fill_metal_holes(
    bone: &mut [u8],
    metal: &[u8],
    zone: &[u8],
    dims: [usize; 3],
    spacing: [f64; 3],
    closing_mm: f64,
) -> Result<u64, SegmentError> {
    let n = bone.len();
    if metal.len() != n || zone.len() != n {
        return Err(SegmentError::SizeMismatch {
            left: n,
            right: metal.len().min(zone.len()),
        });
    }
    let Some(region) = GridBox::around(zone, dims, spacing, FILL_MARGIN_MM + closing_mm) else {
        return Ok(0);
    };
    let mut union = region.extract(bone, dims);
    let metal_box = region.extract(metal, dims);
    union
        .par_iter_mut()
        .zip(&metal_box)
        .for_each(|(u, &m)| *u = u8::from(*u != 0 || m != 0));
    let radius = [0, 1].map(|a| (closing_mm / spacing[a]).round().max(0.0) as usize);
    let mut closed = close_in_slice(&union, region.size, radius)?;
    fill_holes(&mut closed, region.size, Connectivity::InSlice)?;
    let mut added = 0;
    region.for_each(dims, |i, j| {
        if bone[i] == 0 && closed[j] != 0 && zone[i] != 0 && metal[i] == 0 {
            bone[i] = 1;
            added += 1;
        }
    });
    Ok(added)
}

/// Margin (mm) around the artefact zone within which bone may enclose a streak hole.
const FILL_MARGIN_MM: f64 = 30.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_is_a_ball_around_the_metal_inside_the_body() {
        let dims = [21, 21, 21];
        let mut metal = vec![0u8; 21 * 21 * 21];
        let centre = 10 + 21 * (10 + 21 * 10);
        metal[centre] = 1;
        let mut body = vec![1u8; metal.len()];
        body[0] = 0;
        let zone = artefact_zone(&metal, &body, dims, [1.0; 3], 5.0);
        let expected = (0..metal.len())
            .filter(|&i| {
                let (x, y, z) = (
                    (i % 21) as f64 - 10.0,
                    ((i / 21) % 21) as f64 - 10.0,
                    (i / 441) as f64 - 10.0,
                );
                (x * x + y * y + z * z).sqrt() <= 5.0
            })
            .count();
        assert_eq!(zone.iter().filter(|&&z| z != 0).count(), expected);
        assert!(artefact_zone(&[0; 8], &[1; 8], [2, 2, 2], [1.0; 3], 5.0)
            .iter()
            .all(|&z| z == 0));
    }
}
