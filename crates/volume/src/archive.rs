//! Reading DICOM files out of a zip archive into memory, safely.
//!
//! Entries are never extracted to disk. Names that are absolute or climb out of the archive
//! (`..`) are skipped and reported; nested archives are skipped. Limits apply to the bytes
//! actually decompressed (not to the sizes the archive declares), so a zip bomb stops at the
//! limit.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Signature of a local zip entry header (also the start of a nested zip file).
const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// Limits on what an archive may expand to.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// Total decompressed bytes over all entries.
    pub max_bytes: u64,
    /// Number of entries (files and folders).
    pub max_entries: usize,
}

/// A file read out of an archive.
#[derive(Debug, Clone)]
pub struct ArchiveEntry {
    /// `archive.zip!entry/name` (for messages).
    pub name: String,
    /// Decompressed contents.
    pub bytes: Arc<[u8]>,
}

/// An entry that was not read, with the reason.
#[derive(Debug, Clone)]
pub struct SkippedEntry {
    /// `archive.zip!entry/name`.
    pub name: String,
    /// Why it was skipped.
    pub problem: String,
}

/// Errors that stop reading the whole archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file cannot be opened.
    #[error("{path}: cannot open archive: {source}")]
    Io {
        /// Archive path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Not a readable zip file.
    #[error("{path}: not a readable zip archive: {problem}")]
    Invalid {
        /// Archive path.
        path: String,
        /// Reason.
        problem: String,
    },
    /// More entries than allowed.
    #[error("{path}: archive has {entries} entries, more than the limit of {limit}")]
    TooManyEntries {
        /// Archive path.
        path: String,
        /// Entries in the archive.
        entries: usize,
        /// Limit.
        limit: usize,
    },
    /// Decompressed contents exceed the limit (possible zip bomb).
    #[error("{path}: entry {entry} takes the decompressed size past the limit of {limit} bytes (zip bomb?); refused")]
    TooLarge {
        /// Archive path.
        path: String,
        /// Entry at which the limit was crossed.
        entry: String,
        /// Limit in bytes.
        limit: u64,
    },
}

/// Reads every file entry of the zip at `path` into memory within `limits`.
pub fn read_zip(path: &Path, limits: ArchiveLimits) -> Result<(Vec<ArchiveEntry>, Vec<SkippedEntry>), ArchiveError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| ArchiveError::Io {
        path: shown.clone(),
        source,
    })?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| ArchiveError::Invalid {
        path: shown.clone(),
        problem: e.to_string(),
    })?;
    if zip.len() > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            path: shown,
            entries: zip.len(),
            limit: limits.max_entries,
        });
    }
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let mut total: u64 = 0;
    for index in 0..zip.len() {
        let mut entry = match zip.by_index(index) {
            Ok(e) => e,
            Err(e) => {
                skipped.push(SkippedEntry {
                    name: format!("{shown}!#{index}"),
                    problem: format!("unreadable entry: {e}"),
                });
                continue;
            }
        };
        let raw_name = entry.name().to_string();
        let name = format!("{shown}!{raw_name}");
        if entry.is_dir() {
            continue;
        }
        if entry.enclosed_name().is_none() || raw_name.split(['/', '\\']).any(|c| c == "..") {
            skipped.push(SkippedEntry {
                name,
                problem: "unsafe entry name (absolute or containing '..'); not read".into(),
            });
            continue;
        }
        let remaining = limits.max_bytes.saturating_sub(total);
        let mut bytes = Vec::new();
        // Read at most one byte past the limit: that byte proves the limit is exceeded.
        if let Err(e) = (&mut entry).take(remaining.saturating_add(1)).read_to_end(&mut bytes) {
            skipped.push(SkippedEntry {
                name,
                problem: format!("cannot decompress: {e}"),
            });
            continue;
        }
        total += bytes.len() as u64;
        if total > limits.max_bytes {
            return Err(ArchiveError::TooLarge {
                path: shown,
                entry: raw_name,
                limit: limits.max_bytes,
            });
        }
        if bytes.starts_with(ZIP_MAGIC) {
            skipped.push(SkippedEntry {
                name,
                problem: "nested archive; not opened".into(),
            });
            continue;
        }
        entries.push(ArchiveEntry {
            name,
            bytes: bytes.into(),
        });
    }
    Ok((entries, skipped))
}
