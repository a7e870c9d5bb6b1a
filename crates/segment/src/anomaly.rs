//! Anomaly checks run before segmentation (seed §2.1): does the scan look like the CT it is
//! declared to be, does it hold metal or other foreign objects, a scanner table, and is its
//! quality (noise, slice thickness and spacing, field of view) good enough to trust the model?
//!
//! A flagged scan is still processed when it can be; each [`Anomaly`] says in plain words what
//! was found, where (patient LPS mm) and how far to trust the result (`trust`, 0..1).
//!
//! Cost: one parallel pass over the voxels (metal candidates and the noise estimate) plus, with a
//! body mask, one parallel pass over the mask (table and field of view); [`check_scan`] also
//! computes the body mask itself, [`check_scan_with_body`] reuses one. Contrast enhancement is
//! found by [`crate::contrast`] (once per scan, shared with the bone segmentation): dense objects
//! next to contrast-filled lumens are concentrated contrast, never reported as metal.

use crate::body::{body_mask, BodyMask, BODY_THRESHOLD_HU};
use crate::contrast::{find_contrast_lumens, ContrastLumens, ContrastParams};
use crate::histogram::Histogram;
use medprint_volume::Volume;
use rayon::prelude::*;
use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; the result is not affected (e.g. the table was removed).
    Info,
    /// The result may be degraded; a reviewer should look at it.
    Warning,
    /// The result is unreliable or meaningless; an engineer must review the scan.
    Critical,
}

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// The intensity histogram does not match the declared modality.
    ModalityMismatch,
    /// Metal or another very dense foreign object (implant, pacemaker, swallowed object).
    MetalObject,
    /// The scanner table (or other dense objects outside the body).
    ScannerTable,
    /// Image noise high enough to create speckle and holes.
    HighNoise,
    /// Slices too thick for small bones.
    ThickSlices,
    /// Uneven, duplicated or missing slices.
    UnevenSlices,
    /// The body is cut by the edge of the image.
    TruncatedFieldOfView,
    /// Too little contrast to separate bone from soft tissue.
    LowContrast,
    /// Iodinated contrast in vessels, heart or bowel (as bright as bone).
    ContrastEnhanced,
    /// Very dense material next to contrast-filled lumens: undiluted contrast, not metal.
    ConcentratedContrast,
}

/// One finding of the anomaly checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// What was found.
    pub kind: AnomalyKind,
    /// How serious it is.
    pub severity: Severity,
    /// Plain words for a clinician.
    pub message: String,
    /// Where (patient LPS, mm), when it has a place.
    pub location_mm: Option<[f64; 3]>,
    /// How far to trust the result given this finding: 1 = fully, 0 = not at all.
    pub trust: f32,
}

/// Result of [`check_scan`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnomalyReport {
    /// Findings, most severe first.
    pub anomalies: Vec<Anomaly>,
    /// Robust estimate of the image noise (standard deviation, HU) in fat and soft tissue;
    /// `None` when the scan is not CT-like or has too few such voxels.
    pub noise_hu: Option<f32>,
    /// Voxels above [`METAL_HU`] (whatever their grouping).
    pub metal_voxels: u64,
    /// 0..1: how CT-like the histogram is (mean of the air, fat and soft-tissue component
    /// scores, see [`ModalityScore`]).
    pub modality_score: f32,
}

impl AnomalyReport {
    /// The lowest `trust` of all findings (1 when there is none).
    pub fn trust(&self) -> f32 {
        self.anomalies.iter().map(|a| a.trust).fold(1.0, f32::min)
    }

    /// The most severe finding's severity, `None` when there is none.
    pub fn worst(&self) -> Option<Severity> {
        self.anomalies.iter().map(|a| a.severity).max()
    }
}

/// What is known about the scan besides its voxels.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanFacts {
    /// The order says the scan is CT (values in HU).
    pub declared_ct: bool,
    /// Distances (mm) between consecutive slice positions along the slice normal, from the
    /// loader (DICOM series) when known; `len() == slices − 1` lets gaps be located.
    pub slice_gaps_mm: Option<Vec<f64>>,
}

// ---------------------------------------------------------------------------------------------
// Thresholds. Each is physically motivated; none is fitted to one scan.

/// Air window (HU): −1024 (the clipped air bin) to −900. Air outside the patient, lungs, gas.
pub const AIR_WINDOW_HU: (i32, i32) = (-1024, -900);
/// Fat window (HU): subcutaneous and visceral fat is −150..−50.
pub const FAT_WINDOW_HU: (i32, i32) = (-150, -50);
/// Water / soft-tissue window (HU): water 0, muscle and organs 30–60, blood 40–80.
pub const SOFT_TISSUE_WINDOW_HU: (i32, i32) = (0, 80);
/// A CT component (air, fat, soft tissue) is present when at least this fraction of the voxels
/// lies in its window. Any real CT holds several percent of each; a knee or head scan still
/// holds > 1 % fat and > 2 % air (around the body).
pub const COMPONENT_MIN_FRACTION: [f64; 3] = [0.02, 0.01, 0.02];
/// Fraction in a component's window that scores 1 (a typical trunk CT holds 15–30 % of each).
pub const COMPONENT_FULL_FRACTION: [f64; 3] = [0.05, 0.03, 0.05];
/// A scan declared CT with fewer components present than this is flagged Critical.
pub const MIN_CT_COMPONENTS: usize = 2;

