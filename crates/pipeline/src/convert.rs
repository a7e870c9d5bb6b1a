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

/// Why a loaded scan cannot give a model, found before segmentation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScanProblem {
    /// Fewer slices (or rows, or columns) than a surface needs.
    #[error("the grid is {dims:?} voxels; at least {needed} along each axis are needed for a 3D model")]
    TooFewSlices {
        /// Grid size of the scan.
        dims: [usize; 3],
        /// The fewest voxels along an axis that a model needs.
        needed: usize,
    },
    /// Every voxel holds the same value: a blank image.
    #[error("every voxel holds the same value ({value}); the image is blank")]
    Uniform {
        /// The one stored value.
        value: i16,
    },
    /// The noise is as strong as the contrast between bone and soft tissue: no structure can be
    /// told from it (a corrupt or wrongly scaled image).
    #[error(
        "the noise (about {noise_hu:.0} HU standard deviation) drowns the image; at most {limit_hu:.0} HU is usable"
    )]
    NoiseOnly {
        /// Estimated noise in soft tissue, HU.
        noise_hu: f32,
        /// The most noise a scan may have, HU.
        limit_hu: f32,
    },
}

/// Most image noise (standard deviation in soft tissue, HU) a scan may have: above it bone
/// (≥ ~400 HU over soft tissue) is no longer separable from noise. Clinical CT has 10–30 HU,
/// very low-dose CT up to ~100 HU.
pub const MAX_NOISE_HU: f32 = 400.0;

/// Fewest voxels along each axis for a model: marching cubes needs two samples for one cell,
/// and a third so that a structure can be closed inside the grid.
pub const MIN_VOXELS_PER_AXIS: usize = 3;

/// Why a run failed. Each message names the file or stage and the problem.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Nothing loadable in the input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The scan was read but cannot give a model (too few slices, a blank image).
    #[error("{input}: {problem}")]
    ScanUnusable {
        /// Input path.
        input: String,
        /// What is wrong with the scan.
        problem: ScanProblem,
    },
    /// The segmentation could not run.
    #[error("segmentation failed: {0}")]
    Segment(#[from] medprint_segment::SegmentError),
    /// No bone was found (or the bone found gives no surface), so there is nothing to print.
    #[error("no bone was found in {input} (threshold {threshold_hu:.0} HU); check the modality and the scan")]
    NothingFound {
        /// Input path.
        input: String,
        /// Threshold used.
        threshold_hu: f32,
    },
    /// Print preparation could not make any printable piece (each step that fails on a part is
    /// left out for that part instead, see `medprint_print::fallback`), or a print parameter is
    /// invalid.
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
    /// Process exit code for this error (documented in the README and `--help`): 2 invalid
    /// parameters, 3 input unreadable or unusable, 4 segmentation found nothing to print,
    /// 5 an output could not be written.
    pub fn exit_code(&self) -> i32 {
        match self {
            PipelineError::Usage(_) | PipelineError::Print(PrintError::BadParameter { .. }) => 2,
            PipelineError::Input(_) | PipelineError::Model { .. } | PipelineError::ScanUnusable { .. } => 3,
            PipelineError::Segment(_)
            | PipelineError::Surface(_)
            | PipelineError::NothingFound { .. }
            | PipelineError::Print(_) => 4,
            PipelineError::Output { .. } => 5,
        }
    }
}

/// What to do when the scan holds no usable series.
const UPLOAD_AGAIN: &str = "Check that the upload holds the DICOM files (or the NIfTI file) of one CT or MR series, \
                            then upload it again.";

