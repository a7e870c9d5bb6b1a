//! One entry point for every supported scan input: a folder of DICOM files, a zip of them,
//! a single (multi-frame or single-frame) DICOM file, or a NIfTI file.

use std::fmt;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Serialize, Serializer};

use crate::archive::{read_zip, ArchiveError, ArchiveLimits};
use crate::dicom::pixels::{decode_frames, lossless_scale, spread_scale, OutputScale, StoredRange};
use crate::dicom::scan::{default_series, group_by_series, list_files, read_headers, SeriesGroup};
use crate::dicom::series::{
    check_layout_geometry, collect_slices, layout_slices, slice_frame, SeriesError, SeriesLayout, SliceFrame,
};
use crate::dicom::source::{DicomSource, ReadExtent};
use crate::nifti::{read_nifti_scan, NiftiError};
use crate::resample::{resample_slice_stack, SliceStack};
use crate::Volume;

/// Limits and choices for [`load_scan`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Series Instance UID to load; `None` picks the CT series with the most slices.
    pub series_uid: Option<String>,
    /// Largest grid (voxels) that may be allocated; checked against headers before decoding.
    pub max_voxels: u64,
    /// Largest total decompressed size of a zip archive (bytes).
    pub max_archive_bytes: u64,
    /// Largest number of entries in a zip archive.
    pub max_archive_entries: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            series_uid: None,
            max_voxels: 1 << 31,
            max_archive_bytes: 8 << 30,
            max_archive_entries: 100_000,
        }
    }
}

/// Imaging modality of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modality {
    /// Computed tomography (intensities in HU).
    Ct,
    /// Magnetic resonance.
    Mr,
    /// Positron emission tomography.
    Pt,
    /// Nuclear medicine.
    Nm,
    /// Any other DICOM modality code (upper case as in the file).
    Other(String),
    /// Not recorded (e.g. NIfTI input).
    Unknown,
}

impl Modality {
    /// Maps a DICOM Modality code (`CT`, `MR`, …).
    pub fn from_code(code: &str) -> Self {
        match code.trim().to_ascii_uppercase().as_str() {
            "" => Modality::Unknown,
            "CT" => Modality::Ct,
            "MR" => Modality::Mr,
            "PT" => Modality::Pt,
            "NM" => Modality::Nm,
            other => Modality::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Modality::Ct => f.write_str("ct"),
            Modality::Mr => f.write_str("mr"),
            Modality::Pt => f.write_str("pt"),
            Modality::Nm => f.write_str("nm"),
            Modality::Other(code) => f.write_str(&code.to_ascii_lowercase()),
            Modality::Unknown => f.write_str("unknown"),
        }
    }
}

impl Serialize for Modality {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What kind of input was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// A folder of DICOM files (any nesting).
    DicomFolder,
    /// A zip archive of DICOM files.
    ZipArchive,
    /// One DICOM file (single- or multi-frame).
    DicomFile,
    /// A NIfTI file (`.nii`, `.nii.gz`).
    Nifti,
}

/// One series found in the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSummary {
    /// Series Instance UID.
    pub uid: String,
    /// Modality.
    pub modality: Modality,
    /// Series Description.
    pub description: String,
    /// Number of files.
    pub files: usize,
    /// Image rows (of the first file).
    pub rows: u32,
    /// Image columns (of the first file).
    pub columns: u32,
}

/// A file that was skipped, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileProblem {
    /// File path or `archive.zip!entry`.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// A loaded scan.
///
/// `volume` holds stored intensities; real value = stored · `intensity_slope` +
/// `intensity_intercept` (CT: HU, with slope 1 and intercept 0 whenever the HU range fits
/// i16; otherwise rescaled and a warning given).
#[derive(Debug, Clone)]
pub struct LoadedScan {
    /// Stored intensities with patient geometry (LPS mm).
    pub volume: Volume<i16>,
    /// Real units per stored step.
    pub intensity_slope: f64,
    /// Real value of stored 0.
    pub intensity_intercept: f64,
    /// Modality of the loaded series.
    pub modality: Modality,
    /// What the input was.
    pub kind: InputKind,
    /// Series Instance UID of the loaded series (DICOM only).
    pub series_uid: Option<String>,
    /// Every series found (DICOM only).
    pub series: Vec<SeriesSummary>,
    /// Things the user should know (resampling, tilt, duplicates, rescaling, …).
    pub warnings: Vec<String>,
    /// Files that could not be used.
    pub skipped_files: Vec<FileProblem>,
}

