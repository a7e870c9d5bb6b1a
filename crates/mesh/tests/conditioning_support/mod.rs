//! Test meshes with exactly known geometry, built here so the tests do not depend on the
//! isosurface extractor. Shared by the conditioning, topology and export tests and the bench.
#![allow(dead_code)]

use std::collections::HashMap;

use medprint_mesh::repair::remove_unreferenced_vertices;
use medprint_mesh::Mesh;

/// Icosahedron subdivided `subdivisions` times, vertices projected on the sphere of
/// `radius` mm around `centre`; closed, outward, shared vertices.
pub fn icosphere(subdivisions: u32, radius: f64, centre: [f64; 3]) -> Mesh {
    let t = (1.0 + 5f64.sqrt()) / 2.0;
    let mut unit: Vec<[f64; 3]> = vec![
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
    ];
    let mut faces: Vec<[u32; 3]> = vec![
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
    for p in &mut unit {
        *p = normalised(*p);
    }
    for _ in 0..subdivisions {
        let mut midpoints: HashMap<(u32, u32), u32> = HashMap::new();
        let mut next = Vec::with_capacity(faces.len() * 4);
        for f in &faces {
            let mut mid = |a: u32, b: u32| {
                *midpoints.entry((a.min(b), a.max(b))).or_insert_with(|| {
                    let (p, q) = (unit[a as usize], unit[b as usize]);
                    unit.push(normalised([p[0] + q[0], p[1] + q[1], p[2] + q[2]]));
                    unit.len() as u32 - 1
                })
            };
            let (ab, bc, ca) = (mid(f[0], f[1]), mid(f[1], f[2]), mid(f[2], f[0]));
            next.extend([[f[0], ab, ca], [f[1], bc, ab], [f[2], ca, bc], [ab, bc, ca]]);
        }
        faces = next;
    }
    Mesh {
        vertices: unit
            .iter()
            .map(|p| std::array::from_fn(|a| (centre[a] + radius * p[a]) as f32))
            .collect(),
        triangles: faces,
    }
}

fn normalised(p: [f64; 3]) -> [f64; 3] {
    let l = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
    p.map(|c| c / l)
}

/// Axis-aligned box from `lo` to `hi` (mm): 8 vertices, 12 outward triangles.
pub fn cuboid(lo: [f32; 3], hi: [f32; 3]) -> Mesh {
    let mut b = QuadBuilder::default();
    for axis in 0..3 {
        for positive in [false, true] {
            let mut corner = lo;
            if positive {
                corner[axis] = hi[axis];
            }
            let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
            let mut du = [0.0; 3];
            du[u] = hi[u] - lo[u];
            let mut dv = [0.0; 3];
            dv[v] = hi[v] - lo[v];
            b.quad(corner, du, dv, positive);
        }
    }
    b.mesh
}

/// Cuberille ("voxel staircase") surface of the voxels whose centre satisfies `inside`,
/// on a grid of `n`³ voxels of `spacing` mm centred on the origin. Faces between an inside
/// and an outside voxel become two outward triangles; vertices are shared.
pub fn cuberille(n: usize, spacing: f32, inside: impl Fn([f64; 3]) -> bool) -> Mesh {
    let half = n as f64 * f64::from(spacing) / 2.0;
    let centre = |i: [i64; 3]| i.map(|c| (c as f64 + 0.5) * f64::from(spacing) - half);
    let occupied = |i: [i64; 3]| i.iter().all(|&c| c >= 0 && c < n as i64) && inside(centre(i));
    let mut b = QuadBuilder::default();
    for k in 0..n as i64 {
        for j in 0..n as i64 {
            for i in 0..n as i64 {
                if !occupied([i, j, k]) {
                    continue;
                }
                for axis in 0..3 {
                    for positive in [false, true] {
                        let mut neighbour = [i, j, k];
                        neighbour[axis] += if positive { 1 } else { -1 };
                        if occupied(neighbour) {
                            continue;
                        }
                        let mut corner = [i, j, k].map(|c| c as f32 * spacing - half as f32);
                        if positive {
                            corner[axis] += spacing;
                        }
                        let mut du = [0.0; 3];
                        du[(axis + 1) % 3] = spacing;
                        let mut dv = [0.0; 3];
                        dv[(axis + 2) % 3] = spacing;
                        b.quad(corner, du, dv, positive);
                    }
                }
            }
        }
    }
    let mut m = b.mesh;
    remove_unreferenced_vertices(&mut m);
    m
}

/// Builds meshes from axis-aligned quads, sharing vertices with identical positions.
#[derive(Default)]
struct QuadBuilder {
    mesh: Mesh,
    index: HashMap<[u32; 3], u32>,
}

impl QuadBuilder {
    fn vertex(&mut self, p: [f32; 3]) -> u32 {
        let mesh = &mut self.mesh;
        *self.index.entry(p.map(f32::to_bits)).or_insert_with(|| {
            mesh.vertices.push(p);
            mesh.vertices.len() as u32 - 1
        })
    }

    /// Quad `corner, +du, +du+dv, +dv`; (du × dv) is the normal when `forward`.
    fn quad(&mut self, corner: [f32; 3], du: [f32; 3], dv: [f32; 3], forward: bool) {
        let add = |a: [f32; 3], b: [f32; 3]| std::array::from_fn(|k| a[k] + b[k]);
        let p = [corner, add(corner, du), add(add(corner, du), dv), add(corner, dv)];
        let [a, b, c, d] = p.map(|q| self.vertex(q));
        if forward {
            self.mesh.triangles.extend([[a, b, c], [a, c, d]]);
        } else {
            self.mesh.triangles.extend([[a, c, b], [a, d, c]]);
        }
    }
}

/// Distance (mm) of `p` from the sphere of `radius` around the origin.
pub fn sphere_distance(p: [f32; 3], radius: f64) -> f64 {
    let r = p.iter().map(|&c| f64::from(c).powi(2)).sum::<f64>().sqrt();
    (r - radius).abs()
}

/// Mean distance of the vertices from the sphere of `radius` around the origin.
pub fn mean_sphere_distance(m: &Mesh, radius: f64) -> f64 {
    m.vertices.iter().map(|&p| sphere_distance(p, radius)).sum::<f64>() / m.vertices.len() as f64
}

/// Mean distance of the vertices from the origin.
pub fn mean_radius(m: &Mesh) -> f64 {
    m.vertices
        .iter()
        .map(|p| p.iter().map(|&c| f64::from(c).powi(2)).sum::<f64>().sqrt())
        .sum::<f64>()
        / m.vertices.len() as f64
}

/// Deterministic pseudo-random numbers in [0, 1) (64-bit LCG), for reproducible tests.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
