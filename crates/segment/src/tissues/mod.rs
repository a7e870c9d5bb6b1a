//! Tissue classes from CT: a multi-label segmentation (bone, skin, lung, airway, fat, soft
//! tissue, contrast-filled vessel, metal) from densities (HU), the body mask, region analysis and
//! the bone mask of [`crate::bone`], with metal-artefact handling.
//!
//! Overlap priority (highest first): Metal > Bone > Vessel > Airway > Lung > Fat > SoftTissue >
//! Skin. Skin is a geometric layer and Fat and SoftTissue are defined beneath it (inside the
//! body less that layer), so within the layer skin yields only to metal, bone, vessel, airway and
//! lung; everywhere else the density classes follow the listed order.

pub mod airway;
pub mod class;
mod frame;
pub mod lungs;
pub mod metal;
pub mod probability;
pub mod regions;
pub mod skin;

pub use airway::AirwayRules;
pub use class::TissueClass;
pub use lungs::LungRules;
pub use metal::{exclude_metal, fill_metal_holes, metal_mask};
pub use regions::fix_small_regions;

use crate::body::body_mask;
use crate::components::face_neighbours;
use crate::SegmentError;
use frame::PatientFrame;
use medprint_volume::Volume;
use rayon::prelude::*;

/// Marker of voxels whose density cannot be trusted (metal streaks) until they are relabelled.
const UNKNOWN: u8 = u8::MAX;

/// Physically motivated defaults of the tissue classification (densities in HU, lengths in mm).
#[derive(Debug, Clone, PartialEq)]
pub struct TissueParams {
    /// Adipose tissue density range (HU): −190..−30.
    pub fat_hu: (i16, i16),
    /// Soft tissue (muscle, organs, unenhanced blood) density range (HU): −30..150. Used for the
    /// probability map; the label covers every other body voxel (partial volume included).
    pub soft_tissue_hu: (i16, i16),
    /// Inside the body, voxels below this density (HU) are air: lung, airway or gas. −400 sits
    /// between lung parenchyma (≈ −850) and fat.
    pub air_max_hu: i16,
    /// Contrast-filled blood (HU): 150..600 and not bone. Unenhanced blood is ≈ 40 HU.
    pub vessel_hu: (i16, i16),
    /// Metal (HU): at or above 2500, denser than cortical bone and enamel.
    pub metal_hu: i16,
    /// Thickness (mm) of the skin layer at the body surface: 2 mm (epidermis and dermis).
    pub skin_thickness_mm: f64,
    /// Lung selection among the air regions.
    pub lungs: LungRules,
    /// Airway growing from the trachea.
    pub airways: AirwayRules,
    /// Streak artefacts are handled within this distance (mm) of metal: 30 mm.
    pub metal_artefact_radius_mm: f64,
    /// Half-width (mm) of the in-slice closing that bridges streak gaps in bone near metal.
    pub metal_hole_closing_mm: f64,
    /// Regions of one class smaller than this (mm³) take their surroundings' label.
    pub min_region_mm3: f64,
    /// Whether to compute per-class probability maps (one byte per voxel per class).
    pub probabilities: bool,
    /// Width (HU) of the logistic edges of the probability windows.
    pub probability_width_hu: f32,
}

impl Default for TissueParams {
    fn default() -> Self {
        Self {
            fat_hu: (-190, -30),
            soft_tissue_hu: (-30, 150),
            air_max_hu: -400,
            vessel_hu: (150, 600),
            metal_hu: 2500,
            skin_thickness_mm: 2.0,
            lungs: LungRules::default(),
            airways: AirwayRules::default(),
            metal_artefact_radius_mm: 30.0,
            metal_hole_closing_mm: 4.0,
            min_region_mm3: 30.0,
            probabilities: true,
            probability_width_hu: 15.0,
        }
    }
}

