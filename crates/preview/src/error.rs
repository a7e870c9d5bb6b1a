//! Errors of the preview writers.

use std::path::PathBuf;

/// Why a preview could not be produced or written.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// The output directory could not be created.
    #[error("cannot create preview directory {path}: {source}")]
    CreateDir {
        /// Directory that was asked for.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// The PNG could not be encoded or written.
    #[error("cannot write PNG {path}: {source}")]
    WritePng {
        /// File that was asked for.
        path: PathBuf,
        /// Underlying encoder or I/O error.
        source: image::ImageError,
    },
    /// A histogram without any bin was given.
    #[error("histogram has no bins")]
    EmptyHistogram,
    /// A histogram marker has a non-finite HU value.
    #[error("histogram marker {name:?} has a non-finite value")]
    NonFiniteMarker {
        /// Marker name as given.
        name: String,
    },
}

/// Encodes `image` as PNG at `path`.
pub(crate) fn save_png(image: &image::RgbImage, path: &std::path::Path) -> Result<(), PreviewError> {
    image
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|source| PreviewError::WritePng {
            path: path.to_path_buf(),
            source,
        })?;
    tracing::debug!(path = %path.display(), width = image.width(), height = image.height(), "wrote preview");
    Ok(())
}
