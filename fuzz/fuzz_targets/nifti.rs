//! The NIfTI readers; gzip input (magic 1f 8b) is read as `.nii.gz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medprint_fuzz::scratch_file;
use medprint_volume::nifti::{read_nifti, read_nifti_scan};

fuzz_target!(|data: &[u8]| {
    let name = if data.starts_with(&[0x1f, 0x8b]) {
        "case.nii.gz"
    } else {
        "case.nii"
    };
    let path = scratch_file(name, data);
    if read_nifti_scan(&path).is_ok() {
        let _ = read_nifti(&path);
    }
});
