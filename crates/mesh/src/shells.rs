//! Connected components ("shells") of a mesh: splitting, merging, per-shell volume and
//! nesting (which shell lies inside which).

use rayon::prelude::*;

use crate::measure::{cross, dot, sub, triangle_signed_volume};
use crate::mesh::Mesh;

/// Splits a mesh into its connected components (triangles connected through shared
/// vertices). Each part is compacted: it holds only its own vertices, in their original
/// relative order. Unreferenced vertices are dropped. Parts come in order of their first
/// triangle.
pub fn split_shells(m: &Mesh) -> Vec<Mesh> {
    let labels = shell_labels(m);
    split_labelled(m, &labels, &vec![true; labels.count])
}

/// The groups of `labels` with `keep[group]` as compact meshes, in group order (each
/// holds only its own vertices, in their original relative order).
pub(crate) fn split_labelled(m: &Mesh, labels: &ShellLabels, keep: &[bool]) -> Vec<Mesh> {
    let mut part_of_group = vec![u32::MAX; labels.count];
    let mut parts = Vec::new();
    for (group, _) in keep.iter().enumerate().filter(|(_, &k)| k) {
        part_of_group[group] = parts.len() as u32;
        parts.push(Mesh::default());
    }
    let mut vertex_part = vec![u32::MAX; m.vertices.len()];
    for (tri, &label) in m.triangles.iter().zip(&labels.triangle) {
        for &v in tri {
            vertex_part[v as usize] = part_of_group[label as usize];
        }
    }
    let mut local = vec![u32::MAX; m.vertices.len()];
    for (v, &part) in vertex_part.iter().enumerate() {
        if part != u32::MAX {
            let part = &mut parts[part as usize];
            local[v] = part.vertices.len() as u32;
            part.vertices.push(m.vertices[v]);
        }
    }
    for (tri, &label) in m.triangles.iter().zip(&labels.triangle) {
        let part = part_of_group[label as usize];
        if part != u32::MAX {
            parts[part as usize].triangles.push(tri.map(|v| local[v as usize]));
        }
    }
    parts
}

/// Concatenates meshes into one (vertex indices are offset; nothing is welded).
pub fn merge(meshes: &[Mesh]) -> Mesh {
    let mut out = Mesh {
        vertices: Vec::with_capacity(meshes.iter().map(|m| m.vertices.len()).sum()),
        triangles: Vec::with_capacity(meshes.iter().map(|m| m.triangles.len()).sum()),
    };
    for m in meshes {
        let offset = out.vertices.len() as u32;
        out.vertices.extend_from_slice(&m.vertices);
        out.triangles.extend(m.triangles.iter().map(|t| t.map(|v| v + offset)));
    }
    out
}

/// A labelling of triangles into groups `0..count` (shells or edge-connected patches).
#[derive(Debug, Clone)]
pub(crate) struct ShellLabels {
    /// Group of each triangle.
    pub triangle: Vec<u32>,
    /// Number of groups.
    pub count: usize,
}

impl ShellLabels {
    /// Builds labels from a union-find over triangles, numbering groups in order of
    /// their first triangle.
    pub fn from_triangle_sets(sets: &mut DisjointSets) -> Self {
        let n = sets.len();
        let mut label_of_root = vec![u32::MAX; n];
        let mut count = 0u32;
        let triangle = (0..n as u32)
            .map(|t| {
                let root = sets.find(t) as usize;
                if label_of_root[root] == u32::MAX {
                    label_of_root[root] = count;
                    count += 1;
                }
                label_of_root[root]
            })
            .collect();
        Self {
            triangle,
            count: count as usize,
        }
    }

    /// Signed volume (mm³) of each group.
    pub fn signed_volumes(&self, m: &Mesh) -> Vec<f64> {
        let Some(&origin) = m.vertices.first() else {
            return vec![0.0; self.count];
        };
        let origin = origin.map(f64::from);
        m.triangles
            .par_iter()
            .zip(&self.triangle)
            .fold(
                || vec![0.0f64; self.count],
                |mut acc, (t, &l)| {
                    acc[l as usize] += triangle_signed_volume(m, t, origin);
                    acc
                },
            )
            .reduce(
                || vec![0.0f64; self.count],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            )
    }

