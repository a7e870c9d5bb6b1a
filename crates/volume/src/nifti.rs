//! NIfTI-1 reading and writing (`.nii`, `.nii.gz`) with correct qform/sform handling.
//!
//! NIfTI stores world coordinates in RAS; this crate works in DICOM LPS. The conversion
//! (negating the first two world axes) happens here and nowhere else. Files are decoded with
//! the `nifti` crate; the affine is computed here because the crate's own qform code panics on
//! invalid headers, and hostile files must give errors instead.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use nifti::{DataElement, InMemNiftiVolume, NiftiHeader, NiftiType};

use crate::{Geometry, Sample, Volume};

/// Largest grid this reader accepts before allocating (2³¹ voxels, 4 GiB of i16).
pub const MAX_NIFTI_VOXELS: u64 = 1 << 31;

/// Voxel types this reader decodes.
const SUPPORTED_TYPES: [NiftiType; 8] = [
    NiftiType::Uint8,
    NiftiType::Int8,
    NiftiType::Int16,
    NiftiType::Uint16,
    NiftiType::Int32,
    NiftiType::Uint32,
    NiftiType::Float32,
    NiftiType::Float64,
];

/// Errors reading or writing NIfTI files; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum NiftiError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The header is not a valid NIfTI-1 header or declares unusable values.
    #[error("{path}: invalid NIfTI header: {reason}")]
    InvalidHeader {
        /// File concerned.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The declared grid is larger than this reader accepts.
    #[error("{path}: declared grid {dims:?} ({voxels} voxels) exceeds the limit of {limit} voxels")]
    TooLarge {
        /// File concerned.
        path: String,
        /// Declared grid.
        dims: [u64; 3],
        /// Declared voxel count.
        voxels: u64,
        /// Accepted maximum.
        limit: u64,
    },
    /// The voxel data type is not supported (complex, RGB, 64-bit integers).
    #[error("{path}: unsupported NIfTI data type {datatype}")]
    UnsupportedType {
        /// File concerned.
        path: String,
        /// Declared NIfTI datatype code.
        datatype: i16,
    },
    /// The file ends before the voxel data its header declares.
    #[error("{path}: the file is truncated: the header declares {expected} bytes of voxel data but only {actual} are present; export or download it again")]
    Truncated {
        /// File concerned.
        path: String,
        /// Voxel bytes the header declares.
        expected: u64,
        /// Voxel bytes present.
        actual: u64,
    },
    /// The `nifti` crate rejected the file (bad encoding).
    #[error("{path}: {source}")]
    Decode {
        /// File concerned.
        path: String,
        /// Underlying error.
        source: nifti::NiftiError,
    },
}

/// Sample types this module writes.
pub trait NiftiSample: Sample + DataElement + bytemuck::Pod {}
impl NiftiSample for u8 {}
impl NiftiSample for i16 {}
impl NiftiSample for u16 {}
impl NiftiSample for f32 {}

/// A NIfTI scan stored as i16 with a linear mapping to real values.
#[derive(Debug, Clone)]
pub struct NiftiScan {
    /// Stored samples; real value = `stored * slope + intercept`.
    pub volume: Volume<i16>,
    /// Multiplier from stored to real values.
    pub slope: f64,
    /// Offset from stored to real values.
    pub intercept: f64,
}

fn path_string(path: &Path) -> String {
    path.display().to_string()
}

