//! Binary morphology on `u8` masks (nonzero = set): in-slice closing, hole filling, island removal.

use crate::components::{Components, Connectivity};
use crate::SegmentError;
use rayon::prelude::*;

/// Closing (dilation then erosion) of every axial slice by a `(2 rx + 1) × (2 ry + 1)` square,
/// OR-ed with the input so no voxel is lost. Outside the slice counts as unset. Separable
/// running-window passes: cost is independent of the radius.
pub fn close_in_slice(mask: &[u8], dims: [usize; 3], radius_voxels: [usize; 2]) -> Result<Vec<u8>, SegmentError> {
    let slice_len = check_dims(mask.len(), dims)?;
    let mut out = mask.to_vec();
    if slice_len == 0 {
        return Ok(out);
    }
    out.par_chunks_mut(slice_len)
        .zip(mask.par_chunks(slice_len))
        .for_each(|(out, inp)| close_slice(inp, out, dims[0], radius_voxels, &mut SliceScratch::default()));
    Ok(out)
}

/// Reusable buffers of the per-slice operations.
#[derive(Default)]
struct SliceScratch {
    a: Vec<u8>,
    b: Vec<u8>,
    counts: Vec<u32>,
}

/// Closing of one slice (`nx` wide) into `out` (OR-ed with the input).
fn close_slice(inp: &[u8], out: &mut [u8], nx: usize, [rx, ry]: [usize; 2], scratch: &mut SliceScratch) {
    out.copy_from_slice(inp);
    if [rx, ry] == [0, 0] || inp.iter().all(|&m| m == 0) {
        return;
    }
    let SliceScratch { a, b, counts } = scratch;
    a.resize(inp.len(), 0);
    b.resize(inp.len(), 0);
    row_window_pass(inp, a, nx, rx, false);
    column_window_pass(a, b, nx, ry, false, counts);
    row_window_pass(b, a, nx, rx, true);
    column_window_pass(a, b, nx, ry, true, counts);
    out.iter_mut()
        .zip(b.iter())
        .for_each(|(o, &c)| *o = u8::from(*o != 0 || c != 0));
}

/// Running-window pass along x over every row of a slice: dilation sets a sample when any
/// sample within ±r is set, erosion when all are (samples outside the row count as unset).
/// Works on runs of set samples (a run `x0..x1` dilates to `x0−r..x1+r` and erodes to
/// `x0+r..x1−r`), so mostly empty rows cost a fast scan.
fn row_window_pass(inp: &[u8], out: &mut [u8], nx: usize, r: usize, erode: bool) {
    for (row_in, row_out) in inp.chunks(nx).zip(out.chunks_mut(nx)) {
        row_out.fill(0);
        let mut x = 0;
        while let Some(skip) = row_in[x..].iter().position(|&v| v != 0) {
            let x0 = x + skip;
            let x1 = row_in[x0..].iter().position(|&v| v == 0).map_or(nx, |len| x0 + len);
            let (a, b) = if erode {
                (x0 + r, x1.saturating_sub(r))
            } else {
                (x0.saturating_sub(r), (x1 + r).min(nx))
            };
            if a < b {
                row_out[a..b].fill(1);
            }
            x = x1;
        }
    }
}

/// Running-window pass along y (same rule as [`row_window_pass`]) with one running count per
/// column, updated a whole row at a time so the loops vectorise and memory is read row-wise.
fn column_window_pass(inp: &[u8], out: &mut [u8], nx: usize, r: usize, erode: bool, counts: &mut Vec<u32>) {
    let ny = inp.len() / nx;
    let row = |y: usize| &inp[y * nx..][..nx];
    let add = |counts: &mut [u32], y: usize, sign: bool| {
        counts.iter_mut().zip(row(y)).for_each(|(c, &v)| {
            let set = u32::from(v != 0);
            *c = if sign { *c + set } else { *c - set };
        })
    };
    counts.clear();
    counts.resize(nx, 0);
    for y in 0..=r.min(ny - 1) {
        add(counts, y, true);
    }
    let full = (2 * r + 1) as u32;
    for y in 0..ny {
        let out_row = &mut out[y * nx..][..nx];
        if erode {
            out_row
                .iter_mut()
                .zip(counts.iter())
                .for_each(|(o, &c)| *o = u8::from(c == full));
        } else {
            out_row
                .iter_mut()
                .zip(counts.iter())
                .for_each(|(o, &c)| *o = u8::from(c > 0));
        }
        if y + r + 1 < ny {
            add(counts, y + r + 1, true);
        }
        if y >= r {
            add(counts, y - r, false);
        }
    }
}

