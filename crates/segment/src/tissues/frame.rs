//! Patient orientation of the grid: which index axis runs superior, and the left–right midline.

use medprint_volume::Geometry;
use rayon::prelude::*;

/// How the voxel grid sits in the patient (LPS: +x left, +y posterior, +z superior).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PatientFrame {
    /// Geometry of the grid.
    pub geometry: Geometry,
    /// Grid dims.
    pub dims: [usize; 3],
    /// Left–right coordinate (mm, LPS x) of the body's centroid: the midline.
    pub midline_mm: f64,
}

impl PatientFrame {
    /// Frame of a grid whose body mask is `body` (nonzero = body). The midline falls back to
    /// the grid centre when the body is empty.
    pub fn new(geometry: Geometry, dims: [usize; 3], body: &[u8]) -> Self {
        let [nx, ny, _] = dims;
        let plane = nx * ny;
        let (count, sum) = if plane == 0 {
            (0u64, [0f64; 3])
        } else {
            body.par_chunks(plane)
                .enumerate()
                .map(|(z, slice)| {
                    let mut count = 0u64;
                    let mut sum = [0f64; 3];
                    for (i, _) in slice.iter().enumerate().filter(|(_, &b)| b != 0) {
                        count += 1;
                        sum[0] += (i % nx) as f64;
                        sum[1] += (i / nx) as f64;
                        sum[2] += z as f64;
                    }
                    (count, sum)
                })
                .reduce(
                    || (0, [0.0; 3]),
                    |a, b| (a.0 + b.0, [a.1[0] + b.1[0], a.1[1] + b.1[1], a.1[2] + b.1[2]]),
                )
        };
        let centre = if count == 0 {
            dims.map(|d| d as f64 / 2.0)
        } else {
            sum.map(|s| s / count as f64)
        };
        let midline_mm = geometry.index_to_patient(centre)[0];
        Self {
            geometry,
            dims,
            midline_mm,
        }
    }

    /// Patient position (mm, LPS) of a voxel given by its linear index.
    pub fn position_mm(&self, index: usize) -> [f64; 3] {
        let [nx, ny, _] = self.dims;
        let ijk = [
            (index % nx) as f64,
            ((index / nx) % ny) as f64,
            (index / (nx * ny)) as f64,
        ];
        self.geometry.index_to_patient(ijk)
    }

    /// Whether the k axis (slices) runs along superior–inferior, and if so `Some(true)` when k
    /// increases towards superior. `None` for sagittal or coronal stacks.
    pub fn slices_superior(&self) -> Option<bool> {
        let d = self.geometry.direction;
        let along_z = d[2][2].abs();
        (along_z > d[2][0].abs() && along_z > d[2][1].abs()).then_some(d[2][2] > 0.0)
    }
}
