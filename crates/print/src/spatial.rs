//! A uniform-grid index over a mesh's triangles: closest surface point and inside/outside
//! queries in mm.

use medprint_mesh::Mesh;

use crate::vector::{closest_point_on_triangle, dot, sub, widen, Vec3};

/// Triangles bucketed by the grid cells their bounding boxes overlap.
///
/// Invariant: every triangle is listed in every cell its bounding box touches, so a query
/// that visits all cells within distance `r` of a point sees every triangle within `r`.
pub struct SurfaceIndex<'a> {
    mesh: &'a Mesh,
    origin: Vec3,
    cell_mm: f64,
    dims: [usize; 3],
    cell_start: Vec<u32>,
    cell_triangles: Vec<u32>,
}

impl<'a> SurfaceIndex<'a> {
    /// Builds the index; the cell size adapts to the mean triangle size (about 2 triangles
    /// per cell, at most ~2 M cells). Triangles with out-of-range indices are ignored; the
    /// mesh should have finite vertices (queries near non-finite ones are meaningless).
    pub fn new(mesh: &'a Mesh) -> Self {
        let (lo, hi) = mesh.bounds().unwrap_or(([0.0; 3], [0.0; 3]));
        let (lo, hi) = (widen(lo), widen(hi));
        let extent = sub(hi, lo).map(|e| e.max(1e-3));
        let box_volume = extent[0] * extent[1] * extent[2];
        let cells_wanted = (mesh.triangles.len() as f64 / 2.0).clamp(1.0, 2.0e6);
        let surface_cell = (box_volume / cells_wanted).cbrt();
        let mean_edge = mean_edge_length(mesh);
        let cell_mm = surface_cell.max(mean_edge).max(1e-3);
        let dims = extent.map(|e| ((e / cell_mm).ceil() as usize).clamp(1, 1024));
        let cell_mm = (0..3).map(|a| extent[a] / dims[a] as f64).fold(cell_mm, f64::max);
        let mut index = Self {
            mesh,
            origin: lo,
            cell_mm,
            dims,
            cell_start: Vec::new(),
            cell_triangles: Vec::new(),
        };
        let vertex_count = mesh.vertices.len();
        let ranges: Vec<([usize; 3], [usize; 3])> = mesh
            .triangles
            .iter()
            .map(|t| {
                if t.iter().any(|&i| i as usize >= vertex_count) {
                    // Left out of every cell: a triangle with a missing vertex is never queried.
                    return ([1, 1, 1], [0, 0, 0]);
                }
                let pts = t.map(|i| widen(mesh.vertices[i as usize]));
                let lo = [0, 1, 2].map(|a| pts.iter().map(|p| p[a]).fold(f64::INFINITY, f64::min));
                let hi = [0, 1, 2].map(|a| pts.iter().map(|p| p[a]).fold(f64::NEG_INFINITY, f64::max));
                (index.cell_of(lo), index.cell_of(hi))
            })
            .collect();
        let cell_count = dims[0] * dims[1] * dims[2];
        let mut counts = vec![0u32; cell_count + 1];
        for (lo, hi) in &ranges {
            for_cells(*lo, *hi, |c| counts[index.flat(c)] += 1);
        }
        let mut start = 0u32;
        for c in counts.iter_mut() {
            let n = *c;
            *c = start;
            start += n;
        }
        let mut fill = counts.clone();
        let mut cell_triangles = vec![0u32; start as usize];
        for (t, (lo, hi)) in ranges.iter().enumerate() {
            for_cells(*lo, *hi, |c| {
                let f = index.flat(c);
                cell_triangles[fill[f] as usize] = t as u32;
                fill[f] += 1;
            });
        }
        index.cell_start = counts;
        index.cell_triangles = cell_triangles;
        index
    }

    /// Per grid cell (flat index, see [`Self::cell_index`]): `true` when a triangle may lie
    /// within `radius_mm` of some point of the cell (occupied cells dilated by whole cells).
    pub(crate) fn cells_near_surface(&self, radius_mm: f64) -> Vec<bool> {
        let reach = (radius_mm / self.cell_mm).ceil().max(0.0) as usize + 1;
        let mut near: Vec<bool> = (0..self.cell_start.len() - 1)
            .map(|f| self.cell_start[f + 1] > self.cell_start[f])
            .collect();
        // Separable dilation: along x, then y, then z.
        let [nx, ny, nz] = self.dims;
        let strides = [1, nx, nx * ny];
        for (axis, &n) in [nx, ny, nz].iter().enumerate() {
            let stride = strides[axis];
            let source = near.clone();
            for (f, out) in near.iter_mut().enumerate() {
                let at = (f / stride) % n;
                let lo = at.saturating_sub(reach);
                let hi = (at + reach).min(n - 1);
                *out = (lo..=hi).any(|c| source[f - at * stride + c * stride]);
            }
        }
        near
    }

