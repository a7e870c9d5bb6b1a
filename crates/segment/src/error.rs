//! Errors of the segmentation library.

/// Why a segmentation could not be computed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SegmentError {
    /// The scan holds no voxel.
    #[error("the scan is empty (dims {dims:?})")]
    EmptyVolume {
        /// Grid size of the scan.
        dims: [usize; 3],
    },
    /// A parameter is out of its valid range.
    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The offending value.
        value: f64,
        /// The valid range or rule.
        reason: &'static str,
    },
    /// Two masks or volumes that must have the same size do not.
    #[error("size mismatch: {left} vs {right} voxels")]
    SizeMismatch {
        /// Voxels of the first operand.
        left: usize,
        /// Voxels of the second operand.
        right: usize,
    },
    /// The grid is too large for the 32-bit run indices used by component labelling.
    #[error("grid {dims:?} is too large (more than 2^32 - 1 voxels along a row or runs)")]
    TooLarge {
        /// Grid size.
        dims: [usize; 3],
    },
    /// The scan holds no patient body (all air, or no fat or soft tissue at all, e.g. all metal).
    #[error("no patient body in the scan: {reason}")]
    NoBody {
        /// What was found instead.
        reason: &'static str,
    },
    /// A decision-forest model file could not be written or read (I/O error, not a model file,
    /// another format version, truncated or inconsistent content).
    #[error("model file {path}: {reason}")]
    ModelFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}
