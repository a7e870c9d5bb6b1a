//! Print validation, shell by shell: closed 2-manifold, consistent outward orientation,
//! positive enclosed volume and no self-intersection.
//!
//! Self-intersections are found with a uniform grid over the triangles' bounding boxes
//! (cells of about two mean edge lengths), each candidate pair tested once (in the cell
//! holding the low corner of the two boxes' overlap) by exact-in-f64 segment–triangle
//! tests, in parallel over the cells.

use rayon::prelude::*;
use serde::Serialize;

use crate::measure::{cross, dot, sub};
use crate::mesh::Mesh;
use crate::shells::{nesting_depths, shell_labels, split_labelled, ShellLabels};
use crate::topology::LocalCheck;

/// The verdict on one shell (connected component).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ShellValidation {
    /// Triangles of the shell.
    pub triangles: usize,
    /// Every edge is shared by at least two triangles (no boundary edge).
    pub closed: bool,
    /// Every edge is shared by at most two triangles and every vertex has one fan.
    pub manifold: bool,
    /// Every edge is traversed once in each direction (consistent winding).
    pub oriented: bool,
    /// Enclosed volume, mm³ (signed: negative for an inward-wound shell).
    pub volume_mm3: f64,
    /// How many other closed shells contain this one (odd = a cavity).
    pub nesting_depth: usize,
    /// The winding points out of the material: volume positive at even depth, negative
    /// at odd depth (a cavity faces into the void).
    pub outward: bool,
    /// Triangles with a repeated index or zero area.
    pub degenerate_triangles: usize,
    /// Non-adjacent triangle pairs of this shell that intersect.
    pub self_intersections: usize,
}

impl ShellValidation {
    /// Closed, manifold, oriented, outward, non-zero volume, nothing degenerate, no
    /// self-intersection: printable as it is.
    pub fn is_valid(&self) -> bool {
        self.closed
            && self.manifold
            && self.oriented
            && self.outward
            && self.volume_mm3 != 0.0
            && self.degenerate_triangles == 0
            && self.self_intersections == 0
    }
}

/// The verdict on a whole mesh.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validation {
    /// One entry per shell, in order of the shells' first triangle.
    pub shells: Vec<ShellValidation>,
    /// Intersecting triangle pairs that belong to two different shells (touching or
    /// interpenetrating parts).
    pub intersections_between_shells: usize,
    /// Every triangle involved in an intersection, ascending, without repeats.
    pub intersecting_triangles: Vec<u32>,
}

impl Validation {
    /// Every shell is valid and no two shells intersect.
    pub fn is_valid(&self) -> bool {
        self.intersections_between_shells == 0 && self.shells.iter().all(ShellValidation::is_valid)
    }

    /// Intersecting pairs within shells plus between shells.
    pub fn intersecting_pairs(&self) -> usize {
        self.intersections_between_shells + self.shells.iter().map(|s| s.self_intersections).sum::<usize>()
    }
}

/// Validates every shell of `m`; see [`ShellValidation`]. O(n log n) in the triangles,
/// parallel. An empty mesh has no shells and is valid.
pub fn validate(m: &Mesh) -> Validation {
    let labels = shell_labels(m);
    let pairs = intersecting_pairs(m);
    let mut self_intersections = vec![0usize; labels.count];
    let mut intersections_between_shells = 0;
    let mut intersecting_triangles = Vec::with_capacity(2 * pairs.len());
    for &(a, b) in &pairs {
        let (la, lb) = (labels.triangle[a as usize], labels.triangle[b as usize]);
        if la == lb {
            self_intersections[la as usize] += 1;
        } else {
            intersections_between_shells += 1;
        }
        intersecting_triangles.extend([a, b]);
    }
    intersecting_triangles.sort_unstable();
    intersecting_triangles.dedup();
    let shells = shell_verdicts(m, &labels, &self_intersections);
    Validation {
        shells,
        intersections_between_shells,
        intersecting_triangles,
    }
}

