//! Small f64 3-vector algebra (mm) used by the geometric operations.

/// A point or direction in patient mm.
pub type Vec3 = [f64; 3];

/// a + b.
pub fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

/// a − b.
pub fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// s·a.
pub fn scale(a: Vec3, s: f64) -> Vec3 {
    [a[0] * s, a[1] * s, a[2] * s]
}

/// a · b.
pub fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// a × b.
pub fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean length.
pub fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// a / |a|, or `None` for a (near) zero vector.
pub fn normalized(a: Vec3) -> Option<Vec3> {
    let n = norm(a);
    (n > 1e-15 && n.is_finite()).then(|| scale(a, 1.0 / n))
}

/// A vertex (f32 mm) as f64.
pub fn widen(v: [f32; 3]) -> Vec3 {
    v.map(f64::from)
}

/// Two unit vectors `(u, v)` with `(u, v, d)` a right-handed orthonormal frame (`d` unit).
pub fn frame(d: Vec3) -> (Vec3, Vec3) {
    let helper = if d[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = normalized(cross(helper, d)).unwrap_or([0.0, 1.0, 0.0]);
    let v = cross(d, u);
    (u, v)
}

/// Closest point to `p` on triangle `abc` (the mesh library's exact region test).
pub use medprint_mesh::surface_distance::closest_point_on_triangle;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_point_regions() {
        let (a, b, c) = ([0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]);
        assert_eq!(closest_point_on_triangle([0.5, 0.5, 3.0], a, b, c), [0.5, 0.5, 0.0]);
        assert_eq!(closest_point_on_triangle([-1.0, -1.0, 0.0], a, b, c), a);
        assert_eq!(closest_point_on_triangle([1.0, -2.0, 0.0], a, b, c), [1.0, 0.0, 0.0]);
        let h = closest_point_on_triangle([2.0, 2.0, 0.0], a, b, c);
        assert!((h[0] - 1.0).abs() < 1e-12 && (h[1] - 1.0).abs() < 1e-12);
    }
}