impl TissueParams {
    fn validate(&self) -> Result<(), SegmentError> {
        let lengths = [
            ("skin_thickness_mm", self.skin_thickness_mm),
            ("metal_artefact_radius_mm", self.metal_artefact_radius_mm),
            ("metal_hole_closing_mm", self.metal_hole_closing_mm),
            ("min_region_mm3", self.min_region_mm3),
            ("lungs.min_volume_mm3", self.lungs.min_volume_mm3),
            ("airways.max_volume_mm3", self.airways.max_volume_mm3),
            ("airways.seed_depth_mm", self.airways.seed_depth_mm),
            ("probability_width_hu", f64::from(self.probability_width_hu)),
        ];
        for (name, value) in lengths {
            if !value.is_finite() || value < 0.0 {
                return Err(SegmentError::InvalidParameter {
                    name,
                    value,
                    reason: "must be finite and >= 0",
                });
            }
        }
        if self.probability_width_hu <= 0.0 {
            return Err(SegmentError::InvalidParameter {
                name: "probability_width_hu",
                value: f64::from(self.probability_width_hu),
                reason: "must be > 0",
            });
        }
        let ranges = [
            ("fat_hu", self.fat_hu),
            ("soft_tissue_hu", self.soft_tissue_hu),
            ("vessel_hu", self.vessel_hu),
        ];
        for (name, (lo, hi)) in ranges {
            if lo > hi {
                return Err(SegmentError::InvalidParameter {
                    name,
                    value: f64::from(lo),
                    reason: "range start above its end",
                });
            }
        }
        Ok(())
    }
}

/// A probability map (0..=255 ≈ 0..1) of one class, on the scan grid.
#[derive(Debug, Clone)]
pub struct ClassProbability {
    /// The class.
    pub class: TissueClass,
    /// Probability per voxel, 0 outside the class's region.
    pub map: Volume<u8>,
}

/// The multi-label segmentation of a CT.
#[derive(Debug, Clone)]
pub struct TissueLabels {
    /// Label per voxel on the scan grid: [`TissueClass::label`] values, 0 outside the body and
    /// for gas inside it that is neither lung nor airway (bowel gas).
    pub labels: Volume<u8>,
    /// Voxels per label value (index 0 = outside/gas, 1..=8 the classes).
    pub voxels_per_class: [u64; 9],
    /// Volume (mm³) per label value, indexed as `voxels_per_class`.
    pub volume_mm3_per_class: [f64; 9],
    /// Probability maps of the density-defined classes (fat, soft tissue, vessel, metal, lung)
    /// when [`TissueParams::probabilities`] is set.
    pub probabilities: Vec<ClassProbability>,
    /// Metal voxels removed from the bone mask.
    pub metal_voxels_removed_from_bone: u64,
    /// Bone voxels added where metal streaks cut holes into bone.
    pub metal_bone_holes_filled: u64,
    /// Voxels near metal relabelled from their surroundings (dark streaks).
    pub streak_voxels_relabelled: u64,
    /// Voxels of tiny regions relabelled by [`fix_small_regions`].
    pub small_region_voxels_relabelled: u64,
    /// Lumen threshold (HU) the airway growing ended with (0 when no airway was grown).
    pub airway_threshold_hu: i16,
    /// What could not be classified as intended, in words.
    pub warnings: Vec<String>,
    /// Wall time (ms) of each step, in order.
    pub timings_ms: Vec<(&'static str, f64)>,
}

impl TissueLabels {
    /// Voxels of one class.
    pub fn voxels(&self, class: TissueClass) -> u64 {
        self.voxels_per_class[usize::from(class.label())]
    }

    /// Volume (mm³) of one class.
    pub fn volume_mm3(&self, class: TissueClass) -> f64 {
        self.volume_mm3_per_class[usize::from(class.label())]
    }