/// Local checks, volume and nesting per shell.
fn shell_verdicts(m: &Mesh, labels: &ShellLabels, self_intersections: &[usize]) -> Vec<ShellValidation> {
    let shells = split_labelled(m, labels, &vec![true; labels.count]);
    let locals: Vec<LocalCheck> = shells.par_iter().map(LocalCheck::of_mesh).collect();
    let volumes = labels.signed_volumes(m);
    let closed: Vec<bool> = locals.iter().map(|l| l.boundary_edges == 0).collect();
    let depths = if labels.count > 1 {
        nesting_depths(m, labels, &closed)
    } else {
        vec![0; labels.count]
    };
    (0..labels.count)
        .map(|s| {
            let l = &locals[s];
            ShellValidation {
                triangles: shells[s].triangles.len(),
                closed: l.boundary_edges == 0,
                manifold: l.non_manifold_edges == 0 && l.non_manifold_vertices == 0,
                oriented: l.misoriented_edges == 0,
                volume_mm3: volumes[s],
                nesting_depth: depths[s],
                outward: volumes[s] != 0.0 && (volumes[s] > 0.0) == (depths[s] % 2 == 0),
                degenerate_triangles: l.degenerate_triangles,
                self_intersections: self_intersections[s],
            }
        })
        .collect()
}

/// Axis-aligned box of a triangle, in f64 mm.
#[derive(Debug, Clone, Copy)]
struct Aabb {
    lo: [f64; 3],
    hi: [f64; 3],
}

impl Aabb {
    fn of(m: &Mesh, t: &[u32; 3]) -> Self {
        let p = t.map(|v| m.vertices[v as usize].map(f64::from));
        Self {
            lo: std::array::from_fn(|a| p[0][a].min(p[1][a]).min(p[2][a])),
            hi: std::array::from_fn(|a| p[0][a].max(p[1][a]).max(p[2][a])),
        }
    }

    fn overlaps(&self, o: &Self) -> bool {
        (0..3).all(|a| self.lo[a] <= o.hi[a] && o.lo[a] <= self.hi[a])
    }
}

/// Triangles whose box covers more grid cells than this are tested by brute force.
const MAX_CELLS_PER_TRIANGLE: u64 = 512;

/// The uniform grid: cell of a point and the cells a box covers.
struct Grid {
    origin: [f64; 3],
    cell_mm: f64,
}

impl Grid {
    fn cell(&self, p: [f64; 3]) -> [i64; 3] {
        std::array::from_fn(|a| ((p[a] - self.origin[a]) / self.cell_mm).floor() as i64)
    }

    /// Cell coordinates packed into one key (21 bits per axis; the grid is built so that
    /// cell coordinates stay below 2²¹).
    fn key(c: [i64; 3]) -> u64 {
        ((c[0] as u64) << 42) | ((c[1] as u64) << 21) | c[2] as u64
    }
}

