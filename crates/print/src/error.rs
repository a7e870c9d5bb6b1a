//! Errors of every print-preparation operation, and the input checks they share.

use medprint_mesh::{check_mesh, Mesh};

/// Why a print-preparation step refused its input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrintError {
    /// A mesh without triangles where a model is needed.
    #[error("{what}: the mesh has no triangles")]
    EmptyMesh {
        /// Which input.
        what: String,
    },
    /// A vertex coordinate is NaN or infinite.
    #[error("{what}: vertex {vertex} has a non-finite coordinate")]
    NonFiniteVertex {
        /// Which input.
        what: String,
        /// Index of the offending vertex.
        vertex: usize,
    },
    /// A triangle refers to a vertex that does not exist.
    #[error("{what}: triangle {triangle} refers to a missing vertex")]
    BadIndex {
        /// Which input.
        what: String,
        /// Index of the offending triangle.
        triangle: usize,
    },
    /// The mesh is not a closed 2-manifold, so inside and outside are undefined.
    #[error("{what}: the mesh is not closed and manifold ({boundary_edges} boundary edges, {non_manifold_edges} non-manifold edges)")]
    NotClosed {
        /// Which input.
        what: String,
        /// Edges used by one triangle only.
        boundary_edges: usize,
        /// Edges used by more than two triangles.
        non_manifold_edges: usize,
    },
    /// A length, count or direction parameter is out of range (zero, negative, NaN …).
    #[error("parameter {name} = {value} is invalid: {why}")]
    BadParameter {
        /// Parameter name.
        name: &'static str,
        /// The value given (as f64).
        value: f64,
        /// What it must satisfy.
        why: &'static str,
    },
    /// The work would need more memory than allowed (e.g. a voxel grid too fine for the part).
    #[error("{what} needs {needed} cells, more than the limit of {limit}")]
    TooLarge {
        /// What was to be allocated.
        what: &'static str,
        /// Cells needed.
        needed: u64,
        /// The limit.
        limit: u64,
    },
    /// The operation cannot be done on this geometry (e.g. a part that cannot be cut to fit).
    #[error("{0}")]
    Infeasible(String),
}

/// Checks a positive, finite parameter (mm, counts as f64).
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, PrintError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(PrintError::BadParameter {
            name,
            value,
            why: "must be finite and > 0",
        })
    }
}

/// Checks a vector parameter (e.g. a direction): finite and not zero; returns it normalised.
pub(crate) fn unit_direction(name: &'static str, d: [f64; 3]) -> Result<[f64; 3], PrintError> {
    let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
    if len.is_finite() && len > 1e-12 {
        Ok(d.map(|c| c / len))
    } else {
        Err(PrintError::BadParameter {
            name,
            value: len,
            why: "must be a finite, non-zero vector",
        })
    }
}

/// Checks that a mesh is usable as geometry: non-empty, finite vertices, valid indices.
pub(crate) fn check_geometry(m: &Mesh, what: &str) -> Result<(), PrintError> {
    if m.triangles.is_empty() {
        return Err(PrintError::EmptyMesh { what: what.to_string() });
    }
    if let Some(vertex) = m.vertices.iter().position(|v| v.iter().any(|c| !c.is_finite())) {
        return Err(PrintError::NonFiniteVertex {
            what: what.to_string(),
            vertex,
        });
    }
    let n = m.vertices.len();
    if let Some(triangle) = m.triangles.iter().position(|t| t.iter().any(|&i| i as usize >= n)) {
        return Err(PrintError::BadIndex {
            what: what.to_string(),
            triangle,
        });
    }
    Ok(())
}

/// [`check_geometry`] plus closedness and manifoldness: the input of every solid operation.
pub(crate) fn check_solid(m: &Mesh, what: &str) -> Result<(), PrintError> {
    check_geometry(m, what)?;
    let check = check_mesh(m);
    if !check.closed || check.non_manifold_edges > 0 {
        return Err(PrintError::NotClosed {
            what: what.to_string(),
            boundary_edges: check.boundary_edges,
            non_manifold_edges: check.non_manifold_edges,
        });
    }
    Ok(())
}
