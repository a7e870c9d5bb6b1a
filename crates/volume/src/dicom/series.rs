//! Slice ordering, spacing and geometry of one series.
//!
//! Slices are ordered by their position along the slice normal (row direction × column
//! direction, dotted with Image Position (Patient)), never by file name or Instance Number.

use crate::Geometry;

use super::scan::ScannedFile;

/// Orientation components may differ by this much within one series.
const ORIENTATION_TOLERANCE: f64 = 1e-3;
/// Pixel spacings may differ by this fraction within one series.
const SPACING_TOLERANCE: f64 = 1e-3;
/// Slices closer than this along the normal and in-plane (mm) are duplicates.
const DUPLICATE_TOLERANCE_MM: f64 = 1e-2;
/// A gap that differs from the median gap by more than this fraction makes spacing uneven.
const UNEVEN_GAP_FRACTION: f64 = 0.1;
/// In-plane drift of slice origins (mm) beyond which the stack is treated as tilted.
const TILT_OFFSET_MM: f64 = 1e-2;

/// Problems that make a series unusable.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// Colour images cannot be segmented.
    #[error("{file}: colour images are not supported for segmentation (photometric interpretation {photometric}, {samples} samples per pixel)")]
    Colour {
        /// File concerned.
        file: String,
        /// Its Photometric Interpretation.
        photometric: String,
        /// Its Samples per Pixel.
        samples: u16,
    },
    /// Files of one series disagree on size, orientation or spacing.
    #[error("series {series}: {first} and {other} differ in {what}; mixed image sizes/orientations in one series are not supported")]
    Mixed {
        /// Series UID.
        series: String,
        /// Reference file.
        first: String,
        /// File that differs.
        other: String,
        /// What differs, with both values.
        what: String,
    },
    /// Several images have no Image Position (Patient), so they cannot be ordered.
    #[error("series {series}: {count} images lack Image Position (Patient), e.g. {example}; slices cannot be ordered")]
    MissingPositions {
        /// Series UID.
        series: String,
        /// Images without a position.
        count: usize,
        /// One such file.
        example: String,
    },
    /// The slice positions give no usable grid (non-finite or zero spacing or origin).
    #[error("series {series}: the slice positions give an unusable grid (spacing {spacing:?} mm, origin {origin:?}); the position attributes are corrupt")]
    BadGeometry {
        /// Series UID.
        series: String,
        /// Voxel spacing worked out (mm).
        spacing: [f64; 3],
        /// Origin worked out (mm, LPS).
        origin: [f64; 3],
    },
    /// The orientation vectors are degenerate.
    #[error("series {series}: {file} has an invalid Image Orientation (Patient) {orientation:?}")]
    BadOrientation {
        /// Series UID.
        series: String,
        /// File concerned.
        file: String,
        /// The values read.
        orientation: [f64; 6],
    },
}

/// One 2D image of the series: a frame of a file at a patient position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedSlice {
    /// Index of the file within the series group.
    pub file: usize,
    /// Frame within that file.
    pub frame: u32,
    /// Image Position (Patient) of the first pixel centre (mm, LPS).
    pub position: [f64; 3],
}

/// In-plane frame shared by all slices of a series.
#[derive(Debug, Clone, Copy)]
pub struct SliceFrame {
    /// Columns (voxels along i).
    pub columns: usize,
    /// Rows (voxels along j).
    pub rows: usize,
    /// Unit row direction (i axis, LPS).
    pub row_dir: [f64; 3],
    /// Unit column direction (j axis, LPS).
    pub col_dir: [f64; 3],
    /// Slice normal `row_dir × col_dir` (k axis).
    pub normal: [f64; 3],
    /// Spacing along i (between columns) and j (between rows) in mm.
    pub in_plane_spacing: [f64; 2],
    /// Spacing along k used when the series has one slice (mm).
    pub single_slice_spacing: f64,
}

