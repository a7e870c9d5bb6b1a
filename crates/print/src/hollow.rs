//! Hollowing a solid part to a wall thickness, with drainage holes at the lowest points of the
//! cavity for the print direction.
//!
//! Method: the part's signed distance field ([`DistanceField`], exact near the surface) at
//! `pitch_mm`. Without drainage the outer surface is kept exactly and the cavity surface is the
//! field's `wall_mm` level, extracted and turned inside out. With drainage, the wall solid
//! `0 < d < wall` minus a cylinder from the lowest cavity point to the nearest outer surface
//! point (per cavity component) is re-extracted as a whole (voxel CSG), so the outer surface is
//! then resampled at `pitch_mm` (error ≈ pitch²/(8R) on a surface of radius R).

use medprint_mesh::shells::merge;
use medprint_mesh::{signed_volume_mm3, Mesh};
use serde::Serialize;

use crate::distance_field::{segment_distance, DistanceField};
use crate::error::{check_solid, positive, unit_direction, PrintError};
use crate::spatial::SurfaceIndex;
use crate::vector::{add, dot, normalized, scale, sub, Vec3};

/// Parameters of [`hollow`] (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HollowOptions {
    /// Wall thickness, mm.
    pub wall_mm: f64,
    /// Sampling pitch of the distance field, mm.
    pub pitch_mm: f64,
    /// Drainage hole diameter, mm; `None` for a closed cavity (no drainage).
    pub drain_diameter_mm: Option<f64>,
    /// Build direction ("up"); drains go at the cavity's lowest points along it.
    pub up: [f64; 3],
    /// Cavities smaller than this (mm³) are left solid (not worth a drain), mm³.
    pub min_cavity_mm3: f64,
}

impl Default for HollowOptions {
    /// 2.5 mm wall sampled at 0.5 mm, 3 mm drains, +z up, cavities from 1000 mm³.
    fn default() -> Self {
        Self {
            wall_mm: 2.5,
            pitch_mm: 0.5,
            drain_diameter_mm: Some(3.0),
            up: [0.0, 0.0, 1.0],
            min_cavity_mm3: 1000.0,
        }
    }
}

/// One drainage hole: from a lowest cavity point to the nearest outer surface point (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Drain {
    /// Lowest cavity point, mm.
    pub inner: [f64; 3],
    /// Nearest point on the outer surface, mm.
    pub outer: [f64; 3],
}

/// What [`hollow`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HollowReport {
    /// Volume of the input, mm³.
    pub solid_volume_mm3: f64,
    /// Volume of the hollowed part (the wall), mm³.
    pub wall_volume_mm3: f64,
    /// Cavity components found.
    pub cavities: usize,
    /// Drains cut.
    pub drains: Vec<Drain>,
}

