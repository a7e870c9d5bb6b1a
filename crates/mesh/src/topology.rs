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

/// Validates a mesh. O(n): one CSR vertex→corner table and one parallel pass over the
/// vertex stars (edge and fan statistics), one union-find for shells; containment ray
/// casts (grid-accelerated) only when the mesh is closed, oriented and has several shells.
pub fn check_mesh(m: &Mesh) -> MeshCheck {
    let local = LocalCheck::of(m, &VertexCorners::build(m));
    let shells = shell_labels(m);
    let closed = local.boundary_edges == 0;
    let oriented = local.misoriented_edges == 0;
    let outward = shells_point_outward(m, &shells, closed && oriented);
    let euler_characteristic = local.referenced_vertices as i64 - local.unique_edges as i64 + m.triangles.len() as i64;
    MeshCheck {
        closed,
        manifold: local.non_manifold_edges == 0 && local.non_manifold_vertices == 0,
        oriented,
        outward,
        boundary_edges: local.boundary_edges,
        non_manifold_edges: local.non_manifold_edges,
        non_manifold_vertices: local.non_manifold_vertices,
        degenerate_triangles: local.degenerate_triangles,
        shells: shells.count,
        euler_characteristic,
    }
}

/// The part of [`check_mesh`] that needs no shell or nesting analysis: edge, fan and
/// degeneracy counts, all decided from the star of each vertex.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LocalCheck {
    /// Undirected edges (vertex pairs joined by at least one triangle edge).
    pub unique_edges: usize,
    /// Edges used by exactly one triangle.
    pub boundary_edges: usize,
    /// Edges used by more than two triangles.
    pub non_manifold_edges: usize,
    /// Edges used by two triangles that traverse it in the same direction.
    pub misoriented_edges: usize,
    /// Vertices whose triangles form more than one edge-connected fan.
    pub non_manifold_vertices: usize,
    /// Triangles with a repeated index or (numerically) zero area.
    pub degenerate_triangles: usize,
    /// Vertices used by at least one triangle.
    pub referenced_vertices: usize,
}

impl LocalCheck {
    /// Counts over the stars of all vertices, in parallel. Every undirected edge is
    /// classified once, at its lower vertex, from the half-edges leaving and entering it.
    pub fn of(m: &Mesh, corners: &VertexCorners) -> Self {
        Self::inspect(m, corners, false).0
    }

    /// [`LocalCheck::of`] that also lists, when `list_defects` is set, the vertices at a
    /// local defect: on a boundary, non-manifold or mis-oriented edge, with several fans,
    /// or on a degenerate triangle (ascending, without repeats).
    pub fn inspect(m: &Mesh, corners: &VertexCorners, list_defects: bool) -> (Self, Vec<u32>) {
        let degenerate: Vec<bool> = m.triangles.par_iter().map(|t| is_degenerate(m, t)).collect();
        let (mut counts, defects) = (0..m.vertices.len() as u32)
            .into_par_iter()
            .map_init(FanScratch::default, |scratch, v| {
                let corners_of_v = corners.corners_of(v);
                if corners_of_v.is_empty() {
                    return (Self::default(), None);
                }
                let fans = scratch.fan_labels(m, corners_of_v, v);
                let mut c = scratch.edges_above;
                c.non_manifold_vertices = usize::from(fans > 1);
                c.referenced_vertices = 1;
                let defective = list_defects
                    && (fans > 1
                        || scratch.irregular_edge
                        || corners_of_v.iter().any(|&k| degenerate[(k / 3) as usize]));
                (c, defective.then_some(v))
            })
            .fold(
                || (Self::default(), Vec::new()),
                |(sum, mut list), (c, defect)| {
                    list.extend(defect);
                    (Self::sum(sum, c), list)
                },
            )
            .reduce(
                || (Self::default(), Vec::new()),
                |(a, mut list), (b, more)| {
                    list.extend(more);
                    (Self::sum(a, b), list)
                },
            );
        counts.degenerate_triangles = degenerate.iter().filter(|&&d| d).count();
        (counts, defects)
    }

    /// [`LocalCheck::of`] with its own corner table.
    pub fn of_mesh(m: &Mesh) -> Self {
        Self::of(m, &VertexCorners::build(m))
    }

    /// Closed, manifold, consistently oriented and without degenerate triangles: what an
    /// isosurface is by construction, and all a shell needs (besides its volume sign) to
    /// be printable.
    pub fn is_clean(&self) -> bool {
        self.boundary_edges == 0
            && self.non_manifold_edges == 0
            && self.misoriented_edges == 0
            && self.non_manifold_vertices == 0
            && self.degenerate_triangles == 0
    }

    /// True when `self` has no defect kind in larger number than `before`.
    pub fn no_worse_than(&self, before: &Self) -> bool {
        self.boundary_edges <= before.boundary_edges
            && self.non_manifold_edges <= before.non_manifold_edges
            && self.misoriented_edges <= before.misoriented_edges
            && self.non_manifold_vertices <= before.non_manifold_vertices
            && self.degenerate_triangles <= before.degenerate_triangles
    }

