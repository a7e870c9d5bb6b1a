//! Validator (closed, manifold, outward, positive volume, no self-intersection), its repair
//! of self-intersections and hole capping of shells cut by a plane.

mod conditioning_support;

use std::collections::HashMap;
use std::f64::consts::PI;

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::repair::fill_holes;
use medprint_mesh::self_intersection::resolve_self_intersections;
use medprint_mesh::shells::merge;
use medprint_mesh::validate::intersecting_pairs;
use medprint_mesh::{check_mesh, condition, signed_volume_mm3, validate, ConditionOptions, Mesh};

/// Sphere with its north pole vertex pushed through the opposite side: a classic fold.
fn sphere_with_pole_pushed_through(radius: f64) -> Mesh {
    let mut m = icosphere(3, radius, [0.0; 3]);
    let top = (0..m.vertices.len())
        .max_by(|&a, &b| m.vertices[a][2].total_cmp(&m.vertices[b][2]))
        .expect("vertices");
    m.vertices[top][2] = -(1.5 * radius) as f32;
    m
}

#[test]
fn clean_sphere_and_box_are_valid() {
    let m = merge(&[icosphere(4, 10.0, [0.0; 3]), cuboid([30.0, 0.0, 0.0], [40.0, 5.0, 8.0])]);
    let v = validate(&m);
    assert_eq!(v.shells.len(), 2);
    assert!(v.is_valid(), "{v:?}");
    let sphere_volume = 4.0 / 3.0 * PI * 1000.0;
    assert!((v.shells[0].volume_mm3 - sphere_volume).abs() / sphere_volume < 0.01);
    assert!((v.shells[1].volume_mm3 - 400.0).abs() < 1e-3);
    assert!(v.intersecting_triangles.is_empty());
}

#[test]
fn interpenetrating_spheres_are_reported_between_shells() {
    let m = merge(&[icosphere(3, 10.0, [0.0; 3]), icosphere(3, 10.0, [12.0, 0.0, 0.0])]);
    let v = validate(&m);
    assert!(v.intersections_between_shells > 10, "{v:?}");
    assert!(v.shells.iter().all(|s| s.self_intersections == 0));
    assert!(!v.is_valid());
}

#[test]
fn folded_sphere_has_self_intersections_and_repair_removes_them() {
    let mut m = sphere_with_pole_pushed_through(10.0);
    let before = validate(&m);
    assert_eq!(before.shells.len(), 1);
    assert!(before.shells[0].self_intersections > 0, "{before:?}");
    assert!(before.shells[0].closed && before.shells[0].manifold);
    let report = resolve_self_intersections(&mut m);
    assert!(report.pairs_found > 0 && report.triangles_removed > 0);
    assert_eq!(report.pairs_remaining, 0, "{report:?}");
    let after = validate(&m);
    assert!(after.is_valid(), "{after:?}");
    let volume = signed_volume_mm3(&m);
    let sphere = 4.0 / 3.0 * PI * 1000.0;
    assert!(volume > 0.8 * sphere && volume < 1.01 * sphere, "{volume}");
}

#[test]
fn condition_repairs_self_intersections_and_reports_them() {
    let folded = sphere_with_pole_pushed_through(10.0);
    let options = ConditionOptions {
        smooth_iterations: 0,
        decimate: None,
        ..ConditionOptions::default()
    };
    let (m, report) = condition(folded, &options);
    assert!(report.self_intersections.pairs_found > 0);
    assert_eq!(report.self_intersections.pairs_remaining, 0);
    assert!(report.check.is_printable(), "{report:?}");
    assert!(validate(&m).is_valid());
}

