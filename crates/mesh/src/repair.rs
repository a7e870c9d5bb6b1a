//! Mesh error correction: welding, degenerate and duplicate triangles, specks, winding,
//! holes and non-manifold vertices (the "mesh errors" and "cover holes" steps of
//! surface conditioning).

use rayon::prelude::*;
use tracing::debug;

use crate::mesh::Mesh;
use crate::shells::{nesting_depths, shell_labels, DisjointSets, ShellLabels};
use crate::topology::{is_degenerate, EdgeTable, FanScratch, VertexCorners};

/// Merges vertices closer than `tolerance_mm` (greedy clustering: each vertex, in index
/// order, absorbs the not-yet-merged vertices within the tolerance) and drops unreferenced
/// vertices. `tolerance_mm <= 0` (or NaN) merges only bit-identical positions (with
/// −0 = +0). Triangles that collapse to repeated indices are kept; run
/// [`remove_degenerate_and_duplicate_triangles`] afterwards. O(n log n).
pub fn weld_vertices(m: &mut Mesh, tolerance_mm: f32) {
    let representative = if tolerance_mm > 0.0 && tolerance_mm.is_finite() {
        cluster_within(&m.vertices, tolerance_mm)
    } else {
        identical_positions(&m.vertices)
    };
    for t in &mut m.triangles {
        *t = t.map(|v| representative[v as usize]);
    }
    remove_unreferenced_vertices(m);
}

/// For each vertex the smallest index with a bit-identical position.
fn identical_positions(vertices: &[[f32; 3]]) -> Vec<u32> {
    let key = |i: u32| vertices[i as usize].map(|c| (c + 0.0).to_bits());
    let mut order: Vec<u32> = (0..vertices.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| (key(i), i));
    let mut representative: Vec<u32> = (0..vertices.len() as u32).collect();
    for run in order.chunk_by(|&a, &b| key(a) == key(b)) {
        for &i in run {
            representative[i as usize] = run[0];
        }
    }
    representative
}

/// Greedy clustering on a uniform grid of `tolerance` cells, searching the 27 cells
/// around each vertex through binary search in the sorted cell keys.
fn cluster_within(vertices: &[[f32; 3]], tolerance: f32) -> Vec<u32> {
    let cell = |p: &[f32; 3]| p.map(|c| (c / tolerance).floor() as i64);
    let cells: Vec<[i64; 3]> = vertices.par_iter().map(cell).collect();
    let mut order: Vec<u32> = (0..vertices.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| (cells[i as usize], i));
    let sorted_cells: Vec<[i64; 3]> = order.iter().map(|&i| cells[i as usize]).collect();
    let limit = tolerance * tolerance;
    let mut representative = vec![u32::MAX; vertices.len()];
    for v in 0..vertices.len() {
        if representative[v] != u32::MAX {
            continue;
        }
        representative[v] = v as u32;
        let p = vertices[v];
        let c = cells[v];
        for dx in -1..=1 {
            for dy in -1..=1 {
                for dz in -1..=1 {
                    let target = [c[0] + dx, c[1] + dy, c[2] + dz];
                    let start = sorted_cells.partition_point(|k| *k < target);
                    let end = start + sorted_cells[start..].partition_point(|k| *k == target);
                    for &o in &order[start..end] {
                        let q = vertices[o as usize];
                        let d2 = (0..3).map(|a| (p[a] - q[a]).powi(2)).sum::<f32>();
                        if representative[o as usize] == u32::MAX && d2 <= limit {
                            representative[o as usize] = v as u32;
                        }
                    }
                }
            }
        }
    }
    representative
}

/// Drops vertices no triangle uses, keeping the others in order.
pub fn remove_unreferenced_vertices(m: &mut Mesh) {
    let mut used = vec![false; m.vertices.len()];
    for t in &m.triangles {
        for &v in t {
            used[v as usize] = true;
        }
    }
    let mut new_index = vec![u32::MAX; m.vertices.len()];
    let mut kept = 0usize;
    for (v, &u) in used.iter().enumerate() {
        if u {
            new_index[v] = kept as u32;
            m.vertices[kept] = m.vertices[v];
            kept += 1;
        }
    }
    m.vertices.truncate(kept);
    m.triangles
        .par_iter_mut()
        .for_each(|t| *t = t.map(|v| new_index[v as usize]));
}

