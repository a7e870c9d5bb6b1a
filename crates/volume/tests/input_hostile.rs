//! Hostile and messy input: broken files are skipped and listed, oversized declarations and
//! zip bombs are refused early, unsafe zip names are never used, nothing panics.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;
use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions};
use medprint_volume::input::{load_scan, InputError, InputKind, LoadOptions};
use medprint_volume::{Geometry, Volume};

/// A `nx × ny × nz` phantom whose value is `10·k + i` (known at every position), 2 mm slices.
fn phantom(nx: usize, ny: usize, nz: usize) -> Volume<i16> {
    let mut data = Vec::with_capacity(nx * ny * nz);
    for k in 0..nz {
        for _ in 0..ny {
            data.extend((0..nx).map(|i| (10 * k + i) as i16));
        }
    }
    Volume::from_vec(
        [nx, ny, nz],
        data,
        Geometry::axis_aligned([0.8, 0.9, 2.0], [-10.0, 5.0, 100.0]),
    )
    .expect("shape")
}

fn write(dir: &Path, v: &Volume<i16>) -> Vec<PathBuf> {
    write_dicom_series(dir, v, &WriteSeriesOptions::default()).expect("write")
}

#[test]
fn broken_files_are_skipped_and_listed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = write(tmp.path(), &phantom(8, 6, 5));
    std::fs::write(tmp.path().join("empty.dcm"), b"").expect("write");
    std::fs::write(tmp.path().join("notes.txt"), b"hello, not a scan").expect("write");
    // Slice 2 truncated in place: header intact, pixel data cut short. It fails at decoding,
    // is listed, and the gap it leaves is interpolated (exactly, for this linear phantom).
    let bytes = std::fs::read(&files[2]).expect("read");
    std::fs::write(&files[2], &bytes[..bytes.len() - 20]).expect("write");

    let scan = load_scan(tmp.path(), &LoadOptions::default()).expect("good files still load");
    assert_eq!(scan.volume.dims(), [8, 6, 5]);
    assert_eq!(scan.volume.data(), phantom(8, 6, 5).data());
    let problems: Vec<String> = scan.skipped_files.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    for (name, why) in [
        ("empty.dcm", "empty"),
        ("notes.txt", "not a DICOM"),
        ("IM00002.dcm", "truncated"),
    ] {
        assert!(
            problems.iter().any(|p| p.contains(name) && p.contains(why)),
            "{name}: {problems:?}"
        );
    }
}

#[test]
fn nothing_loadable_is_an_error_naming_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(tmp.path().join("a.dcm"), b"").expect("write");
    std::fs::write(
        tmp.path().join("b.jpg"),
        [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'],
    )
    .expect("write");
    let err = load_scan(tmp.path(), &LoadOptions::default()).expect_err("nothing to load");
    let msg = err.to_string();
    assert!(matches!(err, InputError::NothingLoadable { count: 2, .. }), "{msg}");
    assert!(msg.contains("a.dcm") && msg.contains("b.jpg"), "{msg}");
    let err = load_scan(&tmp.path().join("a.dcm"), &LoadOptions::default()).expect_err("empty file");
    assert!(err.to_string().contains("a.dcm: empty file"), "{err}");
}

#[test]
fn two_series_default_and_explicit_choice() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let small = write(&tmp.path().join("small"), &phantom(4, 4, 3));
    write(&tmp.path().join("large"), &phantom(6, 5, 7));
    std::fs::write(
        tmp.path().join("photo.jpg"),
        [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F'],
    )
    .expect("write");
    let scan = load_scan(tmp.path(), &LoadOptions::default()).expect("load");
    assert_eq!(scan.series.len(), 2);
    assert_eq!(scan.volume.dims(), [6, 5, 7], "default picks the larger series");
    assert_eq!(scan.skipped_files.len(), 1);
    assert!(scan.skipped_files[0].path.ends_with("photo.jpg"));

    let small_uid = scan
        .series
        .iter()
        .find(|s| s.files == small.len())
        .expect("small listed")
        .uid
        .clone();
    let options = LoadOptions {
        series_uid: Some(small_uid.clone()),
        ..Default::default()
    };
    let picked = load_scan(tmp.path(), &options).expect("load chosen");
    assert_eq!(picked.volume.dims(), [4, 4, 3]);
    assert_eq!(picked.series_uid.as_deref(), Some(small_uid.as_str()));

    let options = LoadOptions {
        series_uid: Some("1.2.3.404".into()),
        ..Default::default()
    };
    let err = load_scan(tmp.path(), &options).expect_err("unknown uid");
    let msg = err.to_string();
    assert!(msg.contains("1.2.3.404") && msg.contains(&small_uid), "{msg}");
}