fn open_stream(path: &Path) -> Result<Box<dyn Read>, NiftiError> {
    let file = File::open(path).map_err(|source| NiftiError::Io {
        path: path_string(path),
        source,
    })?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    Ok(if gz {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// A validated header with a reader positioned at the first voxel.
struct OpenedNifti {
    header: NiftiHeader,
    dims: [usize; 3],
    /// Voxel data bytes the header declares.
    data_bytes: u64,
    geometry: Geometry,
    stream: Box<dyn Read>,
}

/// Reads the header, validates it and returns it with a reader positioned at the voxel data.
fn open_validated(path: &Path) -> Result<OpenedNifti, NiftiError> {
    let name = path_string(path);
    let invalid = |reason: String| NiftiError::InvalidHeader {
        path: name.clone(),
        reason,
    };
    let mut stream = open_stream(path)?;
    let header = NiftiHeader::from_reader(&mut stream).map_err(|e| invalid(e.to_string()))?;
    if &header.magic != b"n+1\0" {
        return Err(invalid("not a single-file NIfTI-1 image (magic is not \"n+1\")".into()));
    }
    let rank = header.dim[0];
    if !(1..=7).contains(&rank) {
        return Err(invalid(format!("dimension count {rank} is not in 1..=7")));
    }
    let rank = rank as usize;
    let declared = &header.dim[1..=rank];
    if declared.iter().any(|&d| d < 1) {
        return Err(invalid(format!("grid {declared:?} has an empty or negative axis")));
    }
    if declared.iter().skip(3).any(|&d| d != 1) {
        return Err(invalid(format!("a 3D image was expected but the grid is {declared:?}")));
    }
    let dims: [u64; 3] = std::array::from_fn(|a| declared.get(a).map_or(1, |&d| d as u64));
    let voxels = dims.iter().product::<u64>();
    if voxels > MAX_NIFTI_VOXELS {
        return Err(NiftiError::TooLarge {
            path: name,
            dims,
            voxels,
            limit: MAX_NIFTI_VOXELS,
        });
    }
    let voxel_bytes = supported_voxel_bytes(&name, &header)?;
    let geometry = geometry_from_header(&header).map_err(invalid)?;
    // Skip the extensions between the header (348 bytes) and the data.
    if !(header.vox_offset.is_finite() && header.vox_offset >= 0.0) {
        return Err(invalid(format!(
            "voxel offset {} is not a byte offset",
            header.vox_offset
        )));
    }
    let skip = (header.vox_offset as u64).saturating_sub(348);
    if skip > 64 << 20 {
        return Err(invalid(format!(
            "voxel offset {} is implausibly large",
            header.vox_offset
        )));
    }
    std::io::copy(&mut (&mut stream).take(skip), &mut std::io::sink()).map_err(|source| NiftiError::Io {
        path: name.clone(),
        source,
    })?;
    Ok(OpenedNifti {
        header,
        dims: dims.map(|d| d as usize),
        data_bytes: voxels * voxel_bytes,
        geometry,
        stream,
    })
}

/// Bytes per voxel of a supported datatype whose `bitpix` agrees with it.
fn supported_voxel_bytes(path: &str, header: &NiftiHeader) -> Result<u64, NiftiError> {
    let unsupported = || NiftiError::UnsupportedType {
        path: path.to_string(),
        datatype: header.datatype,
    };
    let datatype = header.data_type().map_err(|_| unsupported())?;
    if !SUPPORTED_TYPES.contains(&datatype) {
        return Err(unsupported());
    }
    let bytes = datatype.size_of() as u64;
    if i64::from(header.bitpix) != 8 * bytes as i64 {
        return Err(NiftiError::InvalidHeader {
            path: path.to_string(),
            reason: format!(
                "{} bits per voxel declared for data type {:?} ({} bits)",
                header.bitpix,
                datatype,
                8 * bytes
            ),
        });
    }
    Ok(bytes)
}

fn read_data(path: &Path) -> Result<(NiftiHeader, [usize; 3], Geometry, InMemNiftiVolume), NiftiError> {
    let OpenedNifti {
        header,
        dims,
        data_bytes,
        geometry,
        stream,
    } = open_validated(path)?;
    // Read what is there (the buffer grows with the data, so a header declaring more than the
    // file holds never reserves the declared size), then check it is all there.
    let mut raw = Vec::new();
    stream
        .take(data_bytes)
        .read_to_end(&mut raw)
        .map_err(|source| NiftiError::Io {
            path: path_string(path),
            source,
        })?;
    if (raw.len() as u64) < data_bytes {
        return Err(NiftiError::Truncated {
            path: path_string(path),
            expected: data_bytes,
            actual: raw.len() as u64,
        });
    }
    let data = InMemNiftiVolume::from_raw_data(&header, raw).map_err(|source| NiftiError::Decode {
        path: path_string(path),
        source,
    })?;
    Ok((header, dims, geometry, data))
}

fn unit_scaling(header: &NiftiHeader) -> bool {
    (header.scl_slope == 0.0 || header.scl_slope == 1.0) && header.scl_inter == 0.0
}

/// Reads a 3D NIfTI image as real values (`scl_slope`/`scl_inter` applied), geometry in LPS.
pub fn read_nifti(path: &Path) -> Result<Volume<f32>, NiftiError> {
    let (header, dims, geometry, data) = read_data(path)?;
    let values = typed_as_f32(path, &header, data)?;
    let scale = |v: f32| {
        if unit_scaling(&header) {
            v
        } else {
            v * header.scl_slope + header.scl_inter
        }
    };
    let values = values.into_iter().map(scale).collect();
    Volume::from_vec(dims, values, geometry).map_err(|e| NiftiError::InvalidHeader {
        path: path_string(path),
        reason: e.to_string(),
    })
}

/// Decodes the voxels as their stored type `S` and maps each to `T`.
fn decode_typed<S: DataElement, T>(
    data: InMemNiftiVolume,
    path: &Path,
    map: impl Fn(S) -> T,
) -> Result<Vec<T>, NiftiError> {
    let stored = data.into_nifti_typed_data::<S>().map_err(|source| NiftiError::Decode {
        path: path_string(path),
        source,
    })?;
    Ok(stored.into_iter().map(map).collect())
}

fn typed_as_f32(path: &Path, header: &NiftiHeader, data: InMemNiftiVolume) -> Result<Vec<f32>, NiftiError> {
    let decode = |source| NiftiError::Decode {
        path: path_string(path),
        source,
    };
    let datatype = header.data_type().map_err(decode)?;
    let out = match datatype {
        NiftiType::Uint8 => decode_typed(data, path, <f32 as From<u8>>::from)?,
        NiftiType::Int8 => decode_typed(data, path, <f32 as From<i8>>::from)?,
        NiftiType::Int16 => decode_typed(data, path, <f32 as From<i16>>::from)?,
        NiftiType::Uint16 => decode_typed(data, path, <f32 as From<u16>>::from)?,
        NiftiType::Int32 => decode_typed(data, path, |v: i32| v as f32)?,
        NiftiType::Uint32 => decode_typed(data, path, |v: u32| v as f32)?,
        NiftiType::Float32 => decode_typed(data, path, |v: f32| v)?,
        NiftiType::Float64 => decode_typed(data, path, |v: f64| v as f32)?,
        _ => {
            return Err(NiftiError::UnsupportedType {
                path: path_string(path),
                datatype: header.datatype,
            })
        }
    };
    Ok(out)
}

/// Reads a 3D NIfTI scan into i16 storage.
///
/// Integer files whose values fit i16 with unit scaling are read without an intermediate
/// float copy (the common CT case: stored values are HU). Anything else is mapped linearly
/// into the i16 range and the mapping is returned in `slope`/`intercept`.
pub fn read_nifti_scan(path: &Path) -> Result<NiftiScan, NiftiError> {
    let (header, dims, geometry, data) = read_data(path)?;
    let decode = |source| NiftiError::Decode {
        path: path_string(path),
        source,
    };
    let datatype = header.data_type().map_err(decode)?;
    let (values, slope, intercept) = match (datatype, unit_scaling(&header)) {
        (NiftiType::Int16, true) => (decode_typed(data, path, |v: i16| v)?, 1.0, 0.0),
        (NiftiType::Uint8, true) => (decode_typed(data, path, <i16 as From<u8>>::from)?, 1.0, 0.0),
        (NiftiType::Int8, true) => (decode_typed(data, path, <i16 as From<i8>>::from)?, 1.0, 0.0),
        _ => {
            let real = typed_as_f32(path, &header, data)?;
            let scaled: Vec<f32> = if unit_scaling(&header) {
                real
            } else {
                real.into_iter()
                    .map(|v| v * header.scl_slope + header.scl_inter)
                    .collect()
            };
            quantize_to_i16(scaled)
        }
    };
    let volume = Volume::from_vec(dims, values, geometry).map_err(|e| NiftiError::InvalidHeader {
        path: path_string(path),
        reason: e.to_string(),
    })?;
    Ok(NiftiScan {
        volume,
        slope,
        intercept,
    })
}

/// Maps real values into i16, exactly when they are integers that fit, linearly otherwise.
/// Returns `(stored, slope, intercept)` with real ≈ stored · slope + intercept.
pub fn quantize_to_i16(real: Vec<f32>) -> (Vec<i16>, f64, f64) {
    let finite = real.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let integral = real.iter().all(|v| v.is_finite() && v.fract() == 0.0);
    if integral && lo >= i16::MIN as f32 && hi <= i16::MAX as f32 {
        return (real.into_iter().map(|v| v as i16).collect(), 1.0, 0.0);
    }
    if lo > hi {
        return (vec![0; real.len()], 1.0, 0.0);
    }
    let slope = ((hi - lo) as f64 / 65000.0).max(f64::MIN_POSITIVE);
    let intercept = lo as f64 + 32500.0 * slope;
    let stored = real
        .into_iter()
        .map(|v| {
            if v.is_finite() {
                ((v as f64 - intercept) / slope).round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            }
        })
        .collect();
    (stored, slope, intercept)
}

/// LPS geometry from a header: sform when set, else qform, else pixdim only.
fn geometry_from_header(h: &NiftiHeader) -> Result<Geometry, String> {
    let ras = if h.sform_code > 0 {
        let rows = [h.srow_x, h.srow_y, h.srow_z];
        let mut m = [[0.0; 4]; 4];
        for r in 0..3 {
            for c in 0..4 {
                m[r][c] = rows[r][c] as f64;
            }
        }
        m[3][3] = 1.0;
        m
    } else {
        let spacing: [f64; 3] = std::array::from_fn(|a| h.pixdim[a + 1].abs() as f64);
        if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(format!("voxel size {spacing:?} is not positive"));
        }
        let rotation = if h.qform_code > 0 {
            quaternion_to_rotation(h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64)
        } else {
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        };
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let offset = if h.qform_code > 0 {
            [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from)
        } else {
            [0.0; 3]
        };
        let mut m = [[0.0; 4]; 4];
        for r in 0..3 {
            for c in 0..3 {
                let flip = if c == 2 { qfac } else { 1.0 };
                m[r][c] = rotation[r][c] * spacing[c] * flip;
            }
            m[r][3] = offset[r];
        }
        m[3][3] = 1.0;
        m
    };
    Geometry::from_affine(&ras_lps_swap(ras)).ok_or_else(|| "the voxel-to-world affine is degenerate".to_string())
}

/// RAS ↔ LPS: negates the first two world rows (the map is its own inverse).
fn ras_lps_swap(mut m: [[f64; 4]; 4]) -> [[f64; 4]; 4] {
    for row in m.iter_mut().take(2) {
        for v in row.iter_mut() {
            *v = -*v;
        }
    }
    m
}

fn quaternion_to_rotation(b: f64, c: f64, d: f64) -> [[f64; 3]; 3] {
    let a2 = 1.0 - (b * b + c * c + d * d);
    let (a, b, c, d) = if a2 < 1e-7 {
        let n = (b * b + c * c + d * d).sqrt().max(f64::MIN_POSITIVE);
        (0.0, b / n, c / n, d / n)
    } else {
        (a2.sqrt(), b, c, d)
    };
    [
        [
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
        ],
        [
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
        ],
        [
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        ],
    ]
}

/// Quaternion (b, c, d) and qfac of an orthonormal rotation (following the NIfTI reference algorithm).
fn rotation_to_quaternion(mut r: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 {
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (mut a, mut b, mut c, mut d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r[2][1] - r[1][2]) / a;
        c = 0.25 * (r[0][2] - r[2][0]) / a;
        d = 0.25 * (r[1][0] - r[0][1]) / a;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r[0][1] + r[1][0]) / b;
            d = 0.25 * (r[0][2] + r[2][0]) / b;
            a = 0.25 * (r[2][1] - r[1][2]) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r[0][1] + r[1][0]) / c;
            d = 0.25 * (r[1][2] + r[2][1]) / c;
            a = 0.25 * (r[0][2] - r[2][0]) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r[0][2] + r[2][0]) / d;
            c = 0.25 * (r[1][2] + r[2][1]) / d;
            a = 0.25 * (r[1][0] - r[0][1]) / d;
        }
        if a < 0.0 {
            (b, c, d) = (-b, -c, -d);
            a = -a;
        }
    }
    debug_assert!(a >= 0.0);
    ([b, c, d], qfac)
}