/// Voxels per slice of a grid of `dims`, checked against the buffer length.
fn check_dims(len: usize, [nx, ny, nz]: [usize; 3]) -> Result<usize, SegmentError> {
    let n = nx.checked_mul(ny).and_then(|s| s.checked_mul(nz));
    match n {
        Some(n) if n == len => Ok(nx * ny),
        _ => Err(SegmentError::SizeMismatch {
            left: n.unwrap_or(usize::MAX),
            right: len,
        }),
    }
}

/// Sets `out` (one slice, `nx` wide) to 1 on the unset pixels of `slice` enclosed by set
/// pixels (4-connected background components not reaching the slice outline), 0 elsewhere.
fn enclosed_in_slice(slice: &[u8], nx: usize, out: &mut [u8]) -> Result<(), SegmentError> {
    out.fill(0);
    if slice.iter().all(|&m| m == 0) {
        return Ok(());
    }
    let dims = [nx, slice.len() / nx, 1];
    let background = Components::label(slice, dims, false, Connectivity::InSlice)?;
    let enclosed: Vec<bool> = background.touches_border.iter().map(|&t| !t).collect();
    background.paint(&enclosed, out, 1)
}

/// Unset voxels enclosed by set voxels: background components not reaching the border
/// (per slice with [`Connectivity::InSlice`], in 3D with [`Connectivity::Face3d`]).
/// Returns a mask with 1 at those voxels.
pub fn enclosed_background(mask: &[u8], dims: [usize; 3], connectivity: Connectivity) -> Result<Vec<u8>, SegmentError> {
    let mut filled = mask.to_vec();
    fill_holes(&mut filled, dims, connectivity)?;
    Ok(filled
        .par_iter_mut()
        .zip(mask)
        .map(|(f, &m)| u8::from(*f != 0 && m == 0))
        .collect())
}

/// Fills every enclosed cavity of `mask` in place (see [`enclosed_background`]); returns the
/// number of voxels added.
///
/// 3D cavities are found without labelling the whole background: a voxel of a cavity enclosed
/// in 3D is also enclosed within its axial slice (its in-slice component is part of the
/// cavity), so only the voxels enclosed in their slice are labelled in 3D, and a candidate
/// component is a cavity unless it touches the first or last slice or a slice-open background
/// voxel above or below it. The candidates are few (marrow, canals), so this is much cheaper
/// than labelling the background of an 88-Mvoxel grid.
pub fn fill_holes(mask: &mut [u8], dims: [usize; 3], connectivity: Connectivity) -> Result<u64, SegmentError> {
    let slice_len = check_dims(mask.len(), dims)?;
    if slice_len == 0 {
        return Ok(0);
    }
    let nx = dims[0];
    match connectivity {
        Connectivity::InSlice => mask
            .par_chunks_mut(slice_len)
            .map(|slice| {
                let mut holes = vec![0u8; slice_len];
                enclosed_in_slice(slice, nx, &mut holes)?;
                let mut added = 0;
                slice
                    .iter_mut()
                    .zip(&holes)
                    .filter(|(_, &h)| h != 0)
                    .for_each(|(m, _)| {
                        *m = 1;
                        added += 1;
                    });
                Ok(added)
            })
            .sum(),
        Connectivity::Face3d => {
            let cavities = slice_enclosed_cavities(mask, dims)?;
            let closed: Vec<bool> = cavities
                .open_sideways
                .iter()
                .zip(&cavities.open_at_ends)
                .map(|(&side, &ends)| !side && !ends)
                .collect();
            cavities.components.paint(&closed, mask, 1)?;
            Ok(cavities.voxels_of(&closed))
        }
    }
}