    /// Triangles of each group as CSR `(offsets, triangles)`.
    fn members(&self) -> (Vec<u32>, Vec<u32>) {
        let mut offsets = vec![0u32; self.count + 1];
        for &l in &self.triangle {
            offsets[l as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut cursor = offsets.clone();
        let mut members = vec![0u32; self.triangle.len()];
        for (t, &l) in self.triangle.iter().enumerate() {
            members[cursor[l as usize] as usize] = t as u32;
            cursor[l as usize] += 1;
        }
        (offsets, members)
    }
}

/// Shells: triangles connected through shared vertices.
pub(crate) fn shell_labels(m: &Mesh) -> ShellLabels {
    let mut vertex_sets = DisjointSets::new(m.vertices.len());
    for t in &m.triangles {
        vertex_sets.union(t[0], t[1]);
        vertex_sets.union(t[0], t[2]);
    }
    let mut triangle_sets = DisjointSets::new(m.triangles.len());
    let mut first_triangle_of_root = vec![u32::MAX; m.vertices.len()];
    for (i, t) in m.triangles.iter().enumerate() {
        let root = vertex_sets.find(t[0]) as usize;
        if first_triangle_of_root[root] == u32::MAX {
            first_triangle_of_root[root] = i as u32;
        } else {
            triangle_sets.union(first_triangle_of_root[root], i as u32);
        }
    }
    ShellLabels::from_triangle_sets(&mut triangle_sets)
}

/// How many closed groups contain each group (0 = outermost).
///
/// Group A is inside closed group B when A's bounding box lies within B's and a ray from
/// a point of A (the centroid of its first triangle) crosses B an odd number of times.
/// Each closed group that may contain another gets a [`RayGrid`], so a ray cast costs
/// the triangles of one grid cell instead of all of B's; parallel over groups.
pub(crate) fn nesting_depths(m: &Mesh, groups: &ShellLabels, closed: &[bool]) -> Vec<usize> {
    let (offsets, members) = groups.members();
    let triangles_of = |g: usize| &members[offsets[g] as usize..offsets[g + 1] as usize];
    let boxes: Vec<([f32; 3], [f32; 3])> = (0..groups.count)
        .into_par_iter()
        .map(|g| {
            let mut lo = [f32::INFINITY; 3];
            let mut hi = [f32::NEG_INFINITY; 3];
            for &t in triangles_of(g) {
                for &v in &m.triangles[t as usize] {
                    let p = m.vertices[v as usize];
                    for a in 0..3 {
                        lo[a] = lo[a].min(p[a]);
                        hi[a] = hi[a].max(p[a]);
                    }
                }
            }
            (lo, hi)
        })
        .collect();
    let boxes = &boxes;
    let candidates =
        |a: usize| (0..groups.count).filter(move |&b| b != a && closed[b] && box_within(boxes[a], boxes[b]));
    let mut is_container = vec![false; groups.count];
    for a in 0..groups.count {
        for b in candidates(a) {
            is_container[b] = true;
        }
    }
    let grids: Vec<Option<RayGrid>> = (0..groups.count)
        .into_par_iter()
        .map(|b| is_container[b].then(|| RayGrid::build(m, triangles_of(b))))
        .collect();
    (0..groups.count)
        .into_par_iter()
        .map(|a| {
            let Some(&first) = triangles_of(a).first() else {
                return 0;
            };
            let corners = m.triangles[first as usize].map(|v| m.vertices[v as usize]);
            let probe: [f64; 3] = std::array::from_fn(|k| corners.iter().map(|p| f64::from(p[k])).sum::<f64>() / 3.0);
            candidates(a)
                .filter(|&b| grids[b].as_ref().is_some_and(|g| g.crossings(m, probe) % 2 == 1))
                .count()
        })
        .collect()
}

fn box_within(inner: ([f32; 3], [f32; 3]), outer: ([f32; 3], [f32; 3])) -> bool {
    (0..3).all(|k| inner.0[k] >= outer.0[k] && inner.1[k] <= outer.1[k])
}

/// Direction of the containment rays: fixed and deliberately skewed, so that hitting an
/// edge or vertex exactly is practically impossible.
const RAY_DIRECTION: [f64; 3] = [
    0.872_871_560_943_969_6,
    0.361_556_771_896_376_6,
    0.327_934_402_672_843_1,
];

/// The triangles of one group binned on a uniform grid in the plane perpendicular to
/// [`RAY_DIRECTION`]: a ray can only hit the triangles whose projection covers the
/// projection of its origin, i.e. those of one cell. The answer equals the brute-force
/// ray cast (bins get a small safety margin against rounding).
struct RayGrid {
    triangles: Vec<u32>,
    offsets: Vec<u32>,
    lo: [f64; 2],
    inverse_cell: f64,
    cells: [usize; 2],
}

impl RayGrid {
    /// Orthonormal basis of the plane perpendicular to [`RAY_DIRECTION`].
    fn basis() -> [[f64; 3]; 2] {
        let u = cross(RAY_DIRECTION, [0.0, 0.0, 1.0]);
        let u = u.map(|c| c / dot(u, u).sqrt());
        [u, cross(RAY_DIRECTION, u)]
    }

    fn project(basis: &[[f64; 3]; 2], p: [f64; 3]) -> [f64; 2] {
        [dot(basis[0], p), dot(basis[1], p)]
    }

    fn build(m: &Mesh, triangles: &[u32]) -> Self {
        let basis = Self::basis();
        let boxes: Vec<([f64; 2], [f64; 2])> = triangles
            .iter()
            .map(|&t| {
                let q = m.triangles[t as usize].map(|v| Self::project(&basis, m.vertices[v as usize].map(f64::from)));
                let lo = [0, 1].map(|a| q[0][a].min(q[1][a]).min(q[2][a]));
                let hi = [0, 1].map(|a| q[0][a].max(q[1][a]).max(q[2][a]));
                (lo, hi)
            })
            .collect();
        let (lo, hi) = boxes
            .iter()
            .fold(([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]), |(lo, hi), b| {
                (
                    [lo[0].min(b.0[0]), lo[1].min(b.0[1])],
                    [hi[0].max(b.1[0]), hi[1].max(b.1[1])],
                )
            });
        let extent = [hi[0] - lo[0], hi[1] - lo[1]];
        let margin = 1e-9 * (extent[0] + extent[1]) + 1e-12;
        // About two triangles per cell; at most 2048² cells.
        let area = (extent[0] * extent[1]).max(f64::MIN_POSITIVE);
        let cell = (area / (triangles.len() as f64 / 2.0).max(1.0))
            .sqrt()
            .max((extent[0].max(extent[1])) / 2048.0);
        let cell = if cell.is_finite() && cell > 0.0 { cell } else { 1.0 };
        let inverse_cell = 1.0 / cell;
        let cells = extent.map(|e| ((e * inverse_cell) as usize + 1).min(2048));
        let range = |b: &([f64; 2], [f64; 2]), a: usize| {
            let first = (((b.0[a] - margin - lo[a]) * inverse_cell).max(0.0) as usize).min(cells[a] - 1);
            let last = (((b.1[a] + margin - lo[a]) * inverse_cell).max(0.0) as usize).min(cells[a] - 1);
            first..=last
        };
        let mut offsets = vec![0u32; cells[0] * cells[1] + 1];
        for b in &boxes {
            for j in range(b, 1) {
                for i in range(b, 0) {
                    offsets[j * cells[0] + i + 1] += 1;
                }
            }
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut cursor = offsets.clone();
        let mut binned = vec![0u32; offsets[offsets.len() - 1] as usize];
        for (b, &t) in boxes.iter().zip(triangles) {
            for j in range(b, 1) {
                for i in range(b, 0) {
                    let slot = &mut cursor[j * cells[0] + i];
                    binned[*slot as usize] = t;
                    *slot += 1;
                }
            }
        }
        Self {
            triangles: binned,
            offsets,
            lo,
            inverse_cell,
            cells,
        }
    }

    /// Number of the group's triangles hit by the ray from `origin` along
    /// [`RAY_DIRECTION`].
    fn crossings(&self, m: &Mesh, origin: [f64; 3]) -> usize {
        let q = Self::project(&Self::basis(), origin);
        let index = |a: usize| {
            let x = (q[a] - self.lo[a]) * self.inverse_cell;
            (x >= 0.0 && x < self.cells[a] as f64).then_some(x as usize)
        };
        let (Some(i), Some(j)) = (index(0), index(1)) else {
            return 0;
        };
        let cell = j * self.cells[0] + i;
        ray_crossings(
            m,
            &self.triangles[self.offsets[cell] as usize..self.offsets[cell + 1] as usize],
            origin,
        )
    }
}

/// Number of `triangles` hit by the ray from `origin` along [`RAY_DIRECTION`].
fn ray_crossings(m: &Mesh, triangles: &[u32], origin: [f64; 3]) -> usize {
    triangles
        .iter()
        .filter(|&&t| {
            let [a, b, c] = m.triangles[t as usize].map(|v| m.vertices[v as usize].map(f64::from));
            // Möller–Trumbore.
            let e1 = sub(b, a);
            let e2 = sub(c, a);
            let p = cross(RAY_DIRECTION, e2);
            let det = dot(e1, p);
            if det.abs() < 1e-300 {
                return false;
            }
            let s = sub(origin, a);
            let u = dot(s, p) / det;
            if !(0.0..=1.0).contains(&u) {
                return false;
            }
            let q = cross(s, e1);
            let v = dot(RAY_DIRECTION, q) / det;
            if v < 0.0 || u + v > 1.0 {
                return false;
            }
            dot(e2, q) / det > 0.0
        })
        .count()
}

/// Union-find with path halving and union by smaller index (deterministic roots).
/// Hand-written: 20 lines, no allocation beyond the parent array, and u32 indices halve
/// the memory of the usual usize-based crates for 10 M-element meshes.
pub(crate) struct DisjointSets {
    parent: Vec<u32>,
}

impl DisjointSets {
    /// `n` singleton sets.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
        }
    }

    /// Makes `n` singleton sets again, reusing the allocation.
    pub fn reset(&mut self, n: usize) {
        self.parent.clear();
        self.parent.extend(0..n as u32);
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
}
