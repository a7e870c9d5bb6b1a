//! 3D medical images and their geometry.
//!
//! A [`Volume`] is a dense 3D grid of samples stored x-fastest (`index = x + nx*(y + ny*z)`),
//! together with a [`Geometry`] that maps voxel indices to patient coordinates in millimetres.
//! Patient coordinates follow the DICOM convention (LPS: +x towards the patient's left,
//! +y towards posterior, +z towards head); NIfTI readers/writers convert to and from RAS at
//! the file boundary only.

pub mod archive;
pub mod dicom;
pub mod geometry;
pub mod grid;
pub mod input;
pub mod nifti;
pub mod resample;

pub use geometry::Geometry;
pub use grid::{Dims, Sample, ShapeMismatch, Volume};