    /// Flat index of the grid cell holding `p` (clamped to the grid).
    pub(crate) fn cell_index(&self, p: Vec3) -> usize {
        self.flat(self.cell_of(p))
    }

    fn cell_of(&self, p: Vec3) -> [usize; 3] {
        [0, 1, 2].map(|a| (((p[a] - self.origin[a]) / self.cell_mm).floor().max(0.0) as usize).min(self.dims[a] - 1))
    }

    fn flat(&self, c: [usize; 3]) -> usize {
        c[0] + self.dims[0] * (c[1] + self.dims[1] * c[2])
    }

    fn triangles_in(&self, c: [usize; 3]) -> &[u32] {
        let f = self.flat(c);
        &self.cell_triangles[self.cell_start[f] as usize..self.cell_start[f + 1] as usize]
    }

    /// Closest point on the surface to `p` and its distance (mm), searching at most
    /// `max_distance` mm away; `None` when no triangle is that close.
    pub fn closest_point(&self, p: Vec3, max_distance: f64) -> Option<(Vec3, f64)> {
        let centre = self.cell_of(p);
        // Distance from p to the box of the grid, so that queries outside the grid work too.
        let outside = (0..3)
            .map(|a| {
                let lo = self.origin[a];
                let hi = lo + self.cell_mm * self.dims[a] as f64;
                (lo - p[a]).max(p[a] - hi).max(0.0)
            })
            .fold(0.0f64, |s, d| s + d * d)
            .sqrt();
        let max_ring = self.dims.iter().copied().max().unwrap_or(1);
        let mut best: Option<(Vec3, f64)> = None;
        for ring in 0..=max_ring {
            // Every cell not yet visited lies outside the cube of rings < `ring` around `centre`.
            let ring_clearance = if ring == 0 {
                0.0
            } else {
                (0..3)
                    .map(|a| {
                        let lo = self.origin[a] + self.cell_mm * (centre[a] as f64 - (ring - 1) as f64);
                        let hi = self.origin[a] + self.cell_mm * (centre[a] + ring) as f64;
                        (p[a] - lo).min(hi - p[a])
                    })
                    .fold(f64::INFINITY, f64::min)
                    .max(outside)
            };
            if ring_clearance > max_distance || best.is_some_and(|(_, d)| d <= ring_clearance) {
                break;
            }
            let lo = centre.map(|c| c.saturating_sub(ring));
            let hi = [0, 1, 2].map(|a| (centre[a] + ring).min(self.dims[a] - 1));
            for_cells(lo, hi, |c| {
                let on_ring = (0..3).any(|a| c[a].abs_diff(centre[a]) == ring);
                if !on_ring {
                    return;
                }
                let limit = best.map_or(max_distance, |(_, d)| d.min(max_distance));
                let box_distance2: f64 = (0..3)
                    .map(|a| {
                        let lo = self.origin[a] + self.cell_mm * c[a] as f64;
                        let gap = (lo - p[a]).max(p[a] - lo - self.cell_mm).max(0.0);
                        gap * gap
                    })
                    .sum();
                if box_distance2 > limit * limit {
                    return;
                }
                for &t in self.triangles_in(c) {
                    let [a, b, cc] = self.mesh.triangles[t as usize].map(|i| widen(self.mesh.vertices[i as usize]));
                    let q = closest_point_on_triangle(p, a, b, cc);
                    let d = sub(q, p);
                    let d = dot(d, d).sqrt();
                    if d <= max_distance && best.is_none_or(|(_, bd)| d < bd) {
                        best = Some((q, d));
                    }
                }
            });
        }
        best
    }

    /// True when `p` is inside the closed surface: parity of crossings of the ray from `p`
    /// along +z (consistent for vertices and edges hit exactly, by half-open edge rules).
    pub fn contains(&self, p: Vec3) -> bool {
        if !self.column_in_grid(p) {
            return false;
        }
        let c = self.cell_of(p);
        let mut crossings = 0usize;
        let mut seen: Vec<u32> = Vec::new();
        for z in c[2]..self.dims[2] {
            for &t in self.triangles_in([c[0], c[1], z]) {
                if seen.contains(&t) {
                    continue;
                }
                let tri = self.mesh.triangles[t as usize];
                if let Some(hit_z) = crate::voxelize::column_hit(self.mesh, tri, p[0], p[1]) {
                    if hit_z > p[2] {
                        crossings += 1;
                    }
                    seen.push(t);
                }
            }
        }
        crossings % 2 == 1
    }