impl PipelineError {
    /// The reason in plain language for the person who ordered the model, with what to do next.
    /// It names no server path and holds no debug structure (those go to the log, through
    /// `Display`); the CLI, the API and the web app all show this text.
    pub fn user_message(&self) -> String {
        match self {
            PipelineError::Input(e) => input_message(e),
            PipelineError::ScanUnusable { problem, .. } => match problem {
                ScanProblem::TooFewSlices { dims, needed } => format!(
                    "The scan has too few slices for a 3D model ({} × {} × {} voxels; at least {needed} are \
                     needed in each direction). Upload the whole series, not a single image or a few slices.",
                    dims[0], dims[1], dims[2]
                ),
                ScanProblem::Uniform { .. } => "The scan's image is blank: every voxel has the same value. \
                    Export the series again from the scanner or the image archive (PACS), then upload it again."
                    .into(),
                ScanProblem::NoiseOnly { noise_hu, .. } => format!(
                    "The scan is almost pure noise (about {noise_hu:.0} HU; a usable CT has 10 to 100 HU), so no \
                     bone can be found in it. Is the image damaged, or is it not a CT? Export the series again, \
                     or choose the right modality."
                ),
            },
            PipelineError::Model { .. } => "The trained segmentation model could not be read. \
                Choose another model or run without one."
                .into(),
            PipelineError::Segment(e) => segment_message(e),
            PipelineError::NothingFound { threshold_hu, .. } => format!(
                "No bone was found (threshold {threshold_hu:.0} HU). Is this an MRI or a scan without bone? \
                 Choose the right modality (MR for an MRI), or set a lower threshold, then run it again."
            ),
            PipelineError::Surface(_) => "No printable surface could be made from the segmentation. \
                Check the scan and the modality, then run it again."
                .into(),
            PipelineError::Print(PrintError::BadParameter { name, .. }) => format!(
                "A print preparation setting is not valid ({}). Correct it (for example a larger build \
                 volume), then run it again.",
                name.replace('_', " ")
            ),
            PipelineError::Print(_) => "Print preparation could not make any printable piece from the model. \
                Run it again without print preparation and prepare the model in the slicer."
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

/// [`PipelineError::user_message`] of an input error.
fn input_message(e: &InputError) -> String {
    use medprint_volume::archive::ArchiveError;
    use medprint_volume::dicom::series::SeriesError;
    use medprint_volume::nifti::NiftiError;
    match e {
        InputError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            format!("The scan was not found. {UPLOAD_AGAIN}")
        }
        InputError::Io { .. } => format!("The scan could not be opened. {UPLOAD_AGAIN}"),
        InputError::Archive(ArchiveError::TooManyEntries { entries, limit, .. }) => {
            format!("The zip archive holds too many files ({entries}, at most {limit}). Upload one series at a time.")
        }
        InputError::Archive(ArchiveError::TooLarge { limit, .. }) => format!(
            "The zip archive unpacks to more than {} MB. Upload one series at a time.",
            limit / 1_000_000
        ),
        InputError::Archive(_) => {
            format!("The zip archive could not be read (damaged or not a zip file). {UPLOAD_AGAIN}")
        }
        InputError::Nifti(NiftiError::TooLarge { voxels, limit, .. }) => format!(
            "The scan is too large to process ({voxels} voxels, at most {limit}). Upload a cropped or \
             downsampled scan."
        ),
        InputError::Nifti(NiftiError::UnsupportedType { .. }) => "The NIfTI file holds a kind of values that \
            cannot be segmented (complex, colour or 64-bit integers). Export it as a grey-scale image."
            .into(),
        InputError::Nifti(_) => format!("The NIfTI file is damaged or not a NIfTI image. {UPLOAD_AGAIN}"),
        InputError::Series(SeriesError::Colour { .. }) => "The series holds colour images (a screenshot or \
            a rendering), which cannot be segmented. Upload the original grey-scale CT or MR series."
            .into(),
        InputError::Series(SeriesError::Mixed { .. }) => "The series mixes images of different sizes or \
            orientations. Upload one series with images of one size (a scout or localiser image may be \
            mixed in: leave it out)."
            .into(),
        InputError::Series(
            SeriesError::MissingPositions { .. } | SeriesError::BadOrientation { .. } | SeriesError::BadGeometry { .. },
        ) => "The images of the series lack the position or orientation needed to stack them into a 3D scan. \
             Export the series again from the scanner or the image archive (PACS)."
            .into(),
        InputError::NothingLoadable { count, .. } => {
            format!("No file of the upload holds a usable image ({count} file(s) skipped). {UPLOAD_AGAIN}")
        }
        InputError::SeriesNotFound { available, .. } => format!(
            "The series asked for is not in the scan. The scan holds: {available}. Choose one of these series \
             by its UID (or leave the series empty to take the CT series with the most slices)."
        ),
        InputError::TooLarge { voxels, limit, .. } => format!(
            "The scan is too large to process ({voxels} voxels, at most {limit}). Choose a single series, \
             or upload a cropped or downsampled scan."
        ),
        InputError::NoSliceDecoded { .. } => "None of the series' images could be decoded (an unsupported \
            compression?). Export the series uncompressed from the image archive (PACS), then upload it again."
            .into(),
    }
}

/// [`PipelineError::user_message`] of a segmentation error.
fn segment_message(e: &medprint_segment::SegmentError) -> String {
    use medprint_segment::SegmentError;
    match e {
        SegmentError::EmptyVolume { .. } => format!("The scan holds no image. {UPLOAD_AGAIN}"),
        SegmentError::NoBody { .. } => "No patient body was found in the scan (only air, or only metal). \
            Check that this is the patient's CT or MR series and that the modality is right, then run it again."
            .into(),
        SegmentError::TooLarge { .. } => "The scan is too large to segment. Upload a cropped or \
            downsampled scan."
            .into(),
        SegmentError::ModelFile { .. } => "The trained segmentation model could not be read. \
            Choose another model or run without one."
            .into(),
        SegmentError::InvalidParameter { name, .. } => format!(
            "A segmentation setting is not valid ({}). Correct it, then run it again.",
            name.replace('_', " ")
        ),
        // Internal mismatches, and any reason added later.
        _ => "The scan could not be segmented. Check the series and the modality, then run it again; \
            if it fails again, report it to your administrator."
            .into(),
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
    if let Some(problem) = scan_problem(&scan.volume) {
        return Err(PipelineError::ScanUnusable {
            input: input_label.to_string(),
            problem,
        });
    }
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
    if let Some(noise_hu) = anomalies.noise_hu.filter(|&n| n > MAX_NOISE_HU) {
        return Err(PipelineError::ScanUnusable {
            input: input_label.to_string(),
            problem: ScanProblem::NoiseOnly {
                noise_hu,
                limit_hu: MAX_NOISE_HU,
            },
        });
    }
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
    // A mask that gives no surface (e.g. bone only in a border slice) is nothing to print:
    // stopped here so that no exporter is handed an empty model.
    if raw.is_empty() {
        return Err(PipelineError::NothingFound {
            input: input_label.to_string(),
            threshold_hu: seg.threshold.threshold_hu,
        });
    }
    let raw_triangles = raw.triangle_count();
    let raw_volume_mm3 = signed_volume_mm3(&raw);
    let (mesh, conditioned, shell_volumes) = clock.run(Stage::Condition, || {
        // Each bone's shells are brought to its voxel volume, then measured against it.
        let volumes = MaskShellVolumes::new(&seg.mask)?;
        let (mesh, conditioned) = condition_with_volume_targets(raw, &options.condition, &volumes);
        let check = volumes.check(&mesh);
        Ok::<_, PipelineError>((mesh, conditioned, check))
    })?;
    if mesh.is_empty() {
        return Err(PipelineError::NothingFound {
            input: input_label.to_string(),
            threshold_hu: seg.threshold.threshold_hu,
        });
    }
    if shell_volumes.within_2_percent < shell_volumes.structures {
        warnings.push(format!(
            "{} of {} bone structures enclose a volume more than 2 % away from their voxel volume (worst {:+.1} %)",
            shell_volumes.structures - shell_volumes.within_2_percent,
            shell_volumes.structures,
            shell_volumes.worst_percent
        ));
    }
    if !conditioned.check.is_printable() {
        warnings.push(print_check_warning(&conditioned.check));
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
            warnings.extend(summary.warnings.iter().cloned());
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

/// The print check's failures in plain words, with what to do.
fn print_check_warning(check: &medprint_mesh::MeshCheck) -> String {
    let mut problems = Vec::new();
    if !check.closed {
        problems.push(format!("{} open edges", check.boundary_edges));
    }
    if !check.manifold {
        problems.push(format!(
            "{} non-manifold edges and {} non-manifold vertices",
            check.non_manifold_edges, check.non_manifold_vertices
        ));
    }
    if !check.oriented || !check.outward {
        problems.push("inconsistent normals".into());
    }
    if check.degenerate_triangles > 0 {
        problems.push(format!("{} degenerate triangles", check.degenerate_triangles));
    }
    format!(
        "the model failed the print check ({}); repair it in the slicer before printing",
        problems.join(", ")
    )
}

/// Why `volume` cannot give a model, if it cannot: too few voxels along an axis, or one value
/// everywhere.
fn scan_problem(volume: &medprint_volume::Volume<i16>) -> Option<ScanProblem> {
    let dims = volume.dims();
    if dims.iter().any(|&n| n < MIN_VOXELS_PER_AXIS) {
        return Some(ScanProblem::TooFewSlices {
            dims,
            needed: MIN_VOXELS_PER_AXIS,
        });
    }
    let first = *volume.data().first()?;
    volume
        .data()
        .par_iter()
        .all(|&v| v == first)
        .then_some(ScanProblem::Uniform { value: first })
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

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::archive::ArchiveError;
    use medprint_volume::dicom::series::SeriesError;
    use medprint_volume::nifti::NiftiError;

    /// One error of every variant (and of every input and segmentation reason), each carrying
    /// server paths and values that must not reach the user.
    fn every_error() -> Vec<PipelineError> {
        let path = || "/srv/medprint/objects/order-17/upload.zip".to_string();
        let io = |kind| std::io::Error::new(kind, "os error at /srv/medprint");
        let inputs = vec![
            InputError::Io {
                path: path(),
                source: io(std::io::ErrorKind::NotFound),
            },
            InputError::Io {
                path: path(),
                source: io(std::io::ErrorKind::PermissionDenied),
            },
            InputError::Archive(ArchiveError::Invalid {
                path: path(),
                problem: "bad CRC in /x".into(),
            }),
            InputError::Archive(ArchiveError::TooManyEntries {
                path: path(),
                entries: 200_000,
                limit: 100_000,
            }),
            InputError::Archive(ArchiveError::TooLarge {
                path: path(),
                entry: "a/b.dcm".into(),
                limit: 8_000_000_000,
            }),
            InputError::Nifti(NiftiError::InvalidHeader {
                path: path(),
                reason: "sizeof_hdr".into(),
            }),
            InputError::Nifti(NiftiError::TooLarge {
                path: path(),
                dims: [4000, 4000, 4000],
                voxels: 64_000_000_000,
                limit: 2_000_000_000,
            }),
            InputError::Nifti(NiftiError::UnsupportedType {
                path: path(),
                datatype: 1792,
            }),
            InputError::Series(SeriesError::Colour {
                file: path(),
                photometric: "RGB".into(),
                samples: 3,
            }),
            InputError::Series(SeriesError::Mixed {
                series: "1.2.3".into(),
                first: path(),
                other: path(),
                what: "rows 512 vs 256".into(),
            }),
            InputError::Series(SeriesError::MissingPositions {
                series: "1.2.3".into(),
                count: 3,
                example: path(),
            }),
            InputError::Series(SeriesError::BadOrientation {
                series: "1.2.3".into(),
                file: path(),
                orientation: [0.0; 6],
            }),
            InputError::NothingLoadable {
                path: path(),
                count: 4,
                problems: "/srv/a.dcm: not DICOM".into(),
            },
            InputError::SeriesNotFound {
                path: path(),
                uid: "9.9".into(),
                available: "1.2.3 (CT, 30 files), 1.2.4 (MR, 20 files)".into(),
            },
            InputError::TooLarge {
                series: "1.2.3".into(),
                what: path(),
                voxels: 5_000_000_000,
                limit: 2_000_000_000,
            },
            InputError::NoSliceDecoded {
                series: "1.2.3".into(),
                problems: "/srv/IM0001: JPEG 2000".into(),
            },
        ];
        let segment = vec![
            medprint_segment::SegmentError::EmptyVolume { dims: [0, 0, 0] },
            medprint_segment::SegmentError::NoBody { reason: "all air" },
            medprint_segment::SegmentError::TooLarge { dims: [1, 2, 3] },
            medprint_segment::SegmentError::ModelFile {
                path: path(),
                reason: "bad magic".into(),
            },
            medprint_segment::SegmentError::InvalidParameter {
                name: "min_island_mm3",
                value: -1.0,
                reason: "must be ≥ 0",
            },
            medprint_segment::SegmentError::SizeMismatch { left: 1, right: 2 },
        ];
        let mut errors: Vec<PipelineError> = inputs.into_iter().map(PipelineError::Input).collect();
        errors.extend(segment.into_iter().map(PipelineError::Segment));
        errors.extend([
            PipelineError::ScanUnusable {
                input: path(),
                problem: ScanProblem::TooFewSlices {
                    dims: [512, 512, 1],
                    needed: MIN_VOXELS_PER_AXIS,
                },
            },
            PipelineError::ScanUnusable {
                input: path(),
                problem: ScanProblem::Uniform { value: -1024 },
            },
            PipelineError::ScanUnusable {
                input: path(),
                problem: ScanProblem::NoiseOnly {
                    noise_hu: 1397.0,
                    limit_hu: MAX_NOISE_HU,
                },
            },
            PipelineError::NothingFound {
                input: path(),
                threshold_hu: 180.0,
            },
            PipelineError::Print(PrintError::EmptyMesh { what: path() }),
            PipelineError::Print(PrintError::BadParameter {
                name: "build_volume_mm",
                value: 5.0,
                why: "is smaller than a connector needs",
            }),
            PipelineError::Surface(IsosurfaceError::TooManyVertices {
                vertices: 5_000_000_000,
            }),
            PipelineError::Usage("--build-volume needs three positive sizes in mm".into()),
            PipelineError::Model {
                path: path(),
                reason: "bad magic".into(),
            },
            PipelineError::Output {
                path: path(),
                reason: "No space left on device".into(),
            },
        ]);
        errors
    }

    #[test]
    fn user_messages_are_plain_and_say_what_to_do() {
        for e in every_error() {
            let message = e.user_message();
            let technical = e.to_string();
            assert!(!message.contains('/'), "{technical}: a path fragment in {message:?}");
            assert!(
                !message.contains('{') && !message.contains("[512"),
                "{technical}: debug text in {message:?}"
            );
            assert!(message.ends_with('.'), "{technical}: {message:?}");
            assert!(message.len() > 40, "{technical}: too terse: {message:?}");
        }
    }

    #[test]
    fn user_messages_are_specific_where_the_error_knows_more() {
        let errors = every_error();
        let message_of = |pred: &dyn Fn(&PipelineError) -> bool| {
            errors
                .iter()
                .find(|e| pred(e))
                .expect("the case is in every_error")
                .user_message()
        };
        let series = message_of(&|e| matches!(e, PipelineError::Input(InputError::SeriesNotFound { .. })));
        assert!(
            series.contains("1.2.3 (CT, 30 files)") && series.contains("Choose"),
            "{series}"
        );
        let few = message_of(&|e| {
            matches!(
                e,
                PipelineError::ScanUnusable {
                    problem: ScanProblem::TooFewSlices { .. },
                    ..
                }
            )
        });
        assert!(few.contains("512 × 512 × 1") && few.contains("too few slices"), "{few}");
        let no_bone = message_of(&|e| matches!(e, PipelineError::NothingFound { .. }));
        assert!(no_bone.contains("MRI") && no_bone.contains("MR"), "{no_bone}");
        let large = message_of(&|e| matches!(e, PipelineError::Input(InputError::TooLarge { .. })));
        assert!(large.contains("too large") && large.contains("5000000000"), "{large}");
        // Different reasons give different messages.
        let distinct: std::collections::BTreeSet<String> = errors.iter().map(PipelineError::user_message).collect();
        assert!(
            distinct.len() + 4 >= errors.len(),
            "{} of {}",
            distinct.len(),
            errors.len()
        );
    }

    #[test]
    fn exit_codes_follow_the_readme_table() {
        for e in every_error() {
            let expected = match &e {
                PipelineError::Usage(_) | PipelineError::Print(PrintError::BadParameter { .. }) => 2,
                PipelineError::Input(_) | PipelineError::Model { .. } | PipelineError::ScanUnusable { .. } => 3,
                PipelineError::Output { .. } => 5,
                _ => 4,
            };
            assert_eq!(e.exit_code(), expected, "{e}");
        }
    }

    #[test]
    fn blank_and_thin_scans_are_refused_before_segmentation() {
        let geometry = medprint_volume::Geometry::axis_aligned([1.0; 3], [0.0; 3]);
        let one_slice = medprint_volume::Volume::filled([16, 16, 1], 0i16, geometry);
        assert_eq!(
            scan_problem(&one_slice),
            Some(ScanProblem::TooFewSlices {
                dims: [16, 16, 1],
                needed: MIN_VOXELS_PER_AXIS
            })
        );
        let mut blank = medprint_volume::Volume::filled([16, 16, 8], -1000i16, geometry);
        assert_eq!(scan_problem(&blank), Some(ScanProblem::Uniform { value: -1000 }));
        blank.data_mut()[5] = 40;
        assert_eq!(scan_problem(&blank), None);
    }
}
