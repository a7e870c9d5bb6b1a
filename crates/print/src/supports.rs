//! Support pillars: cylinders up to the points that would print in mid-air, from the build
//! plate (the plane through the model's lowest point, perpendicular to the build direction) or,
//! where the model itself lies below such a point, from the model's surface.
//!
//! Pillars go under (a) every vertex lower than all its neighbours (local minima along the
//! build direction) and (b) the lowest overhanging point of each overhang layer (overhangs
//! stacked one above the other each count) in each cell of a grid (pitch `spacing_mm`) laid
//! over the overhang regions in the plane of the build plate. Each pillar
//! reaches `overlap_mm` into the model at its top (and at its foot when it stands on the model)
//! so that it fuses with it; each is a separate closed shell. A pillar never passes through the
//! model: it stops at the first surface below its tip.

use std::collections::HashMap;

use medprint_mesh::Mesh;
use serde::Serialize;

use crate::error::{check_geometry, positive, unit_direction, PrintError};
use crate::orientation::is_overhang;
use crate::primitives::{cylinder, cylinder_volume_mm3};
use crate::spatial::SurfaceIndex;
use crate::vector::{add, cross, dot, frame, norm, scale, sub, widen, Vec3};

/// Parameters of [`support_pillars`] (mm, degrees).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SupportOptions {
    /// Pillar diameter, mm.
    pub pillar_diameter_mm: f64,
    /// Grid pitch for overhang regions, mm.
    pub spacing_mm: f64,
    /// Self-supporting angle from horizontal, degrees.
    pub self_supporting_deg: f64,
    /// How far each pillar reaches into the model, mm.
    pub overlap_mm: f64,
    /// Pillars shorter than this are left out (the point is on the plate), mm.
    pub min_height_mm: f64,
}

impl Default for SupportOptions {
    /// 1.5 mm pillars on a 5 mm grid, 45°, 0.5 mm overlap, 1 mm minimum height.
    fn default() -> Self {
        Self {
            pillar_diameter_mm: 1.5,
            spacing_mm: 5.0,
            self_supporting_deg: 45.0,
            overlap_mm: 0.5,
            min_height_mm: 1.0,
        }
    }
}

/// What [`support_pillars`] built.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SupportReport {
    /// Pillars under local minima.
    pub minima_pillars: usize,
    /// Pillars under overhang grid cells.
    pub overhang_pillars: usize,
    /// Pillars (of either kind) that stand on the model rather than on the build plate.
    pub on_model_pillars: usize,
    /// Total pillar volume, mm³.
    pub pillar_volume_mm3: f64,
}

