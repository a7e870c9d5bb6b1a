//! Contrast-enhanced lumens: contrast-filled vessels, heart chambers, bowel and urinary tract.
//!
//! Iodinated contrast makes blood (arterial phase 250–600 HU, venous 150–250 HU) and opacified
//! bowel as bright as cancellous bone, so a density threshold alone turns the aorta and the heart
//! into "bone". What tells them apart is structure, not density:
//! - a lumen is a **plateau**: a large region of nearly constant density (local spread at the
//!   noise level) whose surroundings are much **darker** (vessel wall, fat, muscle, lung, gas);
//! - bone is a cortical **shell** around heterogeneous marrow: wherever its interior is smooth,
//!   the surroundings are as dense or denser (the cortex), never dark all round.
//!
//! Steps (one pass each, on a lattice of about 1.5 mm so that the window and the noise level mean
//! the same at every resolution):
//! 1. sample the scan every `stride` voxels per axis (stride = ⌊1.5 mm / spacing⌋, at least 1);
//! 2. local mean and spread in a 3 × 3 × 3 window of that lattice;
//! 3. plateau voxels: inside the body, mean in [`ContrastParams::plateau_hu`], spread below
//!    [`ContrastParams::max_spread_hu`]; their 6-connected components;
//! 4. per component of at least [`ContrastParams::min_region_mm3`]: its median density and a ring
//!    around it ([`ContrastParams::ring_mm`]): the fraction of ring voxels darker than the median
//!    by [`ContrastParams::dark_margin_hu`], brighter by [`ContrastParams::bright_margin_hu`], and
//!    gas (< −400 HU, bowel);
//! 5. lumens: mostly dark ring, hardly any bright ring; the scan is contrast-enhanced when a lumen
//!    of at least [`ContrastParams::min_enhanced_mm3`] exists (a real vessel or chamber, not a
//!    few smooth bone voxels);
//! 6. only then, the full-resolution lumen mask: voxels within [`ContrastParams::band_mm`] of a
//!    lumen core (its partial-volume wall) that are not denser than that lumen by more than
//!    [`ContrastParams::cortex_margin_hu`] (cortex next to a vessel stays bone).
//!
//! Non-contrast scans produce no lumen mask, so bone segmentation is unchanged on them.

use crate::body::BodyMask;
use crate::components::{face_neighbours, Components, Connectivity};
use crate::evaluate::distance_transform_mm;
use crate::SegmentError;
use medprint_volume::{Dims, Volume};
use rayon::prelude::*;
use serde::Serialize;

/// Tuning of the lumen detection. Values are physical (HU, mm) and were chosen across scans
/// (the contrast angiogram, the non-contrast abdomen and torso, and their resampled versions),
/// not fitted to one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastParams {
    /// Lattice spacing (mm) on which plateaus are found.
    pub lattice_mm: f64,
    /// Local mean (HU) of a plateau voxel: enhanced blood and opacified bowel, below cortex.
    pub plateau_hu: (f32, f32),
    /// Plateaus denser than this (HU; the peak of a contrast bolus, up to the upper plateau limit)
    /// are lumens only when they are thick ([`ContrastParams::dense_lumen_min_radius_mm`]): a thick
    /// cortex is a dense plateau with a dark ring too, but a thin one.
    pub dense_plateau_hu: f32,
    /// Least inscribed radius (mm) of a dense lumen.
    pub dense_lumen_min_radius_mm: f64,
    /// Largest local standard deviation (HU) of a plateau voxel in the 3 × 3 × 3 lattice window.
    pub max_spread_hu: f32,
    /// Plateau components smaller than this (mm³) are not analysed.
    pub min_region_mm3: f64,
    /// The ring around a component: from this distance to that one (mm).
    pub ring_mm: (f64, f64),
    /// A ring voxel is dark when below the component's median by this much (HU). A relative
    /// rule (half-way to soft tissue) would find weak venous lumens (< 190 HU) too, but it also
    /// takes the smooth vertebral bodies of a resampled 3 mm scan for lumens (measured on
    /// ct-abdomen-3mm at 1 × 1 × 2 mm), so it is used only next to gas (bowel).
    pub dark_margin_hu: f32,
    /// Soft tissue density (HU) for the relative darkness rule next to gas.
    pub soft_tissue_hu: f32,
    /// A ring voxel is bright (cortex) when above the component's median by this much (HU).
    pub bright_margin_hu: f32,
    /// Least fraction of dark ring voxels of a lumen.
    pub min_dark_fraction: f64,
    /// Largest fraction of bright ring voxels of a lumen.
    pub max_bright_fraction: f64,
    /// Least fraction of gas (< −400 HU) ring voxels of opacified bowel.
    pub min_gas_fraction: f64,
    /// The scan is contrast-enhanced when one lumen (or all bowel lumens together) holds at least
    /// this volume (mm³).
    pub min_enhanced_mm3: f64,
    /// Width (mm) of the partial-volume wall added around lumen cores.
    pub band_mm: f64,
    /// Voxels denser than the lumens' median by more than this (HU) stay out of the lumen mask
    /// (cortex next to a vessel).
    pub cortex_margin_hu: f32,
    /// Dense objects (≥ metal level) within this distance (mm) of a lumen are concentrated
    /// contrast, not metal.
    pub dense_contrast_mm: f64,
}

