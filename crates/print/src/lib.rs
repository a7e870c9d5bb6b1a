//! medprint-print: turns conditioned shells (patient mm) into parts a printer can make
//! (seed §5): cavity filling, hollowing with drainage, dowels, orientation and supports,
//! splitting for a build volume with connector pins, channels and the hard-link tag.
//!
//! Every operation takes closed meshes in patient mm, returns new meshes and a small report,
//! and refuses bad input (empty, non-finite, open meshes, non-positive parameters) with a
//! [`PrintError`] instead of panicking.

pub mod cavities;
pub mod channels;
pub mod clip;
pub mod distance_field;
pub mod dowels;
pub mod error;
pub mod fallback;
pub mod hollow;
pub mod orientation;
pub mod prepare;
pub mod primitives;
pub mod spatial;
pub mod split;
pub mod supports;
pub mod tag;
pub mod vector;
pub mod voxelize;

pub use error::PrintError;
pub use fallback::{Fallback, PrintStep};
pub use prepare::{prepare, NamedMesh, PartRole, PreparedPart, PreparedPrint, PrintOptions, PrintReport, TagRequest};
