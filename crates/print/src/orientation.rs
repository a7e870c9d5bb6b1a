//! Overhang analysis and automatic build orientation.
//!
//! A triangle overhangs when its outward normal points down more steeply than the
//! self-supporting angle (default 45° from horizontal). The support volume estimate is the
//! volume swept from each overhanging triangle straight down to the build plate (the plane
//! through the lowest point): Σ projected area × height, mm³.

use medprint_mesh::Mesh;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{check_geometry, positive, unit_direction, PrintError};
use crate::vector::{cross, dot, norm, sub, widen, Vec3};

/// Overhang statistics for one build direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OverhangReport {
    /// Build direction ("up"), unit vector in patient coordinates.
    pub up: [f64; 3],
    /// Overhanging triangles.
    pub overhang_triangles: usize,
    /// Their area, mm².
    pub overhang_area_mm2: f64,
    /// Estimated support volume, mm³.
    pub support_volume_mm3: f64,
}

/// Result of [`auto_orient`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OrientationReport {
    /// The direction given as the starting one.
    pub before: OverhangReport,
    /// The best sampled direction.
    pub after: OverhangReport,
    /// Directions evaluated.
    pub directions_tried: usize,
}

/// Overhang analysis of `mesh` for build direction `up` with a self-supporting angle (degrees
/// from horizontal, 0 < angle < 90).
pub fn overhangs(mesh: &Mesh, up: [f64; 3], self_supporting_deg: f64) -> Result<OverhangReport, PrintError> {
    check_geometry(mesh, "overhang input")?;
    let up = unit_direction("up", up)?;
    let limit = self_supporting_limit(self_supporting_deg)?;
    Ok(evaluate(mesh, up, limit))
}

fn self_supporting_limit(deg: f64) -> Result<f64, PrintError> {
    positive("self_supporting_deg", deg)?;
    if deg >= 90.0 {
        return Err(PrintError::BadParameter {
            name: "self_supporting_deg",
            value: deg,
            why: "must be below 90°",
        });
    }
    // A face overhangs when −n·up > cos(deg): its normal is within (90° − deg) of straight down.
    Ok(deg.to_radians().cos())
}

/// True when a face with unit normal `n` overhangs for `up` (limit from [`self_supporting_limit`]).
pub(crate) fn is_overhang(n: Vec3, up: Vec3, limit: f64) -> bool {
    -dot(n, up) > limit
}

fn evaluate(mesh: &Mesh, up: Vec3, limit: f64) -> OverhangReport {
    let plate = mesh
        .vertices
        .iter()
        .map(|v| dot(widen(*v), up))
        .fold(f64::INFINITY, f64::min);
    let (count, area, volume) = mesh
        .triangles
        .par_iter()
        .map(|t| {
            let [a, b, c] = t.map(|i| widen(mesh.vertices[i as usize]));
            let n2 = cross(sub(b, a), sub(c, a));
            let double_area = norm(n2);
            if double_area == 0.0 {
                return (0, 0.0, 0.0);
            }
            let n = n2.map(|x| x / double_area);
            if !is_overhang(n, up, limit) {
                return (0, 0.0, 0.0);
            }
            let height = (dot(a, up) + dot(b, up) + dot(c, up)) / 3.0 - plate;
            let projected = 0.5 * double_area * -dot(n, up);
            (1usize, 0.5 * double_area, projected * height)
        })
        .reduce(|| (0, 0.0, 0.0), |x, y| (x.0 + y.0, x.1 + y.1, x.2 + y.2));
    OverhangReport {
        up,
        overhang_triangles: count,
        overhang_area_mm2: area,
        support_volume_mm3: volume,
    }
}

