//! Distances between two surfaces (mm): symmetric Hausdorff, 95th-percentile Hausdorff
//! (HD95) and mean surface distance, as used to compare a simplified or repaired model
//! with its source.
//!
//! Each surface is sampled (area-weighted, stratified and deterministic, plus every
//! vertex for the Hausdorff maximum) and each sample's exact distance to the other
//! surface's triangles is found through a uniform grid of triangle buckets searched in
//! growing rings.

use rayon::prelude::*;
use serde::Serialize;
use thiserror::Error;

use crate::measure::{cross, dot, norm, sub};
use crate::mesh::Mesh;

/// Why distances could not be measured.
#[derive(Debug, Error, PartialEq)]
pub enum DistanceError {
    /// One of the meshes has no triangle with positive area.
    #[error("the {0} mesh has no triangle with positive area")]
    EmptySurface(&'static str),
    /// A vertex coordinate is NaN or infinite.
    #[error("the {0} mesh has a non-finite vertex coordinate")]
    NonFinite(&'static str),
    /// A triangle refers to a vertex that does not exist.
    #[error("the {0} mesh has a triangle index past its vertices")]
    IndexOutOfRange(&'static str),
}

/// Distances between surfaces A and B, mm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SurfaceDistances {
    /// Symmetric Hausdorff distance: the largest distance from a point of one surface to
    /// the other (over the samples and all vertices).
    pub hausdorff_mm: f64,
    /// 95th percentile of the area-weighted sample distances of both directions pooled.
    pub hd95_mm: f64,
    /// Mean of the area-weighted sample distances of both directions pooled.
    pub mean_mm: f64,
    /// Area-weighted samples per surface.
    pub samples_per_surface: usize,
}

/// Measures [`SurfaceDistances`] between `a` and `b` with `samples_per_surface`
/// area-weighted samples on each (at least 1). Errors for meshes without area, with
/// non-finite coordinates or with out-of-range indices.
pub fn surface_distances(a: &Mesh, b: &Mesh, samples_per_surface: usize) -> Result<SurfaceDistances, DistanceError> {
    check(a, "first")?;
    check(b, "second")?;
    let samples = samples_per_surface.max(1);
    let index_a = TriangleGrid::build(a);
    let index_b = TriangleGrid::build(b);
    let directed = |from: &Mesh, to: &TriangleGrid| -> (Vec<f64>, f64) {
        let points = area_samples(from, samples);
        let distances: Vec<f64> = points.par_iter().map(|&p| to.distance(p)).collect();
        let vertex_max = from
            .vertices
            .par_iter()
            .map(|p| to.distance(p.map(f64::from)))
            .reduce(|| 0.0, f64::max);
        let sample_max = distances.iter().copied().fold(0.0, f64::max);
        (distances, vertex_max.max(sample_max))
    };
    let (mut pooled, max_ab) = directed(a, &index_b);
    let (from_b, max_ba) = directed(b, &index_a);
    pooled.extend(from_b);
    let mean_mm = pooled.iter().sum::<f64>() / pooled.len() as f64;
    pooled.par_sort_unstable_by(f64::total_cmp);
    let rank = ((0.95 * pooled.len() as f64).ceil() as usize).clamp(1, pooled.len()) - 1;
    Ok(SurfaceDistances {
        hausdorff_mm: max_ab.max(max_ba),
        hd95_mm: pooled[rank],
        mean_mm,
        samples_per_surface: samples,
    })
}

fn check(m: &Mesh, which: &'static str) -> Result<(), DistanceError> {
    if m.vertices.iter().any(|p| !p.iter().all(|c| c.is_finite())) {
        return Err(DistanceError::NonFinite(which));
    }
    let n = m.vertices.len() as u32;
    if m.triangles.iter().any(|t| t.iter().any(|&v| v >= n)) {
        return Err(DistanceError::IndexOutOfRange(which));
    }
    if !m.triangles.iter().any(|t| triangle_area(&corners(m, t)) > 0.0) {
        return Err(DistanceError::EmptySurface(which));
    }
    Ok(())
}

fn corners(m: &Mesh, t: &[u32; 3]) -> [[f64; 3]; 3] {
    t.map(|v| m.vertices[v as usize].map(f64::from))
}

fn triangle_area(p: &[[f64; 3]; 3]) -> f64 {
    0.5 * norm(cross(sub(p[1], p[0]), sub(p[2], p[0])))
}

/// `count` points spread over the surface in proportion to area: sample `i` sits at
/// cumulative area `(i + ½)/count` of the total, inside its triangle at barycentric
/// coordinates from the additive-recurrence (R2) sequence, so results are reproducible.
fn area_samples(m: &Mesh, count: usize) -> Vec<[f64; 3]> {
    let mut cumulative = Vec::with_capacity(m.triangles.len());
    let mut total = 0.0;
    for t in &m.triangles {
        total += triangle_area(&corners(m, t));
        cumulative.push(total);
    }
    const G: f64 = 1.324_717_957_244_746; // plastic number
    let (a1, a2) = (1.0 / G, 1.0 / (G * G));
    (0..count)
        .into_par_iter()
        .map(|i| {
            let target = (i as f64 + 0.5) / count as f64 * total;
            let t = cumulative.partition_point(|&c| c < target).min(m.triangles.len() - 1);
            let p = corners(m, &m.triangles[t]);
            let (mut u, mut v) = ((0.5 + a1 * i as f64).fract(), (0.5 + a2 * i as f64).fract());
            if u + v > 1.0 {
                (u, v) = (1.0 - u, 1.0 - v);
            }
            std::array::from_fn(|k| p[0][k] + u * (p[1][k] - p[0][k]) + v * (p[2][k] - p[0][k]))
        })
        .collect()
}

/// Triangles bucketed on a uniform grid (by bounding box) for nearest-surface queries.
struct TriangleGrid {
    triangles: Vec<[[f64; 3]; 3]>,
    origin: [f64; 3],
    cell_mm: f64,
    dims: [i64; 3],
    /// Start of each cell's run in `members` (dense, `dims` product + 1 entries).
    offsets: Vec<u32>,
    members: Vec<u32>,
}

/// Cap on the grid cells, so memory stays proportional to the triangles.
const CELLS_PER_TRIANGLE: f64 = 2.0;

impl TriangleGrid {
    fn build(m: &Mesh) -> Self {
        let triangles: Vec<[[f64; 3]; 3]> = m
            .triangles
            .iter()
            .map(|t| corners(m, t))
            .filter(|p| triangle_area(p) > 0.0)
            .collect();
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for p in triangles.iter().flatten() {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        let extent: [f64; 3] = std::array::from_fn(|a| (hi[a] - lo[a]).max(1e-6));
        let volume = extent[0] * extent[1] * extent[2];
        let mean_extent = triangles
            .iter()
            .map(|p| {
                (0..3)
                    .map(|a| p[0][a].max(p[1][a]).max(p[2][a]) - p[0][a].min(p[1][a]).min(p[2][a]))
                    .fold(0.0, f64::max)
            })
            .sum::<f64>()
            / triangles.len().max(1) as f64;
        let mut cell_mm = (volume / (CELLS_PER_TRIANGLE * triangles.len() as f64))
            .cbrt()
            .max(mean_extent)
            .max(1e-6);
        let max_cells = (2.0 * CELLS_PER_TRIANGLE * triangles.len() as f64 + 64.0).min(f64::from(u32::MAX / 2));
        let dims_for = |cell: f64| -> [i64; 3] { std::array::from_fn(|a| ((extent[a] / cell).ceil() as i64).max(1)) };
        // Flat or elongated surfaces: coarsen until the dense cell table stays small.
        while dims_for(cell_mm).iter().map(|&d| d as f64).product::<f64>() > max_cells {
            cell_mm *= 1.25;
        }
        let dims = dims_for(cell_mm);
        let mut grid = Self {
            triangles,
            origin: lo,
            cell_mm,
            dims,
            offsets: Vec::new(),
            members: Vec::new(),
        };
        let mut entries: Vec<(u32, u32)> = grid
            .triangles
            .par_iter()
            .enumerate()
            .flat_map_iter(|(t, p)| {
                let lo = grid.cell_of(std::array::from_fn(|a| p[0][a].min(p[1][a]).min(p[2][a])));
                let hi = grid.cell_of(std::array::from_fn(|a| p[0][a].max(p[1][a]).max(p[2][a])));
                let dims = grid.dims;
                (lo[0]..=hi[0]).flat_map(move |x| {
                    (lo[1]..=hi[1]).flat_map(move |y| {
                        (lo[2]..=hi[2]).map(move |z| (((z * dims[1] + y) * dims[0] + x) as u32, t as u32))
                    })
                })
            })
            .collect();
        entries.par_sort_unstable();
        let cells = (dims[0] * dims[1] * dims[2]) as usize;
        let mut offsets = vec![0u32; cells + 1];
        for &(c, _) in &entries {
            offsets[c as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        grid.offsets = offsets;
        grid.members = entries.into_iter().map(|(_, t)| t).collect();
        grid
    }

    /// Cell of a point, clamped into the grid.
    fn cell_of(&self, p: [f64; 3]) -> [i64; 3] {
        std::array::from_fn(|a| (((p[a] - self.origin[a]) / self.cell_mm).floor() as i64).clamp(0, self.dims[a] - 1))
    }

    /// Distance (mm) from `p` to the nearest triangle: rings of cells around `p`'s
    /// (clamped) cell are searched until the best distance cannot be beaten by a cell
    /// further out.
    fn distance(&self, p: [f64; 3]) -> f64 {
        let centre = self.cell_of(p);
        // Distance from p to the grid box, so rings are measured from the clamped cell.
        let outside = norm(std::array::from_fn(|a| {
            let lo = self.origin[a];
            let hi = self.origin[a] + self.dims[a] as f64 * self.cell_mm;
            (lo - p[a]).max(p[a] - hi).max(0.0)
        }));
        let max_ring = self.dims.iter().copied().max().unwrap_or(1);
        let mut best = f64::INFINITY;
        for ring in 0..=max_ring {
            self.visit_ring(centre, ring, |t| {
                best = best.min(point_triangle_distance(p, &self.triangles[t as usize]));
            });
            // Every cell of ring r + 1 is at least r cells (plus the gap to the grid) away.
            if best <= outside + ring as f64 * self.cell_mm {
                break;
            }
        }
        best
    }

    /// Calls `f` with every triangle listed in the cells at Chebyshev distance `ring`
    /// from `centre` (a triangle may come more than once).
    fn visit_ring(&self, centre: [i64; 3], ring: i64, mut f: impl FnMut(u32)) {
        let range = |a: usize| (centre[a] - ring).max(0)..=(centre[a] + ring).min(self.dims[a] - 1);
        for z in range(2) {
            for y in range(1) {
                let on_shell = (z - centre[2]).abs() == ring || (y - centre[1]).abs() == ring;
                let (x0, x1) = (centre[0] - ring, centre[0] + ring);
                let step = if on_shell || ring == 0 { 1 } else { (2 * ring) as usize };
                for x in (x0..=x1).step_by(step) {
                    if x < 0 || x >= self.dims[0] {
                        continue;
                    }
                    let cell = ((z * self.dims[1] + y) * self.dims[0] + x) as usize;
                    for &t in &self.members[self.offsets[cell] as usize..self.offsets[cell + 1] as usize] {
                        f(t);
                    }
                }
            }
        }
    }
}

/// Exact Euclidean distance from `p` to the closed triangle `t`.
pub(crate) fn point_triangle_distance(p: [f64; 3], t: &[[f64; 3]; 3]) -> f64 {
    norm(sub(p, closest_point_on_triangle(p, t[0], t[1], t[2])))
}

/// Closest point to `p` on the closed triangle `abc` (Ericson, Real-Time Collision Detection
/// §5.1.5: Voronoi regions of the vertices, then of the edges, then the face).
pub fn closest_point_on_triangle(p: [f64; 3], a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> [f64; 3] {
    let along = |o: [f64; 3], d: [f64; 3], t: f64| -> [f64; 3] { std::array::from_fn(|k| o[k] + t * d[k]) };
    let ab = sub(b, a);
    let ac = sub(c, a);
    let ap = sub(p, a);
    let d1 = dot(ab, ap);
    let d2 = dot(ac, ap);
    if d1 <= 0.0 && d2 <= 0.0 {
        return a;
    }
    let bp = sub(p, b);
    let d3 = dot(ab, bp);
    let d4 = dot(ac, bp);
    if d3 >= 0.0 && d4 <= d3 {
        return b;
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        return along(a, ab, d1 / (d1 - d3));
    }
    let cp = sub(p, c);
    let d5 = dot(ab, cp);
    let d6 = dot(ac, cp);
    if d6 >= 0.0 && d5 <= d6 {
        return c;
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        return along(a, ac, d2 / (d2 - d6));
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        return along(b, sub(c, b), (d4 - d3) / ((d4 - d3) + (d5 - d6)));
    }
    let denom = 1.0 / (va + vb + vc);
    along(along(a, ab, vb * denom), ac, vc * denom)
}
