//! Mesh validation: closedness, manifoldness, orientation and the adjacency tables the
//! repair and smoothing stages share.
//!
//! Everything here is sort-based (a sorted half-edge table, a CSR vertex→triangle table),
//! so it is O(n log n) and cheap in memory for meshes of ~10 M triangles.

use rayon::prelude::*;
use serde::Serialize;

use crate::measure::{cross, dot, sub};
use crate::mesh::Mesh;
use crate::shells::{nesting_depths, shell_labels, DisjointSets, ShellLabels};

/// Result of [`check_mesh`]: what a slicer needs to know before printing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MeshCheck {
    /// No boundary edge: every edge is shared by at least two triangles.
    pub closed: bool,
    /// No non-manifold edge (> 2 triangles) and no non-manifold vertex (several fans).
    pub manifold: bool,
    /// Every edge shared by exactly two triangles is traversed in opposite directions.
    pub oriented: bool,
    /// Normals point out of the material: every shell has the sign its nesting demands
    /// (outer shells positive volume, cavities inside them negative, and so on). For an
    /// open mesh this is only the heuristic "total signed volume > 0".
    pub outward: bool,
    /// Edges used by exactly one triangle.
    pub boundary_edges: usize,
    /// Edges used by more than two triangles.
    pub non_manifold_edges: usize,
    /// Vertices whose triangles form more than one edge-connected fan (e.g. two
    /// tetrahedra touching at a tip).
    pub non_manifold_vertices: usize,
    /// Triangles with a repeated index or (numerically) zero area.
    pub degenerate_triangles: usize,
    /// Connected components by shared vertices.
    pub shells: usize,
    /// V − E + F over referenced vertices and unique edges (2 per closed genus-0 shell).
    pub euler_characteristic: i64,
}

impl MeshCheck {
    /// True when the mesh can be sent to a printer as is: closed, manifold, consistently
    /// oriented with outward normals and without degenerate triangles.
    pub fn is_printable(&self) -> bool {
        self.closed && self.manifold && self.oriented && self.outward && self.degenerate_triangles == 0
    }
}

/// Validates a mesh. O(n log n): one parallel sort of the half-edges, one CSR
/// vertex→triangle table, one union-find for shells; containment ray casts only when the
/// mesh is closed, oriented and has several shells.
pub fn check_mesh(m: &Mesh) -> MeshCheck {
    let edges = EdgeTable::build(m);
    let stats = edges.statistics(m);
    let incidence = VertexTriangles::build(m);
    let non_manifold_vertices = (0..m.vertices.len() as u32)
        .into_par_iter()
        .map_init(FanScratch::default, |scratch, v| {
            usize::from(scratch.fan_labels(m, incidence.triangles_of(v), v) > 1)
        })
        .sum();
    let degenerate_triangles = m.triangles.par_iter().filter(|t| is_degenerate(m, t)).count();
    let referenced_vertices = incidence.referenced_vertex_count();
    let shells = shell_labels(m);

    let closed = stats.boundary == 0;
    let oriented = stats.misoriented == 0;
    let outward = shells_point_outward(m, &shells, closed && oriented);
    let euler_characteristic = referenced_vertices as i64 - stats.unique as i64 + m.triangles.len() as i64;
    MeshCheck {
        closed,
        manifold: stats.non_manifold == 0 && non_manifold_vertices == 0,
        oriented,
        outward,
        boundary_edges: stats.boundary,
        non_manifold_edges: stats.non_manifold,
        non_manifold_vertices,
        degenerate_triangles,
        shells: shells.count,
        euler_characteristic,
    }
}

/// Outward test: each closed shell's signed volume must be positive at even nesting depth
/// and negative at odd depth (a cavity inside bone points into the cavity).
fn shells_point_outward(m: &Mesh, shells: &ShellLabels, closed_and_oriented: bool) -> bool {
    let volumes = shells.signed_volumes(m);
    if !closed_and_oriented || shells.count <= 1 {
        return volumes.iter().sum::<f64>() > 0.0;
    }
    let closed = vec![true; shells.count];
    let depths = nesting_depths(m, shells, &closed);
    volumes.iter().zip(&depths).all(|(&v, &d)| (v > 0.0) == (d % 2 == 0))
}

/// True for a triangle with a repeated index or a (numerically) zero area: the cross
/// product of two edges, computed in f64, is below 1e-10 of the squared longest edge.
pub(crate) fn is_degenerate(m: &Mesh, t: &[u32; 3]) -> bool {
    if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
        return true;
    }
    let [a, b, c] = t.map(|i| m.vertices[i as usize].map(f64::from));
    let ab = sub(b, a);
    let ac = sub(c, a);
    let bc = sub(c, b);
    let longest = dot(ab, ab).max(dot(ac, ac)).max(dot(bc, bc));
    let n = cross(ab, ac);
    longest == 0.0 || dot(n, n) <= 1e-20 * longest * longest
}

/// One directed triangle edge, keyed by its undirected vertex pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HalfEdge {
    /// Smaller vertex index.
    pub lo: u32,
    /// Larger vertex index.
    pub hi: u32,
    /// `3 * triangle + corner`; the edge runs from corner `k` to corner `k + 1`.
    pub id: u32,
}

impl HalfEdge {
    /// Triangle index.
    pub fn triangle(&self) -> u32 {
        self.id / 3
    }
    /// True when the edge runs from `lo` to `hi` in its triangle's winding.
    pub fn runs_low_to_high(&self, m: &Mesh) -> bool {
        m.triangles[(self.id / 3) as usize][(self.id % 3) as usize] == self.lo
    }
}

