//! `validate`: the bone segmentation, run as `convert` runs it by default, measured on every
//! labelled scan we hold and on phantoms with known truth — at the scan's own grid and
//! resampled to other voxel sizes — so that generalisation is measured, not assumed.
//!
//! * `ct-abdomen-3mm` (the scan the defaults were chosen on): bone against the reference labels
//!   (Dice, Jaccard, HD95 and mean surface distance in mm, volume difference in %).
//! * `ct-chest-cta-1.5mm` (used with the abdomen to choose the contrast limits and the cortex gap; a contrast CT angiogram without bone labels): the share of
//!   the reference aorta's voxels inside the bone mask (contrast is not bone), and the share of
//!   the reference T12 vertebra covered by it.
//! * Phantoms (synthetic): the demo's knee phantom against its analytic bone volume and truth
//!   mask, and the torso phantom of `medprint_segment::phantom` against its truth mask.
//!
//! Real scans are also resampled (trilinear, [`resample_to_spacing`]) to the other grids asked
//! for and segmented there; every metric is computed in patient space on the reference's grid
//! (the prediction is sampled by nearest neighbour through both affines). The masks of one
//! scan at different grids are compared pairwise on the coarser grid of each pair (larger voxel
//! volume), where both masks' voxel centres mean the same thing (resolution agreement).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use medprint_phantom::{knee_phantom, KneePhantomSpec};
use medprint_segment::bone::segment_bone;
use medprint_segment::evaluate::{
    evaluate_labels, evaluate_masks, parse_class, resample_labels_nearest, ClassMetrics, ClassPair, EvaluateError,
    LabelSet,
};
use medprint_segment::phantom::ct_phantom;
use medprint_volume::input::{load_scan, Modality};
use medprint_volume::nifti::read_nifti;
use medprint_volume::resample::resample_to_spacing;
use medprint_volume::{Geometry, Volume};

use crate::convert::{bone_params, ConvertOptions, PipelineError, BONE_LABEL};
use crate::params::RunParams;

/// The labelled abdominal CT the segmentation defaults were chosen on.
pub const ABDOMEN: &str = "ct-abdomen-3mm";
/// The contrast CT angiogram (aorta and T12 reference masks, no bone labels).
pub const CHEST_CTA: &str = "ct-chest-cta-1.5mm";
/// The demo's knee phantom (analytic bone volume).
pub const KNEE_PHANTOM: &str = "knee-phantom";
/// The synthetic torso phantom of `medprint_segment::phantom` (exact truth mask).
pub const TORSO_PHANTOM: &str = "torso-phantom";
/// Every scan `validate` knows, in the order it runs them.
pub const SCANS: [&str; 4] = [ABDOMEN, CHEST_CTA, KNEE_PHANTOM, TORSO_PHANTOM];

/// Target: Dice between the bone masks of one scan at two grids (issue 14).
pub const AGREEMENT_TARGET_DICE: f64 = 0.92;
/// Target: at most this share of the aorta's voxels (%) in the bone mask of the CTA.
pub const AORTA_IN_BONE_TARGET_PERCENT: f64 = 2.0;
/// Target: at least this share of T12 (%) covered by the bone mask of the CTA.
pub const T12_COVERED_TARGET_PERCENT: f64 = 95.0;
/// Target: bone Dice on the abdomen CT at its own grid.
pub const ABDOMEN_DICE_TARGET: f64 = 0.90;

/// Torso phantom grid (voxels) and voxel size (mm), noise (HU) and seed.
const TORSO_DIMS: [usize; 3] = [192, 160, 48];
const TORSO_SPACING_MM: [f64; 3] = [1.0, 1.0, 2.0];
const TORSO_NOISE_HU: f32 = 20.0;
const TORSO_SEED: u64 = 7;

