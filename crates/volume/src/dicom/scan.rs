//! Finding DICOM files, reading their headers in parallel and grouping them by series.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_encoding::TransferSyntaxIndex;
use dicom_object::DefaultDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use rayon::prelude::*;

use super::header::ImageHeader;
use super::source::{DicomSource, ReadExtent};

/// A file whose header was read successfully.
#[derive(Debug, Clone)]
pub struct ScannedFile {
    /// Where the file is.
    pub source: DicomSource,
    /// Its image attributes.
    pub header: ImageHeader,
}

/// A file that could not be used, with the reason.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// File name (path or archive entry).
    pub name: String,
    /// Why it was rejected.
    pub problem: String,
}

/// Files of one Series Instance UID, in scan order.
#[derive(Debug, Clone)]
pub struct SeriesGroup {
    /// Series Instance UID (a placeholder when the files have none).
    pub uid: String,
    /// The files.
    pub files: Vec<ScannedFile>,
}

impl SeriesGroup {
    /// Number of 2D images (frames summed over files).
    pub fn slice_count(&self) -> u64 {
        self.files.iter().map(|f| u64::from(f.header.frames)).sum()
    }

    /// Modality of the first file (upper case; empty when unknown).
    pub fn modality(&self) -> &str {
        self.files.first().map(|f| f.header.modality.as_str()).unwrap_or("")
    }
}

/// Series UID used for files that lack one.
pub const MISSING_SERIES_UID: &str = "(no SeriesInstanceUID)";

/// Every regular file under `dir` (any depth), sorted by path. Symbolic links to directories
/// are not followed, so link cycles cannot loop.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Voxels a compressed (encapsulated) file may declare whatever its size (4 Mi voxels, 8 MiB
/// of i16): small or blank images compress to almost nothing.
const ENCAPSULATED_FREE_VOXELS: u64 = 1 << 22;
/// Voxels a compressed file may declare per byte of the file beyond that (128:1 for 16-bit
/// samples; lossless CT compresses about 3:1, lossy rarely beyond 30:1).
const ENCAPSULATED_VOXELS_PER_BYTE: u64 = 64;

/// Refuses a file whose header declares more pixel data than its bytes can hold: exactly for
/// uncompressed transfer syntaxes, by a generous compression bound for compressed ones. This
/// runs before anything is allocated for the pixels, so a small hostile file cannot make the
/// loader reserve gigabytes.
fn check_pixel_bytes(source: &DicomSource, obj: &DefaultDicomObject, header: &ImageHeader) -> Result<(), String> {
    let file_bytes = source.byte_len()?;
    let voxels = header.declared_voxels();
    let size = || format!("{}×{} pixels × {} frame(s)", header.columns, header.rows, header.frames);
    let encapsulated = TransferSyntaxRegistry
        .get(obj.meta().transfer_syntax())
        .is_none_or(|ts| ts.is_encapsulated_pixel_data());
    if encapsulated {
        let allowed = ENCAPSULATED_FREE_VOXELS.max(file_bytes.saturating_mul(ENCAPSULATED_VOXELS_PER_BYTE));
        if voxels > allowed {
            return Err(format!(
                "declares {} but has only {file_bytes} bytes of compressed data; the file is truncated or corrupt",
                size()
            ));
        }
        return Ok(());
    }
    let needed = voxels
        .saturating_mul(u64::from(header.samples_per_pixel))
        .saturating_mul(u64::from(header.bits_allocated / 8));
    if needed > file_bytes {
        return Err(format!(
            "declares {} ({needed} bytes of pixel data) but the file has only {file_bytes} bytes; it is truncated or corrupt",
            size()
        ));
    }
    Ok(())
}

/// Reads the header of every source in parallel; files that are not usable DICOM images are
/// returned as rejected with the reason.
pub fn read_headers(sources: Vec<DicomSource>) -> (Vec<ScannedFile>, Vec<Rejected>) {
    let results: Vec<Result<ScannedFile, Rejected>> = sources
        .into_par_iter()
        .map(|source| {
            let reject = |problem: String| Rejected {
                name: source.display_name(),
                problem,
            };
            let obj = source.open(ReadExtent::Header).map_err(reject)?;
            let header = ImageHeader::from_object(&obj).map_err(reject)?;
            check_pixel_bytes(&source, &obj, &header).map_err(reject)?;
            Ok(ScannedFile { source, header })
        })
        .collect();
    let mut files = Vec::new();
    let mut rejected = Vec::new();
    for r in results {
        match r {
            Ok(f) => files.push(f),
            Err(e) => rejected.push(e),
        }
    }
    (files, rejected)
}

/// Groups files by Series Instance UID (sorted by UID for a stable listing).
pub fn group_by_series(files: Vec<ScannedFile>) -> Vec<SeriesGroup> {
    let mut map: BTreeMap<String, Vec<ScannedFile>> = BTreeMap::new();
    for f in files {
        let uid = f
            .header
            .series_uid
            .clone()
            .unwrap_or_else(|| MISSING_SERIES_UID.to_string());
        map.entry(uid).or_default().push(f);
    }
    map.into_iter().map(|(uid, files)| SeriesGroup { uid, files }).collect()
}

/// The default series: the CT series with the most slices, else the series with the most
/// slices (ties: first by UID).
pub fn default_series(groups: &[SeriesGroup]) -> Option<usize> {
    let best = |ct_only: bool| {
        groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !ct_only || g.modality() == "CT")
            .max_by(|(ia, a), (ib, b)| a.slice_count().cmp(&b.slice_count()).then(ib.cmp(ia)))
            .map(|(i, _)| i)
    };
    best(true).or_else(|| best(false))
}
