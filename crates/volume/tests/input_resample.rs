//! `resample_to_spacing` reproduces a linear ramp exactly and keeps the physical field.

use medprint_volume::resample::resample_to_spacing;
use medprint_volume::{Geometry, Volume};

/// value = 2·x + 3·y + 5·z in mm from the origin (exactly representable at every sample).
fn ramp(dims: [usize; 3], g: Geometry) -> Volume<i16> {
    let mut data = Vec::new();
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let mm = [
                    i as f64 * g.spacing[0],
                    j as f64 * g.spacing[1],
                    k as f64 * g.spacing[2],
                ];
                data.push((2.0 * mm[0] + 3.0 * mm[1] + 5.0 * mm[2]).round() as i16);
            }
        }
    }
    Volume::from_vec(dims, data, g).expect("shape")
}

#[test]
fn linear_ramp_is_reproduced_at_new_positions() {
    let g = Geometry {
        spacing: [2.0, 2.0, 4.0],
        origin: [10.0, -20.0, 30.0],
        direction: [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
    };
    let v = ramp([10, 8, 6], g);
    let out = resample_to_spacing(&v, [1.0, 0.5, 2.0]);
    assert_eq!(out.dims(), [20, 32, 12], "same field: n·s / s'");
    assert_eq!(out.geometry.direction, g.direction);
    // Field edges are kept: origin − s/2 is unchanged along every axis.
    for a in 0..3 {
        let old_edge = v.geometry.index_to_patient([-0.5; 3]);
        let new_edge = out.geometry.index_to_patient([-0.5; 3]);
        assert!(
            (old_edge[a] - new_edge[a]).abs() < 1e-9,
            "edge {a}: {old_edge:?} vs {new_edge:?}"
        );
    }
    let mut checked = 0;
    let [nx, ny, nz] = out.dims();
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                // Position in mm from the old origin along the index axes.
                let p = out.geometry.index_to_patient([i as f64, j as f64, k as f64]);
                let q = v.geometry.patient_to_index(p);
                let inside = (0..3).all(|a| q[a] >= -1e-9 && q[a] <= (v.dims()[a] - 1) as f64 + 1e-9);
                if !inside {
                    continue;
                }
                let mm = [q[0] * 2.0, q[1] * 2.0, q[2] * 4.0];
                let expected = 2.0 * mm[0] + 3.0 * mm[1] + 5.0 * mm[2];
                let got = f64::from(out.get(i, j, k).expect("inside"));
                assert!((got - expected).abs() <= 0.5, "({i},{j},{k}): {got} vs {expected}");
                checked += 1;
            }
        }
    }
    assert!(checked > out.len() / 2, "checked {checked}");
}

#[test]
fn same_spacing_is_identity() {
    let v = ramp([5, 4, 3], Geometry::axis_aligned([0.7, 0.7, 1.5], [1.0, 2.0, 3.0]));
    let out = resample_to_spacing(&v, [0.7, 0.7, 1.5]);
    assert_eq!(out, v);
}
