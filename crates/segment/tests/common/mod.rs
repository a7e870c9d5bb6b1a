//! Access to the real scans in ../shared/data, shared by the real-data tests.

use medprint_volume::nifti::read_nifti;
use medprint_volume::Volume;
use std::path::{Path, PathBuf};

/// Path of a file under ../shared/data.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// A CT NIfTI under ../shared/data as HU (rounded, clamped to i16).
pub fn read_hu(rel: &str) -> Volume<i16> {
    let v = read_nifti(&data(rel)).expect("readable NIfTI");
    v.map(|&x| x.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16)
}
