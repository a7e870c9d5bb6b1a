//! Bounded fuzzing of the scan readers through their public entry points: single DICOM
//! files (`load_scan`), NIfTI (`read_nifti_scan`, `read_nifti`) and zip archives of DICOM
//! series (`load_scan`, which uses `read_zip`).
//!
//! Each campaign starts from real, valid files (the shared DICOM samples and transfer-syntax
//! set, the abdomen CT as `.nii.gz` and `.nii`, series written by our DICOM writer) and
//! mutates them: format-aware edits (enormous or zero rows/columns/frames/bits, non-finite
//! geometry, swapped transfer syntaxes, cut pixel data; NIfTI `dim[]` up to `i16::MAX` and
//! negative, hostile datatypes, offsets and affines; zip sizes, counts and offsets set to
//! extreme values, hostile names, nested archives, edited entries) plus byte-level
//! truncation, flips, insertions, deletions and duplications. Each reader must return a
//! usable scan or a typed error; never panic, never grow the heap far beyond the input.
//! Reproduce one case with `MEDPRINT_FUZZ_CASE=<index>`; run longer with
//! `MEDPRINT_FUZZ_CASES=<count>`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use medprint_mutate::{
    random_mutations, run_campaign, Campaign, CountingAllocator, Mutation, Verdict, INTERESTING_U16, INTERESTING_U32,
};
use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions, WriteTransferSyntax};
use medprint_volume::input::{load_scan, LoadOptions, LoadedScan};
use medprint_volume::nifti::{read_nifti, read_nifti_scan, write_nifti};
use medprint_volume::{Geometry, Volume};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Heap a case may use regardless of its size: decoders keep tables and a thread pool.
const HEAP_FIXED: usize = 64 << 20;
/// Heap per input byte: decoded pixels (≤ 2 bytes per compressed byte for the samples here,
/// far more for JPEG), the i16 grid, the parsed object and the read buffer.
const HEAP_PER_INPUT_BYTE: usize = 24;

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(path)
}

fn read_dir_files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(shared(dir))
        .expect("shared data folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = format!("{dir}/{}", p.file_name().unwrap_or_default().to_string_lossy());
            (name, std::fs::read(&p).expect("read sample"))
        })
        .collect()
}

/// A small CT series (value `10·k + i`, 2 mm slices) written by our writer; file bytes per slice.
fn phantom_series(syntax: WriteTransferSyntax) -> Vec<Vec<u8>> {
    let (nx, ny, nz) = (12, 10, 4);
    let data = (0..nx * ny * nz)
        .map(|n| (10 * (n / (nx * ny)) + n % nx) as i16 - 1000)
        .collect();
    let volume = Volume::from_vec(
        [nx, ny, nz],
        data,
        Geometry::axis_aligned([0.8, 0.9, 2.0], [-10.0, 5.0, 100.0]),
    )
    .expect("shape");
    let dir = tempfile::tempdir().expect("tempdir");
    let options = WriteSeriesOptions {
        transfer_syntax: syntax,
        ..WriteSeriesOptions::default()
    };
    write_dicom_series(dir.path(), &volume, &options)
        .expect("write series")
        .iter()
        .map(|p| std::fs::read(p).expect("read slice"))
        .collect()
}

/// Parses a DICOM file with preamble, for attribute-level edits (`None` for other layouts).
fn parse_dicom(bytes: &[u8]) -> Option<DefaultDicomObject> {
    let body = bytes.get(128..).filter(|b| b.starts_with(b"DICM"))?;
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_all()
        .from_reader(body)
        .ok()
}

/// Unsigned attributes and the values they are set to.
const US_ATTRIBUTES: [Tag; 8] = [
    tags::ROWS,
    tags::COLUMNS,
    tags::BITS_ALLOCATED,
    tags::BITS_STORED,
    tags::HIGH_BIT,
    tags::PIXEL_REPRESENTATION,
    tags::SAMPLES_PER_PIXEL,
    tags::PLANAR_CONFIGURATION,
];
const US_EXTRA_VALUES: [u16; 6] = [3, 12, 16, 24, 32, 64];

