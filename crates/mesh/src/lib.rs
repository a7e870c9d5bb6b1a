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
pub mod self_intersection;
pub mod shells;
pub mod smooth;
pub mod surface_distance;
pub mod topology;
pub mod validate;

pub use condition::{condition, condition_with_volume_targets, ConditionOptions, ConditionReport, ShellVolumeTargets};
pub use decimate::{decimate, decimate_to_triangle_count, DecimateOptions};
pub use measure::{signed_volume_mm3, surface_area_mm2};
pub use mesh::Mesh;
pub use surface_distance::{surface_distances, DistanceError, SurfaceDistances};
pub use topology::{check_mesh, MeshCheck};
pub use validate::{validate, ShellValidation, Validation};
