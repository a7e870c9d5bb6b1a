//! One DICOM file through the whole loader (header scan, series layout, pixel decoding).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medprint_fuzz::{fuzz_load_options, scratch_file};
use medprint_volume::input::load_scan;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("case.dcm", data);
    let _ = load_scan(&path, &fuzz_load_options());
});
