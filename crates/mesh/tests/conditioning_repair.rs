//! Repairs: holes, winding, specks, welding, and the whole conditioning chain.

mod conditioning_support;

use conditioning_support::{cuberille, cuboid, icosphere, Lcg};
use medprint_mesh::repair::{
    fill_holes, orient_outward, remove_degenerate_and_duplicate_triangles, remove_small_shells, weld_vertices,
};
use medprint_mesh::shells::merge;
use medprint_mesh::{check_mesh, condition, signed_volume_mm3, ConditionOptions};

#[test]
fn fill_holes_closes_a_box_missing_a_face() {
    let full = cuboid([0.0; 3], [2.0, 3.0, 4.0]);
    let mut open = full.clone();
    open.triangles.remove(5);
    open.triangles.remove(4);
    assert!(!check_mesh(&open).closed);
    assert_eq!(fill_holes(&mut open), 1);
    assert!(check_mesh(&open).is_printable());
    assert!((signed_volume_mm3(&open) - 24.0).abs() < 1e-9);
}

#[test]
fn fill_holes_closes_a_sphere_without_its_cap() {
    let r = 10.0;
    let mut m = icosphere(4, r, [0.0; 3]);
    let before = signed_volume_mm3(&m);
    m.triangles
        .retain(|t| t.iter().any(|&v| m.vertices[v as usize][2] < 0.8 * r as f32));
    assert!(check_mesh(&m).boundary_edges > 10);
    assert_eq!(fill_holes(&mut m), 1);
    let c = check_mesh(&m);
    assert!(c.is_printable() && c.euler_characteristic == 2, "{c:?}");
    // The flat lid removes the spherical cap of height 0.2 r (~3.5 % of the ball).
    let v = signed_volume_mm3(&m);
    assert!(v < before && v > 0.95 * before, "{v} vs {before}");
}

#[test]
fn orient_outward_undoes_random_flips() {
    let good = icosphere(3, 10.0, [50.0, 0.0, 0.0]);
    let mut m = good.clone();
    let mut rng = Lcg(7);
    for t in &mut m.triangles {
        if rng.next_f64() < 0.4 {
            t.swap(0, 2);
        }
    }
    assert!(!check_mesh(&m).oriented);
    orient_outward(&mut m);
    assert!(check_mesh(&m).is_printable());
    for (fixed, orig) in m.triangles.iter().zip(&good.triangles) {
        let same_cycle = (0..3).any(|k| [fixed[k], fixed[(k + 1) % 3], fixed[(k + 2) % 3]] == *orig);
        assert!(same_cycle, "{fixed:?} vs {orig:?}");
    }
}

#[test]
fn remove_small_shells_drops_specks_only() {
    let body = icosphere(3, 10.0, [0.0; 3]);
    let specks: Vec<_> = (0..5)
        .map(|k| cuboid([20.0 + 3.0 * k as f32, 0.0, 0.0], [21.0 + 3.0 * k as f32, 2.0, 2.0]))
        .collect();
    let mut all = vec![body.clone()];
    all.extend(specks);
    let m = remove_small_shells(&merge(&all), 50.0);
    assert_eq!(m, body);
}

#[test]
fn weld_merges_near_duplicates_within_tolerance_only() {
    let cube = cuboid([0.0; 3], [1.0; 3]);
    // Triangle soup with each corner jittered by < 1 µm.
    let mut rng = Lcg(3);
    let mut soup = medprint_mesh::Mesh::default();
    for t in &cube.triangles {
        for &v in t {
            let p = cube.vertices[v as usize];
            soup.vertices.push(p.map(|c| c + (rng.next_f64() as f32 - 0.5) * 1e-6));
        }
        let b = soup.vertices.len() as u32 - 3;
        soup.triangles.push([b, b + 1, b + 2]);
    }
    let mut exact = soup.clone();
    weld_vertices(&mut exact, 0.0);
    assert!(exact.vertices.len() > 8);
    weld_vertices(&mut soup, 1e-4);
    assert_eq!(soup.vertices.len(), 8);
    assert!(check_mesh(&soup).is_printable());
}

#[test]
fn duplicate_and_double_wall_triangles_are_removed() {
    let mut m = cuboid([0.0; 3], [1.0; 3]);
    let first = m.triangles[0];
    m.triangles.push(first); // duplicate, same winding
    m.triangles.push([first[0], first[2], first[1]]); // and its opposite: cancels one pair
    m.triangles.push([3, 3, 1]);
    remove_degenerate_and_duplicate_triangles(&mut m);
    assert_eq!(m.triangles.len(), 12);
    assert!(check_mesh(&m).is_printable());
}

#[test]
fn condition_chain_gives_a_printable_smooth_model_of_the_same_volume() {
    let r = 15.0;
    let stairs = cuberille(40, 1.0, |p| {
        p.iter().map(|c| c * c).sum::<f64>() <= r * r
            || (p[0] - 18.0).abs() < 1.0 && p[1].abs() < 1.0 && p[2].abs() < 1.0
    });
    assert_eq!(check_mesh(&stairs).shells, 2);
    let (m, report) = condition(stairs.clone(), &ConditionOptions::default());
    println!("{report:?}");
    assert!(report.check.is_printable(), "{report:?}");
    assert_eq!((report.shells_removed, report.check.shells), (1, 1));
    assert_eq!(report.input_triangles, stairs.triangles.len());
    assert!(report.output_triangles < stairs.triangles.len() / 3);
    // The chain keeps the segmented (staircase) volume of the kept shell, 8 mm³ speck aside.
    let v_stairs = signed_volume_mm3(&stairs) - 8.0;
    assert!(
        (report.volume_mm3 / v_stairs - 1.0).abs() < 0.01,
        "{} vs {v_stairs}",
        report.volume_mm3
    );
    let v_true = 4.0 / 3.0 * std::f64::consts::PI * r.powi(3);
    assert!(
        (report.volume_mm3 / v_true - 1.0).abs() < 0.02,
        "{} vs {v_true}",
        report.volume_mm3
    );
    // Parallel f64 sums may differ in the last bits between runs.
    assert!((report.volume_mm3 / signed_volume_mm3(&m) - 1.0).abs() < 1e-12);
}