#[test]
fn missing_slice_is_interpolated_with_a_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let full = phantom(5, 4, 9);
    let files = write(tmp.path(), &full);
    std::fs::remove_file(&files[4]).expect("remove slice 4");
    let scan = load_scan(tmp.path(), &LoadOptions::default()).expect("load");
    assert_eq!(scan.volume.dims(), [5, 4, 9], "resampled to the full extent");
    assert!((scan.volume.geometry.spacing[2] - 2.0).abs() < 1e-9);
    assert!(
        scan.warnings
            .iter()
            .any(|w| w.contains("uneven slice spacing") && w.contains("106.00–110.00")),
        "{:?}",
        scan.warnings
    );
    // Linear interpolation of the linear phantom restores the missing slice exactly.
    assert_eq!(scan.volume.data(), full.data());
    assert_eq!(scan.volume.geometry, full.geometry);
}

#[test]
fn duplicate_slice_is_ignored_with_a_warning() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = write(&tmp.path().join("a"), &phantom(3, 3, 4));
    std::fs::copy(&files[2], tmp.path().join("copy.dcm")).expect("copy");
    let scan = load_scan(tmp.path(), &LoadOptions::default()).expect("load");
    assert_eq!(scan.volume.dims(), [3, 3, 4]);
    assert!(
        scan.warnings.iter().any(|w| w.contains("duplicate")),
        "{:?}",
        scan.warnings
    );
}

/// A header declaring 65535 × 65535 pixels (the largest Rows/Columns can hold) with 16
/// bytes of pixel data.
fn oversized_header(path: &Path) {
    let mut obj = InMemDicomObject::new_empty();
    let put = |obj: &mut InMemDicomObject, tag, vr, v: PrimitiveValue| {
        obj.put(DataElement::new(tag, vr, v));
    };
    put(
        &mut obj,
        tags::SOP_CLASS_UID,
        VR::UI,
        PrimitiveValue::from(uids::CT_IMAGE_STORAGE),
    );
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, PrimitiveValue::from("2.25.1"));
    put(
        &mut obj,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from("2.25.2"),
    );
    put(&mut obj, tags::MODALITY, VR::CS, PrimitiveValue::from("CT"));
    put(&mut obj, tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
    put(
        &mut obj,
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from("MONOCHROME2"),
    );
    put(&mut obj, tags::ROWS, VR::US, PrimitiveValue::from(65535u16));
    put(&mut obj, tags::COLUMNS, VR::US, PrimitiveValue::from(65535u16));
    put(&mut obj, tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
    put(&mut obj, tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16));
    put(&mut obj, tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16));
    put(&mut obj, tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(1u16));
    put(
        &mut obj,
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(vec![0u16; 8].into()),
    );
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
        .media_storage_sop_instance_uid("2.25.1")
        .transfer_syntax(EXPLICIT_VR_LITTLE_ENDIAN.uid());
    obj.with_meta(meta).expect("meta").write_to_file(path).expect("write");
}

#[test]
fn oversized_declaration_is_refused_before_allocation() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("huge.dcm");
    oversized_header(&path);
    let start = Instant::now();
    let err = load_scan(&path, &LoadOptions::default()).expect_err("too large");
    let msg = err.to_string();
    // The declared pixel data cannot fit in the file's 500 bytes: refused at the header.
    assert!(matches!(err, InputError::NothingLoadable { count: 1, .. }), "{msg}");
    assert!(
        msg.contains("huge.dcm") && msg.contains("65535×65535") && msg.contains("truncated or corrupt"),
        "{msg}"
    );
    assert!(start.elapsed().as_secs_f64() < 2.0, "took {:?}", start.elapsed());
    // A small limit refuses an ordinary series too, naming the series.
    let dir = tmp.path().join("series");
    write(&dir, &phantom(8, 8, 4));
    let err = load_scan(
        &dir,
        &LoadOptions {
            max_voxels: 100,
            ..Default::default()
        },
    )
    .expect_err("limit");
    assert!(err.to_string().contains("more than the limit of 100"), "{err}");
}

fn zip_of(path: &Path, entries: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).expect("create zip");
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).expect("entry");
        zip.write_all(bytes).expect("write entry");
    }
    zip.finish().expect("finish zip");
}

