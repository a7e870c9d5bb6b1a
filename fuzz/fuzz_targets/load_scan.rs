//! The whole-input loader: the first byte picks the file name (`.dcm`, `.nii`, `.nii.gz`,
//! `.zip`), the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use medprint_fuzz::{fuzz_load_options, scratch_file};
use medprint_volume::input::load_scan;

const NAMES: [&str; 4] = ["case.dcm", "case.nii", "case.nii.gz", "case.zip"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let path = scratch_file(NAMES[usize::from(pick) % NAMES.len()], rest);
    let _ = load_scan(&path, &fuzz_load_options());
});