/// How the decoded slices map onto the output grid.
#[derive(Debug, Clone)]
pub struct SeriesLayout {
    /// Slices sorted along the normal, duplicates removed.
    pub slices: Vec<PlannedSlice>,
    /// Position of each slice along the normal relative to the first (mm, increasing).
    pub along_normal: Vec<f64>,
    /// Offset of each slice origin from the first, along row and column directions (mm).
    pub in_plane_offsets: Vec<[f64; 2]>,
    /// Output grid geometry (origin = first slice).
    pub geometry: Geometry,
    /// Output slice count.
    pub output_slices: usize,
    /// True when slices must be interpolated (uneven spacing or gantry tilt).
    pub needs_resampling: bool,
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalized(v: [f64; 3]) -> Option<[f64; 3]> {
    let n = dot(v, v).sqrt();
    (n.is_finite() && n > 1e-6).then(|| [v[0] / n, v[1] / n, v[2] / n])
}

/// Checks that all files share size, orientation, spacing and greyscale pixels, and returns
/// the shared in-plane frame.
pub fn slice_frame(series: &str, files: &[ScannedFile], warnings: &mut Vec<String>) -> Result<SliceFrame, SeriesError> {
    let first = &files[0];
    let h0 = &first.header;
    for f in files {
        let h = &f.header;
        if !h.is_greyscale() {
            return Err(SeriesError::Colour {
                file: f.source.display_name(),
                photometric: h.photometric.clone(),
                samples: h.samples_per_pixel,
            });
        }
        let mixed = |what: String| SeriesError::Mixed {
            series: series.to_string(),
            first: first.source.display_name(),
            other: f.source.display_name(),
            what,
        };
        if (h.rows, h.columns) != (h0.rows, h0.columns) {
            return Err(mixed(format!(
                "size ({}×{} vs {}×{})",
                h0.columns, h0.rows, h.columns, h.rows
            )));
        }
        if let (Some(a), Some(b)) = (h0.orientation, h.orientation) {
            if a.iter().zip(&b).any(|(x, y)| (x - y).abs() > ORIENTATION_TOLERANCE) {
                return Err(mixed(format!("orientation ({a:?} vs {b:?})")));
            }
        }
        if let (Some(a), Some(b)) = (h0.pixel_spacing, h.pixel_spacing) {
            if a.iter()
                .zip(&b)
                .any(|(x, y)| (x - y).abs() > SPACING_TOLERANCE * x.abs())
            {
                return Err(mixed(format!("pixel spacing ({a:?} vs {b:?})")));
            }
        }
    }
    let orientation = match h0.orientation {
        Some(o) => o,
        None => {
            warnings.push(format!(
                "series {series}: no Image Orientation (Patient); assuming axial (rows along +x, columns along +y)"
            ));
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        }
    };
    let bad = || SeriesError::BadOrientation {
        series: series.to_string(),
        file: first.source.display_name(),
        orientation,
    };
    let row_dir = normalized([orientation[0], orientation[1], orientation[2]]).ok_or_else(bad)?;
    let col_dir = normalized([orientation[3], orientation[4], orientation[5]]).ok_or_else(bad)?;
    let normal = normalized(cross(row_dir, col_dir)).ok_or_else(bad)?;
    let in_plane_spacing = match h0.pixel_spacing {
        // DICOM Pixel Spacing is [between rows (along j), between columns (along i)].
        Some([between_rows, between_columns]) => [between_columns, between_rows],
        None => {
            warnings.push(format!("series {series}: no Pixel Spacing; assuming 1 mm"));
            [1.0, 1.0]
        }
    };
    Ok(SliceFrame {
        columns: h0.columns as usize,
        rows: h0.rows as usize,
        row_dir,
        col_dir,
        normal,
        in_plane_spacing,
        single_slice_spacing: h0.spacing_between_slices.or(h0.slice_thickness).unwrap_or(1.0),
    })
}

/// Refuses a layout whose geometry is not finite with positive spacing (absurd positions or
/// spacing attributes that passed the per-file checks, e.g. 1e308 mm apart).
pub fn check_layout_geometry(series: &str, layout: &SeriesLayout) -> Result<(), SeriesError> {
    let g = &layout.geometry;
    let finite = g
        .spacing
        .iter()
        .chain(&g.origin)
        .chain(g.direction.iter().flatten())
        .all(|v| v.is_finite());
    if finite && g.spacing.iter().all(|&s| s > 0.0) {
        return Ok(());
    }
    Err(SeriesError::BadGeometry {
        series: series.to_string(),
        spacing: g.spacing,
        origin: g.origin,
    })
}

/// Lists every frame of every file with its patient position.
pub fn collect_slices(
    series: &str,
    files: &[ScannedFile],
    frame: &SliceFrame,
    warnings: &mut Vec<String>,
) -> Result<Vec<PlannedSlice>, SeriesError> {
    let total: usize = files.iter().map(|f| f.header.frames as usize).sum();
    let missing: Vec<&ScannedFile> = files.iter().filter(|f| f.header.position.is_none()).collect();
    if !missing.is_empty() && files.len() > 1 {
        return Err(SeriesError::MissingPositions {
            series: series.to_string(),
            count: missing.len(),
            example: missing[0].source.display_name(),
        });
    }
    let mut slices = Vec::with_capacity(total);
    for (index, f) in files.iter().enumerate() {
        let h = &f.header;
        let base = h.position.unwrap_or_else(|| {
            warnings.push(format!(
                "{}: no Image Position (Patient); origin set to (0, 0, 0)",
                f.source.display_name()
            ));
            [0.0; 3]
        });
        match &h.frame_positions {
            Some(positions) => {
                slices.extend(positions.iter().enumerate().map(|(k, &position)| PlannedSlice {
                    file: index,
                    frame: k as u32,
                    position,
                }));
            }
            None => {
                let step = if h.frames > 1 {
                    let (step, source) = match (h.spacing_between_slices, h.slice_thickness) {
                        (Some(s), _) => (s, "Spacing Between Slices"),
                        (None, Some(t)) => (t, "Slice Thickness"),
                        (None, None) => (1.0, "a default of"),
                    };
                    warnings.push(format!(
                        "{}: {} frames without per-frame positions; frames stacked along the slice normal using {source} {step} mm",
                        f.source.display_name(),
                        h.frames
                    ));
                    step
                } else {
                    0.0
                };
                slices.extend((0..h.frames).map(|k| {
                    let d = step * f64::from(k);
                    PlannedSlice {
                        file: index,
                        frame: k,
                        position: [
                            base[0] + d * frame.normal[0],
                            base[1] + d * frame.normal[1],
                            base[2] + d * frame.normal[2],
                        ],
                    }
                }));
            }
        }
    }
    Ok(slices)
}

/// Median of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Sorts slices along the normal, removes duplicates and works out the output grid.
///
/// `slices` must not be empty. Warnings name duplicate positions, uneven gaps and tilt.
pub fn layout_slices(
    series: &str,
    frame: &SliceFrame,
    mut slices: Vec<PlannedSlice>,
    warnings: &mut Vec<String>,
) -> SeriesLayout {
    let along = |s: &PlannedSlice| dot(s.position, frame.normal);
    slices.sort_by(|a, b| along(a).total_cmp(&along(b)));
    let mut kept: Vec<PlannedSlice> = Vec::with_capacity(slices.len());
    let mut duplicates = Vec::new();
    for s in slices {
        match kept.last() {
            Some(prev) if (0..3).all(|r| (prev.position[r] - s.position[r]).abs() < DUPLICATE_TOLERANCE_MM) => {
                duplicates.push(along(&s));
            }
            _ => kept.push(s),
        }
    }
    if !duplicates.is_empty() {
        warnings.push(format!(
            "series {series}: {} duplicate slice position(s) ignored (kept one of each) at {} mm along the normal",
            duplicates.len(),
            list_mm(&duplicates)
        ));
    }
    let first = kept[0].position;
    let s0 = along(&kept[0]);
    let along_normal: Vec<f64> = kept.iter().map(|s| along(s) - s0).collect();
    let in_plane_offsets: Vec<[f64; 2]> = kept
        .iter()
        .map(|s| {
            let d = [
                s.position[0] - first[0],
                s.position[1] - first[1],
                s.position[2] - first[2],
            ];
            [dot(d, frame.row_dir), dot(d, frame.col_dir)]
        })
        .collect();

    let gaps: Vec<f64> = along_normal.windows(2).map(|w| w[1] - w[0]).collect();
    let (spacing_k, output_slices, uneven) = if gaps.is_empty() {
        (frame.single_slice_spacing, 1, false)
    } else {
        let typical = median(&gaps);
        let extent = along_normal[along_normal.len() - 1];
        let odd: Vec<usize> = (0..gaps.len())
            .filter(|&g| (gaps[g] - typical).abs() > UNEVEN_GAP_FRACTION * typical)
            .collect();
        if odd.is_empty() {
            (extent / gaps.len() as f64, kept.len(), false)
        } else {
            // Saturates for absurd positions; the output size check refuses the grid.
            let count = ((extent / typical).round() as usize).saturating_add(1);
            let spacing = extent / (count - 1) as f64;
            let where_: Vec<String> = odd
                .iter()
                .take(10)
                .map(|&g| {
                    format!(
                        "{:.2}–{:.2} mm ({:.2} mm)",
                        s0 + along_normal[g],
                        s0 + along_normal[g + 1],
                        gaps[g]
                    )
                })
                .collect();
            warnings.push(format!(
                "series {series}: uneven slice spacing (median gap {typical:.3} mm; gaps at {}{}); resampled to {count} slices {spacing:.3} mm apart by linear interpolation",
                where_.join(", "),
                if odd.len() > 10 { ", …" } else { "" }
            ));
            (spacing, count, true)
        }
    };
    let max_offset = in_plane_offsets.iter().map(|o| o[0].hypot(o[1])).fold(0.0, f64::max);
    let tilted = max_offset > TILT_OFFSET_MM && along_normal.len() > 1;
    if tilted {
        let last = in_plane_offsets[in_plane_offsets.len() - 1];
        let extent = along_normal[along_normal.len() - 1];
        let angle = last[0].hypot(last[1]).atan2(extent).to_degrees();
        warnings.push(format!(
            "series {series}: gantry tilt of {angle:.2}° (slice origins drift {max_offset:.2} mm in-plane); slices resampled onto a grid perpendicular to the slices (shear correction)"
        ));
    }
    let geometry = Geometry {
        spacing: [frame.in_plane_spacing[0], frame.in_plane_spacing[1], spacing_k],
        origin: first,
        direction: [
            [frame.row_dir[0], frame.col_dir[0], frame.normal[0]],
            [frame.row_dir[1], frame.col_dir[1], frame.normal[1]],
            [frame.row_dir[2], frame.col_dir[2], frame.normal[2]],
        ],
    };
    SeriesLayout {
        slices: kept,
        along_normal,
        in_plane_offsets,
        geometry,
        output_slices,
        needs_resampling: uneven || tilted,
    }
}

fn list_mm(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().take(10).map(|v| format!("{v:.2}")).collect();
    let more = if values.len() > 10 { ", …" } else { "" };
    format!("{}{more}", shown.join(", "))
}
