//! Exact clipping of closed meshes by axis-aligned planes, with the cut faces capped by
//! triangulated section polygons (outer loops with holes, via `earcutr`), optionally with
//! round blind holes (connector sockets) sunk into the caps.
//!
//! Invariants: a closed, edge-manifold input whose vertices all lie off the plane gives two
//! closed, edge-manifold, consistently wound halves; the halves share the exact cut vertices,
//! so together they enclose the input's volume (minus the sockets).

use std::collections::HashMap;

use medprint_mesh::Mesh;

use crate::error::PrintError;
use crate::primitives::cylinder;

/// An axis-aligned plane `x[axis] = offset` (mm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisPlane {
    /// 0 = x, 1 = y, 2 = z.
    pub axis: usize,
    /// Position along the axis, mm.
    pub offset: f64,
}

impl AxisPlane {
    /// The in-plane axes `(u, v)` such that `(u, v, axis)` is right-handed.
    pub fn plane_axes(&self) -> (usize, usize) {
        ((self.axis + 1) % 3, (self.axis + 2) % 3)
    }

    /// In-plane coordinates of a point.
    pub fn project(&self, p: [f32; 3]) -> [f64; 2] {
        let (u, v) = self.plane_axes();
        [f64::from(p[u]), f64::from(p[v])]
    }

    /// The 3D point of in-plane coordinates `q` at signed height `h` above the plane (mm).
    pub fn lift(&self, q: [f64; 2], h: f64) -> [f64; 3] {
        let (u, v) = self.plane_axes();
        let mut p = [0.0; 3];
        p[u] = q[0];
        p[v] = q[1];
        p[self.axis] = self.offset + h;
        p
    }
}

/// A round socket sunk into both cut faces at in-plane `centre` (mm): radius and depth in mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Socket {
    /// In-plane centre `(u, v)`, mm.
    pub centre: [f64; 2],
    /// Radius, mm.
    pub radius: f64,
    /// Depth into each half, mm.
    pub depth: f64,
    /// Polygon segments of the circle.
    pub segments: usize,
}

/// The two halves of a clipped mesh and which sockets were sunk (those inside a cap).
#[derive(Debug, Clone, Default)]
pub struct ClipResult {
    /// Material with `x[axis] < offset`, capped.
    pub below: Mesh,
    /// Material with `x[axis] >= offset`, capped.
    pub above: Mesh,
    /// `used[i]`: socket i lay inside a section polygon and was cut into both halves.
    pub used: Vec<bool>,
}

struct CutTopology {
    vertices: Vec<[f32; 3]>,
    below: Vec<[u32; 3]>,
    above: Vec<[u32; 3]>,
    /// Edges of the cut as wound by the below half's triangles.
    below_boundary: Vec<(u32, u32)>,
}

fn cut(mesh: &Mesh, plane: AxisPlane) -> CutTopology {
    let d: Vec<f64> = mesh
        .vertices
        .iter()
        .map(|v| f64::from(v[plane.axis]) - plane.offset)
        .collect();
    let mut vertices = mesh.vertices.clone();
    let mut edge_points: HashMap<(u32, u32), u32> = HashMap::new();
    let mut below = Vec::new();
    let mut above = Vec::new();
    let mut below_boundary = Vec::new();
    let mut point_on = |from: u32, to: u32, vertices: &mut Vec<[f32; 3]>| -> u32 {
        let key = (from.min(to), from.max(to));
        *edge_points.entry(key).or_insert_with(|| {
            let (p, q) = (key.0 as usize, key.1 as usize);
            let t = d[p] / (d[p] - d[q]);
            let (a, b) = (mesh.vertices[p], mesh.vertices[q]);
            let mut point = [0.0f32; 3];
            for c in 0..3 {
                point[c] = (f64::from(a[c]) + t * (f64::from(b[c]) - f64::from(a[c]))) as f32;
            }
            point[plane.axis] = plane.offset as f32;
            vertices.push(point);
            (vertices.len() - 1) as u32
        })
    };
    for &t in &mesh.triangles {
        let side = t.map(|i| d[i as usize] >= 0.0);
        match side.iter().filter(|&&s| s).count() {
            0 => below.push(t),
            3 => above.push(t),
            _ => {
                let k = (0..3)
                    .find(|&k| side[k] != side[(k + 1) % 3] && side[k] != side[(k + 2) % 3])
                    .unwrap_or(0);
                let (l, a, b) = (t[k], t[(k + 1) % 3], t[(k + 2) % 3]);
                let p = point_on(l, a, &mut vertices);
                let q = point_on(l, b, &mut vertices);
                let lone = [l, p, q];
                let quad = [[p, a, b], [p, b, q]];
                if side[k] {
                    above.push(lone);
                    below.extend(quad);
                    below_boundary.push((q, p));
                } else {
                    below.push(lone);
                    above.extend(quad);
                    below_boundary.push((p, q));
                }
            }
        }
    }
    CutTopology {
        vertices,
        below,
        above,
        below_boundary,
    }
}