/// Hollows a closed solid (mm). A part thinner than twice the wall gets no cavity and comes back
/// unchanged (report: 0 cavities).
pub fn hollow(mesh: &Mesh, options: &HollowOptions) -> Result<(Mesh, HollowReport), PrintError> {
    check_solid(mesh, "hollowing input")?;
    let wall = positive("wall_mm", options.wall_mm)?;
    let pitch = positive("pitch_mm", options.pitch_mm)?;
    let up = unit_direction("up", options.up)?;
    if !(options.min_cavity_mm3 >= 0.0 && options.min_cavity_mm3.is_finite()) {
        return Err(PrintError::BadParameter {
            name: "min_cavity_mm3",
            value: options.min_cavity_mm3,
            why: "must be finite and >= 0",
        });
    }
    let drain_radius = match options.drain_diameter_mm {
        Some(d) => Some(positive("drain_diameter_mm", d)? / 2.0),
        None => None,
    };
    let band = wall + 2.0 * pitch;
    let mut field = DistanceField::of_mesh(mesh, pitch, band)?;
    let solid_volume_mm3 = signed_volume_mm3(mesh);
    let min_voxels = (options.min_cavity_mm3 / (pitch * pitch * pitch)).ceil() as usize;
    let lowest = lowest_cavity_points(&mut field, wall as f32, up, min_voxels);
    if lowest.is_empty() {
        let report = HollowReport {
            solid_volume_mm3,
            wall_volume_mm3: solid_volume_mm3,
            cavities: 0,
            drains: Vec::new(),
        };
        return Ok((mesh.clone(), report));
    }
    let (out, drains) = match drain_radius {
        None => {
            let cavity = field.surface(wall as f32)?;
            let inward = Mesh {
                vertices: cavity.vertices,
                triangles: cavity.triangles.iter().map(|t| [t[0], t[2], t[1]]).collect(),
            };
            (merge(&[mesh.clone(), inward]), Vec::new())
        }
        Some(radius) => {
            let index = SurfaceIndex::new(mesh);
            let drains: Vec<Drain> = lowest
                .iter()
                .filter_map(|&p| {
                    index
                        .closest_point(p, f64::INFINITY)
                        .map(|(q, _)| Drain { inner: p, outer: q })
                })
                .collect();
            // Each drain runs from inside the cavity to beyond the surface.
            let tools: Vec<(Vec3, Vec3)> = drains
                .iter()
                .map(|d| {
                    let dir = normalized(sub(d.outer, d.inner)).unwrap_or(scale(up, -1.0));
                    (
                        sub(d.inner, scale(dir, radius)),
                        add(d.outer, scale(dir, 2.0 * pitch + radius)),
                    )
                })
                .collect();
            let wall32 = wall as f32;
            field.update(|_, d| d.min(wall32 - d));
            for &(a, b) in &tools {
                let lo = [0, 1, 2].map(|k| a[k].min(b[k]) - radius - pitch);
                let hi = [0, 1, 2].map(|k| a[k].max(b[k]) + radius + pitch);
                field.update_box(lo, hi, |p, f| f.min((segment_distance(p, a, b) - radius) as f32));
            }
            (field.surface(0.0)?, drains)
        }
    };
    let report = HollowReport {
        solid_volume_mm3,
        wall_volume_mm3: signed_volume_mm3(&out),
        cavities: lowest.len(),
        drains,
    };
    Ok((out, report))
}

/// Lowest sample (along `up`) of each 6-connected component of `field > wall`, mm. Components
/// of fewer than `min_voxels` samples are set just below `wall` so they stay solid.
fn lowest_cavity_points(field: &mut DistanceField, wall: f32, up: Vec3, min_voxels: usize) -> Vec<Vec3> {
    let grid = field.grid;
    let [nx, ny, nz] = grid.dims;
    let mut label = vec![u32::MAX; grid.len()];
    let mut lowest = Vec::new();
    let mut stack = Vec::new();
    let mut components = 0u32;
    for seed in 0..grid.len() {
        if field.values[seed] <= wall || label[seed] != u32::MAX {
            continue;
        }
        let id = components;
        components += 1;
        label[seed] = id;
        stack.push(seed);
        let mut members: Vec<(f64, Vec3)> = Vec::new();
        let mut indices: Vec<usize> = Vec::new();
        while let Some(n) = stack.pop() {
            let (i, j, k) = (n % nx, (n / nx) % ny, n / (nx * ny));
            let p = grid.centre(i, j, k);
            members.push((dot(p, up), p));
            indices.push(n);
            let mut visit = |m: usize| {
                if field.values[m] > wall && label[m] == u32::MAX {
                    label[m] = id;
                    stack.push(m);
                }
            };
            if i > 0 {
                visit(n - 1);
            }
            if i + 1 < nx {
                visit(n + 1);
            }
            if j > 0 {
                visit(n - nx);
            }
            if j + 1 < ny {
                visit(n + nx);
            }
            if k > 0 {
                visit(n - nx * ny);
            }
            if k + 1 < nz {
                visit(n + nx * ny);
            }
        }
        if indices.len() < min_voxels {
            let solid = wall - 0.5 * grid.pitch as f32;
            for n in indices {
                field.values[n] = solid;
            }
            continue;
        }
        // Of the samples within one pitch of the lowest, the one nearest their mean: the middle
        // of a flat bottom rather than its first sample.
        let floor = members.iter().map(|m| m.0).fold(f64::INFINITY, f64::min);
        let low: Vec<Vec3> = members
            .iter()
            .filter(|m| m.0 < floor + grid.pitch)
            .map(|m| m.1)
            .collect();
        if !low.is_empty() {
            let mean = scale(low.iter().fold([0.0; 3], |s, p| add(s, *p)), 1.0 / low.len() as f64);
            let nearest = low
                .iter()
                .copied()
                .min_by(|a, b| dot(sub(*a, mean), sub(*a, mean)).total_cmp(&dot(sub(*b, mean), sub(*b, mean))));
            lowest.extend(nearest);
        }
    }
    lowest
}