impl Default for ContrastParams {
    fn default() -> Self {
        Self {
            lattice_mm: 1.5,
            plateau_hu: (150.0, 1800.0),
            dense_plateau_hu: 700.0,
            dense_lumen_min_radius_mm: 4.5,
            max_spread_hu: 60.0,
            min_region_mm3: 1000.0,
            ring_mm: (1.5, 4.5),
            dark_margin_hu: 150.0,
            soft_tissue_hu: 40.0,
            bright_margin_hu: 100.0,
            min_dark_fraction: 0.45,
            max_bright_fraction: 0.15,
            min_gas_fraction: 0.03,
            min_enhanced_mm3: 10_000.0,
            band_mm: 5.0,
            cortex_margin_hu: 150.0,
            dense_contrast_mm: 10.0,
        }
    }
}

/// The enhancement phase suggested by the density of the largest vascular lumen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContrastPhase {
    /// Lumen median ≥ 250 HU: arterial phase or angiography.
    Arterial,
    /// Lumen median below 250 HU: portal-venous or delayed phase.
    VenousOrDelayed,
    /// Only opacified bowel was found (oral contrast).
    OralOnly,
}

impl ContrastPhase {
    /// Plain words for a clinician.
    pub fn describe(self) -> &'static str {
        match self {
            ContrastPhase::Arterial => "arterial phase or angiography",
            ContrastPhase::VenousOrDelayed => "venous or delayed phase",
            ContrastPhase::OralOnly => "oral contrast only",
        }
    }
}

/// One contrast-filled region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LumenRegion {
    /// Volume of its plateau core (mm³).
    pub volume_mm3: f64,
    /// Median density of the core (HU).
    pub median_hu: f32,
    /// Fraction of its surrounding ring darker than the median by the dark margin.
    pub dark_fraction: f64,
    /// Fraction of the ring below the midpoint between the median and soft tissue (used for
    /// bowel, whose wall and content are close to the opacified lumen's density).
    pub dark_fraction_relative: f64,
    /// Fraction of the ring brighter than the median by the bright margin.
    pub bright_fraction: f64,
    /// Fraction of the ring that is gas: opacified bowel when high.
    pub gas_fraction: f64,
    /// Whether it is opacified bowel (gas around it) rather than a vessel or chamber.
    pub bowel: bool,
    /// Radius (mm) of the largest ball inside the core (lattice precision).
    pub inscribed_radius_mm: f64,
    /// Centre of its bounding box (patient LPS, mm).
    pub centre_mm: [f64; 3],
}