/// Why the validation could not run.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// A bad option (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A scan or reference file could not be read (exit code 3).
    #[error("{path}: {reason}")]
    Data {
        /// File concerned.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Segmentation or comparison failed (exit code 4).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// Two masks could not be compared (exit code 4).
    #[error("comparison failed: {0}")]
    Evaluate(#[from] EvaluateError),
}

impl ValidationError {
    /// Process exit code (the same meanings as `convert`'s).
    pub fn exit_code(&self) -> i32 {
        match self {
            ValidationError::Usage(_) => 2,
            ValidationError::Data { .. } => 3,
            ValidationError::Pipeline(e) => e.exit_code(),
            ValidationError::Evaluate(_) => 4,
        }
    }
}

fn data_error(path: &Path, reason: impl ToString) -> ValidationError {
    ValidationError::Data {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// A grid a real scan is segmented on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Grid {
    /// The scan's own voxels.
    Native,
    /// Resampled (trilinear) to this voxel size, mm along i, j, k.
    Spacing([f64; 3]),
}

impl Grid {
    /// The default grids: native, 1 × 1 × 2 mm and 0.7 mm isotropic.
    pub fn defaults() -> Vec<Grid> {
        vec![Grid::Native, Grid::Spacing([1.0, 1.0, 2.0]), Grid::Spacing([0.7; 3])]
    }

    /// Parses `native`, `X` (isotropic, mm) or `XxYxZ` (mm), e.g. `0.7` or `1x1x2`.
    pub fn parse(text: &str) -> Result<Grid, ValidationError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("native") {
            return Ok(Grid::Native);
        }
        let usage = || {
            ValidationError::Usage(format!(
                "resolution \"{text}\" is not valid: use native, a voxel size in mm (0.7) or three (1x1x2), \
                 each between 0.2 and 10 mm"
            ))
        };
        let sizes: Vec<f64> = text
            .split(['x', 'X', '×'])
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| usage())?;
        let spacing = match sizes.as_slice() {
            [s] => [*s; 3],
            [x, y, z] => [*x, *y, *z],
            _ => return Err(usage()),
        };
        if spacing.iter().all(|s| s.is_finite() && (0.2..=10.0).contains(s)) {
            Ok(Grid::Spacing(spacing))
        } else {
            Err(usage())
        }
    }

    /// Short name: `native`, `0.7` or `1x1x2`.
    pub fn name(&self) -> String {
        match self {
            Grid::Native => "native".into(),
            Grid::Spacing([x, y, z]) if x == y && y == z => format_mm(*x),
            Grid::Spacing(s) => s.map(format_mm).join("x"),
        }
    }
}

/// A length in mm without trailing zeros (`1`, `0.7`, `1.25`).
fn format_mm(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// What `validate` runs.
#[derive(Debug, Clone)]
pub struct ValidationOptions {
    /// Folder holding the scans' folders (`ct-abdomen-3mm/`, `ct-chest-cta-1.5mm/`).
    pub data_dir: PathBuf,
    /// Scans to run (names from [`SCANS`]); empty runs every one.
    pub only: Vec<String>,
    /// Grids the real scans are segmented on (phantoms run on their own grid only).
    pub grids: Vec<Grid>,
    /// The run's options: `convert`'s defaults (`RunParams::default()`) without previews.
    pub convert: ConvertOptions,
}

impl ValidationOptions {
    /// Every scan, on the default grids, with `convert`'s default parameters.
    pub fn new(data_dir: PathBuf) -> Result<Self, ValidationError> {
        let params = RunParams {
            previews: false,
            ..RunParams::default()
        };
        Ok(Self {
            data_dir,
            only: Vec::new(),
            grids: Grid::defaults(),
            convert: params.to_options()?,
        })
    }

    fn runs(&self, scan: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == scan)
    }
}

/// How a scan relates to the choice of the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanRole {
    /// The defaults were chosen on this scan.
    Tuning,
    /// Not used for choosing any default.
    HeldOut,
    /// A synthetic phantom with known truth.
    Synthetic,
}

impl ScanRole {
    fn of(scan: &str) -> ScanRole {
        match scan {
            ABDOMEN => ScanRole::Tuning,
            // Its aorta and T12 set the contrast check's limits and the 7 mm cortex gap.
            CHEST_CTA => ScanRole::Tuning,
            _ => ScanRole::Synthetic,
        }
    }

    fn label(self) -> &'static str {
        match self {
            ScanRole::Tuning => "used to choose the defaults",
            ScanRole::HeldOut => "held out",
            ScanRole::Synthetic => "synthetic, known truth",
        }
    }
}

