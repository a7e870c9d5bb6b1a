//! `convert`: one scan in, a print-ready bone model and its report out.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use medprint_mesh::condition::{condition, condition_with_volume_targets, ConditionOptions};
use medprint_mesh::decimate::decimate_to_triangle_count;
use medprint_mesh::export::{write_3mf, write_glb, write_stl_binary, ModelPart};
use medprint_mesh::isosurface::{try_extract_isosurface, IsosurfaceError};
use medprint_mesh::measure::signed_volume_mm3;
use medprint_mesh::shells::split_shells;
use medprint_mesh::Mesh;
use medprint_preview::{write_histogram_plot, write_mesh_preview, write_slice_previews, Overlay};
use medprint_segment::anomaly::{check_scan_with_body, ScanFacts, Severity};
use medprint_segment::body::{body_mask, BodyMask};
use medprint_segment::bone::{
    segment_bone, segment_bone_in_body, segment_bone_with_progress, BoneParams, BoneSegmentation,
};
use medprint_segment::contrast::{find_contrast_lumens, ContrastLumens};
use medprint_segment::curing::{separate_touching_bones, SeparationParams};
use medprint_segment::edits::{apply_label_edits, LabelEdit};
use medprint_segment::forest::{BoneModel, ForestResolution};
use medprint_segment::fusion::{fuse, labels_from_probability, AlgorithmOutput, FusionRule};
use medprint_segment::histogram::Histogram;
use medprint_segment::metrics::dice;
use medprint_segment::threshold::ScanType;
use medprint_segment::tissues::TissueClass;
use medprint_volume::input::{load_scan, InputError, LoadOptions, LoadedScan, Modality};
use medprint_volume::nifti::write_nifti;
use rayon::prelude::*;

use crate::print_ready::write_print_ready;
use crate::progress::{Progress, Stage};
use crate::report::{AlternativeModel, InputReport, ModelReport, ModelUsed, Report, SegmentationReport};
use crate::shell_volumes::MaskShellVolumes;
use crate::tissues::{class_color, model_tissues, TissueModel, TissueResult, PARTS_DIR};
use medprint_print::{PrintError, PrintOptions};

/// File names written into the output directory; other tools and tests rely on them.
pub struct OutputNames;

impl OutputNames {
    /// Binary STL of the whole model, mm, patient coordinates.
    pub const STL: &'static str = "model.stl";
    /// 3MF with one object per connected part.
    pub const THREEMF: &'static str = "model.3mf";
    /// Binary glTF of the same parts (web and AR viewers), metres, +Y up.
    pub const GLB: &'static str = "model.glb";
    /// A light GLB for the web viewer: every part decimated so that the whole model has about
    /// [`WEB_VIEWER_TRIANGLES`] triangles.
    pub const WEB_GLB: &'static str = "model-web.glb";
    /// The scan itself as int16 NIfTI (stored values; written with `write_scan`, for viewers).
    pub const SCAN: &'static str = "scan.nii.gz";
    /// Label volume on the input grid.
    pub const LABELS: &'static str = "labels.nii.gz";
    /// The run report.
    pub const REPORT: &'static str = "report.json";
    /// Folder of PNG previews.
    pub const PREVIEW_DIR: &'static str = "preview";
}

/// Triangle budget of `model-web.glb`.
pub const WEB_VIEWER_TRIANGLES: usize = 10_000;

/// Label value of bone in `labels.nii.gz`.
pub const BONE_LABEL: u8 = 1;

/// The isovalue of a segmentation's `surface_field` (between 127 = outside and 128 = inside).
const SURFACE_ISO: f32 = 127.5;