/// All pairs `(a, b)`, `a < b`, of triangles that intersect, except the legitimate
/// contact of neighbours: triangles sharing an edge only when they are coplanar and
/// folded onto each other, triangles sharing one vertex only when they cross away from
/// that vertex. Coplanar pairs count when their interiors overlap. Degenerate
/// (zero-area) triangles are skipped. Sorted.
pub fn intersecting_pairs(m: &Mesh) -> Vec<(u32, u32)> {
    if m.triangles.len() < 2 {
        return Vec::new();
    }
    let boxes: Vec<Aabb> = m.triangles.par_iter().map(|t| Aabb::of(m, t)).collect();
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for b in &boxes {
        for a in 0..3 {
            lo[a] = lo[a].min(b.lo[a]);
            hi[a] = hi[a].max(b.hi[a]);
        }
    }
    if !(0..3).all(|a| lo[a].is_finite() && hi[a].is_finite()) {
        return Vec::new();
    }
    let mean_extent = boxes
        .par_iter()
        .map(|b| (0..3).map(|a| b.hi[a] - b.lo[a]).fold(0.0, f64::max))
        .sum::<f64>()
        / boxes.len() as f64;
    let span = (0..3).map(|a| hi[a] - lo[a]).fold(0.0, f64::max);
    // Cells of ~2 triangle extents, but never more than 2^20 cells along an axis.
    let cell_mm = (2.0 * mean_extent).max(span / f64::from(1u32 << 20)).max(1e-9);
    let grid = Grid { origin: lo, cell_mm };
    let cells_covered = |b: &Aabb| {
        let (c0, c1) = (grid.cell(b.lo), grid.cell(b.hi));
        (0..3).map(|a| (c1[a] - c0[a] + 1) as u64).product::<u64>()
    };
    // Triangles covering very many cells (huge caps, hostile input) are tested against
    // every box instead, so the grid stays linear in the triangle count.
    let large: Vec<u32> = (0..boxes.len() as u32)
        .filter(|&t| cells_covered(&boxes[t as usize]) > MAX_CELLS_PER_TRIANGLE)
        .collect();
    let mut is_large = vec![false; boxes.len()];
    for &t in &large {
        is_large[t as usize] = true;
    }
    let mut entries: Vec<(u64, u32)> = boxes
        .par_iter()
        .enumerate()
        .filter(|(t, _)| !is_large[*t])
        .flat_map_iter(|(t, b)| {
            let (c0, c1) = (grid.cell(b.lo), grid.cell(b.hi));
            (c0[0]..=c1[0]).flat_map(move |x| {
                (c0[1]..=c1[1]).flat_map(move |y| (c0[2]..=c1[2]).map(move |z| (Grid::key([x, y, z]), t as u32)))
            })
        })
        .collect();
    entries.par_sort_unstable();
    let runs: Vec<&[(u64, u32)]> = entries.chunk_by(|a, b| a.0 == b.0).filter(|r| r.len() > 1).collect();
    let mut pairs: Vec<(u32, u32)> = runs
        .par_iter()
        .flat_map_iter(|run| {
            let key = run[0].0;
            let mut found = Vec::new();
            for (i, &(_, a)) in run.iter().enumerate() {
                let ba = &boxes[a as usize];
                for &(_, b) in &run[i + 1..] {
                    let bb = &boxes[b as usize];
                    if !ba.overlaps(bb) {
                        continue;
                    }
                    let corner: [f64; 3] = std::array::from_fn(|k| ba.lo[k].max(bb.lo[k]));
                    if Grid::key(grid.cell(corner)) != key {
                        continue;
                    }
                    if triangles_intersect(m, a, b) {
                        found.push((a.min(b), a.max(b)));
                    }
                }
            }
            found
        })
        .collect();
    let (boxes, is_large) = (&boxes, &is_large);
    pairs.par_extend(large.par_iter().flat_map_iter(|&a| {
        let ba = boxes[a as usize];
        (0..boxes.len() as u32)
            .filter(move |&b| b != a && !(is_large[b as usize] && b < a))
            .filter(move |&b| ba.overlaps(&boxes[b as usize]) && triangles_intersect(m, a, b))
            .map(move |b| (a.min(b), a.max(b)))
            .collect::<Vec<_>>()
    }));
    pairs.par_sort_unstable();
    pairs.dedup();
    pairs
}