#[test]
fn neighbours_sharing_a_vertex_or_edge_are_not_intersections() {
    // A fine sphere has many near-coplanar neighbours: none may be reported.
    let m = icosphere(5, 50.0, [100.0, -200.0, 300.0]);
    assert!(intersecting_pairs(&m).is_empty());
    // Two triangles meeting at one vertex, the second crossing the first: reported.
    let crossing = Mesh {
        vertices: vec![
            [0.0, 0.0, 0.0],
            [4.0, 0.0, 0.0],
            [0.0, 4.0, 0.0],
            [2.0, 1.0, -1.0],
            [1.0, 2.0, 1.0],
        ],
        triangles: vec![[0, 1, 2], [0, 3, 4]],
    };
    assert_eq!(intersecting_pairs(&crossing), vec![(0, 1)]);
    // The same, but lying entirely above the plane: only the shared vertex touches.
    let touching = Mesh {
        vertices: vec![
            [0.0, 0.0, 0.0],
            [4.0, 0.0, 0.0],
            [0.0, 4.0, 0.0],
            [2.0, 1.0, 1.0],
            [1.0, 2.0, 1.0],
        ],
        triangles: vec![[0, 1, 2], [0, 3, 4]],
    };
    assert!(intersecting_pairs(&touching).is_empty());
}