/// Options of one run.
#[derive(Debug, Clone)]
pub struct ConvertOptions {
    /// Input limits and series choice.
    pub load: LoadOptions,
    /// Overrides the modality found in the data (NIfTI carries none).
    pub modality: Option<Modality>,
    /// Segmentation parameters (`scan` is replaced by the input's modality).
    pub bone: BoneParams,
    /// Mesh conditioning.
    pub condition: ConditionOptions,
    /// Render PNG previews.
    pub previews: bool,
    /// A trained bone model to combine with the threshold pipeline (`convert --model`).
    pub model: Option<TrainedModel>,
    /// How the threshold and model maps are combined when a model is given.
    pub fusion: FusionRule,
    /// Where the model's forests are evaluated.
    pub forest_resolution: ForestResolution,
    /// Offsets (HU) from the main threshold at which alternative models are also made, in
    /// parallel, for the reviewer to choose from (empty: none).
    pub alternatives_hu: Vec<f32>,
    /// Separate touching bones (curing) and write each bone's instance label to
    /// `bone_instances.nii.gz` (`--separate-bones`).
    pub separate_bones: bool,
    /// Print preparation of the bone model (`--print-ready`): pieces in `print/`.
    pub print: Option<PrintOptions>,
    /// Tissue classes modelled besides bone (`--tissues`); when not empty `labels.nii.gz` holds
    /// every class's label value and each class gets its own printable object.
    pub tissues: Vec<TissueClass>,
    /// Also write the loaded scan as `scan.nii.gz` (the web viewer's slices).
    pub write_scan: bool,
    /// Brush and eraser strokes of a reviewer, applied in order to the bone mask after
    /// segmentation (and fusion) and before the surface is extracted.
    pub label_edits: Vec<LabelEdit>,
}

/// A bone model read from a file, shared between runs.
#[derive(Debug, Clone)]
pub struct TrainedModel {
    /// Where it was read from.
    pub path: String,
    /// The model.
    pub model: Arc<BoneModel>,
}

impl TrainedModel {
    /// Reads a model file written by `medprint train`.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        Ok(Self {
            path: path.display().to_string(),
            model: Arc::new(BoneModel::load(path).map_err(|e| PipelineError::Model {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?),
        })
    }
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            load: LoadOptions::default(),
            modality: None,
            bone: BoneParams::default(),
            condition: ConditionOptions::default(),
            previews: true,
            model: None,
            fusion: FusionRule::Learned,
            forest_resolution: ForestResolution::Refined,
            alternatives_hu: Vec::new(),
            tissues: Vec::new(),
            separate_bones: false,
            print: None,
            write_scan: false,
            label_edits: Vec::new(),
        }
    }
}