/// What the contrast check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContrastEnhancement {
    /// Whether the scan is contrast-enhanced.
    pub enhanced: bool,
    /// Suggested phase, when enhanced.
    pub phase: Option<ContrastPhase>,
    /// How sure the finding is (0..=1): grows with the size and the dark ring of the largest lumen.
    pub trust: f32,
    /// Total lumen core volume (mm³), bowel included.
    pub lumen_mm3: f64,
    /// Opacified bowel core volume (mm³).
    pub bowel_mm3: f64,
    /// Lumens found, largest first (also listed for non-enhanced scans: then they are small).
    pub regions: Vec<LumenRegion>,
}

impl ContrastEnhancement {
    fn none() -> Self {
        Self {
            enhanced: false,
            phase: None,
            trust: 1.0,
            lumen_mm3: 0.0,
            bowel_mm3: 0.0,
            regions: Vec::new(),
        }
    }

    /// One sentence for the report, when enhanced.
    pub fn describe(&self) -> Option<String> {
        let phase = self.phase?;
        let largest = self.regions.iter().find(|r| !r.bowel).or(self.regions.first())?;
        let bowel = if self.bowel_mm3 > 0.0 {
            format!(", {:.0} cm³ of it opacified bowel", self.bowel_mm3 / 1000.0)
        } else {
            String::new()
        };
        Some(format!(
            "the scan is contrast-enhanced ({}: {:.0} cm³ of contrast-filled lumens{bowel}, the largest at {:.0} HU); \
             contrast-filled vessels, heart chambers and bowel are kept out of the bone model",
            phase.describe(),
            self.lumen_mm3 / 1000.0,
            largest.median_hu
        ))
    }
}

/// The contrast-filled lumens of a scan.
#[derive(Debug, Clone)]
pub struct ContrastLumens {
    /// What was found.
    pub enhancement: ContrastEnhancement,
    /// Full-resolution mask (1 = lumen or its partial-volume wall), the scan's grid; empty when
    /// the scan is not enhanced.
    pub mask: Vec<u8>,
    lattice: Option<Lattice>,
    /// Distance (mm) on the lattice to the nearest lumen core; empty when not enhanced.
    core_distance_mm: Vec<f32>,
    /// The parameters the lumens were found with.
    params: ContrastParams,
}

impl ContrastLumens {
    /// No lumens (non-CT scans, or before the check ran).
    pub fn none() -> Self {
        Self::not_enhanced(ContrastEnhancement::none(), ContrastParams::default())
    }

    fn not_enhanced(enhancement: ContrastEnhancement, params: ContrastParams) -> Self {
        Self {
            enhancement,
            mask: Vec::new(),
            lattice: None,
            core_distance_mm: Vec::new(),
            params,
        }
    }

    /// The density (HU) a bone part must reach somewhere in an enhanced scan: the largest vessel's
    /// median plus the cortex margin (contrast-filled parts never reach it). `None` when not
    /// enhanced or when only bowel is opacified.
    pub fn cortex_seed_hu(&self) -> Option<f32> {
        let vessel = self.enhancement.regions.iter().find(|r| !r.bowel)?;
        (self.enhancement.enhanced && vessel.volume_mm3 > 0.0)
            .then_some(vessel.median_hu + self.params.cortex_margin_hu)
    }

    /// Whether a dense object whose nearest voxel is `distance_mm` from a lumen core is
    /// concentrated contrast ([`ContrastParams::dense_contrast_mm`]).
    pub fn explains_dense_object(&self, distance_mm: f64) -> bool {
        distance_mm <= self.params.dense_contrast_mm
    }

    /// Whether voxel `i` of the scan's grid is lumen (always false when not enhanced).
    pub fn is_lumen(&self, i: usize) -> bool {
        self.mask.get(i).is_some_and(|&m| m != 0)
    }

    /// Removes the lumen voxels from a mask of the scan's grid; returns how many were removed.
    pub fn remove_from(&self, mask: &mut [u8]) -> u64 {
        if self.mask.len() != mask.len() {
            return 0;
        }
        mask.par_iter_mut()
            .zip(&self.mask)
            .map(|(m, &l)| {
                let hit = *m != 0 && l != 0;
                if hit {
                    *m = 0;
                }
                u64::from(hit)
            })
            .sum()
    }