/// Removes degenerate triangles (repeated index or zero area) and duplicates. Triangles
/// over the same three vertices cancel by orientation: of `p` copies wound one way and `q`
/// the other, one copy of the majority winding is kept, none when `p = q` (an internal
/// double wall, e.g. the shared face of two touching boxes).
///
/// A zero-area triangle with three distinct, collinear vertices (a "cap": vertex `m`
/// lies on edge p–q) is removed by splitting its neighbour across p–q at `m`, so no slit
/// is left; only where that is impossible (no single neighbour, or the neighbour already
/// changed) is the sliver simply dropped.
pub fn remove_degenerate_and_duplicate_triangles(m: &mut Mesh) {
    for _ in 0..4 {
        if resolve_collinear_triangles(m) == 0 {
            break;
        }
    }
    let canonical = |t: &[u32; 3]| -> ([u32; 3], bool) {
        let r = match (0..3).min_by_key(|&k| t[k]).unwrap_or(0) {
            0 => *t,
            1 => [t[1], t[2], t[0]],
            _ => [t[2], t[0], t[1]],
        };
        let forward = r[1] < r[2];
        ([r[0], r[1].min(r[2]), r[1].max(r[2])], forward)
    };
    let mut keep: Vec<bool> = m.triangles.par_iter().map(|t| !is_degenerate(m, t)).collect();
    let mut order: Vec<u32> = (0..m.triangles.len() as u32).filter(|&t| keep[t as usize]).collect();
    order.par_sort_unstable_by_key(|&t| (canonical(&m.triangles[t as usize]).0, t));
    for run in order.chunk_by(|&a, &b| canonical(&m.triangles[a as usize]).0 == canonical(&m.triangles[b as usize]).0) {
        if run.len() == 1 {
            continue;
        }
        let forward: Vec<bool> = run.iter().map(|&t| canonical(&m.triangles[t as usize]).1).collect();
        let ahead = forward.iter().filter(|&&f| f).count();
        let winner = match ahead.cmp(&(run.len() - ahead)) {
            std::cmp::Ordering::Greater => forward.iter().position(|&f| f),
            std::cmp::Ordering::Less => forward.iter().position(|&f| !f),
            std::cmp::Ordering::Equal => None,
        };
        for (k, &t) in run.iter().enumerate() {
            keep[t as usize] = Some(k) == winner;
        }
    }
    let before = m.triangles.len();
    let mut index = 0;
    m.triangles.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    debug!(
        removed = before - m.triangles.len(),
        "degenerate and duplicate triangles"
    );
}

/// One pass of cap removal by neighbour splitting; returns the number of caps removed.
fn resolve_collinear_triangles(m: &mut Mesh) -> usize {
    let caps: Vec<usize> = (0..m.triangles.len())
        .into_par_iter()
        .filter(|&t| {
            let tri = m.triangles[t];
            tri[0] != tri[1] && tri[1] != tri[2] && tri[0] != tri[2] && is_degenerate(m, &tri)
        })
        .collect();
    if caps.is_empty() {
        return 0;
    }
    let edges = EdgeTable::build(m);
    let mut touched = vec![false; m.triangles.len()];
    let mut removed = vec![false; m.triangles.len()];
    let mut resolved = 0;
    for t in caps {
        if touched[t] {
            continue;
        }
        let tri = m.triangles[t];
        let length2 = |a: u32, b: u32| {
            let (p, q) = (m.vertices[a as usize], m.vertices[b as usize]);
            (0..3).map(|k| f64::from(p[k] - q[k]).powi(2)).sum::<f64>()
        };
        let k = (0..3)
            .max_by(|&i, &j| length2(tri[i], tri[(i + 1) % 3]).total_cmp(&length2(tri[j], tri[(j + 1) % 3])))
            .unwrap_or(0);
        let (p, q, mid) = (tri[k], tri[(k + 1) % 3], tri[(k + 2) % 3]);
        let key = (p.min(q), p.max(q));
        let start = edges.half_edges.partition_point(|e| (e.lo, e.hi) < key);
        let group: Vec<u32> = edges.half_edges[start..]
            .iter()
            .take_while(|e| (e.lo, e.hi) == key)
            .map(|e| e.triangle())
            .collect();
        let [a, b] = group[..] else { continue };
        let n = if a as usize == t { b } else { a } as usize;
        if n == t || touched[n] || removed[n] {
            continue;
        }
        let Some(&d) = m.triangles[n].iter().find(|&&v| v != p && v != q) else {
            continue;
        };
        if d == mid {
            continue;
        }
        m.triangles[n] = [q, mid, d];
        m.triangles.push([mid, p, d]);
        touched[n] = true;
        touched[t] = true;
        removed[t] = true;
        resolved += 1;
    }
    let mut index = 0;
    m.triangles.retain(|_| {
        index += 1;
        !removed.get(index - 1).copied().unwrap_or(false)
    });
    resolved
}

