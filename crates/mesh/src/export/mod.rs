//! Writing meshes for printers, slicers and viewers (STL, 3MF, OBJ, GLB) and reading STL
//! back.

pub mod glb;
pub mod obj;
pub mod stl;
pub mod threemf;

pub use glb::write_glb;
pub use obj::write_obj;
pub use stl::{read_stl, write_stl_ascii, write_stl_binary, StlError};
pub use threemf::{write_3mf, ExportError, ModelPart};