/// Metal (HU): above dense cortical bone (≤ ≈ 2000 HU) and the usual 12-bit ceiling region;
/// titanium and steel reach or saturate 3071 HU. Dental enamel (2500–3000 HU) may also pass.
pub const METAL_HU: i16 = 2500;
/// A dense component is reported as an object from this volume (mm³) up; smaller specks are
/// noise or calcification.
pub const METAL_MIN_MM3: f64 = 20.0;
/// … and from this many voxels up (a single voxel may be a noise spike, whatever its size).
pub const METAL_MIN_VOXELS: u64 = 2;
/// Objects are listed one by one up to this count; the rest are summarised.
pub const METAL_MAX_LISTED: usize = 5;
/// Above this total metal volume (mm³, 1 cm³) streak artefacts are likely: bone next to the
/// metal may be incomplete or mixed with streaks.
pub const METAL_STREAK_MM3: f64 = 1000.0;
/// Above this many metal voxels the component analysis is skipped (the values are not HU or
/// the whole scan is saturated); the count is still reported.
pub const METAL_MAX_ANALYSED_VOXELS: usize = 4_000_000;

/// Dense objects outside the body smaller than this (mm³) are not reported as a table.
pub const TABLE_MIN_MM3: f64 = 1000.0;

/// Noise is estimated where the mean of the four diagonal neighbours (not in the Laplacian
/// stencil, so the selection does not bias the estimate) is fat or soft tissue (HU).
pub const NOISE_TISSUE_WINDOW_HU: (i32, i32) = (-250, 250);
/// Rows sampled for the noise estimate: every n-th row of every slice.
pub const NOISE_ROW_STRIDE: usize = 2;
/// Fewer samples than this give no noise estimate.
pub const NOISE_MIN_SAMPLES: u64 = 1000;
/// Noise (σ, HU) above which speckle appears: the bone threshold (≈ 150 HU) is then within
/// 2 σ of soft tissue (≈ 40 HU) → Warning.
pub const NOISE_WARNING_HU: f32 = 55.0;
/// Noise (σ, HU) at which the bone threshold is within 1 σ of soft tissue → Critical.
pub const NOISE_CRITICAL_HU: f32 = 110.0;

/// Slices thicker than this (mm) blur thin cortex and small bones → Warning.
pub const THICK_SLICE_WARNING_MM: f64 = 3.0;
/// Slices thicker than this (mm) lose small bones (carpals, ossicles, facial bones) → Critical.
pub const THICK_SLICE_CRITICAL_MM: f64 = 5.0;
/// A slice gap differing from the median gap by more than this fraction is uneven …
pub const UNEVEN_GAP_TOLERANCE: f64 = 0.1;
/// … plus this absolute tolerance (mm) for rounding of stored positions.
pub const UNEVEN_GAP_TOLERANCE_MM: f64 = 0.05;
/// A gap this many times the median gap means slices are missing.
pub const MISSING_GAP_FACTOR: f64 = 1.5;

/// The body touches an image side on a slice when it covers at least this length (mm) of it …
pub const FOV_MIN_CONTACT_MM: f64 = 10.0;
/// … counting only border voxels whose voxel this far (mm) inwards is body too: a truncated body
/// continues into the image, a thin table shell or blanket crossing the border obliquely does not.
pub const FOV_MIN_DEPTH_MM: f64 = 10.0;
/// A side is truncated when the body touches it on at least this fraction of the body slices.
pub const FOV_MIN_SLICE_FRACTION: f64 = 0.2;

/// Voxels at or above this value count as bone-like contrast (HU) for [`AnomalyKind::LowContrast`].
pub const BONE_CONTRAST_HU: i32 = 300;
/// Fewer bone-like voxels than this fraction of the scan: no usable bone contrast.
pub const MIN_BONE_CONTRAST_FRACTION: f64 = 1e-4;

// ---------------------------------------------------------------------------------------------
// Modality.

/// How CT-like a histogram is, per component (air, fat, soft tissue).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModalityScore {
    /// Fraction of voxels in [`AIR_WINDOW_HU`], [`FAT_WINDOW_HU`], [`SOFT_TISSUE_WINDOW_HU`].
    pub fractions: [f64; 3],
    /// Components present (fraction ≥ [`COMPONENT_MIN_FRACTION`]).
    pub present: [bool; 3],
    /// 0..1: mean over components of `min(1, fraction / COMPONENT_FULL_FRACTION)`.
    pub score: f32,
}

