//! One test per reader fault found by fuzzing (`fuzz_readers.rs`, `fuzz/`): each hostile file
//! must give a typed error that says what is wrong, without a panic and without reserving
//! memory for what the file only declares.

use std::io::{Read, Write};
use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::OpenFileOptions;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use medprint_mutate::counting_alloc::{measure, reset_peak};
use medprint_mutate::CountingAllocator;
use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions};
use medprint_volume::input::{load_scan, InputError, LoadOptions};
use medprint_volume::nifti::{read_nifti_scan, write_nifti, NiftiError};
use medprint_volume::{Geometry, Volume};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator;

/// Heap a rejected small file may cost (bytes): parser tables, thread pool, messages.
const SMALL_HEAP: usize = 32 << 20;

fn phantom() -> Volume<i16> {
    let data = (0..8 * 6 * 3).map(|n| n as i16 - 50).collect();
    Volume::from_vec([8, 6, 3], data, Geometry::axis_aligned([0.8, 0.9, 2.0], [0.0; 3])).expect("shape")
}

/// Measurements run one at a time (the counters are process-wide).
static MEASURING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `f` and returns its result with the heap growth it caused.
fn with_heap<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let _one_at_a_time = MEASURING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let baseline = reset_peak();
    let out = f();
    let growth = measure(baseline).map_or(0, |h| h.peak_growth);
    (out, growth)
}

/// One slice of the phantom written by our writer (explicit VR little endian).
fn slice_bytes(dir: &Path) -> Vec<u8> {
    let files = write_dicom_series(&dir.join("series"), &phantom(), &WriteSeriesOptions::default()).expect("write");
    std::fs::read(&files[0]).expect("read slice")
}

fn load_single(dir: &Path, name: &str, bytes: &[u8]) -> (Result<(), String>, usize) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write case");
    let (result, heap) = with_heap(|| load_scan(&path, &LoadOptions::default()).map(|_| ()));
    (result.map_err(|e| e.to_string()), heap)
}

/// libFuzzer `dicom_file`/`load_scan` out-of-memory: one element length set to almost 4 GiB
/// made the DICOM parser reserve and zero-fill that much before reading. Now the declared
/// lengths are walked first and the file is skipped with the reason.
#[test]
fn dicom_element_length_past_the_end_is_refused_before_allocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = slice_bytes(dir.path());
    let pixel_data = bytes
        .windows(4)
        .position(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .expect("pixel data tag");
    let mut private = vec![0x29, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
    private.extend(0xFFFF_FFF0u32.to_le_bytes());
    private.extend([7u8; 16]);
    bytes.splice(pixel_data..pixel_data, private);
    let (result, heap) = load_single(dir.path(), "long.dcm", &bytes);
    let err = result.expect_err("hostile length");
    assert!(
        err.contains("(0029,1010)") && err.contains("truncated or corrupt"),
        "{err}"
    );
    assert!(heap < SMALL_HEAP, "heap grew by {heap} bytes");
}

/// The same for the pixel data element itself, which is only read at decoding.
#[test]
fn dicom_pixel_data_length_past_the_end_is_refused_before_allocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = slice_bytes(dir.path());
    let pixel_data = bytes
        .windows(6)
        .position(|w| w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'W'])
        .expect("pixel data element");
    bytes[pixel_data + 8..pixel_data + 12].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let (result, heap) = load_single(dir.path(), "pixels.dcm", &bytes);
    let err = result.expect_err("hostile pixel data length");
    assert!(err.contains("(7FE0,0010)"), "{err}");
    assert!(heap < SMALL_HEAP, "heap grew by {heap} bytes");
}

/// Rows × Columns × Frames far beyond the bytes of an uncompressed file (1.6 G voxels, under
/// the default limit of 2³¹) reserved 3 GiB for the slice stack; Rows and Columns stored as
/// 32-bit values (4·10⁹ each) overflowed the voxel count.
#[test]
fn dicom_declared_size_beyond_the_file_is_refused_before_allocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = slice_bytes(dir.path());
    let parse = || {
        OpenFileOptions::new()
            .read_preamble(ReadPreamble::Never)
            .read_all()
            .from_reader(&bytes[128..])
            .expect("parse slice")
    };
    for (vr, rows, columns, frames) in [
        (
            VR::US,
            PrimitiveValue::from(40_000u16),
            PrimitiveValue::from(40_000u16),
            "1",
        ),
        (
            VR::UL,
            PrimitiveValue::from(4_000_000_000u32),
            PrimitiveValue::from(4_000_000_000u32),
            "4000000000",
        ),
    ] {
        let mut obj = parse();
        obj.put(DataElement::new(tags::ROWS, vr, rows));
        obj.put(DataElement::new(tags::COLUMNS, vr, columns));
        obj.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from(frames),
        ));
        let mut hostile = Vec::new();
        obj.write_all(&mut hostile).expect("write hostile");
        let (result, heap) = load_single(dir.path(), "big.dcm", &hostile);
        let err = result.expect_err("declared size beyond the file");
        assert!(err.contains("truncated or corrupt"), "{err}");
        assert!(heap < SMALL_HEAP, "heap grew by {heap} bytes");
    }
}

