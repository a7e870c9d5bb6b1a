//! The medprint pipeline as a library.
//!
//! A scan goes in (DICOM folder, zip, single DICOM file or NIfTI); out come a print-ready bone
//! model (binary STL and 3MF, patient millimetres), the label volume on the input grid
//! (`labels.nii.gz`), PNG previews and a JSON [`Report`]. The CLI, the server's workers and
//! the tests all call [`convert_path`] / [`convert_scan`] the same way.

pub mod convert;
pub mod demo;
pub mod params;
pub mod print_ready;
pub mod progress;
pub mod report;
pub mod shell_volumes;
pub mod tissues;
pub mod validation;

pub use convert::{convert_path, convert_scan, write_report, ConvertOptions, OutputNames, PipelineError, TrainedModel};
pub use demo::{run_demo, DemoComparison, DemoOutcome};
pub use params::RunParams;
pub use progress::{NoProgress, Progress, Stage};
pub use report::Report;
pub use validation::{validate, ValidationOptions, ValidationReport};