/// Contrast checks on the CT angiogram, on the reference masks' grid.
#[derive(Debug, Clone, Serialize)]
pub struct ContrastChecks {
    /// Share of the aorta's voxels in the bone mask, %.
    pub aorta_in_bone_percent: f64,
    /// Reference-grid voxels that are both aorta and bone.
    pub bone_voxels_in_aorta: u64,
    /// Their volume, mm³.
    pub bone_in_aorta_mm3: f64,
    /// Share of T12's voxels covered by the bone mask, %.
    pub t12_covered_percent: f64,
}

/// One scan on one grid.
#[derive(Debug, Clone, Serialize)]
pub struct VariantResult {
    /// Scan name.
    pub scan: String,
    /// Its role in the choice of the defaults.
    pub role: ScanRole,
    /// Grid name (`native`, `1x1x2`, `0.7`).
    pub grid: String,
    /// Voxel size segmented on, mm.
    pub spacing_mm: [f64; 3],
    /// Grid segmented on, voxels.
    pub dims: [usize; 3],
    /// Bone threshold used, HU.
    pub threshold_hu: f32,
    /// Bone volume of the mask, mm³.
    pub bone_volume_mm3: f64,
    /// Agreement with the reference bone (abdomen: reference labels; phantoms: truth mask).
    pub bone: Option<ClassMetrics>,
    /// Volume error, %: against the analytic volume (knee phantom) or the reference mask.
    pub volume_error_percent: Option<f64>,
    /// What the volume error is measured against.
    pub volume_reference: Option<&'static str>,
    /// Contrast checks (CT angiogram only).
    pub contrast: Option<ContrastChecks>,
    /// Dice with the same scan's mask on its native grid (compared on the coarser grid).
    pub agreement_with_native: Option<f64>,
    /// Wall time of resampling, segmentation and measurement, s.
    pub seconds: f64,
}

/// Agreement of one scan's bone masks on two grids.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionAgreement {
    /// Scan name.
    pub scan: String,
    /// First grid.
    pub a: String,
    /// Second grid.
    pub b: String,
    /// The grid compared on (the coarser of the two).
    pub compared_on: String,
    /// Dice, Jaccard, HD95, MSD and volumes of mask `a` against mask `b`.
    pub metrics: ClassMetrics,
    /// Dice ≥ [`AGREEMENT_TARGET_DICE`].
    pub meets_target: bool,
}

/// A scan that was asked for but could not be found.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedScan {
    /// Scan name.
    pub scan: String,
    /// Why.
    pub reason: String,
}

/// Everything `validate` measured.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    /// medprint version measured.
    pub medprint_version: String,
    /// Scans the defaults were chosen on.
    pub tuning_scans: Vec<String>,
    /// Real scans not used for choosing any default.
    pub held_out_scans: Vec<String>,
    /// One row per scan and grid.
    pub rows: Vec<VariantResult>,
    /// Pairwise agreement between the grids of each real scan.
    pub agreements: Vec<ResolutionAgreement>,
    /// Scans not found in the data folder.
    pub skipped: Vec<SkippedScan>,
}

/// Receives one line per step (for a progress display).
pub type StepLog<'a> = &'a (dyn Fn(&str) + Sync);