    /// Distance (mm, lattice precision) from the voxel at continuous index `ijk` of the scan to
    /// the nearest lumen core; `None` when the scan is not enhanced.
    pub fn distance_to_lumen_mm(&self, ijk: [f64; 3]) -> Option<f64> {
        let lattice = self.lattice.as_ref()?;
        let c = lattice.cell_of(ijk);
        self.core_distance_mm.get(c).map(|&d| f64::from(d))
    }
}

/// The sampling lattice: every `stride[a]`-th voxel along axis `a`.
#[derive(Debug, Clone)]
struct Lattice {
    stride: [usize; 3],
    dims: Dims,
    spacing_mm: [f64; 3],
}

impl Lattice {
    fn new(scan_dims: Dims, spacing: [f64; 3], lattice_mm: f64) -> Self {
        let stride = [0, 1, 2].map(|a| ((lattice_mm / spacing[a]).floor() as usize).max(1));
        let dims = [0, 1, 2].map(|a| scan_dims[a].div_ceil(stride[a]));
        let spacing_mm = [0, 1, 2].map(|a| spacing[a] * stride[a] as f64);
        Self {
            stride,
            dims,
            spacing_mm,
        }
    }

    fn len(&self) -> usize {
        self.dims.iter().product()
    }

    /// Scan index of lattice cell `(x, y, z)`.
    fn scan_index(&self, [x, y, z]: [usize; 3], scan_dims: Dims) -> usize {
        let [sx, sy, sz] = [x * self.stride[0], y * self.stride[1], z * self.stride[2]];
        sx + scan_dims[0] * (sy + scan_dims[1] * sz)
    }

    /// Lattice cell nearest to the continuous scan index `ijk` (clamped to the lattice).
    fn cell_of(&self, ijk: [f64; 3]) -> usize {
        let c = [0, 1, 2].map(|a| {
            let v = (ijk[a] / self.stride[a] as f64).round();
            (v.max(0.0) as usize).min(self.dims[a].saturating_sub(1))
        });
        c[0] + self.dims[0] * (c[1] + self.dims[1] * c[2])
    }

    fn cell_volume_mm3(&self) -> f64 {
        self.spacing_mm.iter().product()
    }
}

/// Finds the contrast-filled lumens of a CT scan (HU) inside `body`. Cheap on non-contrast scans
/// (one lattice pass); never changes anything when the scan is not enhanced.
pub fn find_contrast_lumens(
    scan: &Volume<i16>,
    body: &BodyMask,
    params: &ContrastParams,
) -> Result<ContrastLumens, SegmentError> {
    let dims = scan.dims();
    if scan.is_empty() || body.mask.len() != scan.len() {
        return Ok(ContrastLumens::none());
    }
    let lattice = Lattice::new(dims, scan.geometry.spacing, params.lattice_mm);
    let (values, inside) = sample_lattice(scan, &body.mask, &lattice);
    let plateau = plateau_mask(&values, &inside, lattice.dims, params);
    let components = Components::label(&plateau, lattice.dims, true, Connectivity::Face3d)?;
    let cell_mm3 = lattice.cell_volume_mm3();
    let min_cells = (params.min_region_mm3 / cell_mm3).ceil() as u64;
    let boxes = bounding_boxes(&components);
    let candidates: Vec<usize> = (0..components.count())
        .filter(|&c| components.sizes[c] >= min_cells)
        .collect();
    let labels = component_labels(&components, lattice.len());
    let measured: Vec<(usize, LumenRegion)> = candidates
        .par_iter()
        .map(|&c| {
            (
                c,
                measure_region(c, &boxes[c], &labels, &values, &lattice, scan, params),
            )
        })
        .collect();
    let mut lumens: Vec<(usize, LumenRegion)> = measured.into_iter().filter(|(_, r)| is_lumen(r, params)).collect();
    lumens.sort_by(|a, b| b.1.volume_mm3.total_cmp(&a.1.volume_mm3));
    let enhancement = assess_enhancement(lumens.iter().map(|(_, r)| r.clone()).collect(), params);
    if !enhancement.enhanced {
        tracing::debug!(regions = enhancement.regions.len(), "no contrast enhancement");
        return Ok(ContrastLumens::not_enhanced(enhancement, params.clone()));
    }
    // Each core cell carries its lumen's density limit (median + cortex margin); the limit is
    // spread over the partial-volume band, so cortex next to a lumen stays bone.
    let mut limit_hu = vec![f32::NEG_INFINITY; lattice.len()];
    let mut component_limit = vec![None; components.count()];
    for (c, r) in &lumens {
        component_limit[*c] = Some(r.median_hu + params.cortex_margin_hu);
    }
    components.for_each_run(|c, start, len| {
        if let Some(limit) = component_limit[c] {
            limit_hu[start..start + len].fill(limit);
        }
    });
    let core: Vec<u8> = limit_hu.iter().map(|l| u8::from(l.is_finite())).collect();
    let core_distance_mm = distance_transform_mm(&core, lattice.dims, lattice.spacing_mm);
    spread_limits(
        &mut limit_hu,
        &core_distance_mm,
        lattice.dims,
        lattice.spacing_mm,
        params.band_mm,
    );
    let mask = full_resolution_mask(scan, &lattice, &limit_hu);
    tracing::info!(
        lumen_mm3 = enhancement.lumen_mm3,
        phase = ?enhancement.phase,
        "contrast-enhanced scan: lumens found"
    );
    Ok(ContrastLumens {
        enhancement,
        mask,
        lattice: Some(lattice),
        core_distance_mm,
        params: params.clone(),
    })
}