fn nifti_bytes(dir: &Path) -> Vec<u8> {
    let path = dir.join("phantom.nii");
    write_nifti(&path, &phantom()).expect("write nifti");
    std::fs::read(path).expect("read nifti")
}

fn set_i16(bytes: &mut [u8], at: usize, v: i16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn read_nifti_bytes(dir: &Path, name: &str, bytes: &[u8]) -> (Result<(), NiftiError>, usize) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write case");
    with_heap(|| read_nifti_scan(&path).map(|_| ()))
}

/// A NIfTI header declaring 2³¹ float64 voxels (within the voxel limit) made the `nifti`
/// crate reserve 16 GiB before reading a few bytes. Now the data is read as it comes and the
/// shortfall reported; uncompressed and gzip files alike.
#[test]
fn nifti_declared_data_beyond_the_file_is_truncation_without_reservation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = nifti_bytes(dir.path());
    for (k, d) in [(1, 2048), (2, 2048), (3, 512)] {
        set_i16(&mut bytes, 40 + 2 * k, d);
    }
    set_i16(&mut bytes, 70, 64); // datatype float64
    set_i16(&mut bytes, 72, 64); // bitpix
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).expect("gzip");
    let gz = gz.finish().expect("gzip");
    for (name, data) in [("huge.nii", &bytes), ("huge.nii.gz", &gz)] {
        let (result, heap) = read_nifti_bytes(dir.path(), name, data);
        match result {
            Err(NiftiError::Truncated { expected, .. }) => assert_eq!(expected, 8 << 31, "{name}"),
            other => panic!("{name}: expected Truncated, got {other:?}"),
        }
        assert!(heap < SMALL_HEAP, "{name}: heap grew by {heap} bytes");
    }
    let mut back = Vec::new();
    MultiGzDecoder::new(&gz[..]).read_to_end(&mut back).expect("gunzip");
    assert_eq!(back, bytes);
}

/// Negative and zero sizes, unsupported types and a bits-per-voxel field that disagrees with
/// the data type are refused from the header, with a message saying which.
#[test]
fn nifti_hostile_header_fields_are_refused_from_the_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = nifti_bytes(dir.path());
    let cases: [(&str, usize, i16, &str); 5] = [
        ("negative.nii", 44, -3, "negative"),
        ("zero.nii", 46, 0, "empty"),
        ("fourth.nii", 48, 0, "empty"),
        ("complex.nii", 70, 32, "unsupported NIfTI data type 32"),
        ("bitpix.nii", 72, 8, "8 bits per voxel"),
    ];
    for (name, at, value, expected) in cases {
        let mut bytes = good.clone();
        if name == "fourth.nii" {
            set_i16(&mut bytes, 40, 4); // rank 4, so dim[4] = 0 counts
        }
        set_i16(&mut bytes, at, value);
        let (result, heap) = read_nifti_bytes(dir.path(), name, &bytes);
        let err = result.expect_err(name).to_string();
        assert!(err.contains(expected) && err.contains(name), "{name}: {err}");
        assert!(heap < SMALL_HEAP, "{name}: heap grew by {heap} bytes");
    }
    assert!(matches!(
        load_scan(&dir.path().join("complex.nii"), &LoadOptions::default()),
        Err(InputError::Nifti(NiftiError::UnsupportedType { datatype: 32, .. }))
    ));
}

fn shared_sample(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/data")
            .join(path),
    )
    .expect("shared sample")
}

/// Parses a file with preamble, applies `edit` and writes it again.
fn rewrite(bytes: &[u8], edit: impl FnOnce(&mut dicom_object::DefaultDicomObject)) -> Vec<u8> {
    let mut obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_all()
        .from_reader(&bytes[128..])
        .expect("parse");
    edit(&mut obj);
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("write");
    out
}

/// Campaign case 192: a JPEG file whose Rows no longer match its compressed data panicked in
/// the JPEG decoder ("range end index 409600 out of range for slice of length 262144"). The
/// panic is contained and the file listed as undecodable.
#[test]
fn dicom_image_size_disagreeing_with_jpeg_data_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = rewrite(&shared_sample("dicom-samples/CT_JPEG70.dcm"), |obj| {
        obj.put(DataElement::new(tags::ROWS, VR::US, PrimitiveValue::from(256u16)));
    });
    // No heap check: the default panic hook's backtrace (under RUST_BACKTRACE) allocates.
    let (result, _) = load_single(dir.path(), "rows.dcm", &bytes);
    let err = result.expect_err("mismatched rows");
    assert!(err.contains("does not match the image size"), "{err}");
}