#[test]
fn hostile_meshes_do_not_panic() {
    assert!(validate(&Mesh::default()).is_valid());
    let nan = Mesh {
        vertices: vec![[f32::NAN, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        triangles: vec![[0, 1, 2], [0, 2, 1]],
    };
    assert!(!validate(&nan).is_valid());
    // One huge triangle among tiny ones takes the brute-force path.
    let mut m = icosphere(3, 0.5, [0.0; 3]);
    let base = m.vertices.len() as u32;
    m.vertices
        .extend([[-1e4, -1e4, 0.1], [1e4, -1e4, 0.1], [0.0, 1e4, 0.1]]);
    m.triangles.push([base, base + 1, base + 2]);
    let last = m.triangles.len() as u32 - 1;
    assert!(intersecting_pairs(&m).iter().any(|&(_, b)| b == last));
    let degenerate = Mesh {
        vertices: vec![[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]],
        triangles: vec![[0, 1, 2], [0, 0, 1]],
    };
    let v = validate(&degenerate);
    assert!(!v.is_valid() && v.shells[0].degenerate_triangles == 2);
}

/// Volume of the part of a ball of radius `r` below the plane z = h (−r ≤ h ≤ r).
fn ball_below_plane(r: f64, h: f64) -> f64 {
    let cap_height = r - h;
    4.0 / 3.0 * PI * r.powi(3) - PI * cap_height * cap_height * (3.0 * r - cap_height) / 3.0
}

#[test]
fn sphere_cut_by_a_plane_is_capped_closed_with_the_right_volume() {
    let (r, h) = (20.0, 7.0);
    let sphere = icosphere(5, r, [0.0; 3]);
    // Keep the triangles with every vertex below the plane and move the boundary ring onto it.
    let mut cut = Mesh {
        vertices: sphere.vertices.clone(),
        triangles: sphere
            .triangles
            .iter()
            .filter(|t| t.iter().all(|&v| f64::from(sphere.vertices[v as usize][2]) <= h))
            .copied()
            .collect(),
    };
    // Snap the open boundary onto the cutting plane, as a scan edge cuts a structure.
    let mut uses: HashMap<(u32, u32), usize> = HashMap::new();
    for t in &cut.triangles {
        for k in 0..3 {
            let (a, b) = (t[k], t[(k + 1) % 3]);
            *uses.entry((a.min(b), a.max(b))).or_default() += 1;
        }
    }
    for (&(a, b), _) in uses.iter().filter(|(_, &n)| n == 1) {
        cut.vertices[a as usize][2] = h as f32;
        cut.vertices[b as usize][2] = h as f32;
    }
    let before = check_mesh(&cut);
    assert!(!before.closed);
    let holes = fill_holes(&mut cut);
    assert_eq!(holes, 1);
    let v = validate(&cut);
    assert!(v.is_valid(), "{v:?}");
    let expected = ball_below_plane(r, h);
    let volume = signed_volume_mm3(&cut);
    assert!((volume - expected).abs() / expected < 0.005, "{volume} vs {expected}");
}

#[test]
fn sphere_cut_by_a_wavy_surface_is_capped() {
    // A non-planar cut: keep the part of a sphere below z = 5 + 3 sin(x / 4).
    let sphere = icosphere(5, 20.0, [0.0; 3]);
    let below = |p: [f32; 3]| f64::from(p[2]) <= 5.0 + 3.0 * (f64::from(p[0]) / 4.0).sin();
    let mut cut = Mesh {
        vertices: sphere.vertices.clone(),
        triangles: sphere
            .triangles
            .iter()
            .filter(|t| t.iter().all(|&v| below(sphere.vertices[v as usize])))
            .copied()
            .collect(),
    };
    let holes = fill_holes(&mut cut);
    assert!(holes >= 1);
    let check = check_mesh(&cut);
    assert!(check.closed && check.manifold && check.oriented, "{check:?}");
    let report = resolve_self_intersections(&mut cut);
    assert_eq!(report.pairs_remaining, 0);
    assert!(validate(&cut).is_valid());
}

#[test]
fn coplanar_overlaps_and_folds_are_intersections() {
    let square = |z: f32| vec![[0.0, 0.0, z], [4.0, 0.0, z], [4.0, 4.0, z], [0.0, 4.0, z]];
    // Two triangles in one plane overlapping, no shared vertex.
    let mut vertices = square(0.0);
    vertices.extend([[1.0, 1.0, 0.0], [6.0, 1.0, 0.0], [1.0, 6.0, 0.0]]);
    let overlapping = Mesh {
        vertices: vertices.clone(),
        triangles: vec![[0, 1, 2], [4, 5, 6]],
    };
    assert_eq!(intersecting_pairs(&overlapping), vec![(0, 1)]);
    // A flat fold: two triangles over one edge with their third corners on the same side.
    let folded = Mesh {
        vertices: square(0.0),
        triangles: vec![[0, 1, 2], [0, 2, 1]],
    };
    assert_eq!(
        intersecting_pairs(&folded).len(),
        0,
        "duplicates are the topology check's job"
    );
    let mut fold_vertices = square(0.0);
    fold_vertices.push([3.0, 1.0, 0.0]);
    let fold = Mesh {
        vertices: fold_vertices,
        triangles: vec![[0, 1, 2], [0, 4, 2]],
    };
    assert_eq!(intersecting_pairs(&fold), vec![(0, 1)]);
    // A flat square split in two: coplanar neighbours that only touch.
    let flat = Mesh {
        vertices: square(0.0),
        triangles: vec![[0, 1, 2], [0, 2, 3]],
    };
    assert!(intersecting_pairs(&flat).is_empty());
    // Coplanar triangles meeting at one corner without overlap.
    let mut corner = square(0.0);
    corner.extend([[-3.0, 0.0, 0.0], [0.0, -3.0, 0.0]]);
    let touching = Mesh {
        vertices: corner,
        triangles: vec![[0, 1, 2], [0, 4, 5]],
    };
    assert!(intersecting_pairs(&touching).is_empty());
}

#[test]
fn concave_opening_is_capped_flat_without_overlap() {
    // An L-shaped prism of 1 mm voxels (grid of 12, centred), its whole top face removed:
    // the opening is a planar, concave L whose centroid lies outside it, so a centroid fan
    // would fold over itself.
    let inside = |p: [f64; 3]| p[2].abs() < 3.0 && (p[0] < -3.0 || p[1] < -3.0) && p[0].abs() < 6.0 && p[1].abs() < 6.0;
    let prism = conditioning_support::cuberille(12, 1.0, inside);
    let full_volume = signed_volume_mm3(&prism);
    let top = prism.vertices.iter().map(|p| p[2]).fold(f32::MIN, f32::max);
    let mut open = Mesh {
        vertices: prism.vertices.clone(),
        triangles: prism
            .triangles
            .iter()
            .filter(|t| !t.iter().all(|&v| prism.vertices[v as usize][2] == top))
            .copied()
            .collect(),
    };
    assert!(!check_mesh(&open).closed);
    assert_eq!(fill_holes(&mut open), 1);
    let v = validate(&open);
    assert!(v.is_valid(), "{v:?}");
    assert!((signed_volume_mm3(&open) - full_volume).abs() < 1e-3);
}
