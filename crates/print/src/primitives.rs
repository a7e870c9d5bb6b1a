//! Closed, outward-wound primitive shells (cylinders, boxes) in mm, used for dowels, pins,
//! support pillars, drainage tools and the tag plate.

use medprint_mesh::Mesh;

use crate::vector::{add, frame, normalized, scale, sub, Vec3};

/// Segments around the circumference of generated cylinders.
pub const CYLINDER_SEGMENTS: usize = 32;

/// A closed cylinder shell from `a` to `b` (mm) with the given radius (mm), approximated by a
/// prism over a regular `segments`-gon inscribed in the circle. `None` when `a == b`, the radius
/// is not positive or `segments < 3`. Volume = `segments/2 · sin(2π/segments) · r² · |b − a|`.
pub fn cylinder(a: Vec3, b: Vec3, radius: f64, segments: usize) -> Option<Mesh> {
    let axis = normalized(sub(b, a))?;
    if !(radius > 0.0 && radius.is_finite()) || segments < 3 {
        return None;
    }
    let (u, v) = frame(axis);
    let ring = |centre: Vec3, i: usize| {
        let angle = std::f64::consts::TAU * i as f64 / segments as f64;
        add(
            centre,
            add(scale(u, radius * angle.cos()), scale(v, radius * angle.sin())),
        )
    };
    let mut vertices: Vec<[f32; 3]> = vec![to_f32(a), to_f32(b)];
    for i in 0..segments {
        vertices.push(to_f32(ring(a, i)));
    }
    for i in 0..segments {
        vertices.push(to_f32(ring(b, i)));
    }
    let n = segments as u32;
    let bottom = |i: u32| 2 + i % n;
    let top = |i: u32| 2 + n + i % n;
    let mut triangles = Vec::with_capacity(4 * segments);
    for i in 0..n {
        triangles.push([0, bottom(i + 1), bottom(i)]);
        triangles.push([1, top(i), top(i + 1)]);
        triangles.push([bottom(i), bottom(i + 1), top(i + 1)]);
        triangles.push([bottom(i), top(i + 1), top(i)]);
    }
    Some(Mesh { vertices, triangles })
}

/// Enclosed volume (mm³) of [`cylinder`] with these parameters.
pub fn cylinder_volume_mm3(radius: f64, length: f64, segments: usize) -> f64 {
    let n = segments as f64;
    0.5 * n * (std::f64::consts::TAU / n).sin() * radius * radius * length
}

/// A closed axis-aligned box shell between the corners `lo` and `hi` (mm). `None` unless
/// `lo < hi` on every axis.
pub fn cuboid(lo: Vec3, hi: Vec3) -> Option<Mesh> {
    if (0..3).any(|a| lo[a] >= hi[a] || lo[a].is_nan() || hi[a].is_nan()) {
        return None;
    }
    let vertices = (0..8)
        .map(|i| {
            let pick = |bit: usize, a: usize| if i & bit != 0 { hi[a] } else { lo[a] };
            to_f32([pick(1, 0), pick(2, 1), pick(4, 2)])
        })
        .collect();
    // Corner index bits: 1 = +x, 2 = +y, 4 = +z. Each face is wound counter-clockwise from outside.
    let triangles = vec![
        [0, 2, 3],
        [0, 3, 1], // −z
        [4, 5, 7],
        [4, 7, 6], // +z
        [0, 1, 5],
        [0, 5, 4], // −y
        [2, 6, 7],
        [2, 7, 3], // +y
        [0, 4, 6],
        [0, 6, 2], // −x
        [1, 3, 7],
        [1, 7, 5], // +x
    ];
    Some(Mesh { vertices, triangles })
}