/// Support pillars for `mesh` printed with build direction `up`; returns one closed cylinder
/// shell per pillar.
pub fn support_pillars(
    mesh: &Mesh,
    up: [f64; 3],
    options: &SupportOptions,
) -> Result<(Vec<Mesh>, SupportReport), PrintError> {
    check_geometry(mesh, "support input")?;
    let up = unit_direction("up", up)?;
    let radius = positive("pillar_diameter_mm", options.pillar_diameter_mm)? / 2.0;
    let spacing = positive("spacing_mm", options.spacing_mm)?;
    let overlap = positive("overlap_mm", options.overlap_mm)?;
    let min_height = positive("min_height_mm", options.min_height_mm)?;
    positive("self_supporting_deg", options.self_supporting_deg)?;
    if options.self_supporting_deg >= 90.0 {
        return Err(PrintError::BadParameter {
            name: "self_supporting_deg",
            value: options.self_supporting_deg,
            why: "must be below 90°",
        });
    }
    let limit = options.self_supporting_deg.to_radians().cos();
    let height: Vec<f64> = mesh.vertices.iter().map(|v| dot(widen(*v), up)).collect();
    let plate = height.iter().copied().fold(f64::INFINITY, f64::min);
    let mut lowest_neighbour = vec![f64::INFINITY; mesh.vertices.len()];
    let mut referenced = vec![false; mesh.vertices.len()];
    for t in &mesh.triangles {
        for k in 0..3 {
            let (a, b) = (t[k] as usize, t[(k + 1) % 3] as usize);
            referenced[a] = true;
            lowest_neighbour[a] = lowest_neighbour[a].min(height[b]);
            lowest_neighbour[b] = lowest_neighbour[b].min(height[a]);
        }
    }
    let mut tips: Vec<Vec3> = (0..mesh.vertices.len())
        .filter(|&v| referenced[v] && height[v] < lowest_neighbour[v])
        .map(|v| widen(mesh.vertices[v]))
        .collect();
    let minima = tips.len();
    let (u, w) = frame(up);
    let mut cells: HashMap<(i64, i64), Vec<Vec3>> = HashMap::new();
    for t in &mesh.triangles {
        let [a, b, c] = t.map(|i| widen(mesh.vertices[i as usize]));
        let n = cross(sub(b, a), sub(c, a));
        let len = norm(n);
        if len == 0.0 || !is_overhang(scale(n, 1.0 / len), up, limit) {
            continue;
        }
        // Grid-cell centres covered by the triangle's projection, each lifted onto the triangle;
        // a triangle covering no centre contributes its centroid.
        let project = |p: Vec3| [dot(p, u), dot(p, w)];
        let [pa, pb, pc] = [project(a), project(b), project(c)];
        let area2 = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pc[0] - pa[0]) * (pb[1] - pa[1]);
        let mut offer = |key: (i64, i64), point: Vec3| cells.entry(key).or_default().push(point);
        let mut covered_any = false;
        if area2.abs() > 1e-12 {
            let lo = [0, 1].map(|k| pa[k].min(pb[k]).min(pc[k]));
            let hi = [0, 1].map(|k| pa[k].max(pb[k]).max(pc[k]));
            let first = lo.map(|x| (x / spacing - 0.5).ceil() as i64);
            let last = hi.map(|x| (x / spacing - 0.5).floor() as i64);
            for i in first[0]..=last[0] {
                for j in first[1]..=last[1] {
                    let q = [(i as f64 + 0.5) * spacing, (j as f64 + 0.5) * spacing];
                    let wa = ((pb[0] - q[0]) * (pc[1] - q[1]) - (pc[0] - q[0]) * (pb[1] - q[1])) / area2;
                    let wb = ((pc[0] - q[0]) * (pa[1] - q[1]) - (pa[0] - q[0]) * (pc[1] - q[1])) / area2;
                    let wc = 1.0 - wa - wb;
                    if wa >= 0.0 && wb >= 0.0 && wc >= 0.0 {
                        covered_any = true;
                        offer((i, j), add(add(scale(a, wa), scale(b, wb)), scale(c, wc)));
                    }
                }
            }
        }
        if !covered_any {
            let centroid = scale(add(add(a, b), c), 1.0 / 3.0);
            let key = (
                (dot(centroid, u) / spacing).floor() as i64,
                (dot(centroid, w) / spacing).floor() as i64,
            );
            offer(key, centroid);
        }
    }
    // The model in the frame (u, w, up), so that "straight down" is a vertical line.
    let to_aligned = |p: Vec3| [dot(p, u), dot(p, w), dot(p, up)];
    let aligned = Mesh {
        vertices: mesh
            .vertices
            .iter()
            .map(|v| to_aligned(widen(*v)).map(|c| c as f32))
            .collect(),
        triangles: mesh.triangles.clone(),
    };
    let index = SurfaceIndex::new(&aligned);
    // The first surface below a point, strictly below the point's own triangles (which meet
    // its vertical line within f32 rounding of its height).
    let ground_below = |p: Vec3| {
        let q = to_aligned(p);
        index.highest_hit_below(q, q[2] - 1e-3)
    };
    // Each cell's lowest overhang point, and the lowest point of every overhang layer stacked
    // above it: a candidate starts a new layer when the first surface below it lies above the
    // tip kept last (there is material in between); otherwise it belongs to that tip's layer.
    let mut keys: Vec<(i64, i64)> = cells.keys().copied().collect();
    keys.sort_unstable();
    for key in keys {
        let mut candidates = cells.remove(&key).unwrap_or_default();
        candidates.sort_by(|a, b| dot(*a, up).total_cmp(&dot(*b, up)));
        let mut kept: Option<f64> = None;
        for c in candidates {
            let height = dot(c, up);
            let new_layer = match kept {
                None => true,
                Some(last) => ground_below(c).is_some_and(|h| h > last + 1e-3),
            };
            if new_layer {
                tips.push(c);
                kept = Some(height);
            }
        }
    }
    let mut pillars = Vec::new();
    let mut counts = [0usize; 2];
    let mut on_model = 0;
    let mut volume = 0.0;
    for (n, tip) in tips.iter().enumerate() {
        let tip_height = dot(*tip, up);
        let below = ground_below(*tip);
        let (ground, foot_overlap) = match below {
            Some(h) => (h, overlap),
            None => (plate, 0.0),
        };
        let gap = tip_height - ground;
        if gap < min_height {
            continue;
        }
        let foot = sub(*tip, scale(up, gap + foot_overlap));
        let top = add(*tip, scale(up, overlap));
        if let Some(p) = cylinder(foot, top, radius, 12) {
            volume += cylinder_volume_mm3(radius, gap + foot_overlap + overlap, 12);
            pillars.push(p);
            counts[usize::from(n >= minima)] += 1;
            on_model += usize::from(below.is_some());
        }
    }
    Ok((
        pillars,
        SupportReport {
            minima_pillars: counts[0],
            overhang_pillars: counts[1],
            on_model_pillars: on_model,
            pillar_volume_mm3: volume,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::{cuboid, ellipsoid};
    use medprint_mesh::check_mesh;

    #[test]
    fn floating_box_gets_pillars_to_the_plate() {
        // A table: a slab 10 mm above the plate, held by nothing; plus a foot that defines the plate.
        let slab = cuboid([0.0, 0.0, 10.0], [20.0, 20.0, 12.0]).expect("slab");
        let foot = cuboid([30.0, 0.0, 0.0], [32.0, 2.0, 2.0]).expect("foot");
        let model = medprint_mesh::shells::merge(&[slab, foot]);
        let options = SupportOptions::default();
        let (pillars, report) = support_pillars(&model, [0.0, 0.0, 1.0], &options).expect("supports");
        // 20×20 mm underside on a 5 mm grid → 16 cells (the foot's underside is on the plate).
        assert_eq!(report.overhang_pillars, 16, "{report:?}");
        for p in &pillars {
            assert!(check_mesh(p).is_printable());
            let (lo, hi) = p.bounds().expect("bounds");
            assert!(lo[2].abs() < 1e-4 && (hi[2] - 10.5).abs() < 1e-3, "{lo:?} {hi:?}");
        }
        assert_eq!(report.on_model_pillars, 0, "{report:?}");
        let sphere = ellipsoid([0.0, 0.0, 50.0], [10.0; 3], 3).expect("sphere");
        assert!(support_pillars(&sphere, [0.0, 0.0, 0.0], &options).is_err());
        let bad = SupportOptions {
            pillar_diameter_mm: -1.0,
            ..options
        };
        assert!(support_pillars(&sphere, [0.0, 0.0, 1.0], &bad).is_err());
    }

    #[test]
    fn pillars_stop_on_the_model_below_instead_of_passing_through_it() {
        // A shelf 10 mm above a wide base, seen along a tilted build direction too: the shelf's
        // pillars must stand on the base (top at 4 mm) and never cross it.
        let base = cuboid([-10.0, -10.0, 0.0], [30.0, 30.0, 4.0]).expect("base");
        let shelf = cuboid([0.0, 0.0, 14.0], [20.0, 20.0, 16.0]).expect("shelf");
        let model = medprint_mesh::shells::merge(&[base, shelf]);
        let options = SupportOptions::default();
        let (pillars, report) = support_pillars(&model, [0.0, 0.0, 1.0], &options).expect("supports");
        assert_eq!(report.overhang_pillars, 16, "{report:?}");
        assert_eq!(report.on_model_pillars, 16, "{report:?}");
        for p in &pillars {
            let (lo, hi) = p.bounds().expect("bounds");
            // Foot 0.5 mm into the base's top, top 0.5 mm into the shelf.
            assert!(
                (lo[2] - 3.5).abs() < 1e-3 && (hi[2] - 14.5).abs() < 1e-3,
                "{lo:?} {hi:?}"
            );
        }
        let expected = 16.0 * cylinder_volume_mm3(0.75, 11.0, 12);
        assert!((report.pillar_volume_mm3 - expected).abs() < 1e-6, "{report:?}");

        // Upside down (build direction -z, plate at the shelf's top z = 16): the base's face at
        // z = 4 overhangs. Under the shelf's footprint its pillars stand on the shelf (foot at
        // z = 14.5 after the overlap); elsewhere they reach the plate.
        let (pillars, report) = support_pillars(&model, [0.0, 0.0, -1.0], &options).expect("supports");
        assert_eq!(report.overhang_pillars, 64, "{report:?}");
        assert_eq!(report.on_model_pillars, 16, "{report:?}");
        for p in &pillars {
            let (lo, hi) = p.bounds().expect("bounds");
            let centre = [0, 1].map(|a| (lo[a] + hi[a]) / 2.0);
            let over_shelf = centre.iter().all(|&c| c > 0.0 && c < 20.0);
            let foot = if over_shelf { 14.5 } else { 16.0 };
            assert!(
                (lo[2] - 3.5).abs() < 1e-3 && (hi[2] - foot).abs() < 1e-3,
                "{lo:?} {hi:?}"
            );
        }
    }
}
