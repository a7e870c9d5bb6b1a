//! Decimation keeps printability and accuracy.

mod conditioning_support;

use conditioning_support::{cuberille, icosphere, sphere_distance};
use medprint_mesh::{check_mesh, decimate, signed_volume_mm3, DecimateOptions, Mesh};

fn percentile_95(mut d: Vec<f64>) -> f64 {
    d.sort_by(f64::total_cmp);
    d[d.len() * 95 / 100]
}

/// Distances to the true sphere at vertices, edge midpoints and centroids.
fn surface_distances(m: &Mesh, r: f64) -> Vec<f64> {
    let mut d: Vec<f64> = m.vertices.iter().map(|&p| sphere_distance(p, r)).collect();
    for t in &m.triangles {
        let [a, b, c] = t.map(|v| m.vertices[v as usize]);
        let mix = |w: [f32; 3]| std::array::from_fn(|k| w[0] * a[k] + w[1] * b[k] + w[2] * c[k]);
        for w in [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [1.0 / 3.0; 3]] {
            d.push(sphere_distance(mix(w), r));
        }
    }
    d
}

#[test]
fn ninety_percent_reduction_of_a_fine_sphere_stays_printable_and_close() {
    let r = 20.0;
    let fine = icosphere(6, r, [0.0; 3]);
    let coarse = decimate(
        &fine,
        &DecimateOptions {
            target_ratio: 0.1,
            max_error_mm: 0.5,
        },
    );
    let n = fine.triangles.len();
    assert!(
        coarse.triangles.len() <= n / 10 + n / 100,
        "{} triangles left",
        coarse.triangles.len()
    );
    assert!(coarse.triangles.len() >= n / 20);
    let c = check_mesh(&coarse);
    assert!(c.is_printable() && c.euler_characteristic == 2, "{c:?}");
    let p95 = percentile_95(surface_distances(&coarse, r));
    assert!(p95 <= 0.5, "95th percentile distance {p95} mm");
}

#[test]
fn error_bound_limits_reduction_of_a_staircase() {
    let stairs = cuberille(30, 1.0, |p| p.iter().map(|c| c * c).sum::<f64>() <= 144.0);
    let tight = decimate(
        &stairs,
        &DecimateOptions {
            target_ratio: 0.01,
            max_error_mm: 1e-3,
        },
    );
    let loose = decimate(
        &stairs,
        &DecimateOptions {
            target_ratio: 0.25,
            max_error_mm: 2.0,
        },
    );
    println!(
        "{} -> tight {} / loose {}",
        stairs.triangles.len(),
        tight.triangles.len(),
        loose.triangles.len()
    );
    assert!(loose.triangles.len() < tight.triangles.len());
    // A 1 µm bound still merges coplanar stair treads, but cannot cut corners.
    assert!(tight.triangles.len() < stairs.triangles.len());
    // Same enclosed volume; only the order of the parallel f64 sum of the /6 terms differs.
    let (v_tight, v_stairs) = (signed_volume_mm3(&tight), signed_volume_mm3(&stairs));
    assert!((v_tight / v_stairs - 1.0).abs() < 1e-12, "{v_tight} vs {v_stairs}");
    assert!(check_mesh(&tight).is_printable() && check_mesh(&loose).is_printable());
}

#[test]
fn decimating_to_a_triangle_count_reaches_it_and_stays_printable() {
    let r = 30.0;
    // 327 680 triangles: more than one block, so the seam-moving second pass is exercised.
    let fine = icosphere(7, r, [0.0; 3]);
    let web = medprint_mesh::decimate_to_triangle_count(&fine, 10_000);
    let n = web.triangles.len();
    assert!((9_000..=11_000).contains(&n), "{n} triangles");
    assert!(check_mesh(&web).is_printable());
    let volume = signed_volume_mm3(&web);
    let sphere = 4.0 / 3.0 * std::f64::consts::PI * r.powi(3);
    assert!((volume - sphere).abs() / sphere < 0.01, "{volume} vs {sphere}");
    // Already small enough: unchanged.
    let small = icosphere(2, r, [0.0; 3]);
    assert_eq!(medprint_mesh::decimate_to_triangle_count(&small, 10_000), small);
    assert!(medprint_mesh::decimate_to_triangle_count(&Mesh::default(), 10).is_empty());
}
