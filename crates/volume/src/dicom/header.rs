//! Image attributes read from a DICOM header (everything before Pixel Data).

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// The attributes needed to group, order, size-check and decode one DICOM image file.
#[derive(Debug, Clone)]
pub struct ImageHeader {
    /// Series Instance UID (`None` when absent).
    pub series_uid: Option<String>,
    /// Modality code, e.g. `CT` (empty when absent).
    pub modality: String,
    /// Series Description (empty when absent).
    pub description: String,
    /// Number of rows (image height, along j).
    pub rows: u32,
    /// Number of columns (image width, along i).
    pub columns: u32,
    /// Number of frames (1 for single-frame files).
    pub frames: u32,
    /// Samples per pixel (1 for greyscale).
    pub samples_per_pixel: u16,
    /// Photometric Interpretation, e.g. `MONOCHROME2`.
    pub photometric: String,
    /// Bits allocated per sample (8, 16 or 32).
    pub bits_allocated: u16,
    /// Bits stored per sample (≤ bits allocated).
    pub bits_stored: u16,
    /// True when Pixel Representation is 1 (two's complement).
    pub signed: bool,
    /// Rescale Slope (1 when absent).
    pub rescale_slope: f64,
    /// Rescale Intercept (0 when absent).
    pub rescale_intercept: f64,
    /// Image Orientation (Patient): row direction then column direction (unit vectors, LPS).
    pub orientation: Option<[f64; 6]>,
    /// Image Position (Patient) of the first pixel centre, mm LPS.
    pub position: Option<[f64; 3]>,
    /// Per-frame positions (mm LPS) from the Per-Frame Functional Groups, when present.
    pub frame_positions: Option<Vec<[f64; 3]>>,
    /// Pixel Spacing: [between rows (along j), between columns (along i)] in mm.
    pub pixel_spacing: Option<[f64; 2]>,
    /// Slice Thickness in mm.
    pub slice_thickness: Option<f64>,
    /// Spacing Between Slices in mm.
    pub spacing_between_slices: Option<f64>,
}

impl ImageHeader {
    /// Voxels this file declares (rows × columns × frames), saturating at `u64::MAX`.
    pub fn declared_voxels(&self) -> u64 {
        u64::from(self.rows)
            .saturating_mul(u64::from(self.columns))
            .saturating_mul(u64::from(self.frames))
    }

    /// True for greyscale images (one sample per pixel, MONOCHROME1/2).
    pub fn is_greyscale(&self) -> bool {
        self.samples_per_pixel == 1 && self.photometric.starts_with("MONOCHROME")
    }