/// Why a run failed. Each message names the file or stage and the problem.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Nothing loadable in the input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The segmentation could not run.
    #[error("segmentation failed: {0}")]
    Segment(#[from] medprint_segment::SegmentError),
    /// No bone was found, so there is nothing to print.
    #[error("no bone was found in {input} (threshold {threshold_hu:.0} HU); check the modality and the scan")]
    NothingFound {
        /// Input path.
        input: String,
        /// Threshold used.
        threshold_hu: f32,
    },
    /// Print preparation failed.
    #[error("print preparation failed: {0}")]
    Print(#[from] PrintError),
    /// The surface could not be extracted.
    #[error("surface extraction failed: {0}")]
    Surface(#[from] IsosurfaceError),
    /// An option is invalid (caught after argument parsing).
    #[error("{0}")]
    Usage(String),
    /// The trained model file could not be read.
    #[error("model {path}: {reason}")]
    Model {
        /// Model file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An output could not be written.
    #[error("could not write {path}: {reason}")]
    Output {
        /// Output path.
        path: String,
        /// What went wrong.
        reason: String,
    },
}

impl PipelineError {
    /// Process exit code for this error (documented in the README and `--help`).
    pub fn exit_code(&self) -> i32 {
        match self {
            PipelineError::Usage(_) => 2,
            PipelineError::Input(_) | PipelineError::Model { .. } => 3,
            PipelineError::Segment(_)
            | PipelineError::Surface(_)
            | PipelineError::NothingFound { .. }
            | PipelineError::Print(_) => 4,
            PipelineError::Output { .. } => 5,
        }
    }
}

impl PipelineError {
    /// The reason in plain language for the person who ordered the model, with what to do next.
    /// It names no server path and holds no debug structure (those go to the log, through
    /// `Display`); the CLI, the API and the web app all show this text.
    pub fn user_message(&self) -> String {
        match self {
            PipelineError::Input(_) => "The scan could not be read: no file held a usable image series. \
                Check that the upload contains the DICOM files (or NIfTI file) of one CT or MR series, then upload it again."
                .into(),
            PipelineError::Model { .. } => "The trained segmentation model could not be read. \
                Choose another model or run without one."
                .into(),
            PipelineError::Segment(_) => "The scan could not be segmented: its values or geometry are unusable \
                (too few slices, or an empty image). Check the series and the modality, then run it again."
                .into(),
            PipelineError::NothingFound { threshold_hu, .. } => format!(
                "No bone was found (threshold {threshold_hu:.0} HU). Is this an MRI or a scan without bone? \
                 Choose the right modality (MR for an MRI), or set a lower threshold, then run it again."
            ),
            PipelineError::Surface(_) => "No printable surface could be made from the segmentation. \
                Check the scan and the modality, then run it again."
                .into(),
            PipelineError::Print(_) => "Print preparation could not finish. \
                Run it again without print preparation, or with another build volume."
                .into(),
            PipelineError::Usage(reason) => format!("The run's parameters are not valid: {reason}."),
            PipelineError::Output { .. } => "A result file could not be written (the disk may be full or \
                read-only). Ask your administrator to check the storage, then run it again."
                .into(),
        }
    }
}

/// Contrast-filled lumens of a CT scan (none for other modalities, without a body mask, or when
/// the check is switched off); a failed check is logged and treated as "none found".
fn find_lumens(volume: &medprint_volume::Volume<i16>, body: Option<&BodyMask>, params: &BoneParams) -> ContrastLumens {
    match (body, &params.contrast) {
        (Some(body), Some(contrast)) if params.scan == ScanType::Ct => find_contrast_lumens(volume, body, contrast)
            .inspect_err(|e| tracing::warn!(error = %e, "contrast check failed"))
            .unwrap_or_else(|_| ContrastLumens::none()),
        _ => ContrastLumens::none(),
    }
}

pub(crate) fn output_error(path: &Path, reason: impl ToString) -> PipelineError {
    PipelineError::Output {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Writes a file through a temporary name and renames it into place, so a crash never leaves
/// a half-written output under the final name.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), PipelineError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    write(&partial).map_err(|e| output_error(path, e))?;
    fs::rename(&partial, path).map_err(|e| output_error(path, e))
}

pub(crate) fn write_with_buffer(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), PipelineError> {
    write_atomically(path, |tmp| {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(tmp).map_err(|e| e.to_string())?);
        write(&mut w).and_then(|()| w.flush()).map_err(|e| e.to_string())
    })
}

fn scan_type_of(modality: &Modality, warnings: &mut Vec<String>) -> ScanType {
    match modality {
        Modality::Ct => ScanType::Ct,
        Modality::Mr => ScanType::Mr,
        Modality::Pt => ScanType::Pt,
        Modality::Nm => ScanType::Nm,
        other => {
            warnings.push(format!(
                "modality {other:?} is not declared by the input; processed as CT (use --modality to change)"
            ));
            ScanType::Ct
        }
    }
}

/// The segmentation parameters of a run with `options` on a scan of `modality` (the scan type
/// follows the modality; an undeclared one is processed as CT, with a warning).
pub(crate) fn bone_params(options: &ConvertOptions, modality: &Modality, warnings: &mut Vec<String>) -> BoneParams {
    let mut params = options.bone.clone();
    params.scan = scan_type_of(modality, warnings);
    params
}

/// Measures one stage and reports it.
struct StageClock<'a> {
    progress: &'a dyn Progress,
    timings: BTreeMap<String, f64>,
}

impl<'a> StageClock<'a> {
    fn run<T>(&mut self, stage: Stage, work: impl FnOnce() -> T) -> T {
        self.progress.start(stage);
        let started = Instant::now();
        let result = work();
        let millis = started.elapsed().as_secs_f64() * 1e3;
        self.progress.finish(stage, millis);
        self.timings.insert(format!("{:?}", stage).to_lowercase(), millis);
        result
    }
}

/// Loads `input` and runs the whole pipeline, writing every output into `out_dir`.
pub fn convert_path(
    input: &Path,
    out_dir: &Path,
    options: &ConvertOptions,
    progress: &dyn Progress,
) -> Result<Report, PipelineError> {
    let started = Instant::now();
    progress.start(Stage::Load);
    let scan = load_scan(input, &options.load)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    progress.finish(Stage::Load, load_ms);
    let mut report = convert_scan(scan, &input.display().to_string(), out_dir, options, progress)?;
    report.timings_ms.insert("load".into(), load_ms);
    report.total_ms += load_ms;
    write_report(out_dir, &report)?;
    Ok(report)
}

/// Writes `report.json` into `out_dir`.
pub fn write_report(out_dir: &Path, report: &Report) -> Result<(), PipelineError> {
    let path = out_dir.join(OutputNames::REPORT);
    write_with_buffer(&path, |w| {
        serde_json::to_writer_pretty(&mut *w, report).map_err(std::io::Error::other)
    })
}

/// Runs segmentation, surface extraction, conditioning, export and previews on a loaded scan.
pub fn convert_scan(
    scan: LoadedScan,
    input_label: &str,
    out_dir: &Path,
    options: &ConvertOptions,
    progress: &dyn Progress,
) -> Result<Report, PipelineError> {
    let started = Instant::now();
    fs::create_dir_all(out_dir).map_err(|e| output_error(out_dir, e))?;
    let mut warnings = scan.warnings.clone();
    let modality = options.modality.clone().unwrap_or_else(|| scan.modality.clone());
    if scan.intensity_slope != 1.0 || scan.intensity_intercept != 0.0 {
        warnings.push(format!(
            "intensities were rescaled to fit 16 bits (real = stored × {} + {}); thresholds apply to stored values",
            scan.intensity_slope, scan.intensity_intercept
        ));
    }
    let params = bone_params(options, &modality, &mut warnings);
    let mut clock = StageClock {
        progress,
        timings: BTreeMap::new(),
    };

    // The body mask and the contrast-filled lumens are found once and shared by the scan checks
    // and the segmentation.
    let (anomalies, body, lumens) = clock.run(Stage::Check, || {
        let histogram = Histogram::of_volume(&scan.volume, None);
        let facts = ScanFacts {
            declared_ct: params.scan == ScanType::Ct,
            slice_gaps_mm: None,
        };
        let body = body_mask(&scan.volume)
            .inspect_err(|e| tracing::warn!(error = %e, "body mask failed"))
            .ok();
        let lumens = find_lumens(&scan.volume, body.as_ref(), &params);
        let anomalies = check_scan_with_body(&scan.volume, &histogram, &facts, body.as_ref(), Some(&lumens));
        (anomalies, body, lumens)
    });
    warnings.extend(
        anomalies
            .anomalies
            .iter()
            .filter(|a| a.severity >= Severity::Warning)
            .map(|a| a.message.clone()),
    );
    let mut seg = clock.run(Stage::Segment, || {
        let report = |step: &str, fraction: f32| progress.advance(Stage::Segment, fraction, step);
        match &body {
            Some(body) => segment_bone_in_body(&scan.volume, &params, body, &lumens, &report),
            None => segment_bone_with_progress(&scan.volume, &params, &report),
        }
    })?;
    drop((body, lumens));
    warnings.extend(seg.warnings.iter().cloned());
    let mut outputs = Vec::new();
    let (fusion, algorithms, model_used) = match &options.model {
        Some(model) => {
            let fused = clock.run(Stage::Model, || apply_model(&scan, &mut seg, model, options, progress))?;
            write_algorithm_labels(out_dir, &fused.1, &mut outputs)?;
            (
                Some(options.fusion.clone()),
                fused.0,
                Some(ModelUsed {
                    path: model.path.clone(),
                    trained_on: model.model.summary.scans.clone(),
                    cross_validation: model.model.summary.folds.clone(),
                    resolution: format!("{:?}", options.forest_resolution).to_lowercase(),
                }),
            )
        }
        None => (None, Vec::new(), None),
    };
    let edits = if options.label_edits.is_empty() {
        None
    } else {
        let summary = apply_label_edits(&mut seg.mask, &mut seg.surface_field, &options.label_edits)
            .map_err(|e| PipelineError::Usage(e.to_string()))?;
        tracing::info!(
            strokes = summary.strokes,
            added = summary.voxels_added,
            removed = summary.voxels_removed,
            "applied the reviewer's segmentation edits"
        );
        Some(summary)
    };
    let bone_voxels = seg.mask.data().iter().filter(|&&v| v != 0).count() as u64;
    if bone_voxels == 0 {
        return Err(PipelineError::NothingFound {
            input: input_label.to_string(),
            threshold_hu: seg.threshold.threshold_hu,
        });
    }
    let voxel_volume = scan.volume.geometry.voxel_volume_mm3();
    let bone_volume_mm3 = bone_voxels as f64 * voxel_volume;
    let bone_instances = if options.separate_bones {
        let instances = clock.run(Stage::Curing, || {
            separate_touching_bones(&seg.mask, &SeparationParams::default())
        })?;
        write_label_volume_as(&out_dir.join(BONE_INSTANCES), &instances.labels)?;
        outputs.push(BONE_INSTANCES.to_string());
        Some(instances.count)
    } else {
        None
    };

    let raw = clock.run(Stage::Surface, || {
        try_extract_isosurface(&seg.surface_field, SURFACE_ISO)
    })?;
    let raw_triangles = raw.triangle_count();
    let raw_volume_mm3 = signed_volume_mm3(&raw);
    let (mesh, conditioned, shell_volumes) = clock.run(Stage::Condition, || {
        // Each bone's shells are brought to its voxel volume, then measured against it.
        let volumes = MaskShellVolumes::new(&seg.mask)?;
        let (mesh, conditioned) = condition_with_volume_targets(raw, &options.condition, &volumes);
        let check = volumes.check(&mesh);
        Ok::<_, PipelineError>((mesh, conditioned, check))
    })?;
    if shell_volumes.within_2_percent < shell_volumes.structures {
        warnings.push(format!(
            "{} of {} bone structures enclose a volume more than 2 % away from their voxel volume (worst {:+.1} %)",
            shell_volumes.structures - shell_volumes.within_2_percent,
            shell_volumes.structures,
            shell_volumes.worst_percent
        ));
    }
    if !conditioned.check.is_printable() {
        warnings.push(format!("the model failed the print check: {:?}", conditioned.check));
    }
    let alternatives = if options.alternatives_hu.is_empty() {
        Vec::new()
    } else {
        clock.run(Stage::Alternatives, || {
            alternative_models(out_dir, &scan, &params, &seg, options, &mut outputs)
        })?
    };

    let tissues = if options.tissues.is_empty() {
        None
    } else {
        Some(clock.run(Stage::Tissues, || {
            model_tissues(
                &scan.volume,
                &seg.mask,
                &options.tissues,
                &options.condition,
                &mut warnings,
            )
        })?)
    };
    let print = match &options.print {
        Some(print_options) => {
            let code_inputs = vec![
                env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
                input_label.as_bytes().to_vec(),
                scan.series_uid.clone().unwrap_or_default().into_bytes(),
            ];
            let summary = clock.run(Stage::PrintPrep, || {
                write_print_ready(out_dir, &mesh, print_options, code_inputs)
            })?;
            outputs.extend(summary.pieces.iter().map(|p| p.stl.clone()));
            outputs.push(crate::print_ready::PRINT_3MF.to_string());
            Some(summary)
        }
        None => None,
    };
    clock.run(Stage::Export, || {
        export_models(out_dir, &mesh, &seg, tissues.as_ref(), &mut outputs)?;
        if options.write_scan {
            write_label_volume_as(&out_dir.join(OutputNames::SCAN), &scan.volume)?;
            outputs.push(OutputNames::SCAN.to_string());
        }
        Ok::<(), PipelineError>(())
    })?;
    if options.previews {
        clock.run(Stage::Preview, || {
            write_previews(out_dir, &scan, &seg, &mesh, &mut outputs)
        })?;
    }

    let volume_mm3 = conditioned.volume_mm3;
    let report = Report {
        medprint_version: env!("CARGO_PKG_VERSION").to_string(),
        input: InputReport {
            path: input_label.to_string(),
            kind: scan.kind,
            modality,
            series_uid: scan.series_uid.clone(),
            series: scan.series.clone(),
            skipped_files: scan.skipped_files.clone(),
            dims: scan.volume.dims(),
            spacing_mm: scan.volume.geometry.spacing,
            origin_mm: scan.volume.geometry.origin,
            direction: scan.volume.geometry.direction,
        },
        anomalies,
        segmentation: SegmentationReport {
            threshold: seg.threshold.clone(),
            bone_voxels,
            bone_volume_mm3,
            islands_removed: seg.islands_removed,
            table_voxels_removed: seg.table_voxels_removed,
            metal_voxels_excluded: seg.metal_voxels_excluded,
            contrast: seg.contrast.clone(),
            lumen_voxels_excluded: seg.lumen_voxels_excluded,
            bone_instances,
            patient_adjustment: seg.patient_adjustment.clone(),
            model: model_used,
            fusion,
            algorithms,
            edits,
        },
        model: ModelReport {
            raw_triangles,
            raw_volume_mm3,
            triangles: mesh.triangle_count(),
            vertices: mesh.vertices.len(),
            volume_mm3,
            volume_vs_segmentation_percent: 100.0 * (volume_mm3 - bone_volume_mm3) / bone_volume_mm3,
            area_mm2: conditioned.area_mm2,
            shells: conditioned.check.shells,
            shell_volumes,
            bounds_mm: mesh.bounds(),
            printable: conditioned.check.is_printable(),
            check: conditioned.check,
        },
        alternatives,
        tissues: tissues
            .as_ref()
            .map(|t| t.models.iter().map(|m| m.report.clone()).collect())
            .unwrap_or_default(),
        print,
        outputs,
        warnings,
        timings_ms: clock.timings,
        total_ms: started.elapsed().as_secs_f64() * 1e3,
    };
    write_report(out_dir, &report)?;
    Ok(report)
}

/// Runs the trained model on the threshold result, fuses the two maps and replaces the
/// segmentation's mask and surface field by the fused labels. Returns each algorithm's
/// agreement with the fused result and the per-algorithm label volumes for review.
fn apply_model(
    scan: &LoadedScan,
    seg: &mut BoneSegmentation,
    model: &TrainedModel,
    options: &ConvertOptions,
    progress: &dyn Progress,
) -> Result<(Vec<medprint_segment::fusion::AlgorithmAgreement>, Vec<AlgorithmOutput>), PipelineError> {
    progress.advance(Stage::Model, 0.0, "forest");
    let forest = model
        .model
        .predict(&scan.volume, &seg.surface_field, options.forest_resolution)?;
    progress.advance(Stage::Model, 0.8, "fusion");
    let maps = vec![
        AlgorithmOutput {
            algorithm: "threshold".into(),
            probability: seg.surface_field.clone(),
        },
        AlgorithmOutput {
            algorithm: "forest".into(),
            probability: forest,
        },
    ];
    let fused = fuse(&maps, &options.fusion)?;
    let (mask, surface) = labels_from_probability(&fused.probability, options.bone.min_island_mm3, options.bone.fill)?;
    seg.mask = mask;
    seg.surface_field = surface;
    progress.advance(Stage::Model, 1.0, "fusion");
    Ok((fused.agreement, maps))
}

/// Folder of per-algorithm label volumes (`threshold.nii.gz`, `forest.nii.gz`).
pub const ALGORITHMS_DIR: &str = "algorithms";
/// Folder of alternative-threshold models.
pub const ALTERNATIVES_DIR: &str = "alternatives";

/// Writes each algorithm's own labels (`probability ≥ 128` → [`BONE_LABEL`]) for review.
fn write_algorithm_labels(
    out_dir: &Path,
    maps: &[AlgorithmOutput],
    outputs: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let dir = out_dir.join(ALGORITHMS_DIR);
    fs::create_dir_all(&dir).map_err(|e| output_error(&dir, e))?;
    let written: Vec<Result<String, PipelineError>> = maps
        .par_iter()
        .map(|m| {
            let name = format!("{}.nii.gz", m.algorithm);
            let labels = m.probability.map(|&p| if p >= 128 { BONE_LABEL } else { 0 });
            write_label_volume(&dir.join(&name), &labels)?;
            Ok(format!("{ALGORITHMS_DIR}/{name}"))
        })
        .collect();
    for w in written {
        outputs.push(w?);
    }
    Ok(())
}

/// Segments, meshes and writes a model at each alternative threshold, in parallel.
fn alternative_models(
    out_dir: &Path,
    scan: &LoadedScan,
    params: &BoneParams,
    main: &BoneSegmentation,
    options: &ConvertOptions,
    outputs: &mut Vec<String>,
) -> Result<Vec<AlternativeModel>, PipelineError> {
    let dir = out_dir.join(ALTERNATIVES_DIR);
    fs::create_dir_all(&dir).map_err(|e| output_error(&dir, e))?;
    let main_threshold = main.threshold.threshold_hu;
    let models: Vec<Result<AlternativeModel, PipelineError>> = options
        .alternatives_hu
        .par_iter()
        .map(|&offset| {
            let threshold_hu = (main_threshold + offset).clamp(-1024.0, 3071.0);
            let alt_params = BoneParams {
                threshold_override_hu: Some(threshold_hu),
                patient: None,
                ..params.clone()
            };
            let seg = segment_bone(&scan.volume, &alt_params)?;
            let bone_voxels = seg.mask.data().iter().filter(|&&v| v != 0).count() as u64;
            let raw = try_extract_isosurface(&seg.surface_field, SURFACE_ISO)?;
            let (mesh, report) = condition(raw, &options.condition);
            let stl = format!("{ALTERNATIVES_DIR}/bone-{threshold_hu:.0}HU.stl");
            write_with_buffer(&out_dir.join(&stl), |w| write_stl_binary(w, &mesh))?;
            Ok(AlternativeModel {
                threshold_hu,
                offset_hu: offset,
                bone_volume_mm3: bone_voxels as f64 * scan.volume.geometry.voxel_volume_mm3(),
                model_volume_mm3: report.volume_mm3,
                dice_vs_main: dice(seg.mask.data(), main.mask.data())?,
                shells: report.check.shells,
                stl,
            })
        })
        .collect();
    let mut alternatives = Vec::with_capacity(models.len());
    for m in models {
        let m = m?;
        outputs.push(m.stl.clone());
        alternatives.push(m);
    }
    Ok(alternatives)
}

/// Part colour of bone in the 3MF (ivory).
const BONE_RGBA: [u8; 4] = [235, 225, 195, 255];

/// Writes the STL, the 3MF and the label volume (and each tissue model's STL); the files are
/// independent and are written in parallel (the compressors are single-threaded).
fn export_models(
    out_dir: &Path,
    mesh: &Mesh,
    seg: &BoneSegmentation,
    tissues: Option<&TissueResult>,
    outputs: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let tissue_models: &[TissueModel] = tissues.map(|t| t.models.as_slice()).unwrap_or_default();
    if !tissue_models.is_empty() {
        let dir = out_dir.join(PARTS_DIR);
        fs::create_dir_all(&dir).map_err(|e| output_error(&dir, e))?;
    }
    let (models, (labels, parts)) = rayon::join(
        || {
            rayon::join(
                || {
                    let stl = out_dir.join(OutputNames::STL);
                    write_with_buffer(&stl, |w| write_stl_binary(w, mesh))
                },
                || write_model_parts(&out_dir.join(OutputNames::THREEMF), mesh, tissue_models),
            )
        },
        || {
            rayon::join(
                || match tissues {
                    Some(t) => write_label_volume(&out_dir.join(OutputNames::LABELS), &t.labels.labels),
                    None => write_labels(&out_dir.join(OutputNames::LABELS), seg),
                },
                || {
                    tissue_models
                        .par_iter()
                        .map(|m| write_with_buffer(&out_dir.join(&m.report.stl), |w| write_stl_binary(w, &m.mesh)))
                        .collect::<Result<Vec<()>, PipelineError>>()
                },
            )
        },
    );
    models.0?;
    models.1?;
    labels?;
    parts?;
    outputs.extend(
        [
            OutputNames::STL,
            OutputNames::THREEMF,
            OutputNames::GLB,
            OutputNames::WEB_GLB,
            OutputNames::LABELS,
        ]
        .map(String::from),
    );
    outputs.extend(tissue_models.iter().map(|m| m.report.stl.clone()));
    Ok(())
}

/// 3MF with one object per connected bone part, largest first, then one object per tissue
/// class.
fn write_model_parts(path: &Path, mesh: &Mesh, tissues: &[TissueModel]) -> Result<(), PipelineError> {
    let mut parts = split_shells(mesh);
    parts.sort_by_key(|p| std::cmp::Reverse(p.triangle_count()));
    let named: Vec<ModelPart> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| ModelPart {
            name: format!("bone-{}", i + 1),
            mesh: part,
            color_rgba: BONE_RGBA,
        })
        .chain(tissues.iter().map(|t| ModelPart {
            name: t.class.name().to_string(),
            mesh: &t.mesh,
            color_rgba: class_color(t.class),
        }))
        .collect();
    let dir = path.parent().unwrap_or(Path::new("."));
    write_atomically(path, |tmp| {
        let file = File::create(tmp).map_err(|e| e.to_string())?;
        write_3mf(BufWriter::with_capacity(1 << 20, file), &named).map_err(|e| e.to_string())
    })?;
    write_atomically(&dir.join(OutputNames::GLB), |tmp| {
        let file = File::create(tmp).map_err(|e| e.to_string())?;
        write_glb(BufWriter::with_capacity(1 << 20, file), &named).map_err(|e| e.to_string())
    })?;
    let total: usize = named.iter().map(|p| p.mesh.triangle_count()).sum::<usize>().max(1);
    let light: Vec<Mesh> = named
        .par_iter()
        .map(|p| {
            let share = p.mesh.triangle_count() * WEB_VIEWER_TRIANGLES / total;
            if share >= p.mesh.triangle_count() {
                p.mesh.clone()
            } else {
                decimate_to_triangle_count(p.mesh, share.max(12))
            }
        })
        .collect();
    let light_parts: Vec<ModelPart> = named
        .iter()
        .zip(&light)
        .map(|(p, mesh)| ModelPart {
            name: p.name.clone(),
            mesh,
            color_rgba: p.color_rgba,
        })
        .collect();
    write_atomically(&dir.join(OutputNames::WEB_GLB), |tmp| {
        let file = File::create(tmp).map_err(|e| e.to_string())?;
        write_glb(BufWriter::with_capacity(1 << 20, file), &light_parts).map_err(|e| e.to_string())
    })
}

/// The label volume on the input grid, with the input's affine.
fn write_labels(path: &Path, seg: &BoneSegmentation) -> Result<(), PipelineError> {
    write_label_volume(path, &seg.mask.map(|&v| if v != 0 { BONE_LABEL } else { 0 }))
}

/// Instance labels of the separated bones (1..=count, 0 = not bone), written by `--separate-bones`.
pub const BONE_INSTANCES: &str = "bone_instances.nii.gz";

/// Writes a label volume atomically as compressed NIfTI.
fn write_label_volume(path: &Path, labels: &medprint_volume::Volume<u8>) -> Result<(), PipelineError> {
    write_label_volume_as(path, labels)
}

/// Writes a label volume of any NIfTI sample type atomically as compressed NIfTI.
fn write_label_volume_as<T: medprint_volume::nifti::NiftiSample>(
    path: &Path,
    labels: &medprint_volume::Volume<T>,
) -> Result<(), PipelineError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The temporary name must keep the .gz suffix: the writer compresses by extension.
    let tmp = path.with_file_name(format!(".partial.{file_name}"));
    write_nifti(&tmp, labels).map_err(|e| output_error(path, e))?;
    fs::rename(&tmp, path).map_err(|e| output_error(path, e))
}

