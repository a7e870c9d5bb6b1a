//! Isosurface extraction: closed, oriented, manifold triangle meshes from scalar volumes.
//!
//! Marching cubes with a topologically consistent case table ([`tables`]) evaluated by a
//! parallel flying-edges style sweep ([`flying_edges`]). The grid is treated as surrounded by
//! outside samples, so every surface comes out closed; structures cut by the scan edge are capped
//! at the hull of the voxel centres.

mod flying_edges;
mod tables;

use medprint_volume::{Sample, Volume};

use crate::Mesh;

/// Why an isosurface could not be built.
#[derive(Debug, thiserror::Error)]
pub enum IsosurfaceError {
    /// The surface needs more vertices than 32-bit triangle indices can address.
    #[error("the isosurface needs {vertices} vertices, more than 32-bit indices can address")]
    TooManyVertices {
        /// Vertices the surface would need.
        vertices: u64,
    },
}

/// Extracts the closed, oriented isosurface `value == iso` of a volume, in patient mm (LPS)
/// via `v.geometry`.
///
/// Samples strictly greater than `iso` are inside (samples equal to `iso`, NaN and the padding
/// around the grid are outside). Output invariants, for every input:
/// - one shared vertex per crossed grid edge, linearly interpolated in index space (kept at
///   least 1/1000 of the edge away from both samples, so no triangle is degenerate);
/// - a closed 2-manifold: every edge is shared by exactly two triangles, every vertex has a
///   single fan; ambiguous faces separate the inside corners (inside is 6-connected);
/// - triangles are counter-clockwise seen from outside in patient space (the winding is flipped
///   for left-handed direction matrices), so the signed volume is positive;
/// - structures cut by the scan edge are capped at the hull of the voxel centres.
///
/// # Panics
/// Only if the surface needs more than `u32::MAX` vertices (grids beyond ~1.4 G voxels); use
/// [`try_extract_isosurface`] to get an error instead.
pub fn extract_isosurface<T: Sample>(v: &Volume<T>, iso: f32) -> Mesh {
    match try_extract_isosurface(v, iso) {
        Ok(mesh) => mesh,
        Err(e) => panic!("{e}"),
    }
}

/// [`extract_isosurface`] that reports an oversized surface as an error instead of panicking.
pub fn try_extract_isosurface<T: Sample>(v: &Volume<T>, iso: f32) -> Result<Mesh, IsosurfaceError> {
    flying_edges::extract(v, iso)
}