/// Writes a 3D NIfTI-1 file (gzip-compressed when the name ends in `.gz`) whose sform and
/// qform both encode the volume's geometry (converted to RAS), so that it overlays its source
/// scan in any viewer. Units are declared as millimetres.
pub fn write_nifti<T: NiftiSample>(path: &Path, volume: &Volume<T>) -> Result<(), NiftiError> {
    let g = &volume.geometry;
    let ras = ras_lps_swap(g.affine());
    let mut header = NiftiHeader::default();
    for (row, srow) in [&mut header.srow_x, &mut header.srow_y, &mut header.srow_z]
        .into_iter()
        .enumerate()
    {
        *srow = std::array::from_fn(|c| ras[row][c] as f32);
    }
    let rotation: [[f64; 3]; 3] = std::array::from_fn(|r| std::array::from_fn(|c| ras[r][c] / g.spacing[c]));
    let ([b, c, d], qfac) = rotation_to_quaternion(rotation);
    header.quatern_b = b as f32;
    header.quatern_c = c as f32;
    header.quatern_d = d as f32;
    header.quatern_x = ras[0][3] as f32;
    header.quatern_y = ras[1][3] as f32;
    header.quatern_z = ras[2][3] as f32;
    header.pixdim = [
        qfac as f32,
        g.spacing[0] as f32,
        g.spacing[1] as f32,
        g.spacing[2] as f32,
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    header.qform_code = 1;
    header.sform_code = 1;
    header.xyzt_units = 2; // NIFTI_UNITS_MM
    let [nx, ny, nz] = volume.dims();
    let view = ndarray::ArrayView3::from_shape(ndarray::ShapeBuilder::f((nx, ny, nz)), volume.data()).map_err(|e| {
        NiftiError::InvalidHeader {
            path: path_string(path),
            reason: e.to_string(),
        }
    })?;
    nifti::writer::WriterOptions::new(path)
        .reference_header(&header)
        .write_nifti(&view)
        .map_err(|source| NiftiError::Decode {
            path: path_string(path),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oblique_geometry() -> Geometry {
        let (s, c) = (0.3f64.sin(), 0.3f64.cos());
        Geometry {
            spacing: [0.8, 0.9, 2.5],
            origin: [-120.5, 33.0, 410.25],
            direction: [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    #[test]
    fn write_then_read_keeps_voxels_and_geometry() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, flip) in [("a.nii.gz", false), ("b.nii", true)] {
            let mut g = oblique_geometry();
            if flip {
                for row in g.direction.iter_mut() {
                    row[2] = -row[2];
                }
            }
            let data: Vec<i16> = (0..4 * 5 * 6).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
            let v = Volume::from_vec([4, 5, 6], data, g).expect("shape");
            let path = dir.path().join(name);
            write_nifti(&path, &v).expect("write");
            let back = read_nifti_scan(&path).expect("read");
            assert_eq!(back.volume.data(), v.data());
            assert_eq!(back.volume.dims(), v.dims());
            let (a, b) = (back.volume.geometry.affine(), v.geometry.affine());
            for r in 0..4 {
                for c in 0..4 {
                    assert!((a[r][c] - b[r][c]).abs() < 1e-4, "{name}: affine differs at {r},{c}");
                }
            }
            // qform alone must give the same geometry as sform.
            let mut header = open_validated(&path).expect("header").header;
            header.sform_code = 0;
            let q = geometry_from_header(&header).expect("qform").affine();
            for r in 0..3 {
                for c in 0..4 {
                    assert!((q[r][c] - b[r][c]).abs() < 1e-4, "{name}: qform differs at {r},{c}");
                }
            }
        }
    }

    #[test]
    fn real_ct_is_lps_and_hu() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-abdomen-3mm/ct.nii.gz");
        let scan = read_nifti_scan(&path).expect("read CT");
        assert_eq!(scan.volume.dims(), [122, 101, 30]);
        assert_eq!((scan.slope, scan.intercept), (1.0, 0.0));
        let min = scan.volume.data().iter().min().copied().unwrap_or(0);
        assert!(
            (-1100..=-900).contains(&min),
            "air should be about -1000 HU, min is {min}"
        );
        let g = scan.volume.geometry;
        assert!(g.spacing.iter().all(|s| (s - 3.0).abs() < 1e-3));
        let as_f32 = read_nifti(&path).expect("read as f32");
        assert!(as_f32
            .data()
            .iter()
            .zip(scan.volume.data())
            .all(|(a, b)| *a == *b as f32));
    }

    #[test]
    fn hostile_files_give_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let empty = dir.path().join("empty.nii");
        std::fs::write(&empty, b"").expect("write");
        assert!(read_nifti(&empty).is_err());
        let garbage = dir.path().join("garbage.nii");
        std::fs::write(&garbage, vec![0x5a; 2000]).expect("write");
        assert!(read_nifti(&garbage).is_err());
        // A valid header whose data is truncated, and one declaring an enormous grid.
        let v = Volume::from_vec([8, 8, 8], vec![1i16; 512], Geometry::default()).expect("shape");
        let good = dir.path().join("good.nii");
        write_nifti(&good, &v).expect("write");
        let bytes = std::fs::read(&good).expect("read");
        let truncated = dir.path().join("truncated.nii");
        std::fs::write(&truncated, &bytes[..bytes.len() - 100]).expect("write");
        let err = read_nifti(&truncated).expect_err("truncated must fail");
        assert!(err.to_string().contains("truncated.nii"));
        let mut huge = bytes.clone();
        for axis in 1..=3 {
            let at = 40 + 2 * axis; // dim[axis], little-endian u16
            huge[at..at + 2].copy_from_slice(&[0xff, 0xff]);
        }
        let huge_path = dir.path().join("huge.nii");
        std::fs::write(&huge_path, &huge).expect("write");
        assert!(matches!(read_nifti(&huge_path), Err(NiftiError::TooLarge { .. })));
        let missing = dir.path().join("missing.nii.gz");
        assert!(matches!(read_nifti(&missing), Err(NiftiError::Io { .. })));
    }

    #[test]
    fn quantize_keeps_integers_and_scales_floats() {
        let (v, s, i) = quantize_to_i16(vec![-1000.0, 0.0, 3000.0]);
        assert_eq!((v, s, i), (vec![-1000, 0, 3000], 1.0, 0.0));
        let (v, s, i) = quantize_to_i16(vec![0.0, 0.5, 100000.0]);
        for (stored, real) in v.iter().zip([0.0, 0.5, 100000.0]) {
            assert!((*stored as f64 * s + i - real).abs() <= s);
        }
    }
}
