//! Triangle meshes for printing: isosurface extraction, conditioning, validation and export.
//!
//! Every mesh here is in patient coordinates (LPS, millimetres), so a printed model is 1:1.

pub mod mesh;

pub use mesh::Mesh;