    fn sum(a: Self, b: Self) -> Self {
        Self {
            unique_edges: a.unique_edges + b.unique_edges,
            boundary_edges: a.boundary_edges + b.boundary_edges,
            non_manifold_edges: a.non_manifold_edges + b.non_manifold_edges,
            misoriented_edges: a.misoriented_edges + b.misoriented_edges,
            non_manifold_vertices: a.non_manifold_vertices + b.non_manifold_vertices,
            degenerate_triangles: a.degenerate_triangles + b.degenerate_triangles,
            referenced_vertices: a.referenced_vertices + b.referenced_vertices,
        }
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
}

/// CSR table of the corners around each vertex: corner `3 * t + k` is vertex
/// `triangles[t][k]`, so it names both the triangle and the edges leaving and entering
/// the vertex. Built once and shared by checks, smoothing and normals.
pub(crate) struct VertexCorners {
    offsets: Vec<u32>,
    corners: Vec<u32>,
}

impl VertexCorners {
    /// Counting-sort build, O(V + F); corners of a vertex come in increasing order.
    ///
    /// Meshes are limited to `u32::MAX / 3` triangles (the `Mesh` index type already
    /// bounds vertices to u32).
    pub fn build(m: &Mesh) -> Self {
        let mut offsets = vec![0u32; m.vertices.len() + 1];
        for &v in m.triangles.as_flattened() {
            offsets[v as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut cursor = offsets.clone();
        let mut corners = vec![0u32; offsets[m.vertices.len()] as usize];
        for (corner, &v) in m.triangles.as_flattened().iter().enumerate() {
            let slot = &mut cursor[v as usize];
            corners[*slot as usize] = corner as u32;
            *slot += 1;
        }
        Self { offsets, corners }
    }

    /// Corners at `v` (a triangle with `v` twice contributes two corners).
    pub fn corners_of(&self, v: u32) -> &[u32] {
        let v = v as usize;
        &self.corners[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// Offsets of the CSR table (`vertices + 1` entries).
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// All corners, grouped by vertex.
    pub fn corners(&self) -> &[u32] {
        &self.corners
    }
}

/// One triangle edge at a vertex `v`, seen from `v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Spoke {
    /// The vertex at the other end.
    other: u32,
    /// Position of the corner in the vertex's corner list.
    local: u32,
    /// True for the half-edge `v → other`, false for `other → v`.
    leaving: bool,
}

/// Scratch space to analyse the star of one vertex: split its triangles into
/// edge-connected fans and classify the edges to higher-numbered vertices.
pub(crate) struct FanScratch {
    spokes: Vec<Spoke>,
    sets: DisjointSets,
    label_of_root: Vec<u32>,
    /// Fan label of each corner after [`FanScratch::fan_labels`].
    pub labels: Vec<u32>,
    /// Edge counts (unique, boundary, non-manifold, mis-oriented) of the edges from the
    /// vertex to higher-numbered vertices, after [`FanScratch::fan_labels`].
    pub edges_above: LocalCheck,
    /// Some edge at the vertex is not traversed exactly once in each direction (boundary,
    /// non-manifold or mis-oriented), after [`FanScratch::fan_labels`].
    pub irregular_edge: bool,
}

impl Default for FanScratch {
    fn default() -> Self {
        Self {
            spokes: Vec::new(),
            sets: DisjointSets::new(0),
            label_of_root: Vec::new(),
            labels: Vec::new(),
            edges_above: LocalCheck::default(),
            irregular_edge: false,
        }
    }
}

fn has_repeated_index(t: &[u32; 3]) -> bool {
    t[0] == t[1] || t[1] == t[2] || t[0] == t[2]
}

impl FanScratch {
    /// Labels each corner at `v` (in `self.labels`, `u32::MAX` for triangles with a
    /// repeated index) with a fan number `0..count` and returns `count`. Two triangles are
    /// in one fan when they share an edge at `v`. Also fills `self.edges_above`.
    pub fn fan_labels(&mut self, m: &Mesh, corners: &[u32], v: u32) -> usize {
        self.spokes.clear();
        self.sets.reset(corners.len());
        self.labels.clear();
        for (local, &c) in corners.iter().enumerate() {
            let tri = &m.triangles[(c / 3) as usize];
            let k = (c % 3) as usize;
            let (next, previous) = (tri[(k + 1) % 3], tri[(k + 2) % 3]);
            let local = local as u32;
            if next != v {
                self.spokes.push(Spoke {
                    other: next,
                    local,
                    leaving: true,
                });
            }
            if previous != v {
                self.spokes.push(Spoke {
                    other: previous,
                    local,
                    leaving: false,
                });
            }
        }
        self.spokes.sort_unstable();
        let mut edges = LocalCheck::default();
        self.irregular_edge = false;
        for group in self.spokes.chunk_by(|a, b| a.other == b.other) {
            let leaving = group.iter().filter(|s| s.leaving).count();
            self.irregular_edge |= group.len() != 2 || leaving != 1;
            if group[0].other > v {
                edges.unique_edges += 1;
                match group.len() {
                    1 => edges.boundary_edges += 1,
                    2 => edges.misoriented_edges += usize::from(leaving != 1),
                    _ => edges.non_manifold_edges += 1,
                }
            }
            let mut fan_members = group
                .iter()
                .filter(|s| !has_repeated_index(&m.triangles[(corners[s.local as usize] / 3) as usize]));
            if let Some(first) = fan_members.next() {
                for s in fan_members {
                    self.sets.union(first.local, s.local);
                }
            }
        }
        self.edges_above = edges;
        let mut count = 0u32;
        self.label_of_root.clear();
        self.label_of_root.resize(corners.len(), u32::MAX);
        for (local, &c) in corners.iter().enumerate() {
            if has_repeated_index(&m.triangles[(c / 3) as usize]) {
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
