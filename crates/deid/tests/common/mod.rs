//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::Tag;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};

/// Where the shared test data lives (overridable with MEDPRINT_DATA).
pub fn data_root() -> PathBuf {
    std::env::var_os("MEDPRINT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/shared/data"))
}

fn dcm_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    files.sort();
    files
}

/// Every real DICOM file the tests run on: dicom-samples and dicom-transfer-syntaxes/In.
pub fn real_files() -> Vec<PathBuf> {
    let root = data_root();
    let mut files = dcm_files(&root.join("dicom-samples"));
    files.extend(dcm_files(&root.join("dicom-transfer-syntaxes/In")));
    assert!(
        files.len() >= 17,
        "expected the 8 samples and 9 transfer syntax files, found {}",
        files.len()
    );
    files
}

/// The de-identified files of the transfer syntax set (one series per README).
pub fn transfer_syntax_files() -> Vec<PathBuf> {
    dcm_files(&data_root().join("dicom-transfer-syntaxes/In"))
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Re-parses Part-10 output (always written with a preamble) with dicom-rs directly.
pub fn reparse(bytes: &[u8]) -> DefaultDicomObject {
    assert!(
        bytes.len() > 132 && &bytes[128..132] == b"DICM",
        "output is not Part-10 with preamble"
    );
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_all()
        .from_reader(&bytes[128..])
        .expect("de-identified output parses")
}

pub fn text(ds: &InMemDicomObject, tag: Tag) -> Option<String> {
    ds.get(tag)
        .and_then(|e| e.value().primitive())
        .map(|p| p.to_str().trim_matches(|c: char| c == '\0' || c == ' ').to_string())
}

/// Every tag in the data set, recursively, with its path.
pub fn all_tags(ds: &InMemDicomObject, prefix: &str, out: &mut Vec<(String, Tag)>) {
    for e in ds.iter() {
        let path = format!("{prefix}({:04X},{:04X})", e.tag().0, e.tag().1);
        out.push((path.clone(), e.tag()));
        if let Value::Sequence(s) = e.value() {
            for (i, item) in s.items().iter().enumerate() {
                all_tags(item, &format!("{path}[{i}]."), out);
            }
        }
    }
}

/// Every UID value under `tag`, recursively.
pub fn uids_of(ds: &InMemDicomObject, tag: Tag, out: &mut Vec<String>) {
    for e in ds.iter() {
        if e.tag() == tag {
            if let Some(p) = e.value().primitive() {
                out.extend(
                    p.to_multi_str()
                        .iter()
                        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' ').to_string()),
                );
            }
        }
        if let Value::Sequence(s) = e.value() {
            for item in s.items() {
                uids_of(item, tag, out);
            }
        }
    }
}