/// Runs every scan asked for, one grid after another (one large volume in memory at a time,
/// besides the masks kept for the agreement).
pub fn validate(options: &ValidationOptions, log: StepLog<'_>) -> Result<ValidationReport, ValidationError> {
    if let Some(unknown) = options.only.iter().find(|o| !SCANS.contains(&o.as_str())) {
        return Err(ValidationError::Usage(format!(
            "unknown scan \"{unknown}\"; choose from {}",
            SCANS.join(", ")
        )));
    }
    if options.grids.is_empty() {
        return Err(ValidationError::Usage("no resolution given".into()));
    }
    let mut report = ValidationReport {
        medprint_version: env!("CARGO_PKG_VERSION").to_string(),
        tuning_scans: vec![ABDOMEN.to_string(), CHEST_CTA.to_string()],
        held_out_scans: Vec::new(),
        rows: Vec::new(),
        agreements: Vec::new(),
        skipped: Vec::new(),
    };
    for scan in SCANS.into_iter().filter(|s| options.runs(s)) {
        match scan {
            ABDOMEN | CHEST_CTA => {
                let dir = options.data_dir.join(scan);
                if !dir.is_dir() {
                    log(&format!("{scan}: skipped, {} is missing", dir.display()));
                    report.skipped.push(SkippedScan {
                        scan: scan.to_string(),
                        reason: format!("{} is missing", dir.display()),
                    });
                    continue;
                }
                let reference = if scan == ABDOMEN {
                    Reference::abdomen(&dir)?
                } else {
                    Reference::angiogram(&dir)?
                };
                let (rows, agreements) = validate_real_scan(scan, &dir, &reference, options, log)?;
                report.rows.extend(rows);
                report.agreements.extend(agreements);
            }
            KNEE_PHANTOM => report.rows.push(validate_knee_phantom(options, log)?),
            _ => report.rows.push(validate_torso_phantom(options, log)?),
        }
    }
    Ok(report)
}

/// The reference of a real scan.
enum Reference {
    /// Label map and the label values that are bone.
    Labels { labels: Volume<f32>, bone: LabelSet },
    /// Aorta and T12 masks (nonzero = inside).
    Angiogram { aorta: Volume<f32>, t12: Volume<f32> },
}

fn read_reference(path: &Path) -> Result<Volume<f32>, ValidationError> {
    read_nifti(path).map_err(|e| data_error(path, e))
}

impl Reference {
    fn abdomen(dir: &Path) -> Result<Self, ValidationError> {
        let table = dir.join("labels.tsv");
        let class = parse_class(&format!("bone={}", table.display())).map_err(|e| data_error(&table, e))?;
        Ok(Reference::Labels {
            labels: read_reference(&dir.join("labels.nii.gz"))?,
            bone: class.labels,
        })
    }

    fn angiogram(dir: &Path) -> Result<Self, ValidationError> {
        Ok(Reference::Angiogram {
            aorta: read_reference(&dir.join("aorta.nii.gz"))?,
            t12: read_reference(&dir.join("vertebra_T12.nii.gz"))?,
        })
    }

    /// Fills the row's metrics for `mask`.
    fn measure(&self, mask: &Volume<u8>, row: &mut VariantResult) -> Result<(), ValidationError> {
        match self {
            Reference::Labels { labels, bone } => {
                let pair = ClassPair {
                    name: "bone".into(),
                    pred: LabelSet::single(u32::from(BONE_LABEL)),
                    reference: bone.clone(),
                };
                let metrics = evaluate_labels(mask, labels, Some(std::slice::from_ref(&pair)))?
                    .classes
                    .pop();
                row.volume_error_percent = metrics.as_ref().and_then(|m| m.volume_difference_percent);
                row.volume_reference = Some("reference labels");
                row.bone = metrics;
            }
            Reference::Angiogram { aorta, t12 } => {
                let (aorta_hit, aorta_total) = overlap(mask, aorta);
                let (t12_hit, t12_total) = overlap(mask, t12);
                row.contrast = Some(ContrastChecks {
                    aorta_in_bone_percent: percent(aorta_hit, aorta_total),
                    bone_voxels_in_aorta: aorta_hit,
                    bone_in_aorta_mm3: aorta_hit as f64 * aorta.geometry.voxel_volume_mm3(),
                    t12_covered_percent: percent(t12_hit, t12_total),
                });
            }
        }
        Ok(())
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        100.0 * part as f64 / whole as f64
    }
}

/// `(voxels of region that are bone, voxels of region)` on the region's grid; the mask is
/// sampled there by nearest neighbour in patient space.
fn overlap(mask: &Volume<u8>, region: &Volume<f32>) -> (u64, u64) {
    let on_region = mask_on_grid(mask, region.dims(), &region.geometry);
    region
        .data()
        .iter()
        .zip(&on_region)
        .filter(|(&r, _)| r != 0.0)
        .fold((0, 0), |(hit, total), (_, &m)| (hit + u64::from(m != 0), total + 1))
}