/// Scan values and body membership at the lattice points.
fn sample_lattice(scan: &Volume<i16>, body: &[u8], lattice: &Lattice) -> (Vec<f32>, Vec<bool>) {
    let dims = scan.dims();
    let data = scan.data();
    let [lx, ly, _] = lattice.dims;
    let slice = lx * ly;
    let mut values = vec![0f32; lattice.len()];
    let mut inside = vec![false; lattice.len()];
    values
        .par_chunks_mut(slice)
        .zip(inside.par_chunks_mut(slice))
        .enumerate()
        .for_each(|(z, (vals, ins))| {
            for y in 0..ly {
                for x in 0..lx {
                    let i = lattice.scan_index([x, y, z], dims);
                    vals[x + lx * y] = f32::from(data[i]);
                    ins[x + lx * y] = body[i] != 0;
                }
            }
        });
    (values, inside)
}

/// Plateau voxels of the lattice: inside the body, 3 × 3 × 3 mean in the plateau range and
/// standard deviation below the limit (windows clipped at the grid's faces).
fn plateau_mask(values: &[f32], inside: &[bool], dims: Dims, params: &ContrastParams) -> Vec<u8> {
    let sum = box_sum_3(values, dims, |v| v);
    let sum_sq = box_sum_3(values, dims, |v| v * v);
    let (lo, hi) = params.plateau_hu;
    let max_var = params.max_spread_hu * params.max_spread_hu;
    let [nx, ny, _] = dims;
    // Samples in the clipped window: per axis 3, or 2 on a face of the grid (1 on a 1-wide axis).
    let along = |c: usize, n: usize| (1 + usize::from(c > 0) + usize::from(c + 1 < n)) as f32;
    (0..values.len())
        .into_par_iter()
        .map(|i| {
            let (x, y, z) = (i % nx, (i / nx) % ny, i / (nx * ny));
            let n = along(x, nx) * along(y, ny) * along(z, dims[2]);
            let mean = sum[i] / n;
            let var = (sum_sq[i] / n - mean * mean).max(0.0);
            u8::from(inside[i] && mean >= lo && mean <= hi && var < max_var)
        })
        .collect()
}

/// Sum of `f(value)` over the 3 × 3 × 3 window around every voxel (separable, clipped at faces).
fn box_sum_3(values: &[f32], dims: Dims, f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let mut a: Vec<f32> = values.par_iter().map(|&v| f(v)).collect();
    let steps = [1, nx, nx * ny];
    for (axis, &step) in steps.iter().enumerate() {
        let n_axis = dims[axis];
        let src = a.clone();
        a.par_iter_mut().enumerate().for_each(|(i, out)| {
            let coord = (i / step) % n_axis;
            let mut s = src[i];
            if coord > 0 {
                s += src[i - step];
            }
            if coord + 1 < n_axis {
                s += src[i + step];
            }
            *out = s;
        });
    }
    debug_assert_eq!(a.len(), nx * ny * nz);
    a
}