/// The background voxels of a mask that are enclosed within their axial slice, as 3D
/// (6-connected) components, with how each component opens.
///
/// Invariant: a component with neither opening is a cavity enclosed in 3D.
pub struct SliceEnclosedCavities {
    /// The components.
    pub components: Components,
    /// Whether the component reaches, above or below, background that is open in its slice.
    pub open_sideways: Vec<bool>,
    /// Whether the component reaches the first or last slice of the grid (the scan's ends).
    pub open_at_ends: Vec<bool>,
    /// Largest area of the component in one slice (voxels).
    pub max_slice_voxels: Vec<u64>,
}

impl SliceEnclosedCavities {
    /// Voxels of the components `c` with `selected[c]`.
    pub fn voxels_of(&self, selected: &[bool]) -> u64 {
        self.components
            .sizes
            .iter()
            .zip(selected)
            .filter(|(_, &f)| f)
            .map(|(&s, _)| s)
            .sum()
    }
}

/// Finds the [`SliceEnclosedCavities`] of `mask`: only the voxels enclosed in their slice are
/// labelled in 3D (few: marrow, canals), never the whole background.
pub fn slice_enclosed_cavities(mask: &[u8], dims: [usize; 3]) -> Result<SliceEnclosedCavities, SegmentError> {
    let slice_len = check_dims(mask.len(), dims)?;
    let nx = dims[0];
    let mut candidates = vec![0u8; mask.len()];
    if slice_len > 0 {
        candidates
            .par_chunks_mut(slice_len)
            .zip(mask.par_chunks(slice_len))
            .try_for_each(|(c, m)| enclosed_in_slice(m, nx, c))?;
    }
    let components = Components::label(&candidates, dims, true, Connectivity::Face3d)?;
    // `touches_border` covers the first and last slice (x/y borders are impossible).
    let open_at_ends = components.touches_border.clone();
    let mut open_sideways = vec![false; components.count()];
    let mut max_slice_voxels = vec![0u64; components.count()];
    let mut current = vec![(usize::MAX, 0u64); components.count()];
    components.for_each_run(|c, start, len| {
        let z = start / slice_len;
        let (cz, area) = &mut current[c];
        if *cz != z {
            *cz = z;
            *area = 0;
        }
        *area += len as u64;
        max_slice_voxels[c] = max_slice_voxels[c].max(*area);
        if open_sideways[c] {
            return;
        }
        let escapes = |j: usize| mask[j] == 0 && candidates[j] == 0;
        let below = start >= slice_len && (start - slice_len..start - slice_len + len).any(escapes);
        let above = start + slice_len + len <= mask.len() && (start + slice_len..start + slice_len + len).any(escapes);
        open_sideways[c] = below || above;
    });
    Ok(SliceEnclosedCavities {
        components,
        open_sideways,
        open_at_ends,
        max_slice_voxels,
    })
}

/// Fills, in place, cavities that are enclosed in every slice but open at the first or last
/// slice of the scan (the marrow of a long bone or vertebra cut by the field of view), when no
/// slice of the cavity is larger than `max_slice_voxels` (marrow canals are small; the skull's
/// or the pelvis' content is not) and `admit(component_voxel_indices)` accepts its content.
/// Returns the voxels added.
pub fn fill_cavities_open_at_scan_ends(
    mask: &mut [u8],
    dims: [usize; 3],
    max_slice_voxels: u64,
    admit: impl Fn(&[usize]) -> bool,
) -> Result<u64, SegmentError> {
    let cavities = slice_enclosed_cavities(mask, dims)?;
    let count = cavities.components.count();
    let eligible: Vec<bool> = (0..count)
        .map(|c| {
            cavities.open_at_ends[c] && !cavities.open_sideways[c] && cavities.max_slice_voxels[c] <= max_slice_voxels
        })
        .collect();
    if !eligible.iter().any(|&e| e) {
        return Ok(0);
    }
    let mut voxels: Vec<Vec<usize>> = vec![Vec::new(); count];
    cavities.components.for_each_run(|c, start, len| {
        if eligible[c] {
            voxels[c].extend(start..start + len);
        }
    });
    let fill: Vec<bool> = (0..count).map(|c| eligible[c] && admit(&voxels[c])).collect();
    cavities.components.paint(&fill, mask, 1)?;
    Ok(cavities.voxels_of(&fill))
}