/// Evaluates `samples` directions spread evenly over the sphere (Fibonacci lattice) plus
/// `start`, in parallel, and returns the one with the least support volume.
pub fn auto_orient(
    mesh: &Mesh,
    start: [f64; 3],
    self_supporting_deg: f64,
    samples: usize,
) -> Result<OrientationReport, PrintError> {
    check_geometry(mesh, "orientation input")?;
    let start = unit_direction("start", start)?;
    let limit = self_supporting_limit(self_supporting_deg)?;
    if samples == 0 || samples > 100_000 {
        return Err(PrintError::BadParameter {
            name: "samples",
            value: samples as f64,
            why: "must be in 1..=100000",
        });
    }
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    let mut directions: Vec<Vec3> = (0..samples)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / samples as f64;
            let r = (1.0 - z * z).sqrt();
            let phi = golden * i as f64;
            [r * phi.cos(), r * phi.sin(), z]
        })
        .collect();
    // The six axis directions: scanner axes often align with flat faces of the model.
    for a in 0..3 {
        for s in [-1.0, 1.0] {
            let mut d = [0.0; 3];
            d[a] = s;
            directions.push(d);
        }
    }
    let before = evaluate(mesh, start, limit);
    let least = |reports: Vec<OverhangReport>, best: OverhangReport| {
        reports.into_iter().fold(best, |b, r| {
            if r.support_volume_mm3 < b.support_volume_mm3 {
                r
            } else {
                b
            }
        })
    };
    let mut tried = directions.len() + 1;
    let mut after = least(
        directions.par_iter().map(|&d| evaluate(mesh, d, limit)).collect(),
        before,
    );
    // Local refinement: rings of 8 directions around the best, at shrinking angles.
    let mut angle = (4.0 * std::f64::consts::PI / samples as f64).sqrt();
    for _ in 0..4 {
        angle /= 2.0;
        let (u, v) = crate::vector::frame(after.up);
        let ring: Vec<Vec3> = (0..8)
            .map(|k| {
                let phi = std::f64::consts::TAU * k as f64 / 8.0;
                let tilt = [0, 1, 2].map(|a| u[a] * phi.cos() + v[a] * phi.sin());
                [0, 1, 2].map(|a| after.up[a] * angle.cos() + tilt[a] * angle.sin())
            })
            .collect();
        tried += ring.len();
        after = least(ring.par_iter().map(|&d| evaluate(mesh, d, limit)).collect(), after);
    }
    Ok(OrientationReport {
        before,
        after,
        directions_tried: tried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{cuboid, ellipsoid};

    #[test]
    fn box_needs_no_support_upright() {
        let m = cuboid([0.0; 3], [10.0, 20.0, 30.0]).expect("box");
        let r = overhangs(&m, [0.0, 0.0, 1.0], 45.0).expect("overhangs");
        // Only the bottom face overhangs, at height 0.
        assert_eq!(r.overhang_triangles, 2);
        assert!((r.overhang_area_mm2 - 200.0).abs() < 1e-9);
        assert!(r.support_volume_mm3.abs() < 1e-9);
    }

    #[test]
    fn sphere_overhang_bounded_and_tilted_slab_laid_flat() {
        let sphere = ellipsoid([0.0; 3], [20.0, 20.0, 20.0], 3).expect("sphere");
        let r = overhangs(&sphere, [0.0, 0.0, 1.0], 45.0).expect("sphere overhang");
        // Lower cap within 45° of straight down: projected area π(r sin45°)², heights ≤ r(1−cos45°).
        let projected = std::f64::consts::PI * (20.0 * 0.5f64.sqrt()).powi(2);
        assert!(r.support_volume_mm3 > 0.0 && r.support_volume_mm3 < projected * 20.0 * (1.0 - 0.5f64.sqrt()));
        let slab = cuboid([0.0; 3], [40.0, 40.0, 2.0]).expect("slab");
        let o = auto_orient(&slab, [1.0, 0.0, 2.0], 45.0, 200).expect("orient");
        assert!(o.before.support_volume_mm3 > 1000.0);
        assert!(o.after.support_volume_mm3 < 0.05 * o.before.support_volume_mm3, "{o:?}");
        assert!(auto_orient(&slab, [0.0; 3], 45.0, 10).is_err());
        assert!(overhangs(&slab, [0.0, 0.0, 1.0], 95.0).is_err());
    }
}
