//! PNG previews of scans, segmentations, histograms and meshes.
//!
//! These images are what a surgeon or engineer opens first, so every one carries its own
//! orientation letters, scale bar and caption, drawn with a built-in bitmap font (no system
//! fonts needed). Patient coordinates are DICOM LPS millimetres throughout.

pub mod draw;
pub mod error;
pub mod histogram;
pub mod mesh_view;
pub mod palette;
pub mod slice;
pub mod text;

pub use error::PreviewError;
pub use histogram::{render_histogram_plot, write_histogram_plot};
pub use mesh_view::{render_mesh_views, write_mesh_preview};
pub use slice::{render_slice, write_slice_previews, Overlay, Plane, Window};
