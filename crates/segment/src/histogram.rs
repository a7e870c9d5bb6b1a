//! Intensity histograms with 1-HU bins.

use medprint_volume::Volume;
use rayon::prelude::*;
use serde::Serialize;

/// Lowest HU value binned by [`Histogram::of_volume`]; lower values are clamped into this bin.
pub const HISTOGRAM_MIN_HU: i32 = -1024;
/// Highest HU value binned by [`Histogram::of_volume`]; higher values are clamped into this bin.
pub const HISTOGRAM_MAX_HU: i32 = 3071;

/// Histogram of voxel intensities with one bin per HU.
///
/// Invariant: bin `i` counts voxels of value `min_hu + i` (values outside the range are clamped
/// into the first or last bin).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Value (HU) of the first bin.
    pub min_hu: i32,
    /// Voxel count per 1-HU bin.
    pub counts: Vec<u64>,
}

impl Histogram {
    /// Histogram over −1024..=3071 HU of the voxels of `v` (only where `mask` is nonzero, when
    /// given). A mask whose length differs from the volume is ignored with a warning.
    pub fn of_volume(v: &Volume<i16>, mask: Option<&[u8]>) -> Self {
        let bins = (HISTOGRAM_MAX_HU - HISTOGRAM_MIN_HU + 1) as usize;
        let mask = mask.filter(|m| {
            let ok = m.len() == v.len();
            if !ok {
                tracing::warn!(
                    mask = m.len(),
                    volume = v.len(),
                    "histogram mask size mismatch, ignored"
                );
            }
            ok
        });
        const CHUNK: usize = 1 << 16;
        let bin_of = |x: i16| (i32::from(x).clamp(HISTOGRAM_MIN_HU, HISTOGRAM_MAX_HU) - HISTOGRAM_MIN_HU) as usize;
        let counts = v
            .data()
            .par_chunks(CHUNK)
            .enumerate()
            .fold(
                || vec![0u64; bins],
                |mut acc, (c, chunk)| {
                    match mask {
                        Some(m) => {
                            let mc = &m[c * CHUNK..c * CHUNK + chunk.len()];
                            for (&x, &keep) in chunk.iter().zip(mc) {
                                if keep != 0 {
                                    acc[bin_of(x)] += 1;
                                }
                            }
                        }
                        None => chunk.iter().for_each(|&x| acc[bin_of(x)] += 1),
                    }
                    acc
                },
            )
            .reduce(
                || vec![0u64; bins],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        Self {
            min_hu: HISTOGRAM_MIN_HU,
            counts,
        }
    }

    /// Number of voxels counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// HU value of bin `i`.
    #[inline]
    pub fn hu_of_bin(&self, i: usize) -> f32 {
        self.min_hu as f32 + i as f32
    }

    /// Bin index of the HU value `hu`, clamped into the histogram.
    pub fn bin_of_hu(&self, hu: f32) -> usize {
        let i = (hu - self.min_hu as f32).round();
        (i.max(0.0) as usize).min(self.counts.len().saturating_sub(1))
    }

    /// Counts smoothed by a Gaussian of `sigma_bins` bins (1 bin = 1 HU), truncated at 4 σ,
    /// with edge bins mirrored. `sigma_bins <= 0` returns the counts unchanged.
    pub fn smoothed(&self, sigma_bins: f64) -> Vec<f64> {
        let raw: Vec<f64> = self.counts.iter().map(|&c| c as f64).collect();
        if !(sigma_bins.is_finite() && sigma_bins > 0.0) || raw.is_empty() {
            return raw;
        }
        let kernel = crate::gaussian::gaussian_kernel(sigma_bins);
        let r = (kernel.len() / 2) as isize;
        let n = raw.len() as isize;
        (0..n)
            .map(|i| {
                kernel
                    .iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let j = crate::gaussian::mirror_index(i + k as isize - r, n);
                        w * raw[j]
                    })
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::Geometry;

    #[test]
    fn counts_clamp_and_mask() {
        let v = Volume::from_vec([4, 1, 1], vec![-2000i16, 0, 0, 5000], Geometry::default()).expect("shape");
        let h = Histogram::of_volume(&v, None);
        assert_eq!(h.total(), 4);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[h.bin_of_hu(0.0)], 2);
        assert_eq!(*h.counts.last().expect("bins"), 1);
        let masked = Histogram::of_volume(&v, Some(&[0, 1, 0, 1]));
        assert_eq!(masked.total(), 2);
        assert_eq!(masked.counts[masked.bin_of_hu(0.0)], 1);
    }

    #[test]
    fn smoothing_preserves_mass() {
        let v = Volume::from_vec([3, 1, 1], vec![0i16, 0, 100], Geometry::default()).expect("shape");
        let h = Histogram::of_volume(&v, None);
        let s = h.smoothed(5.0);
        assert!((s.iter().sum::<f64>() - 3.0).abs() < 1e-9);
        assert!(s[h.bin_of_hu(0.0)] > s[h.bin_of_hu(10.0)]);
    }
}