/// All half-edges sorted by undirected edge, so that the triangles sharing an edge are
/// adjacent (the sort-based replacement of an edge hash map).
pub(crate) struct EdgeTable {
    pub half_edges: Vec<HalfEdge>,
}

/// Counts over the undirected edges of an [`EdgeTable`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct EdgeStatistics {
    pub unique: usize,
    pub boundary: usize,
    pub non_manifold: usize,
    /// Edges shared by two triangles that traverse it in the same direction.
    pub misoriented: usize,
}

impl EdgeTable {
    /// Builds the table; edges of a triangle that join a vertex to itself are skipped.
    ///
    /// Meshes are limited to `u32::MAX / 3` triangles (the `Mesh` index type already
    /// bounds vertices to u32).
    pub fn build(m: &Mesh) -> Self {
        let mut half_edges: Vec<HalfEdge> = m
            .triangles
            .par_iter()
            .enumerate()
            .flat_map_iter(|(t, tri)| {
                (0..3).filter_map(move |k| {
                    let (a, b) = (tri[k], tri[(k + 1) % 3]);
                    (a != b).then(|| HalfEdge {
                        lo: a.min(b),
                        hi: a.max(b),
                        id: (3 * t + k) as u32,
                    })
                })
            })
            .collect();
        half_edges.par_sort_unstable_by_key(|e| (u64::from(e.lo) << 32) | u64::from(e.hi));
        Self { half_edges }
    }

    /// Runs of half-edges sharing one undirected edge.
    pub fn groups(&self) -> impl Iterator<Item = &[HalfEdge]> {
        self.half_edges.chunk_by(|a, b| a.lo == b.lo && a.hi == b.hi)
    }

    /// Boundary / non-manifold / mis-oriented edge counts.
    pub fn statistics(&self, m: &Mesh) -> EdgeStatistics {
        // The sort already grouped the data; a sequential scan is memory-bound and fast.
        let mut s = EdgeStatistics::default();
        for g in self.groups() {
            s.unique += 1;
            match g.len() {
                1 => s.boundary += 1,
                2 => {
                    if g[0].runs_low_to_high(m) == g[1].runs_low_to_high(m) {
                        s.misoriented += 1;
                    }
                }
                _ => s.non_manifold += 1,
            }
        }
        s
    }
}

/// CSR table of the triangles around each vertex.
pub(crate) struct VertexTriangles {
    offsets: Vec<u32>,
    triangles: Vec<u32>,
}

impl VertexTriangles {
    /// Counting-sort build, O(V + F).
    pub fn build(m: &Mesh) -> Self {
        let mut offsets = vec![0u32; m.vertices.len() + 1];
        for t in &m.triangles {
            for &v in t {
                offsets[v as usize + 1] += 1;
            }
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut cursor = offsets.clone();
        let mut triangles = vec![0u32; offsets[m.vertices.len()] as usize];
        for (t, tri) in m.triangles.iter().enumerate() {
            for &v in tri {
                let slot = &mut cursor[v as usize];
                triangles[*slot as usize] = t as u32;
                *slot += 1;
            }
        }
        Self { offsets, triangles }
    }

    /// Triangles incident to `v` (a triangle with `v` twice appears twice).
    pub fn triangles_of(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.triangles[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// Vertices used by at least one triangle.
    pub fn referenced_vertex_count(&self) -> usize {
        self.offsets.windows(2).filter(|w| w[1] > w[0]).count()
    }
}

/// Scratch space to split the triangles around one vertex into edge-connected fans.
pub(crate) struct FanScratch {
    /// `(other vertex, local triangle)` pairs.
    spokes: Vec<(u32, u32)>,
    sets: DisjointSets,
    label_of_root: Vec<u32>,
    /// Fan label of each incident triangle after [`FanScratch::fan_labels`].
    pub labels: Vec<u32>,
}

impl Default for FanScratch {
    fn default() -> Self {
        Self {
            spokes: Vec::new(),
            sets: DisjointSets::new(0),
            label_of_root: Vec::new(),
            labels: Vec::new(),
        }
    }
}

impl FanScratch {
    /// Labels each incident triangle (in `self.labels`, `u32::MAX` for degenerate ones)
    /// with a fan number `0..count` and returns `count`. Two triangles are in one fan when
    /// they share an edge at `v`.
    pub fn fan_labels(&mut self, m: &Mesh, incident: &[u32], v: u32) -> usize {
        self.spokes.clear();
        self.sets.reset(incident.len());
        self.labels.clear();
        for (local, &t) in incident.iter().enumerate() {
            let tri = m.triangles[t as usize];
            if tri[0] == tri[1] || tri[1] == tri[2] || tri[0] == tri[2] {
                continue;
            }
            for &o in tri.iter().filter(|&&o| o != v) {
                self.spokes.push((o, local as u32));
            }
        }
        self.spokes.sort_unstable();
        for w in 0..self.spokes.len().saturating_sub(1) {
            let (a, b) = (self.spokes[w], self.spokes[w + 1]);
            if a.0 == b.0 {
                self.sets.union(a.1, b.1);
            }
        }
        let mut count = 0u32;
        self.label_of_root.clear();
        self.label_of_root.resize(incident.len(), u32::MAX);
        for (local, &t) in incident.iter().enumerate() {
            let tri = m.triangles[t as usize];
            if tri[0] == tri[1] || tri[1] == tri[2] || tri[0] == tri[2] {
                self.labels.push(u32::MAX);
                continue;
            }
            let root = self.sets.find(local as u32) as usize;
            if self.label_of_root[root] == u32::MAX {
                self.label_of_root[root] = count;
                count += 1;
            }
            self.labels.push(self.label_of_root[root]);
        }
        count as usize
    }
}