/// Inclusive lattice bounding box `[min, max]` per component.
type BoundingBox = [[usize; 3]; 2];

fn bounding_boxes(components: &Components) -> Vec<BoundingBox> {
    let mut boxes = vec![[[usize::MAX; 3], [0; 3]]; components.count()];
    let dims = components.dims();
    components.for_each_run(|c, start, len| {
        let x = start % dims[0];
        let y = (start / dims[0]) % dims[1];
        let z = start / (dims[0] * dims[1]);
        let b = &mut boxes[c];
        b[0] = [b[0][0].min(x), b[0][1].min(y), b[0][2].min(z)];
        b[1] = [b[1][0].max(x + len - 1), b[1][1].max(y), b[1][2].max(z)];
    });
    boxes
}

/// Component number + 1 per lattice voxel (0 = none).
fn component_labels(components: &Components, len: usize) -> Vec<u32> {
    let mut labels = vec![0u32; len];
    components.for_each_run(|c, start, run| labels[start..start + run].fill(c as u32 + 1));
    labels
}

/// Median density and ring fractions of component `c`.
fn measure_region(
    c: usize,
    bbox: &BoundingBox,
    labels: &[u32],
    values: &[f32],
    lattice: &Lattice,
    scan: &Volume<i16>,
    params: &ContrastParams,
) -> LumenRegion {
    let dims = lattice.dims;
    let label = c as u32 + 1;
    let pad = [0, 1, 2].map(|a| (params.ring_mm.1 / lattice.spacing_mm[a]).ceil() as usize + 1);
    let lo = [0, 1, 2].map(|a| bbox[0][a].saturating_sub(pad[a]));
    let hi = [0, 1, 2].map(|a| (bbox[1][a] + pad[a]).min(dims[a] - 1));
    let sub = [0, 1, 2].map(|a| hi[a] - lo[a] + 1);
    let index = |x: usize, y: usize, z: usize| (lo[0] + x) + dims[0] * ((lo[1] + y) + dims[1] * (lo[2] + z));
    let mut mask = vec![0u8; sub.iter().product()];
    let mut inner = Vec::new();
    for z in 0..sub[2] {
        for y in 0..sub[1] {
            for x in 0..sub[0] {
                let i = index(x, y, z);
                if labels[i] == label {
                    mask[x + sub[0] * (y + sub[1] * z)] = 1;
                    inner.push(values[i]);
                }
            }
        }
    }
    let mid = inner.len() / 2;
    let median = if inner.is_empty() {
        0.0
    } else {
        *inner.select_nth_unstable_by(mid, f32::total_cmp).1
    };
    let distance = distance_transform_mm(&mask, sub, lattice.spacing_mm);
    let outside: Vec<u8> = mask.iter().map(|&m| u8::from(m == 0)).collect();
    let inscribed_radius_mm = distance_transform_mm(&outside, sub, lattice.spacing_mm)
        .into_iter()
        .fold(0f32, f32::max);
    let (r0, r1) = (params.ring_mm.0 as f32, params.ring_mm.1 as f32);
    let dark_below = median - params.dark_margin_hu;
    let dark_below_relative = dark_below.max(0.5 * (median + params.soft_tissue_hu));
    let (mut ring, mut dark, mut dark_relative, mut bright, mut gas) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for z in 0..sub[2] {
        for y in 0..sub[1] {
            for x in 0..sub[0] {
                let d = distance[x + sub[0] * (y + sub[1] * z)];
                if d > r0 && d <= r1 {
                    let v = values[index(x, y, z)];
                    ring += 1;
                    dark += u64::from(v < dark_below);
                    dark_relative += u64::from(v < dark_below_relative);
                    bright += u64::from(v > median + params.bright_margin_hu);
                    gas += u64::from(v < -400.0);
                }
            }
        }
    }
    let fraction = |n: u64| if ring == 0 { 0.0 } else { n as f64 / ring as f64 };
    let centre_ijk = [0, 1, 2].map(|a| (bbox[0][a] + bbox[1][a]) as f64 / 2.0 * lattice.stride[a] as f64);
    LumenRegion {
        volume_mm3: inner.len() as f64 * lattice.cell_volume_mm3(),
        median_hu: median,
        dark_fraction: fraction(dark),
        dark_fraction_relative: fraction(dark_relative),
        bright_fraction: fraction(bright),
        gas_fraction: fraction(gas),
        bowel: fraction(gas) >= params.min_gas_fraction,
        inscribed_radius_mm: f64::from(inscribed_radius_mm),
        centre_mm: scan.geometry.index_to_patient(centre_ijk),
    }
}