/// Why a scan could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The path does not exist or cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// Path concerned.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Zip problems (unreadable, too many entries, too large).
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// NIfTI problems.
    #[error(transparent)]
    Nifti(#[from] NiftiError),
    /// The chosen series is unusable (colour, mixed sizes, missing positions).
    #[error(transparent)]
    Series(#[from] SeriesError),
    /// No file holds a loadable image.
    #[error("{path}: no loadable DICOM image found; {count} file(s) skipped: {problems}")]
    NothingLoadable {
        /// Input path.
        path: String,
        /// Files skipped.
        count: usize,
        /// The first problems, `file: problem; …`.
        problems: String,
    },
    /// The requested series is not in the input.
    #[error("{path}: series {uid} not found; available series: {available}")]
    SeriesNotFound {
        /// Input path.
        path: String,
        /// Requested UID.
        uid: String,
        /// Available UIDs with modality and file count.
        available: String,
    },
    /// The grid would exceed `max_voxels`.
    #[error(
        "series {series}: {what} declares {voxels} voxels, more than the limit of {limit}; refused before allocation"
    )]
    TooLarge {
        /// Series UID.
        series: String,
        /// What declares the size (a file, or the resampled grid).
        what: String,
        /// Declared voxels.
        voxels: u64,
        /// Limit.
        limit: u64,
    },
    /// No slice of the chosen series could be decoded.
    #[error("series {series}: no slice could be decoded: {problems}")]
    NoSliceDecoded {
        /// Series UID.
        series: String,
        /// The first problems.
        problems: String,
    },
}

/// Loads a scan from a DICOM folder, zip archive, DICOM file or NIfTI file.
pub fn load_scan(path: &Path, options: &LoadOptions) -> Result<LoadedScan, InputError> {
    let shown = path.display().to_string();
    let io = |source| InputError::Io {
        path: shown.clone(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        let sources = list_files(path)
            .map_err(io)?
            .into_iter()
            .map(DicomSource::Path)
            .collect();
        return load_dicom(&shown, sources, Vec::new(), options, InputKind::DicomFolder);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".nii") || name.ends_with(".nii.gz") {
        return load_nifti(path);
    }
    if starts_with_zip_magic(path).map_err(io)? {
        let limits = ArchiveLimits {
            max_bytes: options.max_archive_bytes,
            max_entries: options.max_archive_entries,
        };
        let (entries, skipped) = read_zip(path, limits)?;
        let sources = entries
            .into_iter()
            .map(|e| DicomSource::Memory {
                name: e.name,
                bytes: e.bytes,
            })
            .collect();
        let problems = skipped
            .into_iter()
            .map(|s| FileProblem {
                path: s.name,
                problem: s.problem,
            })
            .collect();
        return load_dicom(&shown, sources, problems, options, InputKind::ZipArchive);
    }
    load_dicom(
        &shown,
        vec![DicomSource::Path(path.to_path_buf())],
        Vec::new(),
        options,
        InputKind::DicomFile,
    )
}

fn starts_with_zip_magic(path: &Path) -> std::io::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut file = std::fs::File::open(path)?;
    let n = file.read(&mut head)?;
    Ok(n == 4 && &head == b"PK\x03\x04")
}

fn load_nifti(path: &Path) -> Result<LoadedScan, InputError> {
    let scan = read_nifti_scan(path)?;
    let mut warnings = Vec::new();
    if scan.slope != 1.0 || scan.intercept != 0.0 {
        warnings.push(format!(
            "{}: intensities do not fit i16 exactly; stored as i16 with slope {} and intercept {}",
            path.display(),
            scan.slope,
            scan.intercept
        ));
    }
    Ok(LoadedScan {
        volume: scan.volume,
        intensity_slope: scan.slope,
        intensity_intercept: scan.intercept,
        modality: Modality::Unknown,
        kind: InputKind::Nifti,
        series_uid: None,
        series: Vec::new(),
        warnings,
        skipped_files: Vec::new(),
    })
}

fn summarize(groups: &[SeriesGroup]) -> Vec<SeriesSummary> {
    groups
        .iter()
        .map(|g| {
            let h = &g.files[0].header;
            SeriesSummary {
                uid: g.uid.clone(),
                modality: Modality::from_code(&h.modality),
                description: h.description.clone(),
                files: g.files.len(),
                rows: h.rows,
                columns: h.columns,
            }
        })
        .collect()
}

fn first_problems(problems: &[FileProblem]) -> String {
    let shown: Vec<String> = problems.iter().take(5).map(ToString::to_string).collect();
    let more = if problems.len() > 5 { "; …" } else { "" };
    format!("{}{more}", shown.join("; "))
}