/// Text attributes with hostile values (`\` separates multiple values).
const TEXT_ATTRIBUTES: [(Tag, VR, &[&str]); 11] = [
    (
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &[
            "0",
            "-1",
            "2",
            "1000",
            "65535",
            "2147483647",
            "4294967295",
            "99999999999",
            "x",
        ],
    ),
    (
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        &["nan\\0\\0", "1e308\\-1e308\\1e308", "0\\0", "inf\\0\\0", "0\\0\\1e-300"],
    ),
    (
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        &[
            "0\\0\\0\\0\\0\\0",
            "1\\0\\0\\1\\0\\0",
            "nan\\0\\0\\0\\1\\0",
            "1\\0\\0\\0\\1",
            "1e308\\0\\0\\0\\1e308\\0",
        ],
    ),
    (
        tags::PIXEL_SPACING,
        VR::DS,
        &["0\\0", "-1\\-1", "nan\\1", "1e-300\\1e-300", "1e300\\1e300", "1"],
    ),
    (tags::SLICE_THICKNESS, VR::DS, &["0", "-5", "nan", "1e300", "1e-300"]),
    (
        tags::SPACING_BETWEEN_SLICES,
        VR::DS,
        &["0", "-5", "nan", "1e300", "1e-300"],
    ),
    (
        tags::RESCALE_SLOPE,
        VR::DS,
        &["0", "nan", "1e308", "-1e308", "1e-308", "-1"],
    ),
    (tags::RESCALE_INTERCEPT, VR::DS, &["1e308", "-1e308", "nan", "0.5"]),
    (
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        &["MONOCHROME1", "RGB", "PALETTE COLOR", "YBR_FULL_422", ""],
    ),
    (tags::MODALITY, VR::CS, &["CT", "MR", ""]),
    (tags::SERIES_INSTANCE_UID, VR::UI, &["", "1.2.3"]),
];

/// Attributes that are removed.
const REMOVED_ATTRIBUTES: [Tag; 9] = [
    tags::ROWS,
    tags::COLUMNS,
    tags::PIXEL_DATA,
    tags::BITS_ALLOCATED,
    tags::IMAGE_POSITION_PATIENT,
    tags::IMAGE_ORIENTATION_PATIENT,
    tags::PIXEL_SPACING,
    tags::NUMBER_OF_FRAMES,
    tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
];

/// Transfer syntaxes swapped into the meta group (the data set is re-encoded where the
/// writer can, mislabelled otherwise).
const TRANSFER_SYNTAXES: [&str; 9] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90",
    "1.2.3.4",
];

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// One attribute-level edit of `obj`, described in words.
fn edit_attribute(rng: &mut ChaCha8Rng, obj: &mut DefaultDicomObject) -> String {
    match rng.random_range(0..10) {
        0..3 => {
            let tag = *pick(rng, &US_ATTRIBUTES);
            let value = if rng.random_bool(0.5) {
                *pick(rng, &INTERESTING_U16)
            } else {
                *pick(rng, &US_EXTRA_VALUES)
            };
            obj.put(DataElement::new(tag, VR::US, PrimitiveValue::from(value)));
            format!("{tag} = {value}")
        }
        3..6 => {
            let (tag, vr, values) = *pick(rng, &TEXT_ATTRIBUTES);
            let value = *pick(rng, values);
            let parts: Vec<String> = value.split('\\').map(str::to_string).collect();
            obj.put(DataElement::new(tag, vr, PrimitiveValue::Strs(parts.into())));
            format!("{tag} = {value:?}")
        }
        6 => {
            let tag = *pick(rng, &REMOVED_ATTRIBUTES);
            obj.remove_element(tag);
            format!("{tag} removed")
        }
        7 => {
            let syntax = *pick(rng, &TRANSFER_SYNTAXES);
            obj.update_meta(|meta| meta.transfer_syntax = syntax.to_string());
            format!("transfer syntax {syntax}")
        }
        _ => {
            let pixels = obj
                .element(tags::PIXEL_DATA)
                .ok()
                .and_then(|e| e.to_bytes().ok().map(|b| b.into_owned()))
                .unwrap_or_default();
            let keep = rng.random_range(0..=pixels.len());
            let mut cut = pixels[..keep].to_vec();
            cut.truncate(cut.len() & !1);
            let what = format!("pixel data cut to {} of {} bytes", cut.len(), pixels.len());
            obj.put(DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(cut)));
            what
        }
    }
}

