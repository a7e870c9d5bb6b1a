//! Binary morphology on `u8` masks (nonzero = set): in-slice closing, hole filling, island removal.

use crate::components::{Components, Connectivity};
use crate::SegmentError;
use rayon::prelude::*;

/// Closing (dilation then erosion) of every axial slice by a `(2 rx + 1) × (2 ry + 1)` square,
/// OR-ed with the input so no voxel is lost. Outside the slice counts as unset. Separable
/// running-window passes: cost is independent of the radius.
pub fn close_in_slice(mask: &[u8], dims: [usize; 3], radius_voxels: [usize; 2]) -> Result<Vec<u8>, SegmentError> {
    let [nx, ny, nz] = dims;
    let slice_len = nx * ny;
    if slice_len * nz != mask.len() {
        return Err(SegmentError::SizeMismatch {
            left: slice_len * nz,
            right: mask.len(),
        });
    }
    let mut out = mask.to_vec();
    if slice_len == 0 || radius_voxels == [0, 0] {
        return Ok(out);
    }
    let [rx, ry] = radius_voxels;
    out.par_chunks_mut(slice_len)
        .zip(mask.par_chunks(slice_len))
        .for_each(|(out, inp)| {
            let mut a = vec![0u8; slice_len];
            let mut b = vec![0u8; slice_len];
            window_pass(inp, &mut a, nx, 1, nx, ny, rx, false);
            window_pass(&a, &mut b, ny, nx, 1, nx, ry, false);
            window_pass(&b, &mut a, nx, 1, nx, ny, rx, true);
            window_pass(&a, &mut b, ny, nx, 1, nx, ry, true);
            out.iter_mut()
                .zip(&b)
                .for_each(|(o, &c)| *o = u8::from(*o != 0 || c != 0));
        });
    Ok(out)
}

/// One 1D running-window pass over `lines` lines of `len` samples (stride `step`, line stride
/// `line_step`): dilation sets a sample when any sample within ±r is set, erosion when all are
/// (samples outside the line count as unset).
#[allow(clippy::too_many_arguments)]
fn window_pass(
    inp: &[u8],
    out: &mut [u8],
    len: usize,
    step: usize,
    line_step: usize,
    lines: usize,
    r: usize,
    erode: bool,
) {
    for line in 0..lines {
        let base = line * line_step;
        // Running count of set samples in the window [i - r, i + r].
        let mut count = (0..=r.min(len.saturating_sub(1)))
            .filter(|&j| inp[base + j * step] != 0)
            .count();
        for i in 0..len {
            let set = if erode { count == 2 * r + 1 } else { count > 0 };
            out[base + i * step] = u8::from(set);
            if i + r + 1 < len && inp[base + (i + r + 1) * step] != 0 {
                count += 1;
            }
            if i >= r && inp[base + (i - r) * step] != 0 {
                count -= 1;
            }
        }
    }
}

/// Unset voxels enclosed by set voxels: background components not reaching the border
/// (per slice with [`Connectivity::InSlice`], in 3D with [`Connectivity::Face3d`]).
/// Returns a mask with 1 at those voxels.
pub fn enclosed_background(mask: &[u8], dims: [usize; 3], connectivity: Connectivity) -> Result<Vec<u8>, SegmentError> {
    let background = Components::label(mask, dims, false, connectivity)?;
    let enclosed: Vec<bool> = background.touches_border.iter().map(|&t| !t).collect();
    let mut out = vec![0u8; mask.len()];
    background.paint(&enclosed, &mut out, 1)?;
    Ok(out)
}

/// Fills every enclosed cavity of `mask` in place (see [`enclosed_background`]); returns the
/// number of voxels added.
pub fn fill_holes(mask: &mut [u8], dims: [usize; 3], connectivity: Connectivity) -> Result<u64, SegmentError> {
    let holes = enclosed_background(mask, dims, connectivity)?;
    let added = mask
        .par_iter_mut()
        .zip(&holes)
        .map(|(m, &h)| {
            let add = h != 0 && *m == 0;
            if add {
                *m = 1;
            }
            u64::from(add)
        })
        .sum();
    Ok(added)
}