/// True when triangles `a` and `b` intersect other than along what they share.
fn triangles_intersect(m: &Mesh, a: u32, b: u32) -> bool {
    let (ta, tb) = (m.triangles[a as usize], m.triangles[b as usize]);
    let pa = ta.map(|v| m.vertices[v as usize].map(f64::from));
    let pb = tb.map(|v| m.vertices[v as usize].map(f64::from));
    // Shared by index or by position (split copies of one vertex coincide).
    let same = |k: usize, l: usize| ta[k] == tb[l] || pa[k] == pb[l];
    let shared = (0..3).filter(|&k| (0..3).any(|l| same(k, l))).count();
    if shared == 3 {
        return false;
    }
    // Cheap rejection first (most candidate pairs): the corners of one triangle that it
    // does not share with the other lie strictly on one side of the other's plane, so the
    // two meet at most in what they share.
    let shared_by_b = |l: usize| (0..3).any(|k| same(k, l));
    let shared_by_a = |k: usize| (0..3).any(|l| same(k, l));
    let (na, nb) = (plane_normal(&pa), plane_normal(&pb));
    let scale = joint_extent(&pa, &pb);
    let (margin_a, margin_b) = (
        COPLANAR_TOLERANCE * scale * dot(na, na).sqrt(),
        COPLANAR_TOLERANCE * scale * dot(nb, nb).sqrt(),
    );
    // Zero-area triangles have no plane (and are the topology check's business).
    if !(margin_a > 0.0 && margin_b > 0.0) || is_zero_area(&pa) || is_zero_area(&pb) {
        return false;
    }
    let db = pb.map(|p| dot(na, sub(p, pa[0])));
    let da = pa.map(|p| dot(nb, sub(p, pb[0])));
    if strictly_one_side(&db, margin_a, shared_by_b) || strictly_one_side(&da, margin_b, shared_by_a) {
        return false;
    }
    if db.iter().all(|d| d.abs() <= margin_a) {
        return coplanar_overlap(&pa, &pb, &same);
    }
    if shared == 2 {
        return false;
    }
    if shared == 0 {
        return edges_cross(&pa, &pb, None) || edges_cross(&pb, &pa, None);
    }
    // One shared vertex: ignore hits at that vertex itself.
    let ka = (0..3).find(|&k| (0..3).any(|l| same(k, l))).unwrap_or(0);
    let kb = (0..3).find(|&l| same(ka, l)).unwrap_or(0);
    edges_cross(&pa, &pb, Some(ka)) || edges_cross(&pb, &pa, Some(kb))
}

/// The corners (signed plane distances `d`, scaled by the plane normal's length) not
/// flagged by `skip` lie strictly beyond `margin` on one side; false when all are skipped.
fn strictly_one_side(d: &[f64; 3], margin: f64, skip: impl Fn(usize) -> bool) -> bool {
    let (mut above, mut below, mut counted) = (true, true, 0);
    for (l, &x) in d.iter().enumerate() {
        if !skip(l) {
            counted += 1;
            above &= x > margin;
            below &= x < -margin;
        }
    }
    counted > 0 && (above || below)
}

/// (b − a) × (c − a): the plane normal scaled by twice the area.
fn plane_normal(p: &[[f64; 3]; 3]) -> [f64; 3] {
    cross(sub(p[1], p[0]), sub(p[2], p[0]))
}

/// Largest side of the box around both triangles, mm.
fn joint_extent(p: &[[f64; 3]; 3], q: &[[f64; 3]; 3]) -> f64 {
    (0..3)
        .map(|a| {
            let values = [p[0][a], p[1][a], p[2][a], q[0][a], q[1][a], q[2][a]];
            values.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x))
                - values.iter().fold(f64::INFINITY, |m, &x| m.min(x))
        })
        .fold(0.0, f64::max)
}

/// Relative tolerance of the coplanarity test (distance to the plane over the longest
/// edge), about the f32 resolution of the stored coordinates.
const COPLANAR_TOLERANCE: f64 = 1e-6;

/// Overlap of two coplanar triangles with positive area, in the projection that drops the
/// dominant normal axis: a shared edge overlaps when the opposite corners lie on the same
/// side of it (a fold); otherwise when two edges cross properly or a corner of one lies
/// strictly inside the other. Contact along shared corners is not overlap.
fn coplanar_overlap(pa: &[[f64; 3]; 3], pb: &[[f64; 3]; 3], same: &dyn Fn(usize, usize) -> bool) -> bool {
    let n = cross(sub(pa[1], pa[0]), sub(pa[2], pa[0]));
    let drop = (0..3).max_by(|&i, &j| n[i].abs().total_cmp(&n[j].abs())).unwrap_or(2);
    let (u, v) = ((drop + 1) % 3, (drop + 2) % 3);
    let a: [[f64; 2]; 3] = pa.map(|p| [p[u], p[v]]);
    let b: [[f64; 2]; 3] = pb.map(|p| [p[u], p[v]]);
    let shared_a: Vec<usize> = (0..3).filter(|&k| (0..3).any(|l| same(k, l))).collect();
    if let [k0, k1] = shared_a[..] {
        let l0 = (0..3).find(|&l| same(k0, l)).unwrap_or(0);
        let l1 = (0..3).find(|&l| same(k1, l)).unwrap_or(0);
        let (opposite_a, opposite_b) = (3 - k0 - k1, 3 - l0 - l1);
        let side_a = orient2d(a[k0], a[k1], a[opposite_a]);
        let side_b = orient2d(a[k0], a[k1], b[opposite_b]);
        return side_a * side_b > 0.0;
    }
    let a_shared = |k: usize| shared_a.contains(&k);
    let b_shared = |l: usize| (0..3).any(|k| same(k, l));
    for k in 0..3 {
        for l in 0..3 {
            if segments_cross_properly(a[k], a[(k + 1) % 3], b[l], b[(l + 1) % 3]) {
                return true;
            }
        }
    }
    (0..3).any(|k| !a_shared(k) && strictly_inside(a[k], &b))
        || (0..3).any(|l| !b_shared(l) && strictly_inside(b[l], &a))
}