/// Up to three attribute edits, re-encoded; `None` when the object cannot be written.
fn edit_dicom(rng: &mut ChaCha8Rng, obj: &DefaultDicomObject) -> Option<(Vec<u8>, Vec<String>)> {
    let mut obj = obj.clone();
    let edits: Vec<String> = (0..rng.random_range(1..=3))
        .map(|_| edit_attribute(rng, &mut obj))
        .collect();
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).ok()?;
    Some((bytes, edits))
}

/// Attribute edits (when the base parses) and/or byte-level mutations.
fn mutate_dicom(rng: &mut ChaCha8Rng, parsed: Option<&DefaultDicomObject>, base: &[u8]) -> (Vec<u8>, Vec<String>) {
    let edited = parsed
        .filter(|_| rng.random_bool(0.6))
        .and_then(|obj| edit_dicom(rng, obj));
    let (mut bytes, mut edits) = edited.unwrap_or_else(|| (base.to_vec(), Vec::new()));
    if edits.is_empty() || rng.random_bool(0.4) {
        edits.extend(random_mutations(rng, &mut bytes, 3));
    }
    (bytes, edits)
}

/// A loaded scan must have a finite, positive-spacing geometry and a usable intensity map.
fn check_scan(scan: &LoadedScan) -> Verdict {
    check_geometry(&scan.volume.geometry, scan.volume.dims()).unwrap_or_else(|| {
        if scan.intensity_slope.is_finite() && scan.intensity_slope != 0.0 && scan.intensity_intercept.is_finite() {
            Verdict::Accepted
        } else {
            Verdict::Broken(format!(
                "intensity map slope {} intercept {}",
                scan.intensity_slope, scan.intensity_intercept
            ))
        }
    })
}

/// `Some(Broken)` when the geometry or grid is unusable.
fn check_geometry(g: &Geometry, dims: [usize; 3]) -> Option<Verdict> {
    let finite = g
        .spacing
        .iter()
        .chain(&g.origin)
        .chain(g.direction.iter().flatten())
        .all(|v| v.is_finite());
    if !finite || g.spacing.iter().any(|&s| s <= 0.0) || dims.contains(&0) {
        return Some(Verdict::Broken(format!("grid {dims:?} with geometry {g:?}")));
    }
    None
}

/// Writes `bytes` to `dir/name` and loads it with the default options.
fn load_bytes(dir: &Path, name: &str, bytes: &[u8]) -> Verdict {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write case");
    match load_scan(&path, &LoadOptions::default()) {
        Ok(scan) => check_scan(&scan),
        Err(e) => Verdict::Rejected(e.to_string()),
    }
}

fn campaign(reader: &'static str, seed: u64, cases: u64) -> Campaign {
    Campaign {
        reader,
        seed,
        cases,
        heap_fixed: HEAP_FIXED,
        heap_per_input_byte: HEAP_PER_INPUT_BYTE,
    }
}

#[test]
fn dicom_file_loader_survives_mutated_files() {
    let mut bases = read_dir_files("dicom-samples");
    bases.extend(read_dir_files("dicom-transfer-syntaxes/In"));
    for (syntax, name) in [
        (WriteTransferSyntax::ExplicitVrLittleEndian, "phantom-explicit.dcm"),
        (WriteTransferSyntax::JpegLsLossless, "phantom-jpegls.dcm"),
    ] {
        bases.push((name.into(), phantom_series(syntax).swap_remove(1)));
    }
    let parsed: Vec<Option<DefaultDicomObject>> = bases.iter().map(|(_, b)| parse_dicom(b)).collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run_campaign(
        &campaign("dicom file (load_scan)", 0xD1C0, 1500),
        &bases,
        |rng, base, bytes| mutate_dicom(rng, parsed[base].as_ref(), bytes),
        |bytes| load_bytes(dir.path(), "case.dcm", bytes),
    );
    assert!(
        report.reproducing || (report.accepted > 0 && report.rejected > 0),
        "{report:?}"
    );
}