/// `mask` sampled on another grid by nearest neighbour through both affines (outside: 0).
fn mask_on_grid(mask: &Volume<u8>, dims: [usize; 3], geometry: &Geometry) -> Vec<u16> {
    let source: Vec<u16> = mask.data().iter().map(|&v| u16::from(v)).collect();
    resample_labels_nearest(&source, mask.dims(), &mask.geometry, dims, geometry)
}

/// The bone mask `convert` makes of `volume` with `options` (the default run: no trained model,
/// no reviewer edits), and the threshold it used.
fn segment_like_convert(
    volume: &Volume<i16>,
    modality: &Modality,
    options: &ConvertOptions,
) -> Result<(Volume<u8>, f32), ValidationError> {
    let modality = options.modality.clone().unwrap_or_else(|| modality.clone());
    let params = bone_params(options, &modality, &mut Vec::new());
    let seg = segment_bone(volume, &params).map_err(PipelineError::from)?;
    Ok((seg.mask, seg.threshold.threshold_hu))
}

fn new_row(scan: &str, grid: String, mask: &Volume<u8>, threshold_hu: f32) -> VariantResult {
    let bone_voxels = mask.data().iter().filter(|&&v| v != 0).count();
    VariantResult {
        scan: scan.to_string(),
        role: ScanRole::of(scan),
        grid,
        spacing_mm: mask.geometry.spacing,
        dims: mask.dims(),
        threshold_hu,
        bone_volume_mm3: bone_voxels as f64 * mask.geometry.voxel_volume_mm3(),
        bone: None,
        volume_error_percent: None,
        volume_reference: None,
        contrast: None,
        agreement_with_native: None,
        seconds: 0.0,
    }
}

/// Bone Dice and the rest of `a` against `b` in patient space, on the coarser grid of the two.
fn compare_masks(a: &Volume<u8>, b: &Volume<u8>) -> Result<(ClassMetrics, bool), ValidationError> {
    let pair = ClassPair {
        name: "bone".into(),
        pred: LabelSet::single(u32::from(BONE_LABEL)),
        reference: LabelSet::single(u32::from(BONE_LABEL)),
    };
    let b_is_coarser = b.geometry.voxel_volume_mm3() >= a.geometry.voxel_volume_mm3();
    let (pred, reference) = if b_is_coarser { (a, b) } else { (b, a) };
    let metrics = evaluate_labels(pred, reference, Some(std::slice::from_ref(&pair)))?
        .classes
        .pop()
        .ok_or_else(|| ValidationError::Usage("no class compared".into()))?;
    Ok((metrics, b_is_coarser))
}

fn validate_real_scan(
    scan: &str,
    dir: &Path,
    reference: &Reference,
    options: &ValidationOptions,
    log: StepLog<'_>,
) -> Result<(Vec<VariantResult>, Vec<ResolutionAgreement>), ValidationError> {
    let ct_path = dir.join("ct.nii.gz");
    let loaded = load_scan(&ct_path, &options.convert.load).map_err(|e| data_error(&ct_path, e))?;
    let mut rows: Vec<VariantResult> = Vec::new();
    let mut masks: Vec<Volume<u8>> = Vec::new();
    for grid in &options.grids {
        let started = Instant::now();
        let resampled;
        let volume = match grid {
            Grid::Native => &loaded.volume,
            Grid::Spacing(spacing) => {
                log(&format!("{scan}: resampling to {} mm", grid.name()));
                resampled = resample_to_spacing(&loaded.volume, *spacing);
                &resampled
            }
        };
        log(&format!(
            "{scan} {}: segmenting {} voxels",
            grid.name(),
            volume.dims().iter().product::<usize>()
        ));
        let (mask, threshold) = segment_like_convert(volume, &loaded.modality, &options.convert)?;
        let mut row = new_row(scan, grid.name(), &mask, threshold);
        reference.measure(&mask, &mut row)?;
        row.seconds = started.elapsed().as_secs_f64();
        log(&format!(
            "{scan} {}: done in {:.1} s (threshold {threshold:.0} HU)",
            grid.name(),
            row.seconds
        ));
        rows.push(row);
        masks.push(mask);
    }
    let mut agreements = Vec::new();
    for i in 0..masks.len() {
        for j in i + 1..masks.len() {
            log(&format!("{scan}: agreement {} / {}", rows[i].grid, rows[j].grid));
            let (metrics, on_j) = compare_masks(&masks[i], &masks[j])?;
            if options.grids[i] == Grid::Native {
                rows[j].agreement_with_native = Some(metrics.dice);
            }
            agreements.push(ResolutionAgreement {
                scan: scan.to_string(),
                a: rows[i].grid.clone(),
                b: rows[j].grid.clone(),
                compared_on: rows[if on_j { j } else { i }].grid.clone(),
                meets_target: metrics.dice >= AGREEMENT_TARGET_DICE,
                metrics,
            });
        }
    }
    Ok((rows, agreements))
}