/// Refuses meshes with bad indices or non-finite vertices and planes that are not axis-aligned
/// planes at a finite offset.
fn check_plane(mesh: &Mesh, plane: AxisPlane) -> Result<(), PrintError> {
    if plane.axis > 2 || !plane.offset.is_finite() {
        return Err(PrintError::BadParameter {
            name: "plane",
            value: plane.offset,
            why: "axis must be 0, 1 or 2 and the offset finite",
        });
    }
    if mesh.is_empty() {
        return Ok(());
    }
    crate::error::check_geometry(mesh, "clipped mesh")
}

/// Chains directed edges into closed loops of vertex indices.
fn chain_loops(edges: &[(u32, u32)]) -> Result<Vec<Vec<u32>>, PrintError> {
    let mut next: HashMap<u32, u32> = HashMap::with_capacity(edges.len());
    for &(a, b) in edges {
        if next.insert(a, b).is_some() {
            return Err(PrintError::Infeasible(
                "the cut section is not a set of simple loops".into(),
            ));
        }
    }
    let mut loops = Vec::new();
    let mut visited: HashMap<u32, ()> = HashMap::with_capacity(edges.len());
    for &(start, _) in edges {
        if visited.contains_key(&start) {
            continue;
        }
        let mut ring = Vec::new();
        let mut at = start;
        loop {
            visited.insert(at, ());
            ring.push(at);
            at = *next
                .get(&at)
                .ok_or_else(|| PrintError::Infeasible("the cut section has an open loop".into()))?;
            if at == start {
                break;
            }
            if ring.len() > edges.len() {
                return Err(PrintError::Infeasible("the cut section loops do not close".into()));
            }
        }
        loops.push(ring);
    }
    Ok(loops)
}

/// Twice the signed area of a 2D polygon (counter-clockwise positive).
pub fn signed_area2(poly: &[[f64; 2]]) -> f64 {
    let n = poly.len();
    (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a[0] * b[1] - a[1] * b[0]
        })
        .sum()
}