#[test]
fn zip_of_series_loads_and_unsafe_names_are_skipped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let files = write(&tmp.path().join("series"), &phantom(6, 4, 5));
    let contents: Vec<(String, Vec<u8>)> = files
        .iter()
        .enumerate()
        .map(|(k, f)| (format!("study/s{}/{k}", k % 2), std::fs::read(f).expect("read")))
        .collect();
    let mut entries: Vec<(&str, &[u8])> = contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    entries.push(("../../etc/x", contents[0].1.as_slice()));
    entries.push(("/abs/y.dcm", contents[0].1.as_slice()));
    let inner = tmp.path().join("inner.zip");
    zip_of(&inner, &[("a.dcm", contents[0].1.as_slice())]);
    let inner_bytes = std::fs::read(&inner).expect("inner");
    entries.push(("nested.zip", inner_bytes.as_slice()));
    let archive = tmp.path().join("upload.zip");
    zip_of(&archive, &entries);

    let scan = load_scan(&archive, &LoadOptions::default()).expect("load zip");
    assert_eq!(scan.kind, InputKind::ZipArchive);
    assert_eq!(scan.volume.data(), phantom(6, 4, 5).data());
    let problems: Vec<String> = scan.skipped_files.iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("../../etc/x") && p.contains("unsafe")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/abs/y.dcm") && p.contains("unsafe")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("nested.zip") && p.contains("nested")),
        "{problems:?}"
    );
    assert!(!tmp.path().join("etc").exists() && !Path::new("/etc/x").exists());
}

#[test]
fn zip_bomb_is_refused_quickly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let archive = tmp.path().join("bomb.zip");
    {
        let file = std::fs::File::create(&archive).expect("create");
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file("zeros.dcm", options).expect("entry");
        let block = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            zip.write_all(&block).expect("write"); // 1 GiB of zeros
        }
        zip.finish().expect("finish");
    }
    let compressed = std::fs::metadata(&archive).expect("meta").len();
    assert!(compressed < 8 << 20, "bomb is {compressed} bytes");
    let start = Instant::now();
    let options = LoadOptions {
        max_archive_bytes: 64 << 20,
        ..Default::default()
    };
    let err = load_scan(&archive, &options).expect_err("bomb refused");
    let msg = err.to_string();
    assert!(
        msg.contains("bomb.zip") && msg.contains("zeros.dcm") && msg.contains("limit"),
        "{msg}"
    );
    assert!(start.elapsed().as_secs_f64() < 5.0, "took {:?}", start.elapsed());

    let options = LoadOptions {
        max_archive_entries: 0,
        ..Default::default()
    };
    let err = load_scan(&archive, &options).expect_err("entry limit");
    assert!(err.to_string().contains("entries"), "{err}");
}

#[test]
fn gantry_tilt_is_reported_and_sheared_back() {
    let tilt = 15f64.to_radians();
    let (nx, ny, nz) = (4, 20, 5);
    let mut data = Vec::new();
    for _ in 0..nz {
        for j in 0..ny {
            data.extend(std::iter::repeat_n((10 * j) as i16, nx));
        }
    }
    // Slices step 2 mm along a k axis tilted 15° towards +y: their origins drift in y.
    let g = Geometry {
        spacing: [1.0, 1.0, 2.0],
        origin: [0.0; 3],
        direction: [[1.0, 0.0, 0.0], [0.0, 1.0, tilt.sin()], [0.0, 0.0, tilt.cos()]],
    };
    let tilted = Volume::from_vec([nx, ny, nz], data, g).expect("shape");
    let tmp = tempfile::tempdir().expect("tempdir");
    write(tmp.path(), &tilted);
    let scan = load_scan(tmp.path(), &LoadOptions::default()).expect("load");
    assert!(
        scan.warnings.iter().any(|w| w.contains("gantry tilt of 15.00°")),
        "{:?}",
        scan.warnings
    );
    let out = &scan.volume;
    assert_eq!(out.dims(), [nx, ny, nz]);
    assert!((out.geometry.spacing[2] - 2.0 * tilt.cos()).abs() < 1e-4);
    assert_eq!(out.geometry.direction[2], [0.0, 0.0, 1.0]);
    // Output voxel (i, j, k) lies at y = j mm; slice k has its row 0 at y = 2k·sin 15°.
    for k in 0..nz {
        let shift = 2.0 * k as f64 * tilt.sin();
        for j in (shift.ceil() as usize)..ny {
            let expected = (10.0 * (j as f64 - shift)).round() as i16;
            assert_eq!(out.get(1, j, k), Some(expected), "({j},{k})");
        }
    }
}