    /// Height (z, mm) of the highest point where the vertical line through `p` meets the
    /// surface strictly below `below_z`; `None` when it meets nothing there.
    pub fn highest_hit_below(&self, p: Vec3, below_z: f64) -> Option<f64> {
        if !self.column_in_grid(p) {
            return None;
        }
        let c = self.cell_of([p[0], p[1], below_z]);
        let mut best: Option<f64> = None;
        for z in (0..=c[2]).rev() {
            // A hit lies in the cell holding its height, so lower cells cannot beat `best`
            // once it is above their top.
            let cell_top = self.origin[2] + self.cell_mm * (z + 1) as f64;
            if best.is_some_and(|b| b >= cell_top) {
                break;
            }
            for &t in self.triangles_in([c[0], c[1], z]) {
                let tri = self.mesh.triangles[t as usize];
                if let Some(h) = crate::voxelize::column_hit(self.mesh, tri, p[0], p[1]) {
                    if h < below_z && best.is_none_or(|b| h > b) {
                        best = Some(h);
                    }
                }
            }
        }
        best
    }

    /// True when the vertical line through `p` passes through the index grid.
    fn column_in_grid(&self, p: Vec3) -> bool {
        (0..2).all(|a| {
            let lo = self.origin[a];
            p[a] >= lo && p[a] <= lo + self.cell_mm * self.dims[a] as f64
        })
    }
}

fn mean_edge_length(mesh: &Mesh) -> f64 {
    let n = mesh.vertices.len();
    let sample = mesh
        .triangles
        .iter()
        .step_by((mesh.triangles.len() / 4096).max(1))
        .filter(|t| t.iter().all(|&i| (i as usize) < n));
    let (sum, n) = sample.fold((0.0, 0usize), |(s, n), t| {
        let a = widen(mesh.vertices[t[0] as usize]);
        let b = widen(mesh.vertices[t[1] as usize]);
        let d = sub(a, b);
        (s + dot(d, d).sqrt(), n + 1)
    });
    if n == 0 {
        1.0
    } else {
        sum / n as f64
    }
}

fn for_cells(lo: [usize; 3], hi: [usize; 3], mut f: impl FnMut([usize; 3])) {
    for z in lo[2]..=hi[2] {
        for y in lo[1]..=hi[1] {
            for x in lo[0]..=hi[0] {
                f([x, y, z]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::ellipsoid;

    #[test]
    fn sphere_distances_and_containment() {
        let sphere = ellipsoid([1.0, 2.0, 3.0], [20.0; 3], 4).expect("sphere");
        let index = SurfaceIndex::new(&sphere);
        for (p, expected) in [
            ([1.0, 2.0, 13.0], 10.0),
            ([31.0, 2.0, 3.0], 10.0),
            ([1.0, -13.0, 3.0], 5.0),
        ] {
            let (_, d) = index.closest_point(p, f64::INFINITY).expect("closest");
            assert!((d - expected).abs() < 0.05, "{p:?}: {d}");
        }
        assert!(index.closest_point([1.0, 2.0, 3.0], 5.0).is_none());
        // On the sphere's axis the +z ray passes exactly through a vertex.
        assert!(index.contains([1.0, 2.0, 3.0]));
        assert!(index.contains([1.0, 2.0, 22.0]));
        assert!(!index.contains([1.0, 2.0, 23.5]));
        assert!(!index.contains([1.0, 2.0, -17.5]));
        assert!(!index.contains([40.0, 2.0, 3.0]));
        // The +z line through the centre meets the sphere at z = -17 and z = 23.
        let below = |z: f64| index.highest_hit_below([1.0, 2.0, 0.0], z);
        assert!(
            below(30.0).is_some_and(|h| (h - 23.0).abs() < 0.05),
            "{:?}",
            below(30.0)
        );
        assert!(
            below(10.0).is_some_and(|h| (h + 17.0).abs() < 0.05),
            "{:?}",
            below(10.0)
        );
        assert!(below(-18.0).is_none());
        assert!(index.highest_hit_below([40.0, 2.0, 0.0], 30.0).is_none());
        let mut broken = sphere.clone();
        broken.triangles[0][1] = u32::MAX;
        let index = SurfaceIndex::new(&broken);
        assert!(index.closest_point([1.0, 2.0, 13.0], 20.0).is_some());
    }
}
