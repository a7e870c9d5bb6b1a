//! Volume and area of triangle meshes (mm³, mm²), accumulated in f64.

use rayon::prelude::*;

use crate::mesh::Mesh;

/// Signed enclosed volume in mm³ by the divergence theorem: Σ a·(b×c)/6 over triangles.
///
/// Positive for a closed mesh wound counter-clockwise seen from outside. Coordinates are
/// taken relative to the first vertex, so patient-space offsets (hundreds of mm) do not
/// cost precision; the sum is in f64 and parallel.
pub fn signed_volume_mm3(m: &Mesh) -> f64 {
    let Some(&origin) = m.vertices.first() else {
        return 0.0;
    };
    let origin = origin.map(f64::from);
    m.triangles
        .par_iter()
        .map(|t| triangle_signed_volume(m, t, origin))
        .sum::<f64>()
}

/// Total surface area in mm².
pub fn surface_area_mm2(m: &Mesh) -> f64 {
    m.triangles.par_iter().map(|t| 0.5 * norm(triangle_cross(m, t))).sum()
}

/// Signed volume (mm³) of the tetrahedron spanned by `origin` and the triangle.
pub(crate) fn triangle_signed_volume(m: &Mesh, t: &[u32; 3], origin: [f64; 3]) -> f64 {
    let [a, b, c] = t.map(|i| sub(m.vertices[i as usize].map(f64::from), origin));
    dot(a, cross(b, c)) / 6.0
}

/// (b − a) × (c − a) in f64: twice the area times the unit normal.
pub(crate) fn triangle_cross(m: &Mesh, t: &[u32; 3]) -> [f64; 3] {
    let [a, b, c] = t.map(|i| m.vertices[i as usize].map(f64::from));
    cross(sub(b, a), sub(c, a))
}

/// a − b.
pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// a · b.
pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// a × b.
pub(crate) fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Euclidean length.
pub(crate) fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}
