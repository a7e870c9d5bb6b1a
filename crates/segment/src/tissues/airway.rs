//! Airways: the trachea and bronchi, grown from the trachea in the most superior slices.

use super::frame::PatientFrame;
use crate::components::{face_neighbours, Components, Connectivity};
use crate::SegmentError;
use std::collections::VecDeque;

/// Rules (HU, mm, mm², mm³) of the airway region growing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AirwayRules {
    /// Airway lumen is below this density (HU): darker than lung parenchyma (≈ −850 HU), so the
    /// growing stays inside the tubes.
    pub lumen_max_hu: i16,
    /// The growing threshold is lowered by this step (HU) while it leaks …
    pub leak_step_hu: i16,
    /// … down to this floor (HU).
    pub lumen_floor_hu: i16,
    /// The trachea is searched in the body's most superior slices over this depth (mm).
    pub seed_depth_mm: f64,
    /// Cross-section area range (mm²) of the trachea in an axial slice.
    pub seed_area_mm2: (f64, f64),
    /// The trachea lies within this distance (mm) of the body midline.
    pub seed_midline_mm: f64,
    /// A grown tree larger than this (mm³) has leaked into the parenchyma.
    pub max_volume_mm3: f64,
}

impl Default for AirwayRules {
    fn default() -> Self {
        Self {
            lumen_max_hu: -900,
            leak_step_hu: 25,
            lumen_floor_hu: -990,
            seed_depth_mm: 40.0,
            seed_area_mm2: (20.0, 800.0),
            seed_midline_mm: 35.0,
            max_volume_mm3: 250_000.0,
        }
    }
}

/// The airway tree, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AirwayTree {
    /// 1 on airway lumen voxels.
    pub mask: Vec<u8>,
    /// Lumen threshold (HU) the growing ended with.
    pub threshold_hu: i16,
    /// Why no airway was grown, when none was.
    pub note: Option<String>,
}

impl AirwayTree {
    fn none(len: usize, note: &str) -> Self {
        Self {
            mask: vec![0; len],
            threshold_hu: 0,
            note: Some(note.into()),
        }
    }
}