/// Crossing-number point-in-polygon test.
pub fn point_in_polygon(p: [f64; 2], poly: &[[f64; 2]]) -> bool {
    let n = poly.len();
    let mut inside = false;
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

/// The closed section polygons of a closed mesh in `plane`, in in-plane coordinates, wound
/// counter-clockwise seen from +axis for material boundaries (holes clockwise).
pub fn section_loops(mesh: &Mesh, plane: AxisPlane) -> Result<Vec<Vec<[f64; 2]>>, PrintError> {
    check_plane(mesh, plane)?;
    let topo = cut(mesh, plane);
    let reversed: Vec<(u32, u32)> = topo.below_boundary.iter().map(|&(a, b)| (b, a)).collect();
    let loops = chain_loops(&reversed)?;
    Ok(loops
        .iter()
        .map(|ring| ring.iter().map(|&i| plane.project(topo.vertices[i as usize])).collect())
        .collect())
}

/// Clips a closed mesh by `plane` and caps both halves; sockets whose centre lies inside a
/// section polygon are sunk into both caps (their polygon must lie inside it — the caller's
/// clearance checks guarantee that). Vertices exactly on the plane count as above; callers
/// should keep the plane off vertices (see `split`).
pub fn clip(mesh: &Mesh, plane: AxisPlane, sockets: &[Socket]) -> Result<ClipResult, PrintError> {
    check_plane(mesh, plane)?;
    let mut topo = cut(mesh, plane);
    let mut used = vec![false; sockets.len()];
    let mut below = std::mem::take(&mut topo.below);
    let mut above = std::mem::take(&mut topo.above);
    if !topo.below_boundary.is_empty() {
        let below_cap: Vec<(u32, u32)> = topo.below_boundary.iter().map(|&(a, b)| (b, a)).collect();
        let above_cap = topo.below_boundary.clone();
        below.extend(cap(&mut topo.vertices, &below_cap, plane, 1.0, sockets, &mut used)?);
        let mut used_above = vec![false; sockets.len()];
        above.extend(cap(
            &mut topo.vertices,
            &above_cap,
            plane,
            -1.0,
            sockets,
            &mut used_above,
        )?);
        if used != used_above {
            return Err(PrintError::Infeasible("a socket landed in one cap only".into()));
        }
    }
    Ok(ClipResult {
        below: compact(&topo.vertices, below),
        above: compact(&topo.vertices, above),
        used,
    })
}

/// A mesh holding only the vertices its triangles use.
fn compact(vertices: &[[f32; 3]], triangles: Vec<[u32; 3]>) -> Mesh {
    let mut map = vec![u32::MAX; vertices.len()];
    let mut out = Mesh::default();
    for t in &triangles {
        for &i in t {
            if map[i as usize] == u32::MAX {
                map[i as usize] = out.vertices.len() as u32;
                out.vertices.push(vertices[i as usize]);
            }
        }
    }
    out.triangles = triangles.iter().map(|t| t.map(|i| map[i as usize])).collect();
    out
}

/// Triangulates one cap. `facing` = +1 when the cap's outward normal is +axis (the below half),
/// −1 otherwise; `edges` are the cap's boundary edges in the cap's own winding.
fn cap(
    vertices: &mut Vec<[f32; 3]>,
    edges: &[(u32, u32)],
    plane: AxisPlane,
    facing: f64,
    sockets: &[Socket],
    used: &mut [bool],
) -> Result<Vec<[u32; 3]>, PrintError> {
    let loops = chain_loops(edges)?;
    let polys: Vec<Vec<[f64; 2]>> = loops
        .iter()
        .map(|ring| ring.iter().map(|&i| plane.project(vertices[i as usize])).collect())
        .collect();
    // Seen from the cap's outward side, material boundaries run counter-clockwise.
    let areas: Vec<f64> = polys.iter().map(|p| facing * signed_area2(p)).collect();
    let outers: Vec<usize> = (0..loops.len()).filter(|&i| areas[i] > 0.0).collect();
    let mut holes_of: Vec<Vec<usize>> = vec![Vec::new(); loops.len()];
    for h in (0..loops.len()).filter(|&i| areas[i] <= 0.0) {
        let probe = polys[h][0];
        let owner = outers
            .iter()
            .copied()
            .filter(|&o| point_in_polygon(probe, &polys[o]))
            .min_by(|&a, &b| areas[a].total_cmp(&areas[b]))
            .ok_or_else(|| PrintError::Infeasible("a hole of the cut section lies in no outer loop".into()))?;
        holes_of[owner].push(h);
    }
    let mut triangles = Vec::new();
    for &o in &outers {
        let mut ring_ids: Vec<u32> = loops[o].clone();
        let mut coords: Vec<f64> = polys[o].iter().flatten().copied().collect();
        let mut hole_starts = Vec::new();
        let inside_outer = |p: [f64; 2]| {
            point_in_polygon(p, &polys[o]) && holes_of[o].iter().all(|&h| !point_in_polygon(p, &polys[h]))
        };
        for &h in &holes_of[o] {
            hole_starts.push(ring_ids.len());
            ring_ids.extend_from_slice(&loops[h]);
            coords.extend(polys[h].iter().flatten());
        }
        for (s, socket) in sockets.iter().enumerate() {
            if !inside_outer(socket.centre) {
                continue;
            }
            used[s] = true;
            let mouth = plane.lift(socket.centre, 0.0);
            let bottom = plane.lift(socket.centre, -facing * socket.depth);
            let Some(tube) = cylinder(mouth, bottom, socket.radius, socket.segments) else {
                return Err(PrintError::Infeasible("a socket has a degenerate size".into()));
            };
            let base = vertices.len() as u32;
            vertices.extend_from_slice(&tube.vertices);
            // Drop the mouth disk (fan around vertex 0) and turn the rest inside out.
            triangles.extend(
                tube.triangles
                    .iter()
                    .filter(|t| !t.contains(&0))
                    .map(|t| [t[0] + base, t[2] + base, t[1] + base]),
            );
            hole_starts.push(ring_ids.len());
            for i in 0..socket.segments as u32 {
                let id = base + 2 + i;
                ring_ids.push(id);
                coords.extend(plane.project(vertices[id as usize]));
            }
        }
        let tris = earcutr::earcut(&coords, &hole_starts, 2)
            .map_err(|e| PrintError::Infeasible(format!("the cut section could not be triangulated: {e:?}")))?;
        let mut ring_bounds = vec![0];
        ring_bounds.extend_from_slice(&hole_starts);
        ring_bounds.push(ring_ids.len());
        let tris = restore_dropped_points(&tris, &ring_bounds);
        let mut centres: HashMap<[usize; 3], u32> = HashMap::new();
        let local_point = |i: usize| [coords[2 * i], coords[2 * i + 1]];
        let mut cap_triangles = Vec::with_capacity(tris.len());
        let mut total_area = 0.0;
        for t in tris {
            let mut ids = [0u32; 3];
            let mut pts = [[0.0; 2]; 3];
            for k in 0..3 {
                match t[k] {
                    Corner::Ring(i) => {
                        ids[k] = ring_ids[i];
                        pts[k] = local_point(i);
                    }
                    Corner::Centre(corners) => {
                        let c = corners.map(local_point);
                        pts[k] = [(c[0][0] + c[1][0] + c[2][0]) / 3.0, (c[0][1] + c[1][1] + c[2][1]) / 3.0];
                        ids[k] = *centres.entry(corners).or_insert_with(|| {
                            vertices.push(crate::primitives::to_f32(plane.lift(pts[k], 0.0)));
                            (vertices.len() - 1) as u32
                        });
                    }
                }
            }
            total_area += signed_area2(&pts);
            cap_triangles.push(ids);
        }
        // Earcut winds all its triangles alike: flip them together so the cap faces outward.
        if total_area * facing >= 0.0 {
            triangles.extend(cap_triangles);
        } else {
            triangles.extend(cap_triangles.iter().map(|t| [t[0], t[2], t[1]]));
        }
    }
    Ok(triangles)
}

/// A corner of a cap triangle: a ring point, or the centre of an earcut triangle (identified
/// by its three ring corners) that had to be fanned because several of its edges lost points.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Corner {
    Ring(usize),
    Centre([usize; 3]),
}