/// Returns the mesh without the shells (connected by shared vertices) whose enclosed
/// volume |V| is below `min_volume_mm3` — the "point-like surfaces" of segmentation noise.
/// Unreferenced vertices are dropped.
pub fn remove_small_shells(m: &Mesh, min_volume_mm3: f64) -> Mesh {
    let shells = shell_labels(m);
    let keep_shell: Vec<bool> = shells
        .signed_volumes(m)
        .iter()
        .map(|v| v.abs() >= min_volume_mm3)
        .collect();
    let mut out = Mesh {
        vertices: m.vertices.clone(),
        triangles: m
            .triangles
            .iter()
            .zip(&shells.triangle)
            .filter(|(_, &l)| keep_shell[l as usize])
            .map(|(t, _)| *t)
            .collect(),
    };
    remove_unreferenced_vertices(&mut out);
    out
}

/// Makes the winding consistent and outward.
///
/// 1. Breadth-first search over edges shared by exactly two triangles gives every
///    edge-connected patch one consistent winding (non-orientable patches keep their
///    first-visited choice).
/// 2. Each patch is then flipped as a whole if its signed volume has the wrong sign for
///    its nesting depth: closed patches inside an odd number of other closed patches are
///    cavities and must point inward (negative volume), all others outward. Containment is
///    decided by ray parity (see `shells::nesting_depths`). Open patches are made
///    positive, which is only a heuristic.
pub fn orient_outward(m: &mut Mesh) {
    let edges = EdgeTable::build(m);
    let n = m.triangles.len();
    // Neighbour across each corner's edge and whether it runs the same way (needs a flip).
    let mut neighbours = vec![[(u32::MAX, false); 3]; n];
    let mut open_triangle = vec![false; n];
    for g in edges.groups() {
        match g {
            [only] => open_triangle[only.triangle() as usize] = true,
            [a, b] if a.triangle() != b.triangle() => {
                let same = a.runs_low_to_high(m) == b.runs_low_to_high(m);
                neighbours[a.triangle() as usize][(a.id % 3) as usize] = (b.triangle(), same);
                neighbours[b.triangle() as usize][(b.id % 3) as usize] = (a.triangle(), same);
            }
            _ => {}
        }
    }
    let mut flip = vec![false; n];
    let mut visited = vec![false; n];
    let mut patches = DisjointSets::new(n);
    let mut queue = Vec::new();
    for seed in 0..n {
        if visited[seed] {
            continue;
        }
        visited[seed] = true;
        queue.push(seed as u32);
        while let Some(t) = queue.pop() {
            for &(o, same) in &neighbours[t as usize] {
                if o == u32::MAX || visited[o as usize] {
                    continue;
                }
                visited[o as usize] = true;
                flip[o as usize] = flip[t as usize] ^ same;
                patches.union(t, o);
                queue.push(o);
            }
        }
    }
    m.triangles
        .par_iter_mut()
        .zip(&flip)
        .filter(|(_, &f)| f)
        .for_each(|(t, _)| t.swap(1, 2));

    let patches = ShellLabels::from_triangle_sets(&mut patches);
    let mut closed = vec![true; patches.count];
    for (t, &open) in open_triangle.iter().enumerate() {
        if open {
            closed[patches.triangle[t] as usize] = false;
        }
    }
    let volumes = patches.signed_volumes(m);
    let depths = if patches.count > 1 {
        nesting_depths(m, &patches, &closed)
    } else {
        vec![0; patches.count]
    };
    let flip_patch: Vec<bool> = volumes
        .iter()
        .zip(&depths)
        .map(|(&v, &d)| v != 0.0 && (v > 0.0) != (d % 2 == 0))
        .collect();
    m.triangles
        .par_iter_mut()
        .zip(&patches.triangle)
        .filter(|(_, &l)| flip_patch[l as usize])
        .for_each(|(t, _)| t.swap(1, 2));
    debug!(
        triangles_flipped = flip.iter().filter(|&&f| f).count(),
        patches = patches.count,
        patches_flipped = flip_patch.iter().filter(|&&f| f).count(),
        "orient outward"
    );
}