/// A closed ellipsoid shell (mm): an icosahedron subdivided `subdivisions` times (20·4ⁿ
/// triangles, at most 7 levels) with its vertices projected onto the ellipsoid surface. Inscribed,
/// so its volume is slightly below 4/3·π·a·b·c (−0.1 % at 5 levels). `None` for non-positive radii.
pub fn ellipsoid(centre: Vec3, radii: Vec3, subdivisions: usize) -> Option<Mesh> {
    if radii.iter().any(|&r| !(r > 0.0 && r.is_finite())) || subdivisions > 7 {
        return None;
    }
    let t = (1.0 + 5f64.sqrt()) / 2.0;
    let mut points: Vec<Vec3> = [
        [-1.0, t, 0.0],
        [1.0, t, 0.0],
        [-1.0, -t, 0.0],
        [1.0, -t, 0.0],
        [0.0, -1.0, t],
        [0.0, 1.0, t],
        [0.0, -1.0, -t],
        [0.0, 1.0, -t],
        [t, 0.0, -1.0],
        [t, 0.0, 1.0],
        [-t, 0.0, -1.0],
        [-t, 0.0, 1.0],
    ]
    .iter()
    .map(|&p| normalized(p).unwrap_or(p))
    .collect();
    let mut triangles: Vec<[u32; 3]> = vec![
        [0, 11, 5],
        [0, 5, 1],
        [0, 1, 7],
        [0, 7, 10],
        [0, 10, 11],
        [1, 5, 9],
        [5, 11, 4],
        [11, 10, 2],
        [10, 7, 6],
        [7, 1, 8],
        [3, 9, 4],
        [3, 4, 2],
        [3, 2, 6],
        [3, 6, 8],
        [3, 8, 9],
        [4, 9, 5],
        [2, 4, 11],
        [6, 2, 10],
        [8, 6, 7],
        [9, 8, 1],
    ];
    for _ in 0..subdivisions {
        let mut midpoints = std::collections::HashMap::new();
        let mut midpoint = |a: u32, b: u32, points: &mut Vec<Vec3>| -> u32 {
            *midpoints.entry((a.min(b), a.max(b))).or_insert_with(|| {
                let m = scale(add(points[a as usize], points[b as usize]), 0.5);
                points.push(normalized(m).unwrap_or(m));
                (points.len() - 1) as u32
            })
        };
        let mut next = Vec::with_capacity(triangles.len() * 4);
        for [a, b, c] in triangles {
            let ab = midpoint(a, b, &mut points);
            let bc = midpoint(b, c, &mut points);
            let ca = midpoint(c, a, &mut points);
            next.extend([[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]);
        }
        triangles = next;
    }
    let vertices = points
        .iter()
        .map(|p| to_f32([0, 1, 2].map(|a| centre[a] + radii[a] * p[a])))
        .collect();
    Some(Mesh { vertices, triangles })
}

/// A point (f64 mm) as a mesh vertex.
pub fn to_f32(p: Vec3) -> [f32; 3] {
    p.map(|c| c as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_mesh::{check_mesh, signed_volume_mm3};

    #[test]
    fn cylinder_is_closed_with_analytic_volume() {
        let m = cylinder([1.0, 2.0, 3.0], [4.0, -2.0, 10.0], 2.5, 24).expect("cylinder");
        assert!(check_mesh(&m).is_printable());
        let length = (9.0f64 + 16.0 + 49.0).sqrt();
        let expected = cylinder_volume_mm3(2.5, length, 24);
        assert!((signed_volume_mm3(&m) - expected).abs() < 1e-3 * expected);
        assert!(cylinder([0.0; 3], [0.0; 3], 1.0, 8).is_none());
        assert!(cylinder([0.0; 3], [1.0, 0.0, 0.0], -1.0, 8).is_none());
    }

    #[test]
    fn ellipsoid_is_closed_near_analytic_volume() {
        let m = ellipsoid([5.0, -3.0, 2.0], [30.0, 20.0, 10.0], 5).expect("ellipsoid");
        assert!(check_mesh(&m).is_printable());
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 30.0 * 20.0 * 10.0;
        let v = signed_volume_mm3(&m);
        assert!(v < exact && v > 0.998 * exact, "{v} vs {exact}");
    }

    #[test]
    fn cuboid_is_closed_with_analytic_volume() {
        let m = cuboid([0.0, 0.0, 0.0], [2.0, 3.0, 4.0]).expect("box");
        assert!(check_mesh(&m).is_printable());
        assert!((signed_volume_mm3(&m) - 24.0).abs() < 1e-9);
        assert!(cuboid([0.0; 3], [1.0, 0.0, 1.0]).is_none());
    }
}