/// Byte offsets of NIfTI-1 header fields (little endian) and the values they are set to.
const NIFTI_I16_FIELDS: [(&str, usize, &[i16]); 4] = [
    (
        "datatype",
        70,
        &[
            0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304, -1,
        ],
    ),
    ("bitpix", 72, &[0, 1, 8, 16, 32, 64, 128, -8]),
    ("qform_code", 252, &[0, 1, 2, -1, i16::MAX]),
    ("sform_code", 254, &[0, 1, 2, -1, i16::MAX]),
];
/// Whole-field replacements: other magics, a NIfTI-2 header size, a byte-swapped size.
const NIFTI_RAW_FIELDS: [(&str, usize, [u8; 4]); 4] = [
    ("magic", 344, *b"ni1\0"),
    ("magic", 344, *b"n+2\0"),
    ("sizeof_hdr", 0, 540i32.to_le_bytes()),
    ("sizeof_hdr", 0, 348i32.to_be_bytes()),
];
const NIFTI_DIM_VALUES: [i16; 8] = [0, 1, -1, 2, 7, 8, i16::MAX, i16::MIN];
const NIFTI_F32_VALUES: [f32; 10] = [
    0.0,
    -1.0,
    1e-30,
    1e30,
    3.4e38,
    65536.0,
    347.0,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
];
/// f32 fields: vox_offset, pixdim[0..8], scl_slope, scl_inter, quatern_b..z, srow_x/y/z.
fn nifti_f32_field(rng: &mut ChaCha8Rng) -> (String, usize) {
    match rng.random_range(0..6) {
        0 => ("vox_offset".into(), 108),
        1 => {
            let k = rng.random_range(0..8);
            (format!("pixdim[{k}]"), 76 + 4 * k)
        }
        2 => ("scl_slope".into(), 112),
        3 => ("scl_inter".into(), 116),
        4 => {
            let k = rng.random_range(0..6);
            (format!("quatern[{k}]"), 256 + 4 * k)
        }
        _ => {
            let k = rng.random_range(0..12);
            (format!("srow[{k}]"), 280 + 4 * k)
        }
    }
}

/// One NIfTI header edit, described in words.
fn edit_nifti_header(rng: &mut ChaCha8Rng, data: &mut Vec<u8>) -> String {
    let (what, at, bytes) = match rng.random_range(0..10) {
        0..4 => {
            let k = rng.random_range(0..8);
            let v = if rng.random_bool(0.8) {
                *pick(rng, &NIFTI_DIM_VALUES)
            } else {
                rng.random()
            };
            (format!("dim[{k}] = {v}"), 40 + 2 * k, v.to_le_bytes().to_vec())
        }
        4..6 => {
            let (name, at, values) = *pick(rng, &NIFTI_I16_FIELDS);
            let v = *pick(rng, values);
            (format!("{name} = {v}"), at, v.to_le_bytes().to_vec())
        }
        6..9 => {
            let (name, at) = nifti_f32_field(rng);
            let v = *pick(rng, &NIFTI_F32_VALUES);
            (format!("{name} = {v}"), at, v.to_le_bytes().to_vec())
        }
        _ => {
            let (name, at, bytes) = *pick(rng, &NIFTI_RAW_FIELDS);
            (format!("{name} = {bytes:?}"), at, bytes.to_vec())
        }
    };
    Mutation::Overwrite { at, bytes }.apply(data);
    what
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes).read_to_end(&mut out).expect("gunzip base");
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Header edits and byte mutations of the (decompressed) file; gzip bases are re-compressed,
/// or, in a quarter of the cases, mutated as compressed bytes.
fn mutate_nifti(rng: &mut ChaCha8Rng, base: &[u8]) -> (Vec<u8>, Vec<String>) {
    let gz = base.starts_with(&[0x1f, 0x8b]);
    if gz && rng.random_bool(0.25) {
        let mut bytes = base.to_vec();
        let edits = random_mutations(rng, &mut bytes, 3);
        return (bytes, edits);
    }
    let mut bytes = if gz { gunzip(base) } else { base.to_vec() };
    let mut edits: Vec<String> = (0..rng.random_range(0..=3))
        .map(|_| edit_nifti_header(rng, &mut bytes))
        .collect();
    if edits.is_empty() || rng.random_bool(0.4) {
        edits.extend(random_mutations(rng, &mut bytes, 3));
    }
    if gz {
        edits.push("re-compressed".into());
        bytes = gzip(&bytes);
    }
    (bytes, edits)
}

/// Small NIfTI files written by our writer: u8, and f32 with fractional values (the
/// quantising path).
fn nifti_phantoms(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let g = Geometry::axis_aligned([1.5, 1.5, 3.0], [-20.0, 10.0, 50.0]);
    let bytes_u8: Vec<u8> = (0..6 * 5 * 4).map(|n| (n * 7 % 251) as u8).collect();
    let u8_path = dir.join("phantom-u8.nii");
    write_nifti(&u8_path, &Volume::from_vec([6, 5, 4], bytes_u8, g).expect("shape")).expect("write u8");
    let f32_values: Vec<f32> = (0..6 * 5 * 4).map(|n| n as f32 * 0.37 - 9.5).collect();
    let f32_path = dir.join("phantom-f32.nii");
    write_nifti(&f32_path, &Volume::from_vec([6, 5, 4], f32_values, g).expect("shape")).expect("write f32");
    [u8_path, f32_path]
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            (name, std::fs::read(p).expect("read phantom"))
        })
        .collect()
}