/// Earcut drops ring points that are collinear with their neighbours (e.g. where an earlier
/// cut face meets this one), which would leave T-junctions. Puts every dropped point back by
/// fanning the triangle whose edge spans it: from the opposite corner when one edge lost points,
/// from a new centre point otherwise. `ring_bounds` are the start offsets of each ring plus the end.
fn restore_dropped_points(tris: &[usize], ring_bounds: &[usize]) -> Vec<[Corner; 3]> {
    let total = ring_bounds.last().copied().unwrap_or(0);
    let mut used = vec![false; total];
    for &i in tris {
        used[i] = true;
    }
    // For each kept edge (p, q) of a ring that spans dropped points: the points in ring order.
    let mut spans: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
    for w in ring_bounds.windows(2) {
        let ring: Vec<usize> = (w[0]..w[1]).collect();
        let Some(first_kept) = ring.iter().position(|&i| used[i]) else {
            continue;
        };
        let n = ring.len();
        let mut p = ring[first_kept];
        let mut between = Vec::new();
        for step in 1..=n {
            let i = ring[(first_kept + step) % n];
            if used[i] {
                if !between.is_empty() {
                    spans.insert((p, i), std::mem::take(&mut between));
                }
                p = i;
            } else {
                between.push(i);
            }
        }
    }
    let mut out = Vec::with_capacity(tris.len() / 3 + spans.len());
    for t in tris.chunks_exact(3) {
        let corners = [t[0], t[1], t[2]];
        let mut boundary: Vec<usize> = Vec::new();
        let mut split_edges = 0;
        for k in 0..3 {
            let (a, b) = (corners[k], corners[(k + 1) % 3]);
            boundary.push(a);
            if let Some(points) = spans.get(&(a, b)) {
                boundary.extend_from_slice(points);
                split_edges += 1;
            } else if let Some(points) = spans.get(&(b, a)) {
                boundary.extend(points.iter().rev());
                split_edges += 1;
            }
        }
        match split_edges {
            0 => out.push(corners.map(Corner::Ring)),
            1 => {
                // Fan from the corner opposite the split edge.
                let apex_at = (0..3)
                    .find(|&k| {
                        let (a, b) = (corners[(k + 1) % 3], corners[(k + 2) % 3]);
                        spans.contains_key(&(a, b)) || spans.contains_key(&(b, a))
                    })
                    .unwrap_or(0);
                let start = boundary.iter().position(|&i| i == corners[apex_at]).unwrap_or(0);
                let n = boundary.len();
                for k in 1..n - 1 {
                    out.push([
                        Corner::Ring(corners[apex_at]),
                        Corner::Ring(boundary[(start + k) % n]),
                        Corner::Ring(boundary[(start + k + 1) % n]),
                    ]);
                }
            }
            _ => {
                let n = boundary.len();
                for k in 0..n {
                    out.push([
                        Corner::Centre(corners),
                        Corner::Ring(boundary[k]),
                        Corner::Ring(boundary[(k + 1) % n]),
                    ]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::cuboid;
    use medprint_mesh::{check_mesh, signed_volume_mm3};

    #[test]
    fn box_clipped_in_two_closed_halves() {
        let m = cuboid([0.0; 3], [10.0, 10.0, 10.0]).expect("box");
        let socket = Socket {
            centre: [5.0, 5.0],
            radius: 1.5,
            depth: 3.0,
            segments: 16,
        };
        let r = clip(&m, AxisPlane { axis: 0, offset: 4.0 }, &[socket]).expect("clip");
        assert_eq!(r.used, vec![true]);
        let mut bad = m.clone();
        bad.triangles[0][0] = 99;
        assert!(clip(&bad, AxisPlane { axis: 0, offset: 4.0 }, &[]).is_err());
        assert!(clip(&m, AxisPlane { axis: 3, offset: 4.0 }, &[]).is_err());
        let mut open = m.clone();
        open.triangles.remove(4); // A −y face triangle that the plane crosses.
        assert!(clip(&open, AxisPlane { axis: 0, offset: 4.0 }, &[]).is_err());
        for (half, expected) in [(&r.below, 40.0), (&r.above, 60.0)] {
            let check = check_mesh(half);
            assert!(check.is_printable(), "{check:?}");
            let hole = crate::primitives::cylinder_volume_mm3(1.5, 3.0, 16);
            assert!((signed_volume_mm3(half) - (expected * 10.0 - hole)).abs() < 1e-3);
        }
    }
}