/// A phantom row: the mask against the truth mask on the same grid.
fn phantom_row(
    scan: &str,
    ct: &Volume<i16>,
    truth: &[u8],
    options: &ValidationOptions,
    log: StepLog<'_>,
) -> Result<VariantResult, ValidationError> {
    let started = Instant::now();
    log(&format!("{scan}: segmenting {} voxels", ct.len()));
    let (mask, threshold) = segment_like_convert(ct, &Modality::Ct, &options.convert)?;
    let mut row = new_row(scan, Grid::Native.name(), &mask, threshold);
    let metrics = evaluate_masks(mask.data(), truth, mask.dims(), mask.geometry.spacing)?;
    row.volume_error_percent = metrics.volume_difference_percent;
    row.volume_reference = Some("truth mask");
    row.bone = Some(ClassMetrics {
        name: "bone".into(),
        ..metrics
    });
    row.seconds = started.elapsed().as_secs_f64();
    Ok(row)
}

fn validate_knee_phantom(options: &ValidationOptions, log: StepLog<'_>) -> Result<VariantResult, ValidationError> {
    let phantom = knee_phantom(&KneePhantomSpec::demo());
    let mut row = phantom_row(KNEE_PHANTOM, &phantom.ct, phantom.bone_truth.data(), options, log)?;
    let truth = phantom.bone_volume_mm3();
    row.volume_error_percent = Some(100.0 * (row.bone_volume_mm3 - truth) / truth);
    row.volume_reference = Some("analytic volume");
    Ok(row)
}

fn validate_torso_phantom(options: &ValidationOptions, log: StepLog<'_>) -> Result<VariantResult, ValidationError> {
    let phantom = ct_phantom(TORSO_DIMS, TORSO_SPACING_MM, TORSO_NOISE_HU, TORSO_SEED);
    phantom_row(TORSO_PHANTOM, &phantom.scan, &phantom.bone, options, log)
}

/// A fixed-width cell: the value with `decimals`, or `–` when absent.
fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_string(), |v| format!("{v:.decimals$}"))
}