/// A plateau is a lumen when its ring is mostly dark with hardly any cortex, and, when denser than
/// cortex-like levels, it is thick.
fn is_lumen(r: &LumenRegion, params: &ContrastParams) -> bool {
    let dark = if r.bowel {
        r.dark_fraction_relative
    } else {
        r.dark_fraction
    };
    dark >= params.min_dark_fraction
        && r.bright_fraction <= params.max_bright_fraction
        && (r.median_hu <= params.dense_plateau_hu || r.inscribed_radius_mm >= params.dense_lumen_min_radius_mm)
}

/// Whether the lumens found make the scan contrast-enhanced, its phase and the trust figure.
fn assess_enhancement(regions: Vec<LumenRegion>, params: &ContrastParams) -> ContrastEnhancement {
    let bowel_mm3: f64 = regions.iter().filter(|r| r.bowel).map(|r| r.volume_mm3).sum();
    let lumen_mm3: f64 = regions.iter().map(|r| r.volume_mm3).sum();
    let largest_vessel = regions.iter().find(|r| !r.bowel);
    let vascular = largest_vessel.is_some_and(|r| r.volume_mm3 >= params.min_enhanced_mm3);
    let oral = bowel_mm3 >= params.min_enhanced_mm3;
    let enhanced = vascular || oral;
    let phase = match (vascular, largest_vessel) {
        (true, Some(r)) if r.median_hu >= 250.0 => Some(ContrastPhase::Arterial),
        (true, _) => Some(ContrastPhase::VenousOrDelayed),
        (false, _) if oral => Some(ContrastPhase::OralOnly),
        _ => None,
    };
    // Trust: how far the evidence is beyond the decision limits (size and dark ring).
    let trust = match regions.first() {
        Some(r) if enhanced => {
            let size = (r.volume_mm3 / (4.0 * params.min_enhanced_mm3)).min(1.0);
            let ring =
                ((r.dark_fraction - params.min_dark_fraction) / (1.0 - params.min_dark_fraction)).clamp(0.0, 1.0);
            (0.5 + 0.25 * size + 0.25 * ring) as f32
        }
        _ => 1.0,
    };
    ContrastEnhancement {
        enhanced,
        phase,
        trust,
        lumen_mm3: if enhanced { lumen_mm3 } else { 0.0 },
        bowel_mm3: if enhanced { bowel_mm3 } else { 0.0 },
        regions,
    }
}

/// Spreads the finite limits of `limit_hu` (lattice) to the cells within `band_mm` of a core,
/// one face-neighbour layer at a time (the nearest core's limit wins; ties take the higher).
fn spread_limits(limit_hu: &mut [f32], core_distance_mm: &[f32], dims: Dims, spacing_mm: [f64; 3], band_mm: f64) {
    let min_spacing = spacing_mm.iter().copied().fold(f64::INFINITY, f64::min);
    let layers = (band_mm / min_spacing).ceil() as usize;
    for _ in 0..layers {
        let previous = limit_hu.to_vec();
        limit_hu.par_iter_mut().enumerate().for_each(|(i, limit)| {
            if limit.is_finite() || f64::from(core_distance_mm[i]) > band_mm {
                return;
            }
            *limit = face_neighbours(i, dims)
                .map(|j| previous[j])
                .fold(f32::NEG_INFINITY, f32::max);
        });
    }
}

