//! Dense 3D sample grids.

use crate::Geometry;

/// Grid size in voxels along i (x, fastest), j (y) and k (z, slowest).
pub type Dims = [usize; 3];

/// A dense 3D grid of samples with patient-space geometry.
///
/// Invariant: `data.len() == dims[0] * dims[1] * dims[2]`; samples are stored x-fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    dims: Dims,
    data: Vec<T>,
    /// Voxel-to-patient mapping.
    pub geometry: Geometry,
}

/// Error returned when a sample buffer does not match the requested grid size.
#[derive(Debug, thiserror::Error)]
#[error("grid {dims:?} needs {expected} samples but {actual} were given")]
pub struct ShapeMismatch {
    /// Requested grid size.
    pub dims: Dims,
    /// Samples the grid needs.
    pub expected: usize,
    /// Samples supplied.
    pub actual: usize,
}

impl<T> Volume<T> {
    /// Wraps `data` (x-fastest) as a grid of size `dims`.
    pub fn from_vec(dims: Dims, data: Vec<T>, geometry: Geometry) -> Result<Self, ShapeMismatch> {
        let expected = dims[0]
            .checked_mul(dims[1])
            .and_then(|v| v.checked_mul(dims[2]))
            .unwrap_or(usize::MAX);
        if expected != data.len() {
            return Err(ShapeMismatch {
                dims,
                expected,
                actual: data.len(),
            });
        }
        Ok(Self { dims, data, geometry })
    }

    /// Grid size.
    #[inline]
    pub fn dims(&self) -> Dims {
        self.dims
    }

    /// Number of voxels.
    #[inline]
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the grid holds no voxel.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Samples, x-fastest.
    #[inline]
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// Mutable samples, x-fastest.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the grid and returns its samples.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }

    /// Linear index of voxel `(x, y, z)`; the caller guarantees it is inside the grid.
    #[inline]
    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        x + self.dims[0] * (y + self.dims[1] * z)
    }

    /// Samples of one axial slice (constant k).
    pub fn slice_z(&self, z: usize) -> &[T] {
        let n = self.dims[0] * self.dims[1];
        &self.data[z * n..(z + 1) * n]
    }

    /// A new grid of the same size and geometry with every sample mapped by `f`.
    pub fn map<U: Send, F: Fn(&T) -> U + Sync + Send>(&self, f: F) -> Volume<U>
    where
        T: Sync,
    {
        use rayon::prelude::*;
        Volume {
            dims: self.dims,
            data: self.data.par_iter().map(f).collect(),
            geometry: self.geometry,
        }
    }
}

impl<T: Clone> Volume<T> {
    /// A grid of size `dims` filled with `value`.
    pub fn filled(dims: Dims, value: T, geometry: Geometry) -> Self {
        Self {
            dims,
            data: vec![value; dims[0] * dims[1] * dims[2]],
            geometry,
        }
    }
}

impl<T: Copy> Volume<T> {
    /// Sample at `(x, y, z)`; `None` outside the grid.
    #[inline]
    pub fn get(&self, x: usize, y: usize, z: usize) -> Option<T> {
        (x < self.dims[0] && y < self.dims[1] && z < self.dims[2]).then(|| self.data[self.index(x, y, z)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_is_checked() {
        assert!(Volume::from_vec([2, 2, 2], vec![0u8; 7], Geometry::default()).is_err());
        let v = Volume::from_vec([2, 3, 4], (0..24).collect::<Vec<i32>>(), Geometry::default()).expect("shape");
        assert_eq!(v.get(1, 2, 3), Some(23));
        assert_eq!(v.get(2, 0, 0), None);
        assert_eq!(v.slice_z(1), &(6..12).collect::<Vec<_>>()[..]);
    }
}

/// A scalar sample type a grid can hold and algorithms can read as `f32`.
pub trait Sample: Copy + Send + Sync + 'static {
    /// The sample as a 32-bit float (exact for every implementor).
    fn to_f32(self) -> f32;
}

macro_rules! impl_sample {
    ($($t:ty),*) => {$(
        impl Sample for $t {
            #[inline]
            fn to_f32(self) -> f32 {
                self as f32
            }
        }
    )*};
}
impl_sample!(u8, i8, u16, i16, f32);