    /// Binary mask (1 = class) of one class.
    pub fn mask(&self, class: TissueClass) -> Vec<u8> {
        let value = class.label();
        self.labels.data().par_iter().map(|&l| u8::from(l == value)).collect()
    }
}

/// Fraction of the body's voxels that must be fat or soft tissue for the scan to hold a patient.
const MIN_TISSUE_FRACTION: f64 = 0.01;

/// Classifies every voxel of `scan` (HU) into the [`TissueClass`]es, given the bone mask of the
/// same grid (nonzero = bone, e.g. [`crate::bone::segment_bone`]'s mask).
///
/// Steps: body mask; metal (≥ `metal_hu`) removed from bone, streak gaps in bone near metal
/// filled, and air-dense voxels within `metal_artefact_radius_mm` of metal set aside; lungs among
/// the air regions ([`LungRules`]); airways grown from the trachea ([`AirwayRules`]); skin layer;
/// per-voxel labels by priority; the set-aside streak voxels relabelled from their surroundings;
/// regions below `min_region_mm3` relabelled.
///
/// Errors: empty scan, bone mask of another size, invalid parameters, and scans with no patient
/// body (all air, or no fat/soft tissue at all, e.g. all metal).
pub fn classify_tissues(
    scan: &Volume<i16>,
    bone_mask: &Volume<u8>,
    params: &TissueParams,
) -> Result<TissueLabels, SegmentError> {
    let dims = scan.dims();
    if scan.is_empty() {
        return Err(SegmentError::EmptyVolume { dims });
    }
    if bone_mask.dims() != dims {
        return Err(SegmentError::SizeMismatch {
            left: scan.len(),
            right: bone_mask.len(),
        });
    }
    params.validate()?;
    let hu = scan.data();
    let spacing = scan.geometry.spacing;
    let mut warnings = Vec::new();

    let mut timings_ms = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, f64)>| {
        timings.push((name, clock.elapsed().as_secs_f64() * 1e3));
        clock = std::time::Instant::now();
    };
    let body = body_mask(scan)?.mask;
    lap("body", &mut timings_ms);
    let (fat_lo, soft_hi) = (params.fat_hu.0, params.soft_tissue_hu.1);
    let (tissue_voxels, body_voxels) = hu
        .par_chunks(1 << 16)
        .zip(body.par_chunks(1 << 16))
        .map(|(hu, body)| {
            let mut counts = (0usize, 0usize);
            for (&v, &b) in hu.iter().zip(body) {
                if b != 0 {
                    counts.1 += 1;
                    counts.0 += usize::from((fat_lo..=soft_hi).contains(&v));
                }
            }
            counts
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if body_voxels == 0 || (tissue_voxels as f64) < MIN_TISSUE_FRACTION * body_voxels as f64 {
        return Err(SegmentError::NoBody {
            reason: if body_voxels == 0 {
                "no voxel denser than air"
            } else {
                "(almost) no fat or soft tissue in the body"
            },
        });
    }
    let frame = PatientFrame::new(scan.geometry, dims, &body);

    // Metal: out of bone, streak zone, bone holes.
    let mut bone = bone_mask.clone();
    let (metal, metal_voxels) = metal_mask(scan, params.metal_hu);
    let mut metal_voxels_removed_from_bone = 0;
    let mut metal_bone_holes_filled = 0;
    let zone = if metal_voxels > 0 {
        metal_voxels_removed_from_bone = exclude_metal(&mut bone, &metal)?;
        let zone = metal::artefact_zone(&metal, &body, dims, spacing, params.metal_artefact_radius_mm);
        metal_bone_holes_filled = fill_metal_holes(
            bone.data_mut(),
            &metal,
            &zone,
            dims,
            spacing,
            params.metal_hole_closing_mm,
        )?;
        Some(zone)
    } else {
        None
    };
    lap("metal", &mut timings_ms);
    let in_zone = |i: usize| zone.as_ref().is_some_and(|z| z[i] != 0);
    let bone = bone.into_data();

    // Air inside the body, streak voxels near metal excluded.
    let air: Vec<u8> = (0..hu.len())
        .into_par_iter()
        .map(|i| u8::from(body[i] != 0 && bone[i] == 0 && hu[i] < params.air_max_hu && !in_zone(i)))
        .collect();
    let lungs = lungs::select_lungs(&air, hu, &frame, &params.lungs)?;
    drop(air);
    warnings.extend(lungs.note.clone());
    lap("lungs", &mut timings_ms);
    let tree = airway::grow_airways(hu, &lungs.mask, &frame, &params.airways)?;
    warnings.extend(tree.note.clone());
    // Lung parenchyma: the lung regions with their in-slice holes (vessels, nodules) filled.
    let mut lung = lungs.mask;
    crate::morphology::fill_holes(&mut lung, dims, crate::components::Connectivity::InSlice)?;
    lap("airways", &mut timings_ms);
    let skin = skin::skin_layer(&body, dims, spacing, params.skin_thickness_mm);
    lap("skin", &mut timings_ms);

    let bone_adjacent = |i: usize| face_neighbours(i, dims).any(|j| bone[j] != 0);
    let (vessel_lo, vessel_hi) = params.vessel_hu;
    let mut labels: Vec<u8> = (0..hu.len())
        .into_par_iter()
        .map(|i| {
            let v = hu[i];
            let class = if metal[i] != 0 {
                TissueClass::Metal
            } else if bone[i] != 0 {
                TissueClass::Bone
            } else if body[i] == 0 {
                return 0;
            } else if v < params.air_max_hu && in_zone(i) {
                return UNKNOWN;
            } else if (vessel_lo..=vessel_hi).contains(&v) && !bone_adjacent(i) {
                TissueClass::Vessel
            } else if tree.mask[i] != 0 {
                TissueClass::Airway
            } else if lung[i] != 0 {
                TissueClass::Lung
            } else if skin[i] != 0 {
                TissueClass::Skin
            } else if v < params.air_max_hu {
                return 0;
            } else if (params.fat_hu.0..=params.fat_hu.1).contains(&v) {
                TissueClass::Fat
            } else {
                TissueClass::SoftTissue
            };
            class.label()
        })
        .collect();
    lap("labels", &mut timings_ms);
    let streak_voxels_relabelled =
        regions::relabel_from_surroundings(&mut labels, dims, UNKNOWN, TissueClass::SoftTissue.label());
    let mut labels = Volume::from_vec(dims, labels, scan.geometry).map_err(|_| SegmentError::SizeMismatch {
        left: scan.len(),
        right: bone.len(),
    })?;
    lap("streaks", &mut timings_ms);
    let small_region_voxels_relabelled = fix_small_regions(&mut labels, params.min_region_mm3)?;
    lap("small regions", &mut timings_ms);

    let mut voxels_per_class = [0u64; 9];
    let counts = labels
        .data()
        .par_chunks(1 << 16)
        .map(|chunk| {
            let mut c = [0u64; 9];
            chunk.iter().for_each(|&l| c[usize::from(l.min(8))] += 1);
            c
        })
        .reduce(|| [0; 9], |a, b| std::array::from_fn(|k| a[k] + b[k]));
    voxels_per_class.copy_from_slice(&counts);
    let voxel_mm3 = scan.geometry.voxel_volume_mm3();
    let volume_mm3_per_class = voxels_per_class.map(|v| v as f64 * voxel_mm3);
    if voxels_per_class[usize::from(TissueClass::Vessel.label())] == 0 {
        warnings.push("no contrast-filled vessel found (scan without contrast?)".into());
    }

    let probabilities = if params.probabilities {
        let w = params.probability_width_hu;
        let window = |class: TissueClass, (lo, hi): (f32, f32), region: &[u8]| ClassProbability {
            class,
            map: Volume::from_vec(dims, probability::window_map(hu, region, lo, hi, w), scan.geometry)
                .unwrap_or_else(|_| Volume::filled(dims, 0, scan.geometry)),
        };
        let range = |(lo, hi): (i16, i16)| (f32::from(lo), f32::from(hi));
        let air_region: Vec<u8> = lung.par_iter().zip(&tree.mask).map(|(&l, &a)| l | a).collect();
        vec![
            window(TissueClass::Fat, range(params.fat_hu), &body),
            window(TissueClass::SoftTissue, range(params.soft_tissue_hu), &body),
            window(TissueClass::Vessel, range(params.vessel_hu), &body),
            window(TissueClass::Metal, (f32::from(params.metal_hu), f32::INFINITY), &body),
            window(
                TissueClass::Lung,
                (f32::NEG_INFINITY, f32::from(params.air_max_hu)),
                &air_region,
            ),
        ]
    } else {
        Vec::new()
    };

    lap("counts and probabilities", &mut timings_ms);
    Ok(TissueLabels {
        labels,
        voxels_per_class,
        volume_mm3_per_class,
        probabilities,
        metal_voxels_removed_from_bone,
        metal_bone_holes_filled,
        streak_voxels_relabelled,
        small_region_voxels_relabelled,
        airway_threshold_hu: if tree.note.is_none() { tree.threshold_hu } else { 0 },
        warnings,
        timings_ms,
    })
}
