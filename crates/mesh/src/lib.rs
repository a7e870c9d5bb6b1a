//! Triangle meshes for printing: isosurface extraction, conditioning, validation and export.
//!
//! Every mesh here is in patient coordinates (LPS, millimetres), so a printed model is 1:1.

pub mod condition;
pub mod decimate;
pub mod export;
pub mod isosurface;
pub mod measure;
pub mod mesh;
pub mod repair;
pub mod shells;
pub mod smooth;
pub mod topology;

pub use condition::{condition, ConditionOptions, ConditionReport};
pub use decimate::{decimate, DecimateOptions};
pub use measure::{signed_volume_mm3, surface_area_mm2};
pub use mesh::Mesh;
pub use topology::{check_mesh, MeshCheck};
