//! Topologically consistent marching-cubes case table, generated from first principles.
//!
//! Cube corners are numbered `c = dx | dy << 1 | dz << 2` (offsets along i, j, k). Edge
//! `e = 4 * axis + k` runs along `axis` from the corner whose `axis` bit is 0; `k` packs the
//! offsets along the two other axes (lower axis in bit 0). A case is the 8-bit mask of the
//! corners that are inside (sample > iso).
//!
//! Why generated rather than copied from the classic 256-entry table: the classic table resolves
//! ambiguous faces inconsistently between neighbouring cubes and leaves holes. Here every face
//! is polygonised by one rule that depends only on that face's four corners ("separate the inside
//! corners": on a face whose inside corners are diagonal, each inside corner is cut off on its
//! own), so the two cubes sharing a face always agree. The segments on the six faces chain into
//! closed loops, each loop becomes a fan-free triangulation whose diagonals never join two
//! vertices on a common face (so no mesh edge can be produced by two cubes), and the loops are
//! oriented so that triangles are counter-clockwise seen from outside. Together this makes the
//! extracted surface a closed, consistently oriented 2-manifold for every input.

use std::sync::OnceLock;

/// The most triangles any case produces (12 crossing edges in at least one loop: 12 − 2).
pub(crate) const MAX_TRIANGLES_PER_CASE: usize = 10;

/// Polygonisation of one cube configuration.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CubeCase {
    /// Bit `e` set when edge `e` is crossed by the surface (one vertex on it).
    pub edge_mask: u16,
    /// Number of valid entries in `triangles`.
    pub triangle_count: u8,
    /// Triangles as triples of cube edge ids, counter-clockwise seen from outside (index space).
    pub triangles: [[u8; 3]; MAX_TRIANGLES_PER_CASE],
}

/// The 256 cases, built once on first use.
pub(crate) fn cube_cases() -> &'static [CubeCase; 256] {
    static CASES: OnceLock<Box<[CubeCase; 256]>> = OnceLock::new();
    CASES.get_or_init(|| {
        let mut cases = Box::new([CubeCase::default(); 256]);
        for (mask, case) in cases.iter_mut().enumerate() {
            *case = polygonise_case(mask as u8);
        }
        cases
    })
}

/// Unit-cube position of corner `c`.
fn corner_position(c: u8) -> [i32; 3] {
    [(c & 1) as i32, ((c >> 1) & 1) as i32, ((c >> 2) & 1) as i32]
}

/// The two axes other than `axis`, ascending.
fn other_axes(axis: usize) -> [usize; 2] {
    match axis {
        0 => [1, 2],
        1 => [0, 2],
        _ => [0, 1],
    }
}

/// The edge joining corners `a` and `b` (which must differ in exactly one bit).
fn edge_between(a: u8, b: u8) -> u8 {
    let low = a.min(b);
    let axis = (a ^ b).trailing_zeros() as usize;
    let [u, v] = other_axes(axis);
    let k = ((low >> u) & 1) | (((low >> v) & 1) << 1);
    (4 * axis as u8) + k
}

/// The two corners of edge `e`, lower first.
pub(crate) fn edge_corners(e: u8) -> (u8, u8) {
    let axis = (e / 4) as usize;
    let k = e % 4;
    let [u, v] = other_axes(axis);
    let low = ((k & 1) << u) | (((k >> 1) & 1) << v);
    (low, low | (1 << axis))
}

/// Twice the edge midpoint (integer arithmetic).
fn edge_midpoint_x2(e: u8) -> [i32; 3] {
    let (a, b) = edge_corners(e);
    let (pa, pb) = (corner_position(a), corner_position(b));
    [pa[0] + pb[0], pa[1] + pb[1], pa[2] + pb[2]]
}

/// The six faces as (axis, side); side 1 is the face at offset 1 along the axis.
fn faces() -> impl Iterator<Item = (usize, u8)> {
    (0..3).flat_map(|axis| [(axis, 0u8), (axis, 1u8)])
}

/// Corners of a face in cyclic order.
fn face_corners(axis: usize, side: u8) -> [u8; 4] {
    let [u, v] = other_axes(axis);
    let base = side << axis;
    [base, base | (1 << u), base | (1 << u) | (1 << v), base | (1 << v)]
}

/// Bit mask of the two faces containing edge `e`.
fn edge_faces(e: u8) -> u8 {
    let (a, b) = edge_corners(e);
    let mut mask = 0u8;
    for (index, (axis, side)) in faces().enumerate() {
        if ((a >> axis) & 1) == side && ((b >> axis) & 1) == side {
            mask |= 1 << index;
        }
    }
    mask
}

