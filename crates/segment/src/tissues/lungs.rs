//! Lungs: the large, bilateral air regions of the thorax, told apart from bowel gas.

use super::frame::PatientFrame;
use crate::components::{Components, Connectivity};
use crate::SegmentError;

/// Rules (HU, mm³, fractions) that pick the lungs among the air regions inside the body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LungRules {
    /// An air region smaller than this (mm³) is never lung (bowel gas, trapped air).
    pub min_volume_mm3: f64,
    /// A region whose mean density is below this (HU) is pure gas (bowel, stomach), not lung
    /// parenchyma (≈ −850 HU: air mixed with tissue and blood).
    pub gas_mean_hu: f64,
    /// One region is both lungs (joined by the airways) when at least this fraction of its
    /// voxels lies on each side of the body midline.
    pub bilateral_fraction: f64,
    /// A lung on the other side must be at least this fraction of the first lung's volume.
    pub partner_min_fraction: f64,
}

impl Default for LungRules {
    fn default() -> Self {
        Self {
            min_volume_mm3: 20_000.0,
            gas_mean_hu: -950.0,
            bilateral_fraction: 0.15,
            partner_min_fraction: 0.1,
        }
    }
}

/// Summary of one 6-connected air region.
#[derive(Debug, Clone, Copy, Default)]
struct AirRegion {
    voxels: u64,
    hu_sum: f64,
    left: u64,
    right: u64,
    superior_min: f64,
    superior_max: f64,
    superior_sum: f64,
}

impl AirRegion {
    fn mean_hu(&self) -> f64 {
        self.hu_sum / self.voxels.max(1) as f64
    }

    /// Superior–inferior coordinate (mm, LPS z) of the centroid.
    fn superior_centre(&self) -> f64 {
        self.superior_sum / self.voxels.max(1) as f64
    }

    fn left_fraction(&self) -> f64 {
        self.left as f64 / self.voxels.max(1) as f64
    }

    fn right_fraction(&self) -> f64 {
        self.right as f64 / self.voxels.max(1) as f64
    }

    /// Length (mm) of the superior–inferior overlap of two regions.
    fn overlap_mm(&self, other: &AirRegion) -> f64 {
        self.superior_max.min(other.superior_max) - self.superior_min.max(other.superior_min)
    }
}

/// Which air regions are lungs, and the outcome in words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LungSelection {
    /// 1 on the voxels of the air regions chosen as lungs (airways included), 0 elsewhere.
    pub mask: Vec<u8>,
    /// Number of air regions chosen (0, 1 or 2).
    pub regions: usize,
    /// Why no lung was found, when none was.
    pub note: Option<String>,
}

/// Picks the lungs among the 6-connected components of `air` (1 = air inside the body).
///
/// Candidates are regions of at least `min_volume_mm3` whose mean density is above
/// `gas_mean_hu`. The candidate whose centroid is most superior is the first lung (the lungs
/// fill the thorax; bowel gas lies below the diaphragm, though the colon's flexures reach as
/// high as the lung bases). It is both lungs when it is bilateral; otherwise the second lung is
/// the candidate mostly on the other side, overlapping it superior–inferior with its centroid
/// within the first lung's span, whose centroid is most superior. A single unilateral region is not accepted (bowel gas is often one-sided).
pub(crate) fn select_lungs(
    air: &[u8],
    hu: &[i16],
    frame: &PatientFrame,
    rules: &LungRules,
) -> Result<LungSelection, SegmentError> {
    let comps = Components::label(air, frame.dims, true, Connectivity::Face3d)?;
    let voxel_mm3 = frame.geometry.voxel_volume_mm3();
    let is_candidate_size: Vec<bool> = comps
        .sizes
        .iter()
        .map(|&s| s as f64 * voxel_mm3 >= rules.min_volume_mm3)
        .collect();
    let mut regions = vec![AirRegion::default(); comps.count()];
    comps.for_each_run(|c, start, len| {
        if !is_candidate_size[c] {
            return;
        }
        let r = &mut regions[c];
        for (i, &density) in hu.iter().enumerate().skip(start).take(len) {
            let p = frame.position_mm(i);
            if r.voxels == 0 {
                r.superior_min = p[2];
                r.superior_max = p[2];
            }
            r.voxels += 1;
            r.hu_sum += f64::from(density);
            if p[0] > frame.midline_mm {
                r.left += 1;
            } else {
                r.right += 1;
            }
            r.superior_sum += p[2];
            r.superior_min = r.superior_min.min(p[2]);
            r.superior_max = r.superior_max.max(p[2]);
        }
    });
    let candidates: Vec<usize> = (0..comps.count())
        .filter(|&c| is_candidate_size[c] && regions[c].mean_hu() > rules.gas_mean_hu)
        .collect();
    let first = candidates.iter().copied().max_by(|&a, &b| {
        regions[a]
            .superior_centre()
            .total_cmp(&regions[b].superior_centre())
            .then(regions[a].voxels.cmp(&regions[b].voxels))
    });
    let mut mask = vec![0u8; air.len()];
    let Some(first) = first else {
        return Ok(LungSelection {
            mask,
            regions: 0,
            note: Some("no air region large and dense enough to be lung".into()),
        });
    };
    let seed = regions[first];
    let mut chosen = vec![false; comps.count()];
    chosen[first] = true;
    let bilateral =
        seed.left_fraction() >= rules.bilateral_fraction && seed.right_fraction() >= rules.bilateral_fraction;
    if !bilateral {
        let seed_is_left = seed.left >= seed.right;
        let partner = candidates
            .iter()
            .copied()
            .filter(|&c| c != first)
            .filter(|&c| {
                let r = &regions[c];
                let other_side = if seed_is_left {
                    r.right > r.left
                } else {
                    r.left > r.right
                };
                other_side
                    && r.voxels as f64 >= rules.partner_min_fraction * seed.voxels as f64
                    && r.overlap_mm(&seed) > 0.0
                    && r.superior_centre() >= seed.superior_min
            })
            .max_by(|&a, &b| regions[a].superior_centre().total_cmp(&regions[b].superior_centre()));
        match partner {
            Some(p) => chosen[p] = true,
            None => {
                return Ok(LungSelection {
                    mask,
                    regions: 0,
                    note: Some(
                        "the largest superior air region is one-sided with no partner: not taken as lungs".into(),
                    ),
                })
            }
        }
    }
    comps.paint(&chosen, &mut mask, 1)?;
    Ok(LungSelection {
        mask,
        regions: chosen.iter().filter(|&&c| c).count(),
        note: None,
    })
}
