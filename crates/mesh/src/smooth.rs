//! Volume-preserving smoothing that removes the voxel staircase ("pixelisation") of
//! isosurfaces: Taubin λ/μ filtering plus an optional global volume correction.

use rayon::prelude::*;

use crate::measure::{signed_volume_mm3, surface_area_mm2, triangle_cross};
use crate::mesh::Mesh;
use crate::topology::VertexCorners;

/// Taubin's shrink step factor (positive).
pub const TAUBIN_LAMBDA: f32 = 0.5;
/// Taubin's inflate step factor (negative, |μ| slightly above λ).
pub const TAUBIN_MU: f32 = -0.53;

/// Taubin λ/μ smoothing: each iteration moves every vertex by λ·(umbrella) and then by
/// μ·(umbrella), where the umbrella is the mean of the edge neighbours minus the vertex
/// (uniform weights). With λ = 0.5, μ = −0.53 it is a low-pass filter that removes
/// voxel-scale noise without the shrinkage of plain Laplacian smoothing.
///
/// The vertex adjacency is built once as a CSR table; each half-step is a parallel pass
/// over the vertices into a second buffer. Isolated vertices do not move. Topology is not
/// changed.
pub fn smooth_taubin(m: &mut Mesh, iterations: usize, lambda: f32, mu: f32) {
    if iterations == 0 || m.vertices.is_empty() {
        return;
    }
    smooth_taubin_with(m, &VertexNeighbours::build(m), iterations, lambda, mu);
}

/// [`smooth_taubin`] with a prebuilt neighbour table.
pub(crate) fn smooth_taubin_with(m: &mut Mesh, adjacency: &VertexNeighbours, iterations: usize, lambda: f32, mu: f32) {
    let mut scratch = m.vertices.clone();
    for _ in 0..iterations {
        for factor in [lambda, mu] {
            umbrella_step(adjacency, &m.vertices, &mut scratch, factor);
            std::mem::swap(&mut m.vertices, &mut scratch);
        }
    }
}

/// Moves every vertex along its area-weighted normal by one common offset so that the
/// enclosed volume becomes `target_volume_mm3` (first-order: offset = ΔV / area, applied
/// twice to absorb the curvature term). Use after [`smooth_taubin`] with the volume
/// measured before it. Does nothing for meshes without area.
pub fn restore_volume(m: &mut Mesh, target_volume_mm3: f64) {
    restore_volume_along(m, target_volume_mm3, &vertex_normals(m));
}

/// [`restore_volume`] along precomputed unit vertex `normals`.
pub(crate) fn restore_volume_along(m: &mut Mesh, target_volume_mm3: f64, normals: &[[f32; 3]]) {
    for _ in 0..2 {
        let area = surface_area_mm2(m);
        if area <= 0.0 {
            return;
        }
        let offset = ((target_volume_mm3 - signed_volume_mm3(m)) / area) as f32;
        m.vertices.par_iter_mut().zip(normals).for_each(|(p, n)| {
            for a in 0..3 {
                p[a] += offset * n[a];
            }
        });
    }
}

/// Unit vertex normals, area-weighted over incident triangles (zero for isolated ones).
pub fn vertex_normals(m: &Mesh) -> Vec<[f32; 3]> {
    vertex_normals_with(m, &VertexCorners::build(m))
}

/// [`vertex_normals`] from a prebuilt corner table: a parallel gather over the vertices
/// (each triangle's normal is recomputed at its three corners instead of scattered).
pub(crate) fn vertex_normals_with(m: &Mesh, corners: &VertexCorners) -> Vec<[f32; 3]> {
    (0..m.vertices.len() as u32)
        .into_par_iter()
        .map(|v| {
            let mut s = [0.0f64; 3];
            for &c in corners.corners_of(v) {
                let n = triangle_cross(m, &m.triangles[(c / 3) as usize]);
                for a in 0..3 {
                    s[a] += n[a];
                }
            }
            let len = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).sqrt();
            if len > 0.0 {
                s.map(|c| (c / len) as f32)
            } else {
                [0.0; 3]
            }
        })
        .collect()
}

/// One half-step `out[v] = p[v] + factor · (mean(p[neighbours]) − p[v])`.
fn umbrella_step(adjacency: &VertexNeighbours, p: &[[f32; 3]], out: &mut [[f32; 3]], factor: f32) {
    out.par_iter_mut().enumerate().for_each(|(v, o)| {
        let neighbours = adjacency.of(v);
        let here = p[v];
        if neighbours.is_empty() {
            *o = here;
            return;
        }
        let mut mean = [0.0f32; 3];
        for &n in neighbours {
            let q = p[n as usize];
            for a in 0..3 {
                mean[a] += q[a];
            }
        }
        let inv = 1.0 / neighbours.len() as f32;
        *o = std::array::from_fn(|a| here[a] + factor * (mean[a] * inv - here[a]));
    });
}

/// CSR table of each vertex's distinct edge neighbours.
pub(crate) struct VertexNeighbours {
    offsets: Vec<u32>,
    neighbours: Vec<u32>,
}

impl VertexNeighbours {
    /// Parallel sort of both directions of every edge, then dedup: O(n log n).
    pub(crate) fn build(m: &Mesh) -> Self {
        let mut pairs: Vec<(u32, u32)> = m
            .triangles
            .par_iter()
            .flat_map_iter(|t| {
                (0..3).flat_map(move |k| {
                    let (a, b) = (t[k], t[(k + 1) % 3]);
                    [(a, b), (b, a)]
                })
            })
            .filter(|(a, b)| a != b)
            .collect();
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut offsets = vec![0u32; m.vertices.len() + 1];
        for &(a, _) in &pairs {
            offsets[a as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let neighbours = pairs.into_iter().map(|(_, b)| b).collect();
        Self { offsets, neighbours }
    }

    /// From the corner table of a closed, manifold, consistently oriented mesh (a clean
    /// [`crate::topology::LocalCheck`]): there every edge `v–w` is traversed once as
    /// `v → w`, so the distinct neighbours of `v` are exactly the vertices following `v`
    /// in its triangles. A parallel map over the corners; no sort. On other meshes
    /// neighbours can be missing or repeated: use [`VertexNeighbours::build`].
    pub(crate) fn from_clean_corners(m: &Mesh, corners: &VertexCorners) -> Self {
        let flat = m.triangles.as_flattened();
        let neighbours = corners
            .corners()
            .par_iter()
            .map(|&c| {
                let next = if c % 3 == 2 { c - 2 } else { c + 1 };
                flat[next as usize]
            })
            .collect();
        Self {
            offsets: corners.offsets().to_vec(),
            neighbours,
        }
    }

    fn of(&self, v: usize) -> &[u32] {
        &self.neighbours[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }
}
