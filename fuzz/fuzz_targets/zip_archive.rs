//! The zip reader on its own (entries into memory, limits, unsafe names, nested archives).
#![no_main]

use libfuzzer_sys::fuzz_target;
use medprint_fuzz::{fuzz_load_options, scratch_file};
use medprint_volume::archive::{read_zip, ArchiveLimits};

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("case.zip", data);
    let options = fuzz_load_options();
    let limits = ArchiveLimits {
        max_bytes: options.max_archive_bytes,
        max_entries: options.max_archive_entries,
    };
    let _ = read_zip(&path, limits);
});