impl ValidationReport {
    /// The human-readable result: which scans chose the defaults, one row per scan and grid,
    /// the pairwise resolution agreement and the targets.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut line = |text: String| {
            out.push_str(&text);
            out.push('\n');
        };
        let held_out = if self.held_out_scans.is_empty() {
            "none here (the resampled grids were not used for choosing; unseen series are checked apart)".to_string()
        } else {
            self.held_out_scans.join(", ")
        };
        line(format!(
            "Defaults chosen on: {}. Held out: {held_out}. Phantoms: synthetic, known truth.",
            self.tuning_scans.join(", "),
        ));
        line(String::new());
        line(format!(
            "{:<20} {:<19} {:>6} {:>7} {:>6} {:>11} {:>15} {:>14} {:>9} {:>6}",
            "scan",
            "grid",
            "Dice",
            "HD95",
            "MSD",
            "vol diff %",
            "aorta-in-bone %",
            "T12 covered %",
            "agreement",
            "thr HU"
        ));
        for row in &self.rows {
            let spacing = row.spacing_mm.map(format_mm).join("×");
            let grid = if row.grid == "native" {
                format!("native {spacing}")
            } else {
                spacing
            };
            let contrast = row.contrast.as_ref();
            line(format!(
                "{:<20} {:<19} {:>6} {:>7} {:>6} {:>11} {:>15} {:>14} {:>9} {:>6.0}",
                row.scan,
                grid,
                cell(row.bone.as_ref().map(|m| m.dice), 3),
                cell(row.bone.as_ref().and_then(|m| m.hd95_mm), 2),
                cell(row.bone.as_ref().and_then(|m| m.mean_surface_distance_mm), 2),
                cell(row.volume_error_percent, 2),
                cell(contrast.map(|c| c.aorta_in_bone_percent), 2),
                cell(contrast.map(|c| c.t12_covered_percent), 1),
                cell(row.agreement_with_native, 3),
                row.threshold_hu
            ));
        }
        line("(HD95 and MSD in mm; vol diff against the reference labels, the truth mask, or the knee's analytic volume;".into());
        line(
            " agreement: Dice with the same scan's mask at its native grid, in patient space on the coarser grid)"
                .into(),
        );
        if !self.agreements.is_empty() {
            line(String::new());
            line(format!("Resolution agreement (target Dice ≥ {AGREEMENT_TARGET_DICE}):"));
            for a in &self.agreements {
                line(format!(
                    "  {:<20} {:>6} vs {:<6} on {:<6}  Dice {:.3}  HD95 {} mm  {}",
                    a.scan,
                    a.a,
                    a.b,
                    a.compared_on,
                    a.metrics.dice,
                    cell(a.metrics.hd95_mm, 2),
                    if a.meets_target { "met" } else { "MISSED" }
                ));
            }
        }
        let checks: Vec<String> = self
            .rows
            .iter()
            .filter_map(|r| Some((r, r.contrast.as_ref()?)))
            .map(|(r, c)| {
                let met = |ok: bool| if ok { "met" } else { "MISSED" };
                format!(
                    "  {:<20} {:>6}  aorta in bone {:.2} % (< {AORTA_IN_BONE_TARGET_PERCENT} %: {}, {} voxels)  \
                     T12 covered {:.1} % (≥ {T12_COVERED_TARGET_PERCENT} %: {})",
                    r.scan,
                    r.grid,
                    c.aorta_in_bone_percent,
                    met(c.aorta_in_bone_percent < AORTA_IN_BONE_TARGET_PERCENT),
                    c.bone_voxels_in_aorta,
                    c.t12_covered_percent,
                    met(c.t12_covered_percent >= T12_COVERED_TARGET_PERCENT)
                )
            })
            .collect();
        if !checks.is_empty() {
            line(String::new());
            line("Contrast is not bone (CT angiogram):".into());
            checks.into_iter().for_each(&mut line);
        }
        for s in &self.skipped {
            line(format!("skipped {}: {}", s.scan, s.reason));
        }
        for role in [ScanRole::Tuning, ScanRole::HeldOut, ScanRole::Synthetic] {
            let names: Vec<&str> = SCANS
                .into_iter()
                .filter(|s| ScanRole::of(s) == role && self.rows.iter().any(|r| r.scan == *s))
                .collect();
            if !names.is_empty() {
                line(format!("{}: {}", role.label(), names.join(", ")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_parse_and_name_themselves() {
        assert_eq!(Grid::parse("native").unwrap(), Grid::Native);
        assert_eq!(Grid::parse("0.7").unwrap(), Grid::Spacing([0.7; 3]));
        assert_eq!(Grid::parse("1x1x2").unwrap(), Grid::Spacing([1.0, 1.0, 2.0]));
        assert_eq!(Grid::parse("1x1x2").unwrap().name(), "1x1x2");
        assert_eq!(Grid::parse("0.70").unwrap().name(), "0.7");
        for bad in ["", "fine", "1x2", "0", "-1", "0.1", "nan", "1x1x100"] {
            assert!(matches!(Grid::parse(bad), Err(ValidationError::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn unknown_scans_are_refused_before_any_work() {
        let mut options = ValidationOptions::new(PathBuf::from("/nonexistent")).unwrap();
        options.only = vec!["liver".into()];
        let err = validate(&options, &|_| {}).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains(ABDOMEN));
    }
}