/// Finds the trachea in the most superior axial slices (an in-slice air region of trachea size
/// near the midline, inside `lungs`, the air regions taken as lungs) and grows it through
/// 6-connected voxels of `lungs` darker than the lumen threshold. When the tree exceeds
/// `max_volume_mm3` the threshold is lowered (leakage control); if it still leaks at the floor,
/// the growth is cut before the first breadth-first wave that more than triples the wave size.
pub(crate) fn grow_airways(
    hu: &[i16],
    lungs: &[u8],
    frame: &PatientFrame,
    rules: &AirwayRules,
) -> Result<AirwayTree, SegmentError> {
    let n = hu.len();
    if !lungs.iter().any(|&l| l != 0) {
        return Ok(AirwayTree::none(n, "no lungs, so no airway tree"));
    }
    let Some(superior_is_up) = frame.slices_superior() else {
        return Ok(AirwayTree::none(n, "slices are not axial: airway search skipped"));
    };
    let [nx, ny, nz] = frame.dims;
    let plane = nx * ny;
    let spacing = frame.geometry.spacing;
    let pixel_mm2 = spacing[0] * spacing[1];
    let seed_slices = ((rules.seed_depth_mm / spacing[2]).ceil() as usize).clamp(1, nz);
    // Slices from the top of the lungs downwards.
    let slices: Vec<usize> = if superior_is_up {
        (0..nz).rev().collect()
    } else {
        (0..nz).collect()
    };
    let top = slices
        .iter()
        .position(|&z| lungs[z * plane..][..plane].iter().any(|&l| l != 0));
    let Some(top) = top else {
        return Ok(AirwayTree::none(n, "no lungs, so no airway tree"));
    };
    let mut seed = None;
    for &z in slices.iter().skip(top).take(seed_slices) {
        let slice: Vec<u8> = (0..plane)
            .map(|i| u8::from(lungs[z * plane + i] != 0 && hu[z * plane + i] < rules.lumen_max_hu))
            .collect();
        let comps = Components::label(&slice, [nx, ny, 1], true, Connectivity::InSlice)?;
        let mut sums = vec![[0f64; 2]; comps.count()];
        let mut members = vec![Vec::new(); comps.count()];
        comps.for_each_run(|c, start, len| {
            for i in start..start + len {
                sums[c][0] += frame.position_mm(z * plane + i)[0];
                members[c].push(z * plane + i);
            }
        });
        let best = (0..comps.count())
            .filter(|&c| {
                let area = comps.sizes[c] as f64 * pixel_mm2;
                let centre_x = sums[c][0] / comps.sizes[c].max(1) as f64;
                (rules.seed_area_mm2.0..=rules.seed_area_mm2.1).contains(&area)
                    && (centre_x - frame.midline_mm).abs() <= rules.seed_midline_mm
            })
            .min_by(|&a, &b| {
                let off = |c: usize| (sums[c][0] / comps.sizes[c].max(1) as f64 - frame.midline_mm).abs();
                off(a).total_cmp(&off(b))
            });
        if let Some(c) = best {
            seed = Some(std::mem::take(&mut members[c]));
            break;
        }
    }
    let Some(seed) = seed else {
        return Ok(AirwayTree::none(
            n,
            "no trachea found in the superior slices of the lungs",
        ));
    };
    let voxel_mm3 = frame.geometry.voxel_volume_mm3();
    let max_voxels = (rules.max_volume_mm3 / voxel_mm3).max(1.0) as usize;
    let mut threshold = rules.lumen_max_hu;
    loop {
        let (mask, waves) = grow(hu, lungs, frame.dims, &seed, threshold);
        let grown: usize = waves.iter().sum();
        if grown <= max_voxels {
            return Ok(AirwayTree {
                mask,
                threshold_hu: threshold,
                note: None,
            });
        }
        let lower = threshold.saturating_sub(rules.leak_step_hu);
        if lower < rules.lumen_floor_hu {
            let cut = leak_wave(&waves);
            let (mask, _) = grow_waves(hu, lungs, frame.dims, &seed, threshold, cut);
            return Ok(AirwayTree {
                mask,
                threshold_hu: threshold,
                note: Some(format!("airway growth leaked at {threshold} HU: cut after {cut} waves")),
            });
        }
        threshold = lower;
    }
}

/// First wave whose size exceeds three times the mean of the five before it (or all waves).
fn leak_wave(waves: &[usize]) -> usize {
    (5..waves.len())
        .find(|&w| {
            let mean = waves[w - 5..w].iter().sum::<usize>() as f64 / 5.0;
            waves[w] as f64 > 3.0 * mean.max(1.0)
        })
        .unwrap_or(waves.len())
}

fn grow(hu: &[i16], region: &[u8], dims: [usize; 3], seed: &[usize], threshold: i16) -> (Vec<u8>, Vec<usize>) {
    grow_waves(hu, region, dims, seed, threshold, usize::MAX)
}

/// Breadth-first growth from `seed` through 6-connected voxels of `region` below `threshold`
/// (HU), for at most `max_waves` waves. Returns the mask and the size of every wave.
fn grow_waves(
    hu: &[i16],
    region: &[u8],
    dims: [usize; 3],
    seed: &[usize],
    threshold: i16,
    max_waves: usize,
) -> (Vec<u8>, Vec<usize>) {
    let mut mask = vec![0u8; hu.len()];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for &s in seed {
        if mask[s] == 0 {
            mask[s] = 1;
            queue.push_back(s);
        }
    }
    let mut waves = vec![queue.len()];
    while !queue.is_empty() && waves.len() < max_waves {
        let mut next = 0;
        for _ in 0..queue.len() {
            let Some(i) = queue.pop_front() else { break };
            let neighbours = face_neighbours(i, dims);
            for j in neighbours {
                if mask[j] == 0 && region[j] != 0 && hu[j] < threshold {
                    mask[j] = 1;
                    queue.push_back(j);
                    next += 1;
                }
            }
        }
        if next > 0 {
            waves.push(next);
        }
    }
    (mask, waves)
}
