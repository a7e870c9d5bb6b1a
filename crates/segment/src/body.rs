//! The patient body: everything denser than lung/air that belongs to the patient, without the
//! scanner table, mattress or other objects outside the body.

use crate::components::{Components, Connectivity};
use crate::morphology::fill_holes;
use crate::SegmentError;
use medprint_volume::Volume;
use rayon::prelude::*;

/// Tissue is denser than this (HU); air and lung parenchyma are below.
pub const BODY_THRESHOLD_HU: i16 = -500;
/// Fat and soft tissue range (HU) used to tell body parts (arms) from objects (table).
pub const SOFT_TISSUE_RANGE_HU: (i16, i16) = (-200, 150);
/// A separate component is a body part (e.g. an arm held apart from the trunk) when it is at least this fraction of the
/// largest component …
pub const BODY_PART_MIN_FRACTION: f64 = 0.002;
/// … and at least this fraction of its voxels are fat or soft tissue (a table is carbon fibre,
/// foam and metal: it is not).
pub const BODY_PART_MIN_SOFT_TISSUE: f64 = 0.5;

/// The body mask of a scan.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyMask {
    /// 1 inside the body (lungs and other enclosed air included), 0 outside; x-fastest.
    pub mask: Vec<u8>,
    /// Voxels inside the body.
    pub body_voxels: u64,
    /// Voxels denser than [`BODY_THRESHOLD_HU`] outside the body (table, mattress, clothing).
    pub table_voxels: u64,
    /// Dense components dropped as not part of the body.
    pub objects_removed: usize,
}

/// Body mask: voxels above −500 HU, kept when they form the largest 6-connected component or a
/// separate body part (≥ 0.2 % of it and mostly fat/soft tissue), then enclosed air (lungs,
/// bowel gas) filled per axial slice. Objects outside the body (the scanner table) are dropped
/// and counted in `table_voxels`.
pub fn body_mask(v: &Volume<i16>) -> Result<BodyMask, SegmentError> {
    let dims = v.dims();
    let data = v.data();
    let dense: Vec<u8> = data.par_iter().map(|&x| u8::from(x > BODY_THRESHOLD_HU)).collect();
    let comps = Components::label(&dense, dims, true, Connectivity::Face3d)?;
    let mut mask = vec![0u8; data.len()];
    let Some(largest) = comps.largest() else {
        return Ok(BodyMask {
            mask,
            body_voxels: 0,
            table_voxels: 0,
            objects_removed: 0,
        });
    };
    // The largest component is kept whatever it holds: count soft tissue only in the others.
    let others: Vec<bool> = (0..comps.count()).map(|c| c != largest).collect();
    let soft = comps.count_voxels_in(&others, |i| {
        (SOFT_TISSUE_RANGE_HU.0..=SOFT_TISSUE_RANGE_HU.1).contains(&data[i])
    });
    let largest_size = comps.sizes[largest] as f64;
    let keep: Vec<bool> = (0..comps.count())
        .map(|c| {
            let size = comps.sizes[c] as f64;
            c == largest
                || (size >= BODY_PART_MIN_FRACTION * largest_size && soft[c] as f64 >= BODY_PART_MIN_SOFT_TISSUE * size)
        })
        .collect();
    comps.paint(&keep, &mut mask, 1)?;
    let objects_removed = keep.iter().filter(|&&k| !k).count();
    let table_voxels = comps
        .sizes
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| !k)
        .map(|(&s, _)| s)
        .sum();
    fill_holes(&mut mask, dims, Connectivity::InSlice)?;
    let body_voxels = mask.par_iter().filter(|&&m| m != 0).count() as u64;
    Ok(BodyMask {
        mask,
        body_voxels,
        table_voxels,
        objects_removed,
    })
}