/// Twice the signed area of the 2D triangle (p, q, r).
fn orient2d(p: [f64; 2], q: [f64; 2], r: [f64; 2]) -> f64 {
    (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
}

/// Segments p–q and r–s cross at one point interior to both.
fn segments_cross_properly(p: [f64; 2], q: [f64; 2], r: [f64; 2], s: [f64; 2]) -> bool {
    let (d1, d2) = (orient2d(p, q, r), orient2d(p, q, s));
    let (d3, d4) = (orient2d(r, s, p), orient2d(r, s, q));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

/// `p` lies strictly inside the 2D triangle `t` (either winding).
fn strictly_inside(p: [f64; 2], t: &[[f64; 2]; 3]) -> bool {
    let d = [
        orient2d(t[0], t[1], p),
        orient2d(t[1], t[2], p),
        orient2d(t[2], t[0], p),
    ];
    d.iter().all(|&x| x > 0.0) || d.iter().all(|&x| x < 0.0)
}

fn is_zero_area(p: &[[f64; 3]; 3]) -> bool {
    let n = cross(sub(p[1], p[0]), sub(p[2], p[0]));
    let longest = (0..3)
        .map(|k| {
            let e = sub(p[(k + 1) % 3], p[k]);
            dot(e, e)
        })
        .fold(0.0, f64::max);
    longest == 0.0 || dot(n, n) <= 1e-20 * longest * longest
}

/// True when an edge of triangle `p` passes through triangle `q`. With `shared = Some(k)`,
/// corner `k` of `p` is a vertex of `q` too, and hits within a tiny fraction of the edge
/// from that corner are ignored.
fn edges_cross(p: &[[f64; 3]; 3], q: &[[f64; 3]; 3], shared: Option<usize>) -> bool {
    const NEAR_SHARED: f64 = 1e-9;
    (0..3).any(|k| {
        let (from, to) = (k, (k + 1) % 3);
        match segment_hits_triangle(p[from], p[to], q) {
            None => false,
            Some(s) => match shared {
                Some(c) if c == from => s > NEAR_SHARED,
                Some(c) if c == to => s < 1.0 - NEAR_SHARED,
                _ => true,
            },
        }
    })
}

/// Möller–Trumbore: the parameter `s ∈ [0, 1]` where segment `a → b` meets triangle `q`
/// (boundary included), `None` when it misses or is parallel to the triangle's plane.
fn segment_hits_triangle(a: [f64; 3], b: [f64; 3], q: &[[f64; 3]; 3]) -> Option<f64> {
    let d = sub(b, a);
    let e1 = sub(q[1], q[0]);
    let e2 = sub(q[2], q[0]);
    let h = cross(d, e2);
    let det = dot(e1, h);
    let scale = dot(d, d).sqrt() * dot(e1, e1).sqrt() * dot(e2, e2).sqrt();
    if det.abs() <= 1e-12 * scale {
        return None;
    }
    let inv = 1.0 / det;
    let s0 = sub(a, q[0]);
    let u = dot(s0, h) * inv;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let qv = cross(s0, e1);
    let v = dot(d, qv) * inv;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let s = dot(e2, qv) * inv;
    (0.0..=1.0).contains(&s).then_some(s)
}