#[test]
fn nifti_readers_survive_mutated_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ct_gz = std::fs::read(shared("ct-abdomen-3mm/ct.nii.gz")).expect("read CT");
    let ct = gunzip(&ct_gz);
    let mut bases = vec![("ct.nii.gz".to_string(), ct_gz), ("ct.nii".to_string(), ct)];
    bases.extend(nifti_phantoms(dir.path()));
    let report = run_campaign(
        &campaign("nifti (read_nifti_scan, read_nifti)", 0x0111F71, 1500),
        &bases,
        |rng, _, bytes| mutate_nifti(rng, bytes),
        |bytes| {
            let name = if bytes.starts_with(&[0x1f, 0x8b]) {
                "case.nii.gz"
            } else {
                "case.nii"
            };
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).expect("write case");
            let scan = match read_nifti_scan(&path) {
                Ok(scan) => scan,
                Err(e) => return Verdict::Rejected(e.to_string()),
            };
            if let Some(broken) = check_geometry(&scan.volume.geometry, scan.volume.dims()) {
                return broken;
            }
            match read_nifti(&path) {
                Ok(real) if real.dims() == scan.volume.dims() => Verdict::Accepted,
                Ok(real) => Verdict::Broken(format!(
                    "read_nifti gives {:?}, read_nifti_scan {:?}",
                    real.dims(),
                    scan.volume.dims()
                )),
                Err(e) => Verdict::Broken(format!("read_nifti_scan accepted what read_nifti refused: {e}")),
            }
        },
    );
    assert!(
        report.reproducing || (report.accepted > 0 && report.rejected > 0),
        "{report:?}"
    );
}

/// Zip entry as `(name, bytes)`.
type Entry = (String, Vec<u8>);

fn make_zip(entries: &[Entry], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in entries {
        zip.start_file(name.as_str(), options).expect("zip entry");
        zip.write_all(bytes).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

fn unzip(bytes: &[u8]) -> Option<Vec<Entry>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).ok()?;
            let mut data = Vec::new();
            entry.read_to_end(&mut data).ok()?;
            Some((entry.name().to_string(), data))
        })
        .collect()
}

/// Zip archives of DICOM series: a deflated phantom series; a stored JPEG-LS series with
/// hostile names, a folder and a nested zip; real samples.
fn zip_bases() -> Vec<(String, Vec<u8>)> {
    let named = |files: Vec<Vec<u8>>, prefix: &str| -> Vec<Entry> {
        files
            .into_iter()
            .enumerate()
            .map(|(k, b)| (format!("{prefix}IM{k:05}.dcm"), b))
            .collect()
    };
    let deflated = named(phantom_series(WriteTransferSyntax::ExplicitVrLittleEndian), "series/");
    let mut hostile = named(phantom_series(WriteTransferSyntax::JpegLsLossless), "");
    hostile.push((
        "nested.zip".into(),
        make_zip(&deflated[..1], zip::CompressionMethod::Stored),
    ));
    for name in ["../escape.dcm", "/absolute.dcm", "a/../../up.dcm", "C:\\windows.dcm"] {
        hostile.push((name.into(), deflated[0].1.clone()));
    }
    let real: Vec<Entry> = [
        "dicom-samples/MR_Implicit_Little.dcm",
        "dicom-transfer-syntaxes/In/5.dcm",
    ]
    .iter()
    .map(|p| (p.to_string(), std::fs::read(shared(p)).expect("read sample")))
    .collect();
    vec![
        (
            "phantom-deflated.zip".into(),
            make_zip(&deflated, zip::CompressionMethod::Deflated),
        ),
        (
            "phantom-hostile-stored.zip".into(),
            make_zip(&hostile, zip::CompressionMethod::Stored),
        ),
        (
            "real-samples.zip".into(),
            make_zip(&real, zip::CompressionMethod::Deflated),
        ),
    ]
}

