//! DICOM input and output.
//!
//! Reading happens in two passes: headers first (without pixel data) to group files into
//! series, order the slices and check sizes, then pixel decoding slice by slice in parallel
//! straight into the destination grid. Writing produces one CT image file per slice.

pub mod header;
mod lengths;
pub mod pixels;
pub mod scan;
pub mod series;
pub mod source;
pub mod write;

pub use write::{write_dicom_series, DicomWriteError, WriteSeriesOptions, WriteTransferSyntax};
