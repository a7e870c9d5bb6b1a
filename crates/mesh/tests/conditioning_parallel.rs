//! The per-shell parallel conditioning path on a multi-shell input.

mod conditioning_support;

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::shells::merge;
use medprint_mesh::{check_mesh, condition, signed_volume_mm3, ConditionOptions, Mesh};

/// A large sphere (81 920 triangles: cut into several decimation blocks) with a cavity,
/// eight small spheres (268 mm³ each) and five 1 mm³ specks.
fn many_shells() -> (Mesh, usize) {
    let mut parts = vec![icosphere(6, 10.0, [0.0; 3])];
    let mut cavity = icosphere(4, 3.0, [1.0, 0.5, 0.0]);
    cavity.triangles.iter_mut().for_each(|t| t.swap(1, 2));
    parts.push(cavity);
    for k in 0..8 {
        let angle = k as f64 * std::f64::consts::TAU / 8.0;
        parts.push(icosphere(3, 4.0, [25.0 * angle.cos(), 25.0 * angle.sin(), 3.0]));
    }
    for k in 0..5 {
        let x = -40.0 + 3.0 * k as f32;
        parts.push(cuboid([x, 0.0, 0.0], [x + 1.0, 1.0, 1.0]));
    }
    (merge(&parts), 5)
}

#[test]
fn parallel_per_shell_conditioning_is_printable_and_matches_one_thread() {
    let (input, specks) = many_shells();
    let before = check_mesh(&input);
    assert!(before.is_printable() && before.shells == 15, "{before:?}");

    let (parallel, report) = condition(input.clone(), &ConditionOptions::default());
    assert!(report.check.is_printable(), "{report:?}");
    assert_eq!(check_mesh(&parallel), report.check);
    assert_eq!((report.shells_removed, report.check.shells), (specks, 10));
    // Ten genus-0 shells.
    assert_eq!(report.check.euler_characteristic, 20);
    assert!(report.output_triangles < report.input_triangles / 3, "{report:?}");
    // Smoothing restores each closed shell's volume: specks aside, the total is kept;
    // decimating 4 mm spheres within 0.2 mm then cuts chords (~1.5 %).
    let kept_volume = signed_volume_mm3(&input) - specks as f64;
    assert!(
        (report.volume_mm3 / kept_volume - 1.0).abs() < 0.03,
        "{report:?} vs {kept_volume}"
    );
    let smooth_only = ConditionOptions {
        decimate: None,
        ..ConditionOptions::default()
    };
    let (_, smoothed) = condition(input.clone(), &smooth_only);
    assert!(smoothed.check.is_printable(), "{smoothed:?}");
    assert!(
        (smoothed.volume_mm3 / kept_volume - 1.0).abs() < 1e-3,
        "{smoothed:?} vs {kept_volume}"
    );

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("one-thread pool");
    let (sequential, one_thread) = pool.install(|| condition(input.clone(), &ConditionOptions::default()));
    assert_eq!(one_thread.check, report.check);
    assert_eq!(one_thread.shells_removed, report.shells_removed);
    // Only the order of parallel f64 sums differs, so the results agree up to rounding.
    let relative = |a: f64, b: f64| (a / b - 1.0).abs();
    assert!(relative(one_thread.volume_mm3, report.volume_mm3) < 1e-6);
    assert!(relative(one_thread.area_mm2, report.area_mm2) < 1e-4);
    let (n, m) = (sequential.triangles.len() as f64, parallel.triangles.len() as f64);
    assert!(relative(n, m) < 0.01, "{n} vs {m} triangles");
}

#[test]
fn dirty_input_still_gets_the_full_repair_chain() {
    // A soup with duplicated vertices, a duplicate triangle and a missing face: the fast
    // path does not apply, welding and hole filling must run.
    let (clean, _) = many_shells();
    let mut dirty = clean.clone();
    let first = dirty.triangles[0];
    dirty.triangles.push(first);
    dirty.triangles.remove(1);
    let n = dirty.vertices.len() as u32;
    let copy = dirty.vertices[first[0] as usize];
    dirty.vertices.push(copy);
    let last = dirty.triangles.len() - 1;
    dirty.triangles[last] = [n, first[1], first[2]];
    assert!(!check_mesh(&dirty).is_printable());
    let (_, report) = condition(dirty, &ConditionOptions::default());
    assert!(report.check.is_printable(), "{report:?}");
    assert_eq!(report.check.shells, 10);
    assert!(report.holes_filled >= 1, "{report:?}");
}
