//! Versioned binary files for trained models: 16 magic bytes, a format version (u32 little
//! endian), then a postcard body. Readers reject other magic, other versions, oversized,
//! truncated and trailing-garbage files with a message that names the file.

use crate::SegmentError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// Model files larger than this are rejected before reading (bytes).
pub const MAX_MODEL_FILE_BYTES: u64 = 1 << 30;

/// What identifies one kind of model file.
#[derive(Debug, Clone, Copy)]
pub struct FileKind {
    /// Magic bytes at the start of the file.
    pub magic: &'static [u8; 16],
    /// Format version this build writes and reads.
    pub version: u32,
    /// Human name used in error messages ("forest model").
    pub name: &'static str,
}

fn file_error(path: &Path, reason: String) -> SegmentError {
    SegmentError::ModelFile {
        path: path.display().to_string(),
        reason,
    }
}

/// Writes `value` as a `kind` file, through a temporary name renamed into place so a crash
/// never leaves a half-written model under the final name.
pub fn write_model_file<T: Serialize>(path: &Path, kind: FileKind, value: &T) -> Result<(), SegmentError> {
    let mut bytes = kind.magic.to_vec();
    bytes.extend_from_slice(&kind.version.to_le_bytes());
    let body = postcard::to_allocvec(value).map_err(|e| file_error(path, format!("encode: {e}")))?;
    bytes.extend_from_slice(&body);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = path.with_file_name(format!(".{file_name}.partial"));
    std::fs::write(&partial, bytes).map_err(|e| file_error(path, format!("write: {e}")))?;
    std::fs::rename(&partial, path).map_err(|e| file_error(path, format!("write: {e}")))
}

/// Reads a `kind` file written by [`write_model_file`] and checks it with `validate`.
pub fn read_model_file<T: DeserializeOwned>(
    path: &Path,
    kind: FileKind,
    validate: impl FnOnce(&T) -> Result<(), String>,
) -> Result<T, SegmentError> {
    let size = std::fs::metadata(path)
        .map_err(|e| file_error(path, format!("read: {e}")))?
        .len();
    if size > MAX_MODEL_FILE_BYTES {
        return Err(file_error(
            path,
            format!("{size} bytes is larger than {MAX_MODEL_FILE_BYTES}"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| file_error(path, format!("read: {e}")))?;
    decode_model(&bytes, kind)
        .and_then(|value| validate(&value).map(|()| value))
        .map_err(|reason| file_error(path, reason))
}

/// Decodes the bytes of a `kind` file (see [`read_model_file`]).
pub fn decode_model<T: DeserializeOwned>(bytes: &[u8], kind: FileKind) -> Result<T, String> {
    let header = kind.magic.len() + 4;
    if bytes.len() < header || &bytes[..kind.magic.len()] != kind.magic {
        return Err(format!("not a medprint {} (bad magic bytes)", kind.name));
    }
    let mut version = [0u8; 4];
    version.copy_from_slice(&bytes[kind.magic.len()..header]);
    let version = u32::from_le_bytes(version);
    if version != kind.version {
        return Err(format!(
            "format version {version}, this build reads version {}: retrain or convert the model",
            kind.version
        ));
    }
    let (value, rest): (T, &[u8]) =
        postcard::take_from_bytes(&bytes[header..]).map_err(|e| format!("corrupt or truncated: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} unexpected bytes after the model", rest.len()));
    }
    Ok(value)
}