/// Field offsets (from the signature) in local headers, central directory entries and the
/// end-of-central-directory record, with their widths.
const ZIP_FIELDS: [(&[u8; 4], &str, usize, usize); 16] = [
    (b"PK\x03\x04", "local flags", 6, 2),
    (b"PK\x03\x04", "local method", 8, 2),
    (b"PK\x03\x04", "local compressed size", 18, 4),
    (b"PK\x03\x04", "local size", 22, 4),
    (b"PK\x03\x04", "local name length", 26, 2),
    (b"PK\x03\x04", "local extra length", 28, 2),
    (b"PK\x01\x02", "central method", 10, 2),
    (b"PK\x01\x02", "central compressed size", 20, 4),
    (b"PK\x01\x02", "central size", 24, 4),
    (b"PK\x01\x02", "central name length", 28, 2),
    (b"PK\x01\x02", "central extra length", 30, 2),
    (b"PK\x01\x02", "central local offset", 42, 4),
    (b"PK\x05\x06", "entry count", 10, 2),
    (b"PK\x05\x06", "directory size", 12, 4),
    (b"PK\x05\x06", "directory offset", 16, 4),
    (b"PK\x05\x06", "comment length", 20, 2),
];

/// Sets a size, count, offset or length field of one zip record to an extreme value.
fn edit_zip_field(rng: &mut ChaCha8Rng, data: &mut Vec<u8>) -> Option<String> {
    let (signature, name, offset, width) = *pick(rng, &ZIP_FIELDS);
    let starts: Vec<usize> = data
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == signature)
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        return None;
    }
    let record = *pick(rng, &starts);
    let bytes = if width == 2 {
        pick(rng, &INTERESTING_U16).to_le_bytes().to_vec()
    } else {
        pick(rng, &INTERESTING_U32).to_le_bytes().to_vec()
    };
    let edit = Mutation::Overwrite {
        at: record + offset,
        bytes,
    };
    edit.apply(data);
    Some(format!("{name} of record at {record}: {edit}"))
}

/// Rebuilds the archive with one DICOM entry edited, one entry duplicated, or a thousand
/// tiny entries added.
fn edit_zip_entries(rng: &mut ChaCha8Rng, base: &[u8]) -> Option<(Vec<u8>, String)> {
    let mut entries = unzip(base)?;
    let at = rng.random_range(0..entries.len());
    let what = match rng.random_range(0..4) {
        0 | 1 => {
            let (bytes, edits) = mutate_dicom(rng, parse_dicom(&entries[at].1).as_ref(), &entries[at].1);
            entries[at].1 = bytes;
            format!("entry {} edited: {}", entries[at].0, edits.join(", "))
        }
        2 => {
            let copy = (format!("copy-of/{}", entries[at].0), entries[at].1.clone());
            entries.push(copy);
            format!("entry {} duplicated", entries[at].0)
        }
        _ => {
            entries.extend((0..1000).map(|k| (format!("tiny/{k}.dcm"), vec![k as u8; k % 7])));
            "1000 tiny entries added".into()
        }
    };
    let method = if rng.random_bool(0.5) {
        zip::CompressionMethod::Stored
    } else {
        zip::CompressionMethod::Deflated
    };
    Some((make_zip(&entries, method), what))
}

fn mutate_zip(rng: &mut ChaCha8Rng, base: &[u8]) -> (Vec<u8>, Vec<String>) {
    let (mut bytes, mut edits) = match rng.random_range(0..3) {
        0 => edit_zip_entries(rng, base).map_or_else(|| (base.to_vec(), Vec::new()), |(b, e)| (b, vec![e])),
        _ => (base.to_vec(), Vec::new()),
    };
    for _ in 0..rng.random_range(0..=2) {
        edits.extend(edit_zip_field(rng, &mut bytes));
    }
    if edits.is_empty() || rng.random_bool(0.3) {
        edits.extend(random_mutations(rng, &mut bytes, 2));
    }
    (bytes, edits)
}

#[test]
fn zip_loader_survives_mutated_archives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = run_campaign(
        &campaign("zip archive (load_scan, read_zip)", 0x21F, 1000),
        &zip_bases(),
        |rng, _, bytes| mutate_zip(rng, bytes),
        |bytes| load_bytes(dir.path(), "case.zip", bytes),
    );
    assert!(
        report.reproducing || (report.accepted > 0 && report.rejected > 0),
        "{report:?}"
    );
}
