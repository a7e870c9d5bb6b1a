//! Every transfer syntax of the dcm_qa_ts set decodes to the same pixels as dcm2niix.
//!
//! The image is a Siemens mosaic: 384×384 pixels holding 6×6 tiles of 64×64, of which the
//! first 35 are slices. dcm2niix un-mosaics it into a 64×64×35 NIfTI and flips rows (its j
//! axis runs opposite to the DICOM row order). So reference voxel `(i, 63 − j, t)` must equal
//! mosaic pixel `(64·(t mod 6) + i, 64·(t div 6) + j)`.

use std::path::{Path, PathBuf};

use medprint_volume::input::{load_scan, LoadOptions, Modality};
use medprint_volume::nifti::read_nifti;

const TILE: usize = 64;
const TILES_PER_ROW: usize = 6;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/dicom-transfer-syntaxes")
}

fn assert_matches_reference(n: u32) {
    let dir = data_dir();
    let scan =
        load_scan(&dir.join(format!("In/{n}.dcm")), &LoadOptions::default()).unwrap_or_else(|e| panic!("{n}.dcm: {e}"));
    let reference = read_nifti(&dir.join(format!("Ref/{n}.nii"))).unwrap_or_else(|e| panic!("Ref/{n}.nii: {e}"));
    let v = &scan.volume;
    assert_eq!(
        v.dims(),
        [TILE * TILES_PER_ROW, TILE * TILES_PER_ROW, 1],
        "{n}.dcm: mosaic size"
    );
    assert_eq!(scan.modality, Modality::Mr);
    let [rx, ry, rz] = reference.dims();
    assert_eq!([rx, ry], [TILE, TILE]);
    let mut nonzero = 0usize;
    for t in 0..rz {
        let (ox, oy) = (TILE * (t % TILES_PER_ROW), TILE * (t / TILES_PER_ROW));
        for j in 0..TILE {
            for i in 0..TILE {
                let stored = v.get(ox + i, oy + j, 0).expect("inside mosaic");
                let real = f64::from(stored) * scan.intensity_slope + scan.intensity_intercept;
                let expected = reference.get(i, TILE - 1 - j, t).expect("inside reference");
                assert_eq!(real as f32, expected, "{n}.dcm: tile {t} pixel ({i},{j})");
                nonzero += usize::from(expected != 0.0);
            }
        }
    }
    // Guard against comparing two blank images.
    assert!(nonzero > reference.len() / 4, "{n}.dcm: only {nonzero} non-zero voxels");
}

#[test]
fn explicit_little_endian() {
    assert_matches_reference(1);
}
#[test]
fn implicit_little_endian() {
    assert_matches_reference(2);
}
#[test]
fn explicit_big_endian() {
    assert_matches_reference(3);
}
#[test]
fn rle_lossless() {
    assert_matches_reference(4);
}
#[test]
fn jpeg_lossless_process_14() {
    assert_matches_reference(5);
}
#[test]
fn jpeg_ls_gdcm_jpeg() {
    assert_matches_reference(6);
}
#[test]
fn jpeg_ls_gdcm_jpegls() {
    assert_matches_reference(7);
}
#[test]
fn jpeg_ls_dcmtk() {
    assert_matches_reference(8);
}
#[test]
fn jpeg_2000_lossless() {
    assert_matches_reference(9);
}