/// Closes boundary loops and returns how many were closed.
///
/// Each loop of boundary edges is covered consistently with the surrounding winding: a
/// loop of three edges by one triangle, a longer loop by a fan around a new vertex at the
/// loop's centroid (robust for the roughly planar, star-shaped openings left where an
/// organ leaves the scan; strongly non-planar loops may give a poor but closed patch).
/// Loops through a vertex with several boundary edges are followed greedily; chains that
/// do not close are left open.
pub fn fill_holes(m: &mut Mesh) -> usize {
    let edges = EdgeTable::build(m);
    // A boundary half-edge a→b needs the filling to contain b→a.
    let mut hole_edges: Vec<(u32, u32)> = edges
        .groups()
        .filter(|g| g.len() == 1)
        .map(|g| {
            let t = m.triangles[g[0].triangle() as usize];
            let k = (g[0].id % 3) as usize;
            (t[(k + 1) % 3], t[k])
        })
        .collect();
    hole_edges.sort_unstable();
    let mut used = vec![false; hole_edges.len()];
    let next_unused = |from: u32, used: &mut [bool]| -> Option<u32> {
        let start = hole_edges.partition_point(|e| e.0 < from);
        let k = (start..hole_edges.len())
            .take_while(|&k| hole_edges[k].0 == from)
            .find(|&k| !used[k])?;
        used[k] = true;
        Some(hole_edges[k].1)
    };
    let mut closed = 0;
    for first in 0..hole_edges.len() {
        if used[first] {
            continue;
        }
        used[first] = true;
        let (start, mut current) = hole_edges[first];
        let mut ring = vec![start];
        let mut complete = true;
        while current != start {
            ring.push(current);
            match next_unused(current, &mut used) {
                Some(next) => current = next,
                None => {
                    complete = false;
                    break;
                }
            }
        }
        if !complete || ring.len() < 3 {
            continue;
        }
        cover_ring(m, &ring);
        closed += 1;
    }
    debug!(holes = closed, "fill holes");
    closed
}

/// Triangulates one directed ring (edges ring[i] → ring[i+1]) into `m`: a triangle for
/// three edges; a fan around a new vertex at the centroid when the ring, projected on its
/// mean plane (Newell normal), is star-shaped from the centroid; otherwise ear clipping
/// of that projection (concave openings), and the fan again if no ear is found (a ring
/// whose projection crosses itself).
fn cover_ring(m: &mut Mesh, ring: &[u32]) {
    if let [a, b, c] = *ring {
        m.triangles.push([a, b, c]);
        return;
    }
    let points: Vec<[f64; 3]> = ring.iter().map(|&v| m.vertices[v as usize].map(f64::from)).collect();
    let mut centroid = [0.0f64; 3];
    for p in &points {
        for (c, x) in centroid.iter_mut().zip(p) {
            *c += x / ring.len() as f64;
        }
    }
    let flat = project_on_mean_plane(&points, centroid);
    let star_shaped = flat
        .as_ref()
        .is_none_or(|f| (0..f.len()).all(|i| orient2d([0.0, 0.0], f[i], f[(i + 1) % f.len()]) > 0.0));
    if !star_shaped {
        if let Some(triangles) = flat.as_ref().and_then(|f| ear_clip(f)) {
            m.triangles
                .extend(triangles.into_iter().map(|[a, b, c]| [ring[a], ring[b], ring[c]]));
            return;
        }
    }
    let centre = m.vertices.len() as u32;
    m.vertices.push(centroid.map(|c| c as f32));
    for (i, &v) in ring.iter().enumerate() {
        m.triangles.push([v, ring[(i + 1) % ring.len()], centre]);
    }
}

/// Rings longer than this are always fanned (ear clipping is quadratic).
const MAX_EAR_CLIP_RING: usize = 4096;

/// The ring in 2D coordinates of its mean plane (origin at `centroid`, axes chosen so the
/// ring runs counter-clockwise around the Newell normal); `None` for a ring without a
/// defined normal.
fn project_on_mean_plane(points: &[[f64; 3]], centroid: [f64; 3]) -> Option<Vec<[f64; 2]>> {
    let mut normal = [0.0f64; 3];
    for (i, p) in points.iter().enumerate() {
        let q = points[(i + 1) % points.len()];
        normal[0] += (p[1] - q[1]) * (p[2] + q[2]);
        normal[1] += (p[2] - q[2]) * (p[0] + q[0]);
        normal[2] += (p[0] - q[0]) * (p[1] + q[1]);
    }
    let length = normal.iter().map(|c| c * c).sum::<f64>().sqrt();
    if !(length > 0.0 && length.is_finite()) {
        return None;
    }
    let n = normal.map(|c| c / length);
    // Any unit vector perpendicular to n, then the third axis completing a right-handed frame.
    let helper = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let e1 = {
        let c = [
            helper[1] * n[2] - helper[2] * n[1],
            helper[2] * n[0] - helper[0] * n[2],
            helper[0] * n[1] - helper[1] * n[0],
        ];
        let l = c.iter().map(|x| x * x).sum::<f64>().sqrt();
        c.map(|x| x / l)
    };
    let e2 = [
        n[1] * e1[2] - n[2] * e1[1],
        n[2] * e1[0] - n[0] * e1[2],
        n[0] * e1[1] - n[1] * e1[0],
    ];
    Some(
        points
            .iter()
            .map(|p| {
                let d = [p[0] - centroid[0], p[1] - centroid[1], p[2] - centroid[2]];
                [
                    d[0] * e1[0] + d[1] * e1[1] + d[2] * e1[2],
                    d[0] * e2[0] + d[1] * e2[1] + d[2] * e2[2],
                ]
            })
            .collect(),
    )
}

