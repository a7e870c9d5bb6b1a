//! Real single files with awkward encodings load with the right size, or fail clearly.

use std::path::{Path, PathBuf};

use medprint_volume::input::{load_scan, InputError, InputKind, LoadOptions, Modality};

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/dicom-samples")
        .join(name)
}

fn load(name: &str) -> medprint_volume::input::LoadedScan {
    load_scan(&sample(name), &LoadOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn ct_explicit_little_signed() {
    let scan = load("CT_Explicit_Little.dcm");
    assert_eq!(scan.volume.dims(), [512, 512, 1]);
    assert_eq!((scan.modality, scan.kind), (Modality::Ct, InputKind::DicomFile));
    assert_eq!((scan.intensity_slope, scan.intensity_intercept), (1.0, 0.0));
    // Signed CT: air is well below zero HU.
    let min = scan.volume.data().iter().copied().min().expect("voxels");
    assert!(min < -500, "min HU {min}");
}

#[test]
fn ct_implicit_headless_retired() {
    let scan = load("CT_Implicit_Little_Headless_Retired.dcm");
    assert_eq!(scan.volume.dims(), [512, 512, 1]);
    assert_eq!(scan.modality, Modality::Ct);
}

#[test]
fn ct_lossy_jpeg_decodes() {
    let scan = load("CT_JPEG70.dcm");
    assert_eq!(scan.volume.dims(), [512, 400, 1]);
    let (lo, hi) = scan
        .volume
        .data()
        .iter()
        .fold((i16::MAX, i16::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    assert!(hi - lo > 500, "decoded image is flat: {lo}..{hi}");
}

#[test]
fn mr_multiframe_has_16_frames() {
    let scan = load("MR_Explicit_Little_MultiFrame.dcm");
    let d = scan.volume.dims();
    assert_eq!(d[2], 16, "dims {d:?}");
    assert_eq!(scan.modality, Modality::Mr);
    assert!(
        !scan.warnings.is_empty(),
        "stacking frames without positions must be reported"
    );
}

#[test]
fn mr_implicit_and_undefined_length() {
    // The undefined-length file is a 27-frame 256×256 mask.
    for (name, frames) in [("MR_Implicit_Little.dcm", 1), ("MR_UnspecifiedLength.dcm", 27)] {
        let scan = load(name);
        let d = scan.volume.dims();
        assert!(d[0] > 1 && d[1] > 1 && d[2] == frames, "{name}: {d:?}");
        assert!(scan.volume.data().iter().any(|&v| v != 0), "{name}: blank");
    }
}

#[test]
fn rgb_ultrasound_is_refused() {
    let err = load_scan(&sample("US_Explicit_Big_RGB.dcm"), &LoadOptions::default()).expect_err("colour");
    let msg = err.to_string();
    assert!(msg.contains("colour images are not supported"), "{msg}");
    assert!(msg.contains("US_Explicit_Big_RGB.dcm"), "{msg}");
}

#[test]
fn rtstruct_has_no_pixel_data() {
    let err = load_scan(&sample("rtstruct.dcm"), &LoadOptions::default()).expect_err("no image");
    assert!(matches!(err, InputError::NothingLoadable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("rtstruct.dcm") && msg.contains("no pixel data"), "{msg}");
}
