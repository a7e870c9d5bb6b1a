//! Writing a volume as a DICOM CT series (one file per slice), for tests and round trips.

use std::path::{Path, PathBuf};

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use dicom_pixeldata::Transcode;
use dicom_transfer_syntax_registry::entries::{EXPLICIT_VR_LITTLE_ENDIAN, JPEG_LS_LOSSLESS_IMAGE_COMPRESSION};
use rayon::prelude::*;

use crate::Volume;

/// Transfer syntax of written files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteTransferSyntax {
    /// Explicit VR Little Endian, uncompressed, signed 16-bit samples.
    #[default]
    ExplicitVrLittleEndian,
    /// JPEG-LS Lossless (1.2.840.10008.1.2.4.80, CharLS), unsigned 16-bit samples with the
    /// volume minimum as Rescale Intercept. Lossless.
    JpegLsLossless,
}

/// What to put into the written files besides pixels and geometry.
#[derive(Debug, Clone)]
pub struct WriteSeriesOptions {
    /// Pixel encoding.
    pub transfer_syntax: WriteTransferSyntax,
    /// Patient's Name (PN, e.g. `Doe^John`).
    pub patient_name: String,
    /// Patient ID.
    pub patient_id: String,
    /// Patient's Birth Date (`YYYYMMDD`, may be empty).
    pub patient_birth_date: String,
    /// Study Instance UID; a new one when `None`.
    pub study_uid: Option<String>,
    /// Series Instance UID; a new one when `None`.
    pub series_uid: Option<String>,
    /// Series Description.
    pub series_description: String,
}

impl Default for WriteSeriesOptions {
    fn default() -> Self {
        Self {
            transfer_syntax: WriteTransferSyntax::default(),
            patient_name: "Anonymous".into(),
            patient_id: "ANON".into(),
            patient_birth_date: String::new(),
            study_uid: None,
            series_uid: None,
            series_description: "medprint".into(),
        }
    }
}

/// Why a series could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DicomWriteError {
    /// The volume cannot be represented (empty, more than 65535 rows/columns).
    #[error("cannot write a {dims:?} volume as DICOM: {reason}")]
    Unsupported {
        /// Grid size.
        dims: [usize; 3],
        /// Reason.
        reason: String,
    },
    /// Creating the folder failed.
    #[error("{path}: {source}")]
    Io {
        /// Folder.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Encoding or writing one file failed.
    #[error("{path}: {problem}")]
    Encode {
        /// File.
        path: String,
        /// Reason.
        problem: String,
    },
}

/// A new UID under the `2.25` (UUID-derived) root.
pub fn new_uid() -> String {
    format!("2.25.{}", uuid::Uuid::new_v4().as_u128())
}

/// Formats a Decimal String value (at most 16 characters) with as many digits as fit.
fn decimal_string(v: f64) -> String {
    for precision in (0..=10).rev() {
        let s = format!("{v:.precision$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        let s = if s == "-0" { "0".to_string() } else { s };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.3e}")
}

fn decimals(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::Strs(values.iter().map(|&v| decimal_string(v)).collect())
}

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: PrimitiveValue) {
    obj.put(DataElement::new(tag, vr, value));
}

fn text(value: &str) -> PrimitiveValue {
    PrimitiveValue::from(value)
}