/// Removes (in place) the 6-connected components of `mask` smaller than `min_voxels` or for
/// which `keep(component_voxels)` is false; returns `(removed components, removed voxels)`.
pub fn remove_components(
    mask: &mut [u8],
    dims: [usize; 3],
    min_voxels: u64,
    keep: impl Fn(&Components) -> Vec<bool>,
) -> Result<(usize, u64), SegmentError> {
    let comps = Components::label(mask, dims, true, Connectivity::Face3d)?;
    let wanted = keep(&comps);
    if wanted.len() != comps.count() {
        return Err(SegmentError::SizeMismatch {
            left: comps.count(),
            right: wanted.len(),
        });
    }
    let drop: Vec<bool> = comps
        .sizes
        .iter()
        .zip(&wanted)
        .map(|(&s, &w)| s < min_voxels || !w)
        .collect();
    let removed = drop.iter().filter(|&&d| d).count();
    let removed_voxels = comps.sizes.iter().zip(&drop).filter(|(_, &d)| d).map(|(&s, _)| s).sum();
    comps.paint(&drop, mask, 0)?;
    Ok((removed, removed_voxels))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hollow 7×7×7 cube shell (cavity 5×5×5) in a 9×9×9 grid.
    fn hollow_cube() -> (Vec<u8>, [usize; 3]) {
        let dims = [9, 9, 9];
        let mut m = vec![0u8; 729];
        for z in 1..8 {
            for y in 1..8 {
                for x in 1..8 {
                    let inner = (2..7).contains(&x) && (2..7).contains(&y) && (2..7).contains(&z);
                    m[x + 9 * (y + 9 * z)] = u8::from(!inner);
                }
            }
        }
        (m, dims)
    }

    #[test]
    fn fills_enclosed_cavity() {
        let (mut m, dims) = hollow_cube();
        let added = fill_holes(&mut m, dims, Connectivity::Face3d).expect("fill");
        assert_eq!(added, 125);
        assert_eq!(m.iter().filter(|&&v| v != 0).count(), 343);
    }

    #[test]
    fn does_not_fill_channel_open_to_outside() {
        let (mut m, dims) = hollow_cube();
        // Drill a 1-voxel channel from the cavity through the +x wall.
        m[7 + 9 * (4 + 9 * 4)] = 0;
        let before = m.clone();
        assert_eq!(fill_holes(&mut m, dims, Connectivity::Face3d).expect("fill"), 0);
        assert_eq!(m, before);
        // Per slice, only slices the channel does not cross are enclosed (z = 2,3,5,6).
        let added = fill_holes(&mut m, dims, Connectivity::InSlice).expect("fill");
        assert_eq!(added, 4 * 25);
    }

    #[test]
    fn closing_bridges_gap_but_keeps_far_objects_apart() {
        let dims = [12, 3, 1];
        let mut m = vec![0u8; 36];
        for x in [0, 1, 3, 4, 10, 11] {
            m[x + 12] = 1;
        }
        let c = close_in_slice(&m, dims, [1, 0]).expect("close");
        let row: Vec<u8> = c[12..24].to_vec();
        assert_eq!(row, vec![1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(close_in_slice(&m, dims, [0, 0]).expect("close"), m);
    }

    #[test]
    fn removes_small_islands() {
        let dims = [6, 6, 6];
        let mut m = vec![0u8; 216];
        m[0] = 1;
        for z in 2..5 {
            for y in 2..5 {
                for x in 2..5 {
                    m[x + 6 * (y + 6 * z)] = 1;
                }
            }
        }
        let (removed, voxels) = remove_components(&mut m, dims, 2, |c| vec![true; c.count()]).expect("remove");
        assert_eq!((removed, voxels), (1, 1));
        assert_eq!(m.iter().filter(|&&v| v != 0).count(), 27);
    }
}
