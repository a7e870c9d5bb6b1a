//! Voxel-to-patient geometry.

// Index loops mirror the matrix notation of the affine algebra below.
#![allow(clippy::needless_range_loop)]

use serde::{Deserialize, Serialize};

/// Maps voxel indices `(i, j, k)` to patient coordinates (LPS, millimetres).
///
/// `p = origin + direction · (spacing ⊙ (i, j, k))`, where the columns of `direction` are
/// unit vectors along the i, j and k axes. Invariant: `spacing` components are finite and > 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Geometry {
    /// Voxel size along i, j, k in mm.
    pub spacing: [f64; 3],
    /// Patient position (mm, LPS) of the centre of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// `direction[r][c]`: component r of the unit vector of axis c.
    pub direction: [[f64; 3]; 3],
}

impl Default for Geometry {
    fn default() -> Self {
        Self::axis_aligned([1.0; 3], [0.0; 3])
    }
}

impl Geometry {
    /// Axis-aligned geometry: i → +x, j → +y, k → +z (LPS).
    pub fn axis_aligned(spacing: [f64; 3], origin: [f64; 3]) -> Self {
        Self {
            spacing,
            origin,
            direction: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        }
    }

    /// The 4×4 affine (row-major) mapping homogeneous voxel indices to LPS millimetres.
    pub fn affine(&self) -> [[f64; 4]; 4] {
        let mut m = [[0.0; 4]; 4];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] = self.direction[r][c] * self.spacing[c];
            }
            m[r][3] = self.origin[r];
        }
        m[3][3] = 1.0;
        m
    }

    /// Builds a geometry from a 4×4 LPS affine, splitting it into spacing and unit directions.
    ///
    /// Returns `None` when a column has zero or non-finite length.
    pub fn from_affine(m: &[[f64; 4]; 4]) -> Option<Self> {
        let mut g = Self::default();
        for c in 0..3 {
            let len = (0..3).map(|r| m[r][c] * m[r][c]).sum::<f64>().sqrt();
            if !(len.is_finite() && len > 0.0) {
                return None;
            }
            g.spacing[c] = len;
            for r in 0..3 {
                g.direction[r][c] = m[r][c] / len;
            }
        }
        for r in 0..3 {
            g.origin[r] = m[r][3];
            if !g.origin[r].is_finite() {
                return None;
            }
        }
        Some(g)
    }

    /// Patient position (mm, LPS) of a (possibly fractional) voxel index.
    #[inline]
    pub fn index_to_patient(&self, ijk: [f64; 3]) -> [f64; 3] {
        let mut p = self.origin;
        for (r, pr) in p.iter_mut().enumerate() {
            for c in 0..3 {
                *pr += self.direction[r][c] * self.spacing[c] * ijk[c];
            }
        }
        p
    }

    /// Continuous voxel index of a patient position (inverse of [`Self::index_to_patient`]).
    ///
    /// Assumes `direction` is orthonormal (true for every geometry built by this crate).
    pub fn patient_to_index(&self, p: [f64; 3]) -> [f64; 3] {
        let d = [p[0] - self.origin[0], p[1] - self.origin[1], p[2] - self.origin[2]];
        let mut ijk = [0.0; 3];
        for c in 0..3 {
            let along: f64 = (0..3).map(|r| self.direction[r][c] * d[r]).sum();
            ijk[c] = along / self.spacing[c];
        }
        ijk
    }

    /// Volume of one voxel in mm³.
    pub fn voxel_volume_mm3(&self) -> f64 {
        self.spacing.iter().product()
    }

    /// Determinant sign of the direction matrix: −1 when the index axes form a left-handed frame.
    pub fn handedness(&self) -> f64 {
        let d = &self.direction;
        let det = d[0][0] * (d[1][1] * d[2][2] - d[1][2] * d[2][1]) - d[0][1] * (d[1][0] * d[2][2] - d[1][2] * d[2][0])
            + d[0][2] * (d[1][0] * d[2][1] - d[1][1] * d[2][0]);
        det.signum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_round_trip() {
        let g = Geometry {
            spacing: [0.7, 0.8, 2.5],
            origin: [-100.0, 20.0, 35.5],
            direction: [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]],
        };
        let back = Geometry::from_affine(&g.affine()).expect("valid affine");
        for c in 0..3 {
            assert!((back.spacing[c] - g.spacing[c]).abs() < 1e-12);
        }
        let p = g.index_to_patient([3.0, 4.0, 5.0]);
        let ijk = g.patient_to_index(p);
        assert!((ijk[0] - 3.0).abs() < 1e-9 && (ijk[1] - 4.0).abs() < 1e-9 && (ijk[2] - 5.0).abs() < 1e-9);
        assert_eq!(g.handedness(), 1.0);
        assert!((g.voxel_volume_mm3() - 1.4).abs() < 1e-12);
    }

    #[test]
    fn degenerate_affine_is_rejected() {
        let mut m = Geometry::default().affine();
        m[0][0] = 0.0;
        assert!(Geometry::from_affine(&m).is_none());
    }
}