/// Writes one CT image file per k-slice of `volume` into `dir` (created if needed) and
/// returns their paths (`IM00000.dcm`, … in slice order).
///
/// Geometry tags follow the volume: Image Position (Patient) of slice k is
/// `origin + k · spacing_k · direction_k`, Image Orientation (Patient) holds the i and j
/// directions, Pixel Spacing is `[spacing_j, spacing_i]`, Slice Thickness `spacing_k`.
/// Stored values are the volume's values (Rescale Slope 1, Intercept 0), or, for JPEG-LS,
/// `value − min` with Intercept `min`.
pub fn write_dicom_series(
    dir: &Path,
    volume: &Volume<i16>,
    options: &WriteSeriesOptions,
) -> Result<Vec<PathBuf>, DicomWriteError> {
    let dims = volume.dims();
    let unsupported = |reason: &str| DicomWriteError::Unsupported {
        dims,
        reason: reason.to_string(),
    };
    if volume.is_empty() {
        return Err(unsupported("the volume is empty"));
    }
    let columns = u16::try_from(dims[0]).map_err(|_| unsupported("more than 65535 columns"))?;
    let rows = u16::try_from(dims[1]).map_err(|_| unsupported("more than 65535 rows"))?;
    std::fs::create_dir_all(dir).map_err(|source| DicomWriteError::Io {
        path: dir.display().to_string(),
        source,
    })?;

    let g = volume.geometry;
    let study_uid = options.study_uid.clone().unwrap_or_else(new_uid);
    let series_uid = options.series_uid.clone().unwrap_or_else(new_uid);
    let frame_of_reference = new_uid();
    let unsigned = options.transfer_syntax == WriteTransferSyntax::JpegLsLossless;
    let offset = if unsigned {
        volume.data().par_iter().copied().min().unwrap_or(0)
    } else {
        0
    };
    let column = |c: usize| [g.direction[0][c], g.direction[1][c], g.direction[2][c]];
    let (dir_i, dir_j, dir_k) = (column(0), column(1), column(2));

    (0..dims[2])
        .into_par_iter()
        .map(|k| {
            let path = dir.join(format!("IM{k:05}.dcm"));
            let shown = path.display().to_string();
            let encode = |problem: String| DicomWriteError::Encode {
                path: shown.clone(),
                problem,
            };
            let position: Vec<f64> = (0..3)
                .map(|r| g.origin[r] + k as f64 * g.spacing[2] * dir_k[r])
                .collect();
            let instance_uid = new_uid();
            let mut obj = InMemDicomObject::new_empty();
            put(&mut obj, tags::SOP_CLASS_UID, VR::UI, text(uids::CT_IMAGE_STORAGE));
            put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, text(&instance_uid));
            put(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, text(&study_uid));
            put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, text(&series_uid));
            put(
                &mut obj,
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                text(&frame_of_reference),
            );
            put(
                &mut obj,
                tags::IMAGE_TYPE,
                VR::CS,
                PrimitiveValue::Strs(["ORIGINAL", "PRIMARY", "AXIAL"].iter().map(|s| s.to_string()).collect()),
            );
            put(&mut obj, tags::MODALITY, VR::CS, text("CT"));
            put(
                &mut obj,
                tags::SERIES_DESCRIPTION,
                VR::LO,
                text(&options.series_description),
            );
            put(&mut obj, tags::PATIENT_NAME, VR::PN, text(&options.patient_name));
            put(&mut obj, tags::PATIENT_ID, VR::LO, text(&options.patient_id));
            put(
                &mut obj,
                tags::PATIENT_BIRTH_DATE,
                VR::DA,
                text(&options.patient_birth_date),
            );
            put(&mut obj, tags::SERIES_NUMBER, VR::IS, text("1"));
            put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, text(&(k + 1).to_string()));
            put(&mut obj, tags::IMAGE_POSITION_PATIENT, VR::DS, decimals(&position));
            put(
                &mut obj,
                tags::IMAGE_ORIENTATION_PATIENT,
                VR::DS,
                decimals(&[dir_i[0], dir_i[1], dir_i[2], dir_j[0], dir_j[1], dir_j[2]]),
            );
            put(&mut obj, tags::SLICE_THICKNESS, VR::DS, decimals(&[g.spacing[2]]));
            put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
            put(&mut obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, text("MONOCHROME2"));
            put(&mut obj, tags::ROWS, VR::US, PrimitiveValue::from(rows));
            put(&mut obj, tags::COLUMNS, VR::US, PrimitiveValue::from(columns));
            put(
                &mut obj,
                tags::PIXEL_SPACING,
                VR::DS,
                decimals(&[g.spacing[1], g.spacing[0]]),
            );
            put(&mut obj, tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
            put(&mut obj, tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16));
            put(&mut obj, tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16));
            put(
                &mut obj,
                tags::PIXEL_REPRESENTATION,
                VR::US,
                PrimitiveValue::from(u16::from(!unsigned)),
            );
            put(
                &mut obj,
                tags::RESCALE_INTERCEPT,
                VR::DS,
                decimals(&[f64::from(offset)]),
            );
            put(&mut obj, tags::RESCALE_SLOPE, VR::DS, text("1"));
            put(&mut obj, tags::RESCALE_TYPE, VR::LO, text("HU"));
            // Two's-complement bit patterns for signed output; value − min for unsigned.
            let samples: Vec<u16> = volume
                .slice_z(k)
                .iter()
                .map(|&v| {
                    if unsigned {
                        (i32::from(v) - i32::from(offset)) as u16
                    } else {
                        v as u16
                    }
                })
                .collect();
            put(&mut obj, tags::PIXEL_DATA, VR::OW, PrimitiveValue::U16(samples.into()));
            let meta = FileMetaTableBuilder::new()
                .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
                .media_storage_sop_instance_uid(instance_uid.as_str())
                .transfer_syntax(EXPLICIT_VR_LITTLE_ENDIAN.uid());
            let mut file = obj.with_meta(meta).map_err(|e| encode(e.to_string()))?;
            if unsigned {
                file.transcode(&JPEG_LS_LOSSLESS_IMAGE_COMPRESSION.erased())
                    .map_err(|e| encode(format!("JPEG-LS encoding failed: {e}")))?;
            }
            file.write_to_file(&path).map_err(|e| encode(e.to_string()))?;
            Ok(path)
        })
        .collect()
}