fn write_previews(
    out_dir: &Path,
    scan: &LoadedScan,
    seg: &BoneSegmentation,
    mesh: &Mesh,
    outputs: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let dir = out_dir.join(OutputNames::PREVIEW_DIR);
    fs::create_dir_all(&dir).map_err(|e| output_error(&dir, e))?;
    let colors = [(BONE_LABEL, [255u8, 200, 60])];
    let overlay = Overlay {
        labels: &seg.mask,
        colors: &colors,
        alpha: 0.45,
    };
    let centre = bone_centroid_mm(seg);
    let written =
        write_slice_previews(&dir, &scan.volume, Some(&overlay), centre).map_err(|e| output_error(&dir, e))?;
    let t = &seg.threshold;
    let mut markers = vec![("bone threshold".to_string(), t.threshold_hu, [220u8, 40, 40])];
    if let Some(peak) = t.peak_hu {
        markers.push(("soft-tissue peak".to_string(), peak, [40, 120, 220]));
    }
    if let Some(inflection) = t.inflection_hu {
        markers.push(("inflection".to_string(), inflection, [40, 170, 90]));
    }
    let histogram = dir.join("histogram.png");
    write_histogram_plot(
        &histogram,
        seg.histogram.min_hu,
        &seg.histogram.counts,
        &markers,
        "Intensity histogram and bone threshold",
    )
    .map_err(|e| output_error(&histogram, e))?;
    let model = dir.join("model.png");
    write_mesh_preview(&model, mesh).map_err(|e| output_error(&model, e))?;
    let mut files: Vec<PathBuf> = written;
    files.push(histogram);
    files.push(model);
    outputs.extend(
        files
            .iter()
            .filter_map(|p| p.strip_prefix(out_dir).ok())
            .map(|p| p.display().to_string()),
    );
    Ok(())
}

/// Centre of mass of the bone mask in patient mm, so previews cut through the bone.
fn bone_centroid_mm(seg: &BoneSegmentation) -> Option<[f64; 3]> {
    let [nx, ny, _] = seg.mask.dims();
    let (sum, count) =
        seg.mask
            .data()
            .iter()
            .enumerate()
            .filter(|(_, &v)| v != 0)
            .fold(([0.0f64; 3], 0u64), |(mut s, n), (i, _)| {
                s[0] += (i % nx) as f64;
                s[1] += ((i / nx) % ny) as f64;
                s[2] += (i / (nx * ny)) as f64;
                (s, n + 1)
            });
    (count > 0).then(|| seg.mask.geometry.index_to_patient(sum.map(|s| s / count as f64)))
}
