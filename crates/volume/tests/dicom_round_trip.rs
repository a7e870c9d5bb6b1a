//! A real CT written as a JPEG-LS DICOM series (shuffled, renamed, nested) loads back with
//! identical voxels and geometry.

use std::path::Path;

use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions, WriteTransferSyntax};
use medprint_volume::input::{load_scan, InputKind, LoadOptions, Modality};
use medprint_volume::nifti::read_nifti;
use medprint_volume::{Geometry, Volume};

fn ct() -> Volume<i16> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-abdomen-3mm/ct.nii.gz");
    let real = read_nifti(&path).expect("reference CT");
    assert!(
        real.data().iter().all(|v| v.fract() == 0.0 && v.abs() < 32768.0),
        "CT is integer HU"
    );
    real.map(|&v| v as i16)
}

/// The same image with k running along `row × column` (the order a DICOM reader must use).
fn along_slice_normal(v: &Volume<i16>) -> Volume<i16> {
    let d = v.geometry.direction;
    if v.geometry.handedness() > 0.0 {
        return v.clone();
    }
    let [nx, ny, nz] = v.dims();
    let mut data = Vec::with_capacity(v.len());
    for k in (0..nz).rev() {
        data.extend_from_slice(v.slice_z(k));
    }
    let g = Geometry {
        origin: v.geometry.index_to_patient([0.0, 0.0, (nz - 1) as f64]),
        direction: [
            [d[0][0], d[0][1], -d[0][2]],
            [d[1][0], d[1][1], -d[1][2]],
            [d[2][0], d[2][1], -d[2][2]],
        ],
        spacing: v.geometry.spacing,
    };
    Volume::from_vec([nx, ny, nz], data, g).expect("same size")
}

#[test]
fn jpeg_ls_series_round_trips_exactly() {
    let original = ct();
    let tmp = tempfile::tempdir().expect("tempdir");
    let written_dir = tmp.path().join("written");
    let options = WriteSeriesOptions {
        transfer_syntax: WriteTransferSyntax::JpegLsLossless,
        patient_name: "Test^Patient".into(),
        patient_id: "P123".into(),
        patient_birth_date: "19700101".into(),
        ..Default::default()
    };
    let files = write_dicom_series(&written_dir, &original, &options).expect("write series");
    assert_eq!(files.len(), original.dims()[2]);
    let first = std::fs::read(&files[0]).expect("written file");
    assert!(
        first.windows(22).any(|w| w == b"1.2.840.10008.1.2.4.80"),
        "JPEG-LS transfer syntax"
    );

    // Shuffle: a fixed permutation maps slice k to a meaningless name in one of three folders.
    let input = tmp.path().join("input");
    let n = files.len();
    for (k, f) in files.iter().enumerate() {
        let scrambled = (k * 17 + 5) % n;
        let sub = input.join(format!("d{}", scrambled % 3)).join("x");
        std::fs::create_dir_all(&sub).expect("mkdir");
        std::fs::rename(f, sub.join(format!("z{:04x}", scrambled * 7919 % 65521))).expect("rename");
    }
    std::fs::write(input.join("README.txt"), b"not dicom").expect("stray file");

    let scan = load_scan(&input, &LoadOptions::default()).expect("load series");
    assert_eq!(
        (scan.kind, scan.modality.clone()),
        (InputKind::DicomFolder, Modality::Ct)
    );
    assert_eq!(scan.series.len(), 1);
    assert_eq!(scan.skipped_files.len(), 1, "{:?}", scan.skipped_files);
    assert!(scan.warnings.is_empty(), "{:?}", scan.warnings);
    assert_eq!((scan.intensity_slope, scan.intensity_intercept), (1.0, 0.0));

    let expected = along_slice_normal(&original);
    assert_eq!(scan.volume.dims(), expected.dims());
    assert!(scan.volume.data() == expected.data(), "voxels differ");
    let (a, b) = (scan.volume.geometry.affine(), expected.geometry.affine());
    for r in 0..3 {
        for c in 0..4 {
            assert!(
                (a[r][c] - b[r][c]).abs() < 1e-4,
                "affine[{r}][{c}]: {} vs {}",
                a[r][c],
                b[r][c]
            );
        }
    }
}
