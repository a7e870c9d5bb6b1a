//! Poly-reduction by quadric edge collapse (meshoptimizer's `simplify`), with a topology
//! check afterwards so decimation never makes a printable mesh unprintable.

use meshopt::{SimplifyOptions, VertexDataAdapter};
use tracing::{debug, warn};

use crate::mesh::Mesh;
use crate::repair::{remove_unreferenced_vertices, repair_topology};
use crate::topology::{check_mesh, MeshCheck};

/// Decimation targets; simplification stops at whichever is reached first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecimateOptions {
    /// Fraction of triangles to keep, in (0, 1]; 0.25 keeps a quarter.
    pub target_ratio: f32,
    /// Largest allowed deviation from the input surface, mm.
    pub max_error_mm: f32,
}

impl Default for DecimateOptions {
    fn default() -> Self {
        Self {
            target_ratio: 0.25,
            max_error_mm: 0.2,
        }
    }
}

/// Simplifies `m` towards `target_ratio` of its triangles without exceeding
/// `max_error_mm` (converted to meshoptimizer's relative error through the mesh extent,
/// `meshopt::simplify_scale`). Borders are not locked. Out-of-range options are clamped
/// (ratio to (0, 1], a non-finite or negative error to 0 = no collapse that moves the
/// surface).
///
/// meshoptimizer only collapses onto existing vertices and keeps the topology in the
/// common case, but can produce zero-area or flipped triangles and, at large errors on
/// voxel staircases, non-manifold edges. The result is therefore checked and repaired; if
/// it is still worse than the input (new boundary or non-manifold edges, lost
/// orientation) it is redone with a quarter of the error (three times), and finally the
/// input is returned unchanged with a warning.
pub fn decimate(m: &Mesh, o: &DecimateOptions) -> Mesh {
    if m.triangles.is_empty() {
        return m.clone();
    }
    let ratio = if o.target_ratio.is_finite() {
        o.target_ratio.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let max_error_mm = if o.max_error_mm.is_finite() {
        o.max_error_mm.max(0.0)
    } else {
        0.0
    };
    let Ok(adapter) = VertexDataAdapter::new(meshopt::typed_to_bytes(&m.vertices), std::mem::size_of::<[f32; 3]>(), 0)
    else {
        warn!("meshopt rejected the vertex buffer; decimation skipped");
        return m.clone();
    };
    let scale = meshopt::simplify_scale(&adapter);
    let relative_error = if scale > 0.0 { max_error_mm / scale } else { 0.0 };
    let target_indices = ((m.triangles.len() as f64 * f64::from(ratio)).round() as usize).max(4) * 3;
    let before = check_mesh(m);
    // meshoptimizer can pinch thin staircase features into non-manifold edges at large
    // errors; retry with a quarter of the error bound before giving up.
    let mut relative_error = relative_error;
    for attempt in 0..4 {
        let mut result_error = 0.0f32;
        let indices = meshopt::simplify(
            m.triangles.as_flattened(),
            &adapter,
            target_indices,
            relative_error,
            SimplifyOptions::None,
            Some(&mut result_error),
        );
        let mut out = Mesh {
            vertices: m.vertices.clone(),
            triangles: indices.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
        };
        remove_unreferenced_vertices(&mut out);
        debug!(
            attempt,
            input = m.triangles.len(),
            output = out.triangles.len(),
            error_mm = result_error * scale,
            "decimate"
        );
        if no_worse(&before, &check_mesh(&out)) {
            return out;
        }
        repair_topology(&mut out);
        let repaired = check_mesh(&out);
        if no_worse(&before, &repaired) {
            return out;
        }
        debug!(
            ?repaired,
            "decimation damaged the topology; retrying with a smaller error"
        );
        relative_error /= 4.0;
    }
    warn!("decimation damaged the topology beyond repair; keeping the input mesh");
    m.clone()
}

/// True when `after` has no defect `before` did not have.
fn no_worse(before: &MeshCheck, after: &MeshCheck) -> bool {
    after.boundary_edges <= before.boundary_edges
        && after.non_manifold_edges <= before.non_manifold_edges
        && after.non_manifold_vertices <= before.non_manifold_vertices
        && after.degenerate_triangles <= before.degenerate_triangles
        && (after.oriented || !before.oriented)
        && (after.outward || !before.outward)
}