    /// Range of stored values that Bits Stored and Pixel Representation allow.
    pub fn stored_range(&self) -> (i64, i64) {
        let bits = u32::from(self.bits_stored.clamp(1, 32));
        if self.signed {
            (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
        } else {
            (0, (1i64 << bits) - 1)
        }
    }

    /// Reads the header attributes; fails with a message when the file holds no image.
    pub fn from_object(obj: &InMemDicomObject) -> Result<Self, String> {
        let rows = find_int(obj, tags::ROWS);
        let columns = find_int(obj, tags::COLUMNS);
        let (rows, columns) = match (rows, columns) {
            (Some(r), Some(c)) if r > 0 && c > 0 => (r as u32, c as u32),
            _ => {
                let modality = text(obj, tags::MODALITY).unwrap_or_default();
                return Err(format!(
                    "no pixel data (no image rows/columns; modality '{modality}' is not an image)"
                ));
            }
        };
        let frames = match text(obj, tags::NUMBER_OF_FRAMES) {
            Some(s) => s
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|&n| n >= 1 && n <= i64::from(u32::MAX))
                .ok_or_else(|| format!("invalid Number of Frames '{s}'"))? as u32,
            None => 1,
        };
        let bits_allocated = find_int(obj, tags::BITS_ALLOCATED).unwrap_or(16) as u16;
        let bits_stored = find_int(obj, tags::BITS_STORED)
            .map(|b| b as u16)
            .unwrap_or(bits_allocated);
        if !matches!(bits_allocated, 8 | 16 | 32) {
            return Err(format!(
                "unsupported Bits Allocated {bits_allocated} (8, 16 or 32 supported)"
            ));
        }
        if bits_stored == 0 || bits_stored > bits_allocated {
            return Err(format!(
                "invalid Bits Stored {bits_stored} for Bits Allocated {bits_allocated}"
            ));
        }
        let orientation = find_floats(
            obj,
            tags::IMAGE_ORIENTATION_PATIENT,
            &[tags::PLANE_ORIENTATION_SEQUENCE],
        )
        .and_then(|v| <[f64; 6]>::try_from(v.get(..6)?).ok());
        let frame_positions = per_frame_positions(obj, frames);
        let position = find_floats(obj, tags::IMAGE_POSITION_PATIENT, &[tags::PLANE_POSITION_SEQUENCE])
            .and_then(|v| finite_point(&v))
            .or_else(|| frame_positions.as_ref().and_then(|p| p.first().copied()));
        let pixel_spacing = find_floats(obj, tags::PIXEL_SPACING, &[tags::PIXEL_MEASURES_SEQUENCE])
            .and_then(|v| <[f64; 2]>::try_from(v.get(..2)?).ok())
            .filter(|s| s.iter().all(|x| x.is_finite() && *x > 0.0));
        let positive = |v: Option<Vec<f64>>| v.and_then(|v| v.first().copied()).filter(|x| x.is_finite() && *x > 0.0);
        let rescale = |tag, default: f64| {
            find_floats(obj, tag, &[tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE])
                .and_then(|v| v.first().copied())
                .filter(|x| x.is_finite())
                .unwrap_or(default)
        };
        let rescale_slope = rescale(tags::RESCALE_SLOPE, 1.0);
        Ok(Self {
            series_uid: text(obj, tags::SERIES_INSTANCE_UID),
            modality: text(obj, tags::MODALITY).unwrap_or_default().to_ascii_uppercase(),
            description: text(obj, tags::SERIES_DESCRIPTION).unwrap_or_default(),
            rows,
            columns,
            frames,
            samples_per_pixel: find_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1) as u16,
            photometric: text(obj, tags::PHOTOMETRIC_INTERPRETATION)
                .unwrap_or_else(|| "MONOCHROME2".into())
                .to_ascii_uppercase(),
            bits_allocated,
            bits_stored,
            signed: find_int(obj, tags::PIXEL_REPRESENTATION) == Some(1),
            rescale_slope: if rescale_slope == 0.0 { 1.0 } else { rescale_slope },
            rescale_intercept: rescale(tags::RESCALE_INTERCEPT, 0.0),
            orientation,
            position,
            frame_positions,
            pixel_spacing,
            slice_thickness: positive(find_floats(
                obj,
                tags::SLICE_THICKNESS,
                &[tags::PIXEL_MEASURES_SEQUENCE],
            )),
            spacing_between_slices: positive(find_floats(
                obj,
                tags::SPACING_BETWEEN_SLICES,
                &[tags::PIXEL_MEASURES_SEQUENCE],
            )),
        })
    }
}

/// The first three values as a point when they are finite (a position of NaN or infinity is
/// treated as missing).
fn finite_point(values: &[f64]) -> Option<[f64; 3]> {
    <[f64; 3]>::try_from(values.get(..3)?)
        .ok()
        .filter(|p| p.iter().all(|c| c.is_finite()))
}

/// A string attribute with padding removed; `None` when absent or empty.
pub fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_string())
}

fn find_int(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    obj.get(tag)?.to_int::<i64>().ok()
}

/// A numeric attribute from the root data set, else from the Shared Functional Groups
/// (inside one of `macros`), else from the first Per-Frame Functional Groups item.
fn find_floats(obj: &InMemDicomObject, tag: Tag, macros: &[Tag]) -> Option<Vec<f64>> {
    if let Some(v) = obj
        .get(tag)
        .and_then(|e| e.to_multi_float64().ok())
        .filter(|v| !v.is_empty())
    {
        return Some(v);
    }
    for group in [
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
    ] {
        let Some(item) = obj.get(group).and_then(|e| e.items()).and_then(|items| items.first()) else {
            continue;
        };
        if let Some(v) = floats_in_macros(item, tag, macros) {
            return Some(v);
        }
    }
    None
}

fn floats_in_macros(item: &InMemDicomObject, tag: Tag, macros: &[Tag]) -> Option<Vec<f64>> {
    macros.iter().find_map(|m| {
        let inner = item.get(*m)?.items()?.first()?;
        inner.get(tag)?.to_multi_float64().ok().filter(|v| !v.is_empty())
    })
}

/// Image Position (Patient) of every frame from the Per-Frame Functional Groups Sequence,
/// when every frame has one.
fn per_frame_positions(obj: &InMemDicomObject, frames: u32) -> Option<Vec<[f64; 3]>> {
    let items = obj.get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)?.items()?;
    if items.len() != frames as usize {
        return None;
    }
    items
        .iter()
        .map(|item| {
            let v = floats_in_macros(item, tags::IMAGE_POSITION_PATIENT, &[tags::PLANE_POSITION_SEQUENCE])?;
            finite_point(&v)
        })
        .collect()
}