fn load_dicom(
    input: &str,
    sources: Vec<DicomSource>,
    mut skipped_files: Vec<FileProblem>,
    options: &LoadOptions,
    kind: InputKind,
) -> Result<LoadedScan, InputError> {
    let (files, rejected) = read_headers(sources);
    skipped_files.extend(rejected.into_iter().map(|r| FileProblem {
        path: r.name,
        problem: r.problem,
    }));
    if files.is_empty() {
        return Err(InputError::NothingLoadable {
            path: input.to_string(),
            count: skipped_files.len(),
            problems: first_problems(&skipped_files),
        });
    }
    let groups = group_by_series(files);
    let series = summarize(&groups);
    let chosen = match &options.series_uid {
        Some(uid) => groups
            .iter()
            .position(|g| &g.uid == uid)
            .ok_or_else(|| InputError::SeriesNotFound {
                path: input.to_string(),
                uid: uid.clone(),
                available: series
                    .iter()
                    .map(|s| format!("{} ({}, {} files)", s.uid, s.modality, s.files))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        None => default_series(&groups).unwrap_or(0),
    };
    let group = &groups[chosen];
    check_declared_size(group, options.max_voxels)?;

    let mut warnings = Vec::new();
    let frame = slice_frame(&group.uid, &group.files, &mut warnings)?;
    let slices = collect_slices(&group.uid, &group.files, &frame, &mut warnings)?;
    let layout = layout_slices(&group.uid, &frame, slices, &mut warnings);
    check_layout_geometry(&group.uid, &layout)?;
    check_output_size(&group.uid, &frame, &layout, options.max_voxels)?;

    let is_ct = group.modality() == "CT";
    let scale = choose_scale(group, &layout, is_ct, &mut warnings);
    let (stack, failures) = decode_stack(group, &frame, &layout, scale);
    let mut layout = layout;
    let mut stack = stack;
    if !failures.is_empty() {
        let failed_files: Vec<usize> = failures.iter().map(|(f, _)| *f).collect();
        for (file, problem) in failures {
            skipped_files.push(FileProblem {
                path: group.files[file].source.display_name(),
                problem,
            });
        }
        let plane = frame.columns * frame.rows;
        let keep: Vec<bool> = layout.slices.iter().map(|s| !failed_files.contains(&s.file)).collect();
        if !keep.contains(&true) {
            return Err(InputError::NoSliceDecoded {
                series: group.uid.clone(),
                problems: first_problems(&skipped_files),
            });
        }
        let mut compact = Vec::with_capacity(stack.len());
        let mut kept_slices = Vec::new();
        for ((slice, chunk), k) in layout.slices.iter().zip(stack.chunks(plane)).zip(&keep) {
            if *k {
                compact.extend_from_slice(chunk);
                kept_slices.push(*slice);
            }
        }
        warnings.push(format!(
            "series {}: {} file(s) could not be decoded and were left out (see skipped files)",
            group.uid,
            failed_files.len()
        ));
        stack = compact;
        layout = layout_slices(&group.uid, &frame, kept_slices, &mut warnings);
        check_layout_geometry(&group.uid, &layout)?;
    }
    let data = if layout.needs_resampling {
        let fill = stack.par_iter().copied().min().unwrap_or(0);
        let along = SliceStack {
            data: &stack,
            columns: frame.columns,
            rows: frame.rows,
            in_plane_spacing: frame.in_plane_spacing,
            along_normal: &layout.along_normal,
            in_plane_offsets: &layout.in_plane_offsets,
            fill,
        };
        resample_slice_stack(&along, layout.output_slices, layout.geometry.spacing[2])
    } else {
        stack
    };
    let dims = [frame.columns, frame.rows, layout.output_slices];
    let volume = Volume::from_vec(dims, data, layout.geometry).map_err(|e| InputError::NoSliceDecoded {
        series: group.uid.clone(),
        problems: e.to_string(),
    })?;
    for w in &warnings {
        tracing::warn!("{w}");
    }
    Ok(LoadedScan {
        volume,
        intensity_slope: scale.slope,
        intensity_intercept: scale.intercept,
        modality: Modality::from_code(group.modality()),
        kind,
        series_uid: Some(group.uid.clone()),
        series,
        warnings,
        skipped_files,
    })
}

/// Refuses a series whose headers declare more than `limit` voxels (before any allocation).
fn check_declared_size(group: &SeriesGroup, limit: u64) -> Result<(), InputError> {
    let total = group
        .files
        .iter()
        .fold(0u64, |acc, f| acc.saturating_add(f.header.declared_voxels()));
    if total > limit {
        let largest = group.files.iter().max_by_key(|f| f.header.declared_voxels());
        let what = match largest {
            Some(f) if f.header.declared_voxels() > limit / 2 || group.files.len() == 1 => format!(
                "{} ({}×{}×{} frames)",
                f.source.display_name(),
                f.header.columns,
                f.header.rows,
                f.header.frames
            ),
            _ => format!("the series ({} files)", group.files.len()),
        };
        return Err(InputError::TooLarge {
            series: group.uid.clone(),
            what,
            voxels: total,
            limit,
        });
    }
    Ok(())
}

/// Refuses an output grid (after resampling to uniform spacing) larger than `limit`.
fn check_output_size(series: &str, frame: &SliceFrame, layout: &SeriesLayout, limit: u64) -> Result<(), InputError> {
    let voxels = (frame.columns as u64)
        .saturating_mul(frame.rows as u64)
        .saturating_mul(layout.output_slices.max(layout.slices.len()) as u64);
    if voxels > limit {
        return Err(InputError::TooLarge {
            series: series.to_string(),
            what: format!("the resampled grid ({} slices)", layout.output_slices),
            voxels,
            limit,
        });
    }
    Ok(())
}

/// Slices of the layout grouped by file: `(file index, [(slice index, frame)])`.
fn slices_by_file(layout: &SeriesLayout) -> Vec<(usize, Vec<(usize, u32)>)> {
    let mut by_file: std::collections::BTreeMap<usize, Vec<(usize, u32)>> = Default::default();
    for (index, s) in layout.slices.iter().enumerate() {
        by_file.entry(s.file).or_default().push((index, s.frame));
    }
    by_file.into_iter().collect()
}

/// Picks the i16 output scale: lossless from the headers when possible, else from the actual
/// decoded range, else a lossy spread over the i16 range (with a warning).
fn choose_scale(group: &SeriesGroup, layout: &SeriesLayout, is_ct: bool, warnings: &mut Vec<String>) -> OutputScale {
    let used = slices_by_file(layout);
    let declared: Vec<StoredRange> = used
        .iter()
        .map(|(f, _)| {
            let h = &group.files[*f].header;
            let (lo, hi) = h.stored_range();
            StoredRange {
                slope: h.rescale_slope,
                intercept: h.rescale_intercept,
                lo,
                hi,
            }
        })
        .collect();
    if let Some(scale) = lossless_scale(&declared, is_ct) {
        return scale;
    }
    // The declared range is too wide; measure the real one (decodes the pixels twice).
    let actual: Vec<StoredRange> = used
        .par_iter()
        .filter_map(|(f, slices)| {
            let file = &group.files[*f];
            let obj = file.source.open(ReadExtent::Full).ok()?;
            let frames: Vec<u32> = slices.iter().map(|s| s.1).collect();
            let decoded = decode_frames(&obj, &file.header, &frames).ok()?;
            let (lo, hi) = decoded.stored_range();
            (lo <= hi).then_some(StoredRange {
                slope: file.header.rescale_slope,
                intercept: file.header.rescale_intercept,
                lo,
                hi,
            })
        })
        .collect();
    if let Some(scale) = lossless_scale(&actual, is_ct) {
        return scale;
    }
    let scale = spread_scale(&actual);
    warnings.push(format!(
        "series {}: intensities do not fit i16 exactly; stored with slope {:.6} and intercept {:.3} (real = stored × slope + intercept)",
        group.uid, scale.slope, scale.intercept
    ));
    scale
}

/// Frames of one file paired with the output slices they decode into.
type FrameDestinations<'a> = Vec<(u32, &'a mut [i16])>;

/// Decodes every slice of the layout in parallel into one stack (slice order of the layout).
/// Returns the stack and the files that failed, with the reason.
fn decode_stack(
    group: &SeriesGroup,
    frame: &SliceFrame,
    layout: &SeriesLayout,
    scale: OutputScale,
) -> (Vec<i16>, Vec<(usize, String)>) {
    let plane = frame.columns * frame.rows;
    let mut stack = vec![0i16; plane * layout.slices.len()];
    let by_file = slices_by_file(layout);
    let mut chunks: Vec<Option<&mut [i16]>> = stack.chunks_mut(plane).map(Some).collect();
    let jobs: Vec<(usize, FrameDestinations<'_>)> = by_file
        .into_iter()
        .map(|(file, slices)| {
            let dests = slices
                .into_iter()
                .filter_map(|(index, f)| chunks[index].take().map(|c| (f, c)))
                .collect();
            (file, dests)
        })
        .collect();
    let failures = Mutex::new(Vec::new());
    jobs.into_par_iter().for_each(|(file_index, dests)| {
        let file = &group.files[file_index];
        let frames: Vec<u32> = dests.iter().map(|d| d.0).collect();
        let result = file
            .source
            .open(ReadExtent::Full)
            .and_then(|obj| decode_frames(&obj, &file.header, &frames).map(|d| d.write_into(dests, scale)));
        if let Err(problem) = result {
            if let Ok(mut f) = failures.lock() {
                f.push((file_index, problem));
            }
        }
    });
    let mut failures = failures.into_inner().unwrap_or_default();
    failures.sort_by_key(|f| f.0);
    (stack, failures)
}