/// Campaign case 1060: JPEG-LS data labelled RLE Lossless made the RLE decoder allocate one
/// offset per "segment" read from the JPEG-LS bytes (16 GiB), then panic. The RLE header is
/// now checked first.
#[test]
fn dicom_rle_label_on_other_data_is_refused_before_allocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = rewrite(&shared_sample("dicom-transfer-syntaxes/In/8.dcm"), |obj| {
        obj.update_meta(|meta| meta.transfer_syntax = "1.2.840.10008.1.2.5".into());
    });
    let (result, heap) = load_single(dir.path(), "rle.dcm", &bytes);
    let err = result.expect_err("not RLE data");
    assert!(err.contains("RLE frame 0 has a corrupt header"), "{err}");
    assert!(heap < SMALL_HEAP, "heap grew by {heap} bytes");
}

/// Campaign cases 478, 607, 733: Image Position (Patient) "nan\0\0" gave a volume with a NaN
/// origin. A non-finite position now counts as missing: a single image is placed at the
/// origin with a warning, a series with such images cannot be ordered.
#[test]
fn dicom_non_finite_position_counts_as_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nan_position = |obj: &mut dicom_object::DefaultDicomObject| {
        let parts: Vec<String> = ["nan", "0", "0"].map(String::from).to_vec();
        obj.put(DataElement::new(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            PrimitiveValue::Strs(parts.into()),
        ));
    };
    let one = rewrite(&slice_bytes(dir.path()), nan_position);
    let path = dir.path().join("nan.dcm");
    std::fs::write(&path, &one).expect("write");
    let scan = load_scan(&path, &LoadOptions::default()).expect("single image loads");
    assert_eq!(scan.volume.geometry.origin, [0.0; 3]);
    assert!(
        scan.warnings.iter().any(|w| w.contains("no Image Position")),
        "{:?}",
        scan.warnings
    );

    let series = dir.path().join("nan-series");
    let files = write_dicom_series(&series, &phantom(), &WriteSeriesOptions::default()).expect("write");
    let bytes = std::fs::read(&files[1]).expect("read");
    std::fs::write(&files[1], rewrite(&bytes, nan_position)).expect("write");
    let err = load_scan(&series, &LoadOptions::default()).expect_err("cannot order");
    assert!(
        matches!(
            err,
            InputError::Series(medprint_volume::dicom::series::SeriesError::MissingPositions { count: 1, .. })
        ),
        "{err}"
    );
}

/// Campaign case 275: a deflated data set hides its element lengths from a walk over the
/// compressed bytes; a hostile one made the parser reserve 900 MB. Deflated data sets are
/// now inflated (within 64× their size) and walked too.
#[test]
fn dicom_deflated_element_length_past_the_end_is_refused() {
    use flate2::read::DeflateDecoder;
    use flate2::write::DeflateEncoder;
    let dir = tempfile::tempdir().expect("tempdir");
    let deflated = rewrite(&slice_bytes(dir.path()), |obj| {
        obj.update_meta(|meta| meta.transfer_syntax = "1.2.840.10008.1.2.1.99".into());
    });
    // The data set starts after the meta group: preamble, DICM, (0002,0000) UL and its value.
    let group_length = u32::from_le_bytes(deflated[140..144].try_into().expect("4 bytes")) as usize;
    let start = 144 + group_length;
    let mut dataset = Vec::new();
    DeflateDecoder::new(&deflated[start..])
        .read_to_end(&mut dataset)
        .expect("inflate");
    let pixel_data = dataset
        .windows(4)
        .position(|w| w == [0xE0, 0x7F, 0x10, 0x00])
        .expect("pixel data tag");
    let mut private = vec![0x29, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
    private.extend(0x3FFF_FFF0u32.to_le_bytes());
    dataset.splice(pixel_data..pixel_data, private);
    let mut encoder = DeflateEncoder::new(deflated[..start].to_vec(), flate2::Compression::fast());
    encoder.write_all(&dataset).expect("deflate");
    let hostile = encoder.finish().expect("deflate");
    let (result, heap) = load_single(dir.path(), "deflated.dcm", &hostile);
    let err = result.expect_err("hostile deflated length");
    assert!(err.contains("(0029,1010)"), "{err}");
    assert!(heap < SMALL_HEAP, "heap grew by {heap} bytes");
}
