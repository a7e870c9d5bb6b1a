//! The machine-readable record of one pipeline run (`report.json`).

use std::collections::BTreeMap;

use crate::shell_volumes::ShellVolumeCheck;
use medprint_segment::edits::EditSummary;
use serde::Serialize;

use medprint_mesh::topology::MeshCheck;
use medprint_segment::anomaly::AnomalyReport;
use medprint_segment::contrast::ContrastEnhancement;
use medprint_segment::forest::FoldScore;
use medprint_segment::fusion::{AlgorithmAgreement, FusionRule};
use medprint_segment::patient::PatientAdjustment;
use medprint_segment::threshold::ThresholdEstimate;
use medprint_volume::input::{FileProblem, InputKind, Modality, SeriesSummary};

/// Everything a user or a script needs to know about a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// medprint version that produced the outputs.
    pub medprint_version: String,
    /// What was read.
    pub input: InputReport,
    /// What the anomaly checks found, and how far to trust the result.
    pub anomalies: AnomalyReport,
    /// How bone was found.
    pub segmentation: SegmentationReport,
    /// The printable model.
    pub model: ModelReport,
    /// Models at other thresholds the reviewer can choose instead (empty unless asked for).
    pub alternatives: Vec<AlternativeModel>,
    /// Models of the other tissue classes asked for (`--tissues`), each its own object.
    pub tissues: Vec<crate::tissues::TissueReport>,
    /// Print preparation (`--print-ready`): pieces written and what was done.
    pub print: Option<crate::print_ready::PrintSummary>,
    /// Output files, relative to the output directory.
    pub outputs: Vec<String>,
    /// Things the user should know (uneven spacing, thin shells, …).
    pub warnings: Vec<String>,
    /// Wall time per stage, milliseconds.
    pub timings_ms: BTreeMap<String, f64>,
    /// Wall time of the whole run, milliseconds.
    pub total_ms: f64,
}

/// The input and the series chosen.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    /// Path given by the user.
    pub path: String,
    /// Folder, zip, DICOM file or NIfTI.
    pub kind: InputKind,
    /// Modality declared by the data (or given by the user).
    pub modality: Modality,
    /// SeriesInstanceUID of the series used, for DICOM input.
    pub series_uid: Option<String>,
    /// Every series found in the input.
    pub series: Vec<SeriesSummary>,
    /// Files that could not be used, with the reason.
    pub skipped_files: Vec<FileProblem>,
    /// Grid size (i, j, k).
    pub dims: [usize; 3],
    /// Voxel size, mm.
    pub spacing_mm: [f64; 3],
    /// Patient position of the first voxel (LPS, mm).
    pub origin_mm: [f64; 3],
    /// Axis unit vectors (columns) in LPS.
    pub direction: [[f64; 3]; 3],
}

/// Segmentation figures.
#[derive(Debug, Clone, Serialize)]
pub struct SegmentationReport {
    /// The bone threshold and how it was chosen.
    pub threshold: ThresholdEstimate,
    /// Voxels labelled bone.
    pub bone_voxels: u64,
    /// Bone volume from the voxel count, mm³.
    pub bone_volume_mm3: f64,
    /// Small disconnected islands dropped.
    pub islands_removed: usize,
    /// High-intensity voxels outside the body (scanner table, cables) removed.
    pub table_voxels_removed: u64,
    /// Voxels excluded from bone as metal (implants) or its partial-volume rim.
    pub metal_voxels_excluded: u64,
    /// Whether the scan is contrast-enhanced, its phase, trust and lumens.
    pub contrast: ContrastEnhancement,
    /// Voxels above the threshold excluded as contrast-filled lumen (vessels, heart, bowel) or
    /// its partial-volume wall.
    pub lumen_voxels_excluded: u64,
    /// Individual bones after separating touching ones (`--separate-bones`).
    pub bone_instances: Option<usize>,
    /// How the patient parameters moved the threshold, when given.
    pub patient_adjustment: Option<PatientAdjustment>,
    /// The trained model used with the threshold, when one was given.
    pub model: Option<ModelUsed>,
    /// How the algorithms' probability maps were combined (None: threshold pipeline alone).
    pub fusion: Option<FusionRule>,
    /// Each algorithm's own result next to the fused one.
    pub algorithms: Vec<AlgorithmAgreement>,
    /// What the reviewer's brush and eraser strokes changed, when the run had any.
    pub edits: Option<EditSummary>,
}

/// The trained model a run used.
#[derive(Debug, Clone, Serialize)]
pub struct ModelUsed {
    /// Model file path.
    pub path: String,
    /// Scans it was trained on.
    pub trained_on: Vec<String>,
    /// Its cross-validation scores.
    pub cross_validation: Vec<FoldScore>,
    /// Grid it was evaluated on ("subsampled" or "full").
    pub resolution: String,
}

/// A model made at another threshold, written beside the main one.
#[derive(Debug, Clone, Serialize)]
pub struct AlternativeModel {
    /// Threshold used, HU.
    pub threshold_hu: f32,
    /// Its offset from the main threshold, HU.
    pub offset_hu: f32,
    /// Bone volume of its segmentation, mm³.
    pub bone_volume_mm3: f64,
    /// Enclosed volume of its model, mm³.
    pub model_volume_mm3: f64,
    /// Dice overlap of its segmentation with the main one.
    pub dice_vs_main: f64,
    /// Closed shells.
    pub shells: usize,
    /// STL file, relative to the output directory.
    pub stl: String,
}

/// Mesh figures.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// Triangles straight out of the isosurface.
    pub raw_triangles: usize,
    /// Volume enclosed by the raw isosurface, before conditioning, mm³.
    pub raw_volume_mm3: f64,
    /// Triangles in the written model.
    pub triangles: usize,
    /// Vertices in the written model.
    pub vertices: usize,
    /// Enclosed volume of the model, mm³.
    pub volume_mm3: f64,
    /// Model volume relative to the segmentation's voxel volume, percent difference.
    pub volume_vs_segmentation_percent: f64,
    /// Surface area, mm².
    pub area_mm2: f64,
    /// Number of closed shells (parts).
    pub shells: usize,
    /// Each bone structure's enclosed volume against its voxel volume.
    pub shell_volumes: ShellVolumeCheck,
    /// Bounding box (min, max) in patient mm.
    pub bounds_mm: Option<([f32; 3], [f32; 3])>,
    /// True when every shell is closed, 2-manifold and oriented outward.
    pub printable: bool,
    /// Detailed topology check.
    pub check: MeshCheck,
}