impl ModalityScore {
    /// Names of the components, in order.
    pub const NAMES: [&'static str; 3] = ["air (−1000 HU)", "fat (−100 HU)", "soft tissue/water (0–80 HU)"];

    /// Scores the histogram of a scan (the whole scan, not only the body).
    pub fn of_histogram(histogram: &Histogram) -> Self {
        let total = histogram.total();
        let windows = [AIR_WINDOW_HU, FAT_WINDOW_HU, SOFT_TISSUE_WINDOW_HU];
        let fractions = windows.map(|w| {
            if total == 0 {
                0.0
            } else {
                count_in(histogram, w) as f64 / total as f64
            }
        });
        let present = std::array::from_fn(|c| fractions[c] >= COMPONENT_MIN_FRACTION[c]);
        let score = (0..3)
            .map(|c| (fractions[c] / COMPONENT_FULL_FRACTION[c]).min(1.0))
            .sum::<f64>()
            / 3.0;
        Self {
            fractions,
            present,
            score: score as f32,
        }
    }

    /// Number of components present.
    pub fn present_count(&self) -> usize {
        self.present.iter().filter(|&&p| p).count()
    }
}

/// Voxels of `histogram` within `window` (HU, inclusive).
fn count_in(histogram: &Histogram, window: (i32, i32)) -> u64 {
    let bin = |hu: i32| (i64::from(hu) - i64::from(histogram.min_hu)).clamp(0, histogram.counts.len() as i64) as usize;
    let (lo, hi) = (bin(window.0), bin(window.1.saturating_add(1)));
    histogram.counts.get(lo..hi).map_or(0, |c| c.iter().sum())
}

fn modality_anomaly(m: &ModalityScore) -> Option<Anomaly> {
    let missing: Vec<&str> = (0..3)
        .filter(|&c| !m.present[c])
        .map(|c| ModalityScore::NAMES[c])
        .collect();
    let pct = |c: usize| 100.0 * m.fractions[c];
    let detail = format!(
        "air {:.1} %, fat {:.1} %, soft tissue {:.1} % of voxels",
        pct(0),
        pct(1),
        pct(2)
    );
    if m.present_count() < MIN_CT_COMPONENTS {
        Some(Anomaly {
            kind: AnomalyKind::ModalityMismatch,
            severity: Severity::Critical,
            message: format!(
                "this does not look like a CT scan: the intensities lack {} ({detail}). It may be an MRI \
                 or a CT stored without Hounsfield calibration; the model cannot be trusted until an \
                 engineer has checked the scan",
                missing.join(" and ")
            ),
            location_mm: None,
            trust: 0.1,
        })
    } else if !missing.is_empty() {
        Some(Anomaly {
            kind: AnomalyKind::ModalityMismatch,
            severity: Severity::Info,
            message: format!(
                "the scan has little {} ({detail}); unusual for a CT but possible for a tightly cropped \
                 or small body part",
                missing.join(" and ")
            ),
            location_mm: None,
            trust: 0.9,
        })
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// Voxel pass: metal candidates and noise samples.

/// Bins of the |Laplacian| histogram (HU); larger values are clamped into the last bin.
const NOISE_BINS: usize = 8192;

/// What one pass over the voxels gathers.
struct VoxelPass {
    /// Linear indices of voxels above [`METAL_HU`], ascending.
    metal: Vec<usize>,
    /// Histogram of |4c − l − r − u − d| in tissue (1-HU bins).
    laplacian: Vec<u64>,
}

/// One parallel pass over the slices: metal voxel indices and the in-plane Laplacian histogram.
fn voxel_pass(v: &Volume<i16>, with_noise: bool) -> VoxelPass {
    let [nx, ny, _] = v.dims();
    let slice = nx * ny;
    if slice == 0 || v.is_empty() {
        return VoxelPass {
            metal: Vec::new(),
            laplacian: vec![0; NOISE_BINS],
        };
    }
    let (lo, hi) = NOISE_TISSUE_WINDOW_HU;
    let (mut metal, laplacian) = v
        .data()
        .par_chunks(slice)
        .enumerate()
        .fold(
            || (Vec::new(), vec![0u64; NOISE_BINS]),
            |(mut metal, mut lap), (z, s)| {
                let base = z * slice;
                metal.extend(
                    s.iter()
                        .enumerate()
                        .filter(|(_, &x)| x > METAL_HU)
                        .map(|(i, _)| base + i),
                );
                if with_noise && nx >= 3 && ny >= 3 {
                    for y in (1..ny - 1).step_by(NOISE_ROW_STRIDE) {
                        let up = &s[(y - 1) * nx..y * nx];
                        let row = &s[y * nx..(y + 1) * nx];
                        let down = &s[(y + 1) * nx..(y + 2) * nx];
                        for x in 1..nx - 1 {
                            let diag = i32::from(up[x - 1])
                                + i32::from(up[x + 1])
                                + i32::from(down[x - 1])
                                + i32::from(down[x + 1]);
                            if diag < 4 * lo || diag > 4 * hi {
                                continue;
                            }
                            let l = 4 * i32::from(row[x])
                                - i32::from(row[x - 1])
                                - i32::from(row[x + 1])
                                - i32::from(up[x])
                                - i32::from(down[x]);
                            lap[(l.unsigned_abs() as usize).min(NOISE_BINS - 1)] += 1;
                        }
                    }
                }
                (metal, lap)
            },
        )
        .reduce(
            || (Vec::new(), vec![0u64; NOISE_BINS]),
            |(mut ma, mut la), (mb, lb)| {
                ma.extend(mb);
                la.iter_mut().zip(&lb).for_each(|(a, b)| *a += b);
                (ma, la)
            },
        );
    metal.par_sort_unstable();
    VoxelPass { metal, laplacian }
}

/// Noise σ (HU) from the |Laplacian| histogram: for i.i.d. noise the 5-point Laplacian has
/// variance 20 σ², and σ = 1.4826 · median|L| / √20 (MAD estimator, robust to edges).
fn noise_from_laplacian(hist: &[u64]) -> Option<f32> {
    let n: u64 = hist.iter().sum();
    if n < NOISE_MIN_SAMPLES {
        return None;
    }
    let half = n.div_ceil(2);
    let mut acc = 0;
    let median = hist.iter().position(|&c| {
        acc += c;
        acc >= half
    })?;
    Some((1.4826 * median as f64 / 20f64.sqrt()) as f32)
}

fn noise_anomaly(noise: f32) -> Option<Anomaly> {
    let (severity, trust) = if noise > NOISE_CRITICAL_HU {
        (Severity::Critical, 0.4)
    } else if noise > NOISE_WARNING_HU {
        (Severity::Warning, 0.7)
    } else {
        return None;
    };
    Some(Anomaly {
        kind: AnomalyKind::HighNoise,
        severity,
        message: format!(
            "the scan is very noisy (about {noise:.0} HU standard deviation in soft tissue, typical CT is \
             10–30 HU): expect speckle on bone surfaces and small holes in thin bone (low dose or a sharp \
             reconstruction kernel)"
        ),
        location_mm: None,
        trust,
    })
}

// ---------------------------------------------------------------------------------------------
// Metal objects: connected components of the sparse metal voxels.

/// A connected dense object.
struct DenseObject {
    voxels: u64,
    centroid_ijk: [f64; 3],
    /// The smallest `proximity(voxel)` of its voxels (see [`dense_objects`]).
    nearest: f64,
}

/// 6-connected components of the (ascending) voxel indices `metal` in a grid of `dims`.
///
/// Hand-written instead of using [`crate::Components`]: metal voxels are sparse (usually
/// < 0.1 % of the scan), so a union–find over their sorted indices avoids building and scanning
/// a full-size mask (88 MB for a clinical volume).
///
/// `proximity(ijk)` is evaluated per voxel and its minimum kept per object (e.g. the distance to
/// a contrast-filled lumen).
fn dense_objects(metal: &[usize], dims: [usize; 3], proximity: impl Fn([f64; 3]) -> f64) -> Vec<DenseObject> {
    let [nx, ny, _] = dims;
    let mut parent: Vec<usize> = (0..metal.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (k, &idx) in metal.iter().enumerate() {
        let x = idx % nx;
        let y = (idx / nx) % ny;
        let z = idx / (nx * ny);
        let neighbours = [(x > 0, 1), (y > 0, nx), (z > 0, nx * ny)];
        for (inside, step) in neighbours {
            if !inside {
                continue;
            }
            if let Ok(j) = metal[..k].binary_search(&(idx - step)) {
                let (a, b) = (root(&mut parent, k), root(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut sums: std::collections::HashMap<usize, (u64, [f64; 3], f64)> = std::collections::HashMap::new();
    for (k, &idx) in metal.iter().enumerate() {
        let r = root(&mut parent, k);
        let ijk = [(idx % nx) as f64, ((idx / nx) % ny) as f64, (idx / (nx * ny)) as f64];
        let e = sums.entry(r).or_insert((0, [0.0; 3], f64::INFINITY));
        e.0 += 1;
        for (sum, c) in e.1.iter_mut().zip(ijk) {
            *sum += c;
        }
        e.2 = e.2.min(proximity(ijk));
    }
    let mut objects: Vec<DenseObject> = sums
        .into_values()
        .map(|(n, s, nearest)| DenseObject {
            voxels: n,
            centroid_ijk: s.map(|c| c / n as f64),
            nearest,
        })
        .collect();
    objects.sort_by_key(|o| std::cmp::Reverse(o.voxels));
    objects
}

fn metal_anomalies(v: &Volume<i16>, metal: &[usize], lumens: Option<&ContrastLumens>) -> Vec<Anomaly> {
    let voxel_mm3 = v.geometry.voxel_volume_mm3();
    let total_mm3 = metal.len() as f64 * voxel_mm3;
    if metal.len() > METAL_MAX_ANALYSED_VOXELS {
        return vec![Anomaly {
            kind: AnomalyKind::MetalObject,
            severity: Severity::Critical,
            message: format!(
                "{:.0} cm³ of the scan is denser than {METAL_HU} HU: massive metal or wrongly scaled values; \
                 the model cannot be trusted",
                total_mm3 / 1000.0
            ),
            location_mm: None,
            trust: 0.2,
        }];
    }
    let lumen_distance = |ijk: [f64; 3]| {
        lumens
            .and_then(|l| l.distance_to_lumen_mm(ijk))
            .unwrap_or(f64::INFINITY)
    };
    let (contrast, objects): (Vec<DenseObject>, Vec<DenseObject>) = dense_objects(metal, v.dims(), lumen_distance)
        .into_iter()
        .partition(|o| lumens.is_some_and(|l| l.explains_dense_object(o.nearest)));
    let objects: Vec<DenseObject> = objects
        .into_iter()
        .filter(|o| o.voxels >= METAL_MIN_VOXELS && o.voxels as f64 * voxel_mm3 >= METAL_MIN_MM3)
        .collect();
    let enhanced = lumens.is_some_and(|l| l.enhancement.enhanced);
    let mut out = Vec::new();
    if !contrast.is_empty() {
        let mm3: f64 = contrast.iter().map(|o| o.voxels as f64 * voxel_mm3).sum();
        out.push(Anomaly {
            kind: AnomalyKind::ConcentratedContrast,
            severity: Severity::Info,
            message: format!(
                "{} very dense spots (above {METAL_HU} HU, {mm3:.0} mm³ together) lie in or next to contrast-filled \
                 vessels or bowel: undiluted contrast, not metal; they are kept out of the bone model",
                contrast.len()
            ),
            location_mm: None,
            trust: 0.9,
        });
    }
    if objects.is_empty() {
        return out;
    }
    let objects_mm3: f64 = objects.iter().map(|o| o.voxels as f64 * voxel_mm3).sum();
    let streaks = objects_mm3 > METAL_STREAK_MM3;
    let hint = if streaks {
        "; streak artefacts are likely around it: nearby bone may be incomplete or mixed with streaks"
    } else {
        ""
    };
    let trust = if streaks { 0.6 } else { 0.8 };
    out.extend(objects.iter().take(METAL_MAX_LISTED).map(|o| {
        let p = v.geometry.index_to_patient(o.centroid_ijk);
        let mm3 = o.voxels as f64 * voxel_mm3;
        // In a contrast-enhanced scan a dense object away from the detected lumens is still
        // most likely undiluted contrast (a great vein next to the injection); say both.
        let (kind, what) = if enhanced {
            (
                AnomalyKind::ConcentratedContrast,
                "in this contrast-enhanced scan most likely undiluted contrast in a vein, else metal (an implant); \
                     check the images: a very dense object",
            )
        } else {
            (AnomalyKind::MetalObject, "metal or another very dense object")
        };
        Anomaly {
            kind,
            severity: Severity::Warning,
            message: format!(
                "{what} (above {METAL_HU} HU, e.g. an implant) of about {mm3:.0} mm³ at {}{hint}",
                describe_position(p)
            ),
            location_mm: Some(p),
            trust,
        }
    }));
    if objects.len() > METAL_MAX_LISTED {
        let rest = &objects[METAL_MAX_LISTED..];
        out.push(Anomaly {
            kind: if enhanced {
                AnomalyKind::ConcentratedContrast
            } else {
                AnomalyKind::MetalObject
            },
            severity: Severity::Warning,
            message: format!(
                "{} more small dense objects ({:.0} mm³ together)",
                rest.len(),
                rest.iter().map(|o| o.voxels as f64 * voxel_mm3).sum::<f64>()
            ),
            location_mm: None,
            trust,
        });
    }
    out
}

/// A patient position (LPS, mm) in words.
fn describe_position(p: [f64; 3]) -> String {
    format!("LPS ({:.0}, {:.0}, {:.0}) mm", p[0], p[1], p[2])
}

// ---------------------------------------------------------------------------------------------
// Mask pass: table outside the body and body contact with the image border.

/// Sides of an axial slice: i = 0, i = nx − 1, j = 0, j = ny − 1.
const SIDES: usize = 4;

#[derive(Default, Clone)]
struct MaskPass {
    /// Dense voxels outside the body and the sum of their indices.
    table: u64,
    table_sum: [f64; 3],
    /// Per side: slices where the body touches it, and the sum of the touching voxel indices.
    truncated_slices: [u64; SIDES],
    contact_voxels: [u64; SIDES],
    contact_sum: [[f64; 3]; SIDES],
    /// Slices holding body.
    body_slices: u64,
}

impl MaskPass {
    fn merge(mut self, o: Self) -> Self {
        self.table += o.table;
        for a in 0..3 {
            self.table_sum[a] += o.table_sum[a];
        }
        for s in 0..SIDES {
            self.truncated_slices[s] += o.truncated_slices[s];
            self.contact_voxels[s] += o.contact_voxels[s];
            for a in 0..3 {
                self.contact_sum[s][a] += o.contact_sum[s][a];
            }
        }
        self.body_slices += o.body_slices;
        self
    }
}

/// Table voxels (dense, outside the body) and body contact with each in-plane image side.
// Per-side and per-axis arrays are indexed in parallel; index loops read clearest here.
#[allow(clippy::needless_range_loop)]
fn mask_pass(v: &Volume<i16>, body: &[u8]) -> MaskPass {
    let [nx, ny, _] = v.dims();
    let slice = nx * ny;
    if slice == 0 || body.len() != v.len() {
        return MaskPass::default();
    }
    let spacing = v.geometry.spacing;
    // Minimum contact (voxels) along the sides running along x (j borders) and y (i borders).
    let min_contact = [spacing[1], spacing[1], spacing[0], spacing[0]].map(|s| (FOV_MIN_CONTACT_MM / s).ceil() as u64);
    // Inward depth (voxels) per side, kept inside the grid.
    let depth = [spacing[0], spacing[0], spacing[1], spacing[1]]
        .map(|s| (FOV_MIN_DEPTH_MM / s).round() as usize)
        .map(|d| d.min(nx.min(ny).saturating_sub(1)));
    v.data()
        .par_chunks(slice)
        .zip(body.par_chunks(slice))
        .enumerate()
        .fold(MaskPass::default, |mut acc, (z, (s, m))| {
            let mut any_body = false;
            for (i, (&x, &b)) in s.iter().zip(m).enumerate() {
                any_body |= b != 0;
                if b == 0 && x > BODY_THRESHOLD_HU {
                    acc.table += 1;
                    acc.table_sum[0] += (i % nx) as f64;
                    acc.table_sum[1] += (i / nx) as f64;
                    acc.table_sum[2] += z as f64;
                }
            }
            if !any_body {
                return acc;
            }
            acc.body_slices += 1;
            // Border voxels of a side as (border index, inward index) pairs.
            let border = |side: usize| -> Box<dyn Iterator<Item = ((usize, usize), usize)>> {
                let d = depth[side];
                match side {
                    0 => Box::new((0..ny).map(move |y| ((0, y), d + nx * y))),
                    1 => Box::new((0..ny).map(move |y| ((nx - 1, y), nx - 1 - d + nx * y))),
                    2 => Box::new((0..nx).map(move |x| ((x, 0), x + nx * d))),
                    _ => Box::new((0..nx).map(move |x| ((x, ny - 1), x + nx * (ny - 1 - d)))),
                }
            };
            for side in 0..SIDES {
                let (mut n, mut sum) = (0u64, [0.0; 3]);
                for ((x, y), inward) in border(side) {
                    if m[x + nx * y] != 0 && m[inward] != 0 {
                        n += 1;
                        sum[0] += x as f64;
                        sum[1] += y as f64;
                        sum[2] += z as f64;
                    }
                }
                if n >= min_contact[side] {
                    acc.truncated_slices[side] += 1;
                    acc.contact_voxels[side] += n;
                    for a in 0..3 {
                        acc.contact_sum[side][a] += sum[a];
                    }
                }
            }
            acc
        })
        .reduce(MaskPass::default, MaskPass::merge)
}

fn table_anomaly(v: &Volume<i16>, pass: &MaskPass) -> Option<Anomaly> {
    let mm3 = pass.table as f64 * v.geometry.voxel_volume_mm3();
    if mm3 < TABLE_MIN_MM3 {
        return None;
    }
    let centroid = v
        .geometry
        .index_to_patient(pass.table_sum.map(|s| s / pass.table as f64));
    Some(Anomaly {
        kind: AnomalyKind::ScannerTable,
        severity: Severity::Info,
        message: format!(
            "the scanner table or other objects outside the body ({:.0} cm³, centred at {}) were found and \
             removed from the model",
            mm3 / 1000.0,
            describe_position(centroid)
        ),
        location_mm: Some(centroid),
        trust: 1.0,
    })
}

/// Patient side (LPS words) a unit vector points to.
fn side_name(d: [f64; 3]) -> &'static str {
    let a = (0..3).max_by(|&i, &j| d[i].abs().total_cmp(&d[j].abs())).unwrap_or(0);
    match (a, d[a] >= 0.0) {
        (0, true) => "left",
        (0, false) => "right",
        (1, true) => "back (posterior)",
        (1, false) => "front (anterior)",
        (_, true) => "head (superior)",
        (_, false) => "feet (inferior)",
    }
}

fn fov_anomalies(v: &Volume<i16>, pass: &MaskPass) -> Vec<Anomaly> {
    if pass.body_slices == 0 {
        return Vec::new();
    }
    let dir = v.geometry.direction;
    let column = |c: usize, sign: f64| [sign * dir[0][c], sign * dir[1][c], sign * dir[2][c]];
    let outward = [column(0, -1.0), column(0, 1.0), column(1, -1.0), column(1, 1.0)];
    (0..SIDES)
        .filter(|&s| pass.truncated_slices[s] as f64 >= FOV_MIN_SLICE_FRACTION * pass.body_slices as f64)
        .map(|s| {
            let n = pass.contact_voxels[s].max(1) as f64;
            let p = v.geometry.index_to_patient(pass.contact_sum[s].map(|c| c / n));
            Anomaly {
                kind: AnomalyKind::TruncatedFieldOfView,
                severity: Severity::Warning,
                message: format!(
                    "the body is cut by the image edge on the patient's {} side on {} of {} slices: anatomy \
                     there is missing from the scan and from the model",
                    side_name(outward[s]),
                    pass.truncated_slices[s],
                    pass.body_slices
                ),
                location_mm: Some(p),
                trust: 0.7,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Slices and contrast.

fn slice_anomalies(v: &Volume<i16>, facts: &ScanFacts) -> Vec<Anomaly> {
    let mut out = Vec::new();
    let thickness = v.geometry.spacing[2];
    if v.dims()[2] > 1 && thickness > THICK_SLICE_WARNING_MM {
        let critical = thickness > THICK_SLICE_CRITICAL_MM;
        out.push(Anomaly {
            kind: AnomalyKind::ThickSlices,
            severity: if critical {
                Severity::Critical
            } else {
                Severity::Warning
            },
            message: format!(
                "slices are {thickness:.1} mm apart (≤ {THICK_SLICE_WARNING_MM} mm recommended): {}",
                if critical {
                    "small bones (hand, foot, face) will be lost or merged and surfaces will show steps"
                } else {
                    "thin cortex and small bones will be blurred and surfaces may show steps"
                }
            ),
            location_mm: None,
            trust: if critical { 0.5 } else { 0.8 },
        });
    }
    let Some(gaps) = facts.slice_gaps_mm.as_deref() else {
        return out;
    };
    let mut sorted: Vec<f64> = gaps.iter().copied().filter(|g| g.is_finite()).collect();
    if sorted.is_empty() {
        return out;
    }
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let locatable = gaps.len() + 1 == v.dims()[2] && v.dims()[0] > 0 && v.dims()[1] > 0;
    let centre = |k: f64| {
        let [nx, ny, _] = v.dims();
        v.geometry
            .index_to_patient([(nx as f64 - 1.0) / 2.0, (ny as f64 - 1.0) / 2.0, k])
    };
    let (mut duplicate, mut missing, mut uneven) = (Vec::new(), Vec::new(), Vec::new());
    for (i, &g) in gaps.iter().enumerate() {
        if !g.is_finite() || g <= UNEVEN_GAP_TOLERANCE_MM {
            duplicate.push(i);
        } else if median > 0.0 && g > MISSING_GAP_FACTOR * median {
            missing.push(i);
        } else if (g - median).abs() > UNEVEN_GAP_TOLERANCE * median + UNEVEN_GAP_TOLERANCE_MM {
            uneven.push(i);
        }
    }
    let location = |list: &[usize]| (locatable && !list.is_empty()).then(|| centre(list[0] as f64 + 0.5));
    if !duplicate.is_empty() {
        out.push(Anomaly {
            kind: AnomalyKind::UnevenSlices,
            severity: Severity::Critical,
            message: format!(
                "{} slice(s) share a position with their neighbour (duplicated or overlapping series): the \
                 volume cannot be stacked reliably",
                duplicate.len()
            ),
            location_mm: location(&duplicate),
            trust: 0.3,
        });
    }
    if !missing.is_empty() {
        let lost: f64 = missing.iter().map(|&i| (gaps[i] / median).round() - 1.0).sum();
        out.push(Anomaly {
            kind: AnomalyKind::UnevenSlices,
            severity: Severity::Critical,
            message: format!(
                "about {lost:.0} slice(s) are missing in {} gap(s) (largest gap {:.1} mm, usual {median:.1} mm): \
                 anatomy there is interpolated, not measured",
                missing.len(),
                missing.iter().map(|&i| gaps[i]).fold(0.0, f64::max)
            ),
            location_mm: location(&missing),
            trust: 0.4,
        });
    }
    if !uneven.is_empty() {
        out.push(Anomaly {
            kind: AnomalyKind::UnevenSlices,
            severity: Severity::Warning,
            message: format!(
                "{} slice gap(s) differ from the usual {median:.2} mm: distances along the body axis may be \
                 slightly wrong there",
                uneven.len()
            ),
            location_mm: location(&uneven),
            trust: 0.8,
        });
    }
    out
}

fn contrast_anomaly(histogram: &Histogram) -> Option<Anomaly> {
    let total = histogram.total();
    if total == 0 {
        return None;
    }
    let bone = count_in(histogram, (BONE_CONTRAST_HU, i32::MAX)) as f64 / total as f64;
    (bone < MIN_BONE_CONTRAST_FRACTION).then(|| Anomaly {
        kind: AnomalyKind::LowContrast,
        severity: Severity::Warning,
        message: format!(
            "almost nothing in the scan is denser than {BONE_CONTRAST_HU} HU: it holds no bone or the bone contrast \
             is too low to segment"
        ),
        location_mm: None,
        trust: 0.3,
    })
}

/// The contrast-enhancement finding: information for the reviewer (the lumens are kept out of
/// bone), with the detection's trust.
fn contrast_enhancement_anomaly(lumens: &ContrastLumens) -> Option<Anomaly> {
    let message = lumens.enhancement.describe()?;
    let largest = lumens.enhancement.regions.first()?;
    Some(Anomaly {
        kind: AnomalyKind::ContrastEnhanced,
        severity: Severity::Info,
        message,
        location_mm: Some(largest.centre_mm),
        trust: lumens.enhancement.trust,
    })
}

// ---------------------------------------------------------------------------------------------
// Entry points.

/// Runs every anomaly check on a scan: computes the body mask (for the table and field-of-view
/// checks) when the scan looks like CT, then calls [`check_scan_with_body`].
///
/// `histogram` should be of the whole scan (`Histogram::of_volume(v, None)`). Never panics; an
/// empty or degenerate volume yields a report with what could be checked.
pub fn check_scan(v: &Volume<i16>, histogram: &Histogram, facts: &ScanFacts) -> AnomalyReport {
    let hu_valid = facts.declared_ct && ModalityScore::of_histogram(histogram).present_count() >= MIN_CT_COMPONENTS;
    let body = if hu_valid && !v.is_empty() {
        body_mask(v)
            .inspect_err(|e| tracing::warn!(error = %e, "body mask failed: table and field-of-view checks skipped"))
            .ok()
    } else {
        None
    };
    let lumens = body.as_ref().and_then(|body| {
        find_contrast_lumens(v, body, &ContrastParams::default())
            .inspect_err(|e| tracing::warn!(error = %e, "contrast check failed"))
            .ok()
    });
    check_scan_with_body(v, histogram, facts, body.as_ref(), lumens.as_ref())
}

/// Runs every anomaly check, reusing a body mask computed by the caller ([`body_mask`]) and the
/// contrast-filled lumens ([`find_contrast_lumens`]); without a body mask the table and
/// field-of-view checks are skipped, without lumens the contrast finding.
///
/// Intensity checks (metal, noise, table, contrast) run only on scans declared CT whose
/// histogram looks like CT: other values are not HU. Findings are sorted most severe first.
pub fn check_scan_with_body(
    v: &Volume<i16>,
    histogram: &Histogram,
    facts: &ScanFacts,
    body: Option<&BodyMask>,
    lumens: Option<&ContrastLumens>,
) -> AnomalyReport {
    let modality = ModalityScore::of_histogram(histogram);
    let mut anomalies = Vec::new();
    let hu_valid = facts.declared_ct && modality.present_count() >= MIN_CT_COMPONENTS;
    if facts.declared_ct {
        anomalies.extend(modality_anomaly(&modality));
    }
    let pass = voxel_pass(v, hu_valid);
    let noise_hu = if hu_valid {
        noise_from_laplacian(&pass.laplacian)
    } else {
        None
    };
    if hu_valid {
        anomalies.extend(metal_anomalies(v, &pass.metal, lumens));
        anomalies.extend(lumens.and_then(contrast_enhancement_anomaly));
        anomalies.extend(noise_hu.and_then(noise_anomaly));
        anomalies.extend(contrast_anomaly(histogram));
        if let Some(body) = body {
            let mask = mask_pass(v, &body.mask);
            anomalies.extend(table_anomaly(v, &mask));
            anomalies.extend(fov_anomalies(v, &mask));
        }
    }
    anomalies.extend(slice_anomalies(v, facts));
    anomalies.sort_by_key(|a| std::cmp::Reverse(a.severity));
    for a in &anomalies {
        tracing::info!(kind = ?a.kind, severity = ?a.severity, trust = a.trust, "{}", a.message);
    }
    AnomalyReport {
        anomalies,
        noise_hu,
        metal_voxels: pass.metal.len() as u64,
        modality_score: modality.score,
    }
}
