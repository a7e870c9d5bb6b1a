//! `demo`: the whole pipeline on a synthetic CT phantom whose anatomy is known exactly.

use std::fs;
use std::path::Path;

use serde::Serialize;

use medprint_phantom::{hu, knee_phantom, KneePhantomSpec};
use medprint_segment::anomaly::AnomalyKind;
use medprint_volume::input::Modality;
use medprint_volume::nifti::{read_nifti_scan, write_nifti};

use crate::convert::{convert_path, ConvertOptions, OutputNames, PipelineError};
use crate::progress::Progress;
use crate::report::Report;

/// How the demo result compares with the phantom's truth.
#[derive(Debug, Clone, Serialize)]
pub struct DemoComparison {
    /// Dice overlap of the written label volume with the true bone voxels.
    pub dice: f64,
    /// Exact bone volume of the phantom's analytic shapes, mm³.
    pub true_volume_mm3: f64,
    /// Volume of the segmentation (voxel count × voxel volume), mm³.
    pub segmentation_volume_mm3: f64,
    /// Volume enclosed by the printed model, mm³.
    pub model_volume_mm3: f64,
    /// (segmentation − truth) / truth, percent.
    pub segmentation_volume_error_percent: f64,
    /// (model − truth) / truth, percent.
    pub model_volume_error_percent: f64,
    /// Number of bones in the phantom.
    pub true_parts: usize,
    /// Closed shells in the model.
    pub model_parts: usize,
    /// The scan checks flagged the phantom's metal screw.
    pub metal_flagged: bool,
    /// The scan checks flagged the scanner table.
    pub table_flagged: bool,
    /// Voxels of the screw in the bone model (should be 0: metal is excluded).
    pub metal_voxels_in_model: u64,
}

/// Result of [`run_demo`].
#[derive(Debug, Clone, Serialize)]
pub struct DemoOutcome {
    /// The ordinary pipeline report.
    pub report: Report,
    /// The comparison with the truth.
    pub comparison: DemoComparison,
}

/// Builds the phantom, writes it to `out_dir/input/phantom_ct.nii.gz`, converts it like any
/// user scan and compares the written outputs with the truth.
pub fn run_demo(
    out_dir: &Path,
    options: &ConvertOptions,
    progress: &dyn Progress,
) -> Result<DemoOutcome, PipelineError> {
    let phantom = knee_phantom(&KneePhantomSpec::demo());
    let input_dir = out_dir.join("input");
    fs::create_dir_all(&input_dir).map_err(|e| PipelineError::Output {
        path: input_dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let input = input_dir.join("phantom_ct.nii.gz");
    write_nifti(&input, &phantom.ct).map_err(|e| PipelineError::Output {
        path: input.display().to_string(),
        reason: e.to_string(),
    })?;
    let options = ConvertOptions {
        modality: Some(Modality::Ct),
        ..options.clone()
    };
    let report = convert_path(&input, out_dir, &options, progress)?;

    let labels_path = out_dir.join(OutputNames::LABELS);
    let labels = read_nifti_scan(&labels_path)
        .map_err(|e| PipelineError::Output {
            path: labels_path.display().to_string(),
            reason: e.to_string(),
        })?
        .volume;
    let predicted: Vec<u8> = labels.data().iter().map(|&v| u8::from(v != 0)).collect();
    let metal_min = (hu::METAL - 500.0) as i16;
    let metal_voxels_in_model = predicted
        .iter()
        .zip(phantom.ct.data())
        .filter(|(&p, &ct)| p != 0 && ct >= metal_min)
        .count() as u64;
    let flagged = |kind: AnomalyKind| report.anomalies.anomalies.iter().any(|a| a.kind == kind);
    let dice = medprint_segment::metrics::dice(&predicted, phantom.bone_truth.data()).unwrap_or(0.0);
    let true_volume = phantom.bone_volume_mm3();
    let seg_volume = report.segmentation.bone_volume_mm3;
    let model_volume = report.model.volume_mm3;
    let percent = |v: f64| 100.0 * (v - true_volume) / true_volume;
    let comparison = DemoComparison {
        dice,
        true_volume_mm3: true_volume,
        segmentation_volume_mm3: seg_volume,
        model_volume_mm3: model_volume,
        segmentation_volume_error_percent: percent(seg_volume),
        model_volume_error_percent: percent(model_volume),
        true_parts: phantom.bones.len(),
        model_parts: report.model.shells,
        metal_flagged: flagged(AnomalyKind::MetalObject),
        table_flagged: flagged(AnomalyKind::ScannerTable),
        metal_voxels_in_model,
    };
    Ok(DemoOutcome { report, comparison })
}