/// Bridges gaps in thin cortex and fills cavities, per axial slice, in place: voxels of the
/// slice's closing ([`close_in_slice`], radius in voxels along x and y) or enclosed by it are
/// set when `admit(voxel_index)` holds. Parallel over slices with per-thread buffers (no
/// full-size temporaries). Returns the voxels added.
pub fn close_and_fill_in_slices(
    mask: &mut [u8],
    dims: [usize; 3],
    radius_voxels: [usize; 2],
    admit: impl Fn(usize) -> bool + Sync,
) -> Result<u64, SegmentError> {
    let slice_len = check_dims(mask.len(), dims)?;
    if slice_len == 0 {
        return Ok(0);
    }
    let nx = dims[0];
    mask.par_chunks_mut(slice_len)
        .enumerate()
        .map_init(
            || (SliceScratch::default(), vec![0u8; slice_len], vec![0u8; slice_len]),
            |(scratch, closed, holes), (z, slice)| {
                if slice.iter().all(|&m| m == 0) {
                    return Ok(0);
                }
                close_slice(slice, closed, nx, radius_voxels, scratch);
                enclosed_in_slice(closed, nx, holes)?;
                let base = z * slice_len;
                let mut added = 0;
                for (i, m) in slice.iter_mut().enumerate() {
                    if *m == 0 && (closed[i] != 0 || holes[i] != 0) && admit(base + i) {
                        *m = 1;
                        added += 1;
                    }
                }
                Ok(added)
            },
        )
        .sum()
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
    fn cavity_open_through_the_top_slice_wall_is_not_filled() {
        let (mut m, dims) = hollow_cube();
        // Drill through the +z wall: every slice of the cavity is enclosed in-slice, but the
        // cavity reaches the open background above it.
        m[4 + 9 * (4 + 9 * 7)] = 0;
        let before = m.clone();
        assert_eq!(fill_holes(&mut m, dims, Connectivity::Face3d).expect("fill"), 0);
        assert_eq!(m, before);
        let enclosed = enclosed_background(&m, dims, Connectivity::InSlice).expect("enclosed");
        assert_eq!(enclosed.iter().filter(|&&v| v != 0).count(), 5 * 25 + 1);
    }

    #[test]
    fn slice_closing_bridges_cortex_gap_and_fills_only_admitted_voxels() {
        // A 9×9 square ring with a 1-voxel gap in one wall, in a 13×13×2 grid.
        let dims = [13, 13, 2];
        let mut m = vec![0u8; 13 * 13 * 2];
        for z in 0..2 {
            for y in 2..11 {
                for x in 2..11 {
                    let wall = x == 2 || x == 10 || y == 2 || y == 10;
                    m[x + 13 * (y + 13 * z)] = u8::from(wall && !(x == 6 && y == 2));
                }
            }
        }
        // Admit everything in slice 0, nothing but the gap in slice 1.
        let gap = |z: usize| 6 + 13 * (2 + 13 * z);
        let added = close_and_fill_in_slices(&mut m, dims, [1, 1], |i| i < 169 || i == gap(1)).expect("fill");
        assert_eq!(m[gap(0)], 1);
        assert_eq!(m[gap(1)], 1);
        assert_eq!(
            added,
            1 + 49 + 1,
            "gap and 7×7 interior in slice 0, only the gap in slice 1"
        );
        assert!(close_and_fill_in_slices(&mut m[1..], dims, [1, 1], |_| true).is_err());
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