/// Twice the signed area of the 2D triangle (p, q, r); positive counter-clockwise.
fn orient2d(p: [f64; 2], q: [f64; 2], r: [f64; 2]) -> f64 {
    (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
}

/// Ear clipping of a counter-clockwise simple polygon: triangles as index triples, each
/// counter-clockwise. `None` when the polygon is too long or no ear can be found (it is
/// not simple in this projection).
fn ear_clip(polygon: &[[f64; 2]]) -> Option<Vec<[usize; 3]>> {
    if polygon.len() > MAX_EAR_CLIP_RING {
        return None;
    }
    let mut remaining: Vec<usize> = (0..polygon.len()).collect();
    let mut triangles = Vec::with_capacity(polygon.len() - 2);
    let mut cursor = 0;
    let mut since_last_ear = 0;
    while remaining.len() > 3 {
        let n = remaining.len();
        let (i0, i1, i2) = (
            remaining[(cursor + n - 1) % n],
            remaining[cursor % n],
            remaining[(cursor + 1) % n],
        );
        let (a, b, c) = (polygon[i0], polygon[i1], polygon[i2]);
        let blocked = orient2d(a, b, c) <= 0.0
            || remaining.iter().any(|&k| {
                let p = polygon[k];
                k != i0
                    && k != i1
                    && k != i2
                    && p != a
                    && p != b
                    && p != c
                    && orient2d(a, b, p) >= 0.0
                    && orient2d(b, c, p) >= 0.0
                    && orient2d(c, a, p) >= 0.0
            });
        if blocked {
            cursor = (cursor + 1) % n;
            since_last_ear += 1;
            if since_last_ear > n {
                return None;
            }
            continue;
        }
        triangles.push([i0, i1, i2]);
        remaining.remove(cursor % n);
        cursor %= remaining.len();
        since_last_ear = 0;
    }
    triangles.push([remaining[0], remaining[1], remaining[2]]);
    Some(triangles)
}

/// Gives each extra fan of a non-manifold vertex (fans touching only at the vertex, e.g.
/// two shells meeting at a tip) its own copy of the vertex. Returns the number of vertices
/// added. Positions are unchanged, so the copies coincide geometrically.
pub fn split_non_manifold_vertices(m: &mut Mesh) -> usize {
    let incidence = VertexCorners::build(m);
    let splits: Vec<(u32, Vec<u32>, usize)> = (0..m.vertices.len() as u32)
        .into_par_iter()
        .map_init(FanScratch::default, |scratch, v| {
            let fans = scratch.fan_labels(m, incidence.corners_of(v), v);
            (fans > 1).then(|| (v, scratch.labels.clone(), fans))
        })
        .flatten()
        .collect();
    let mut added = 0;
    for (v, labels, fans) in splits {
        let first_copy = m.vertices.len() as u32;
        for _ in 1..fans {
            m.vertices.push(m.vertices[v as usize]);
        }
        added += fans - 1;
        for (&corner, &fan) in incidence.corners_of(v).iter().zip(&labels) {
            if fan == 0 || fan == u32::MAX {
                continue;
            }
            m.triangles[(corner / 3) as usize][(corner % 3) as usize] = first_copy + fan - 1;
        }
    }
    debug!(added, "split non-manifold vertices");
    added
}

/// The repair chain used after topology-changing steps: degenerate and duplicate
/// triangles, non-manifold vertices, holes, winding. Returns the number of holes closed.
pub fn repair_topology(m: &mut Mesh) -> usize {
    remove_degenerate_and_duplicate_triangles(m);
    split_non_manifold_vertices(m);
    let holes = fill_holes(m);
    orient_outward(m);
    remove_unreferenced_vertices(m);
    holes
}
