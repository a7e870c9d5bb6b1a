//! Writing meshes for printers and slicers (STL, 3MF) and reading STL back.

pub mod stl;
pub mod threemf;

pub use stl::{read_stl, write_stl_ascii, write_stl_binary, StlError};
pub use threemf::{write_3mf, ExportError, ModelPart};