fn sub(a: [i32; 3], b: [i32; 3]) -> [i32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: [i32; 3], b: [i32; 3]) -> [i32; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Builds the loops and triangles of one case.
fn polygonise_case(mask: u8) -> CubeCase {
    let inside = |c: u8| (mask >> c) & 1 == 1;
    // next[e] = the edge that follows e along its loop; 255 = none.
    let mut next = [u8::MAX; 12];
    for (axis, side) in faces() {
        let corners = face_corners(axis, side);
        let mut normal = [0i32; 3];
        normal[axis] = if side == 1 { 1 } else { -1 };
        let inside_count = corners.iter().filter(|&&c| inside(c)).count();
        let ambiguous = inside_count == 2 && inside(corners[0]) == inside(corners[2]);
        let mut segments: Vec<(u8, u8, u8)> = Vec::new(); // (edge, edge, inside corner)
        if ambiguous {
            for i in 0..4 {
                let c = corners[i];
                if inside(c) {
                    let prev = corners[(i + 3) % 4];
                    let next_corner = corners[(i + 1) % 4];
                    segments.push((edge_between(prev, c), edge_between(c, next_corner), c));
                }
            }
        } else if inside_count == 1 || inside_count == 2 || inside_count == 3 {
            let crossed: Vec<u8> = (0..4)
                .filter(|&i| inside(corners[i]) != inside(corners[(i + 1) % 4]))
                .map(|i| edge_between(corners[i], corners[(i + 1) % 4]))
                .collect();
            let reference = corners.iter().copied().find(|&c| inside(c)).unwrap_or(0);
            segments.push((crossed[0], crossed[1], reference));
        }
        for (from, to, reference) in segments {
            // Seen from outside the cube, the inside corner must lie to the right of from → to.
            let p = edge_midpoint_x2(from);
            let q = edge_midpoint_x2(to);
            let r = corner_position(reference).map(|x| 2 * x);
            let n = cross(sub(q, p), sub(r, p));
            let side_of_inside = n[0] * normal[0] + n[1] * normal[1] + n[2] * normal[2];
            let (from, to) = if side_of_inside < 0 { (from, to) } else { (to, from) };
            debug_assert_eq!(next[from as usize], u8::MAX, "edge {from} leaves twice in case {mask}");
            next[from as usize] = to;
        }
    }

    let mut case = CubeCase::default();
    let mut visited = 0u16;
    for start in 0..12u8 {
        if next[start as usize] == u8::MAX || visited & (1 << start) != 0 {
            continue;
        }
        let mut polygon = Vec::new();
        let mut e = start;
        while visited & (1 << e) == 0 {
            visited |= 1 << e;
            polygon.push(e);
            e = next[e as usize];
        }
        debug_assert_eq!(e, start, "open loop in case {mask}");
        let mut triangles = Vec::new();
        let ok = triangulate_without_face_diagonals(&polygon, &mut triangles);
        debug_assert!(ok, "no valid triangulation in case {mask}");
        for t in triangles {
            case.triangles[case.triangle_count as usize] = t;
            case.triangle_count += 1;
        }
    }
    case.edge_mask = visited;
    case
}

/// True when the chord a–b may be a mesh edge: its endpoints do not share a cube face, so no
/// neighbouring cube can produce the same edge.
fn chord_allowed(a: u8, b: u8) -> bool {
    edge_faces(a) & edge_faces(b) == 0
}

/// Triangulates a loop (keeping its orientation) so that every chord is allowed.
/// Returns false when no such triangulation exists.
fn triangulate_without_face_diagonals(polygon: &[u8], out: &mut Vec<[u8; 3]>) -> bool {
    let n = polygon.len();
    if n < 3 {
        return false;
    }
    if n == 3 {
        out.push([polygon[0], polygon[1], polygon[2]]);
        return true;
    }
    // The side polygon[0]–polygon[1] lies in exactly one triangle (polygon[0], polygon[1], polygon[k]).
    for k in 2..n {
        let chord_left_ok = k == 2 || chord_allowed(polygon[1], polygon[k]);
        let chord_right_ok = k == n - 1 || chord_allowed(polygon[k], polygon[0]);
        if !(chord_left_ok && chord_right_ok) {
            continue;
        }
        let mark = out.len();
        out.push([polygon[0], polygon[1], polygon[k]]);
        let left: Vec<u8> = polygon[1..=k].to_vec();
        let mut right: Vec<u8> = polygon[k..].to_vec();
        right.push(polygon[0]);
        let left_ok = left.len() < 3 || triangulate_without_face_diagonals(&left, out);
        let right_ok = left_ok && (right.len() < 3 || triangulate_without_face_diagonals(&right, out));
        if left_ok && right_ok {
            return true;
        }
        out.truncate(mark);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_round_trip() {
        for e in 0..12u8 {
            let (a, b) = edge_corners(e);
            assert_eq!(edge_between(a, b), e);
            assert_eq!(edge_faces(e).count_ones(), 2);
        }
    }

    #[test]
    fn every_case_is_closed_and_complementary_counts_match() {
        let cases = cube_cases();
        assert_eq!(cases[0].triangle_count, 0);
        assert_eq!(cases[255].triangle_count, 0);
        for (mask, case) in cases.iter().enumerate() {
            // Crossed edges are exactly those whose corners differ.
            let expected: u16 = (0..12u8)
                .filter(|&e| {
                    let (a, b) = edge_corners(e);
                    ((mask >> a) & 1) != ((mask >> b) & 1)
                })
                .fold(0, |m, e| m | (1 << e));
            assert_eq!(case.edge_mask, expected, "case {mask}");
            // Inside the cube every triangle edge is either a face segment (used once) or a chord
            // (used twice, once per direction).
            let mut directed = std::collections::HashMap::new();
            for t in &case.triangles[..case.triangle_count as usize] {
                for (a, b) in [(t[0], t[1]), (t[1], t[2]), (t[2], t[0])] {
                    *directed.entry((a, b)).or_insert(0) += 1;
                }
            }
            for (&(a, b), &count) in &directed {
                assert_eq!(count, 1, "case {mask}: directed edge {a}->{b} repeated");
                let on_face = !chord_allowed(a, b);
                assert_eq!(directed.contains_key(&(b, a)), !on_face, "case {mask}: edge {a}-{b}");
            }
        }
    }

    #[test]
    fn single_corner_is_counter_clockwise_from_outside() {
        // Corner 0 inside: the normal of the single triangle must point away from corner 0.
        let case = cube_cases()[1];
        assert_eq!(case.triangle_count, 1);
        let [a, b, c] = case.triangles[0].map(edge_midpoint_x2);
        let n = cross(sub(b, a), sub(c, a));
        assert!(n.iter().all(|&x| x > 0), "normal {n:?}");
    }
}