/// Scan voxels whose lattice cell carries a lumen limit and that are not denser than it.
fn full_resolution_mask(scan: &Volume<i16>, lattice: &Lattice, limit_hu: &[f32]) -> Vec<u8> {
    let [nx, ny, _] = scan.dims();
    let data = scan.data();
    let mut mask = vec![0u8; scan.len()];
    mask.par_chunks_mut(nx * ny).enumerate().for_each(|(z, slice)| {
        for y in 0..ny {
            for x in 0..nx {
                let cell = lattice.cell_of([x as f64, y as f64, z as f64]);
                let i = x + nx * y;
                slice[i] = u8::from(f32::from(data[i + nx * ny * z]) < limit_hu[cell]);
            }
        }
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::body_mask;
    use medprint_volume::Geometry;

    /// A soft-tissue cylinder (40 HU) with a contrast-filled tube (`lumen_hu`) and a bone: a
    /// cortical shell (1200 HU, 2 mm) around marrow (250 HU), both 1 mm voxels.
    fn phantom(lumen_hu: i16) -> Volume<i16> {
        let dims = [80, 80, 60];
        let mut data = vec![-1000i16; dims.iter().product()];
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    let (fx, fy) = (x as f64 - 40.0, y as f64 - 40.0);
                    let i = x + dims[0] * (y + dims[1] * z);
                    if fx.hypot(fy) < 38.0 {
                        data[i] = 40;
                    }
                    let tube = (fx + 15.0).hypot(fy);
                    if tube < 10.0 {
                        data[i] = lumen_hu;
                    }
                    let bone = (fx - 15.0).hypot(fy);
                    if bone < 10.0 {
                        data[i] = if bone > 8.0 { 1200 } else { 250 };
                    }
                }
            }
        }
        Volume::from_vec(dims, data, Geometry::axis_aligned([1.0; 3], [0.0; 3])).unwrap()
    }

    fn lumens_of(v: &Volume<i16>) -> ContrastLumens {
        let body = body_mask(v).unwrap();
        find_contrast_lumens(v, &body, &ContrastParams::default()).unwrap()
    }

    #[test]
    fn contrast_tube_is_a_lumen_and_bone_is_not() {
        let v = phantom(400);
        let lumens = lumens_of(&v);
        assert!(lumens.enhancement.enhanced, "{:?}", lumens.enhancement);
        assert_eq!(lumens.enhancement.phase, Some(ContrastPhase::Arterial));
        let at = |x: usize, y: usize| lumens.is_lumen(v.index(x, y, 30));
        // The tube's centre and its edge are lumen; the bone's marrow and cortex are not.
        assert!(at(25, 40) && at(32, 40) && at(18, 40));
        assert!(!at(55, 40) && !at(47, 40) && !at(64, 40));
        let bone_voxels = (0..v.len())
            .filter(|&i| {
                v.data()[i] >= 250 && lumens.is_lumen(i) && {
                    let x = (i % 80) as f64 - 40.0;
                    let y = ((i / 80) % 80) as f64 - 40.0;
                    (x - 15.0).hypot(y) < 10.0
                }
            })
            .count();
        assert_eq!(bone_voxels, 0);
    }

    #[test]
    fn venous_density_is_found_with_its_phase() {
        let lumens = lumens_of(&phantom(220));
        assert!(lumens.enhancement.enhanced, "{:#?}", lumens.enhancement);
        assert_eq!(lumens.enhancement.phase, Some(ContrastPhase::VenousOrDelayed));
    }

    #[test]
    fn unenhanced_blood_gives_no_lumen_mask() {
        let lumens = lumens_of(&phantom(45));
        assert!(!lumens.enhancement.enhanced);
        assert!(lumens.mask.is_empty());
        let mut mask = vec![1u8; 80 * 80 * 60];
        assert_eq!(lumens.remove_from(&mut mask), 0);
    }
}
