//! Shared pieces of the fuzz targets: the readers take paths, so each input is written to a
//! scratch file first.

use std::path::PathBuf;

use medprint_volume::input::LoadOptions;

/// Writes `data` to `name` in a scratch folder of this process and returns its path.
///
/// Panics when the scratch folder cannot be written (a broken fuzzing setup, not a finding).
pub fn scratch_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medprint-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let path = dir.join(name);
    std::fs::write(&path, data).expect("scratch file");
    path
}

/// Loader limits for fuzzing: the defaults, with a grid limit (2²⁴ voxels, 32 MiB of i16)
/// that keeps allocations under libFuzzer's memory limit.
pub fn fuzz_load_options() -> LoadOptions {
    LoadOptions {
        max_voxels: 1 << 24,
        max_archive_bytes: 64 << 20,
        ..LoadOptions::default()
    }
}
