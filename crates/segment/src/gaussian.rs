//! Separable, spacing-aware Gaussian smoothing of HU volumes.

use medprint_volume::Volume;
use rayon::prelude::*;

/// Sigma (in voxels) below which an axis is left unsmoothed: the kernel would be a delta.
const MIN_SIGMA_VOXELS: f64 = 0.05;

/// Normalised 1D Gaussian kernel of standard deviation `sigma` (samples), radius ⌈3σ⌉.
pub(crate) fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (3.0 * sigma).ceil().max(1.0) as usize;
    let w: Vec<f64> = (0..=2 * radius)
        .map(|i| (-((i as f64 - radius as f64).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f64 = w.iter().sum();
    w.into_iter().map(|x| x / sum).collect()
}

/// Reflects an out-of-range index back into `0..n` (edge sample repeated: `-1 → 0`, `n → n-1`).
#[inline]
pub(crate) fn mirror_index(i: isize, n: isize) -> usize {
    if n <= 1 {
        return 0;
    }
    let period = 2 * n;
    let m = i.rem_euclid(period);
    (if m < n { m } else { period - 1 - m }) as usize
}

/// Gaussian-smoothed copy of `v` with standard deviation `sigma_mm` (mm) along every patient
/// axis; per-axis sigmas in voxels follow the voxel spacing, so anisotropic grids are smoothed
/// isotropically in space. Borders are reflected, so the mean of a volume is preserved up to
/// rounding. `sigma_mm <= 0` (or not finite) returns an exact copy.
///
/// Passes: x and y per axial slice in an `f32` scratch row (parallel over slices), then z
/// writing each output slice from its neighbouring slices (parallel over output slices). Values
/// are rounded to HU after the xy pass and after the z pass (error ≤ 1 HU).
pub fn gaussian_smooth(v: &Volume<i16>, sigma_mm: f64) -> Volume<i16> {
    if !(sigma_mm.is_finite() && sigma_mm > 0.0) || v.is_empty() {
        return v.clone();
    }
    let [nx, ny, nz] = v.dims();
    let spacing = v.geometry.spacing;
    let kernel_for = |axis: usize| {
        let s = sigma_mm / spacing[axis];
        (s >= MIN_SIGMA_VOXELS).then(|| gaussian_kernel(s))
    };
    let (kx, ky, kz) = (kernel_for(0), kernel_for(1), kernel_for(2));
    let slice_len = nx * ny;

    let mut xy = v.clone();
    if kx.is_some() || ky.is_some() {
        xy.data_mut()
            .par_chunks_mut(slice_len)
            .zip(v.data().par_chunks(slice_len))
            .for_each(|(out, inp)| {
                let mut buf: Vec<f32> = inp.iter().map(|&x| f32::from(x)).collect();
                let mut tmp = vec![0f32; slice_len];
                if let Some(k) = &kx {
                    convolve_lines(&buf, &mut tmp, k, nx, 1, nx, ny);
                    std::mem::swap(&mut buf, &mut tmp);
                }
                if let Some(k) = &ky {
                    convolve_lines(&buf, &mut tmp, k, ny, nx, 1, nx);
                    std::mem::swap(&mut buf, &mut tmp);
                }
                out.iter_mut().zip(&buf).for_each(|(o, &b)| *o = round_hu(b));
            });
    }
    let Some(kz) = kz else { return xy };
    let mut out = xy.clone();
    let r = (kz.len() / 2) as isize;
    out.data_mut()
        .par_chunks_mut(slice_len)
        .enumerate()
        .for_each(|(z, out_slice)| {
            let mut acc = vec![0f32; slice_len];
            for (k, &w) in kz.iter().enumerate() {
                let zz = mirror_index(z as isize + k as isize - r, nz as isize);
                let w = w as f32;
                acc.iter_mut()
                    .zip(xy.slice_z(zz))
                    .for_each(|(a, &x)| *a += w * f32::from(x));
            }
            out_slice.iter_mut().zip(&acc).for_each(|(o, &a)| *o = round_hu(a));
        });
    out
}

#[inline]
fn round_hu(x: f32) -> i16 {
    x.round().clamp(f32::from(i16::MIN), f32::from(i16::MAX)) as i16
}

/// Convolves `lines` lines of `len` samples (sample stride `step`, line stride `line_step`)
/// of `inp` with `kernel` into `out`, reflecting at the ends.
fn convolve_lines(
    inp: &[f32],
    out: &mut [f32],
    kernel: &[f64],
    len: usize,
    step: usize,
    line_step: usize,
    lines: usize,
) {
    let r = (kernel.len() / 2) as isize;
    let kernel: Vec<f32> = kernel.iter().map(|&w| w as f32).collect();
    for line in 0..lines {
        let base = line * line_step;
        for i in 0..len {
            let mut acc = 0f32;
            for (k, &w) in kernel.iter().enumerate() {
                let j = mirror_index(i as isize + k as isize - r, len as isize);
                acc += w * inp[base + j * step];
            }
            out[base + i * step] = acc;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::Geometry;

    fn noise_volume(dims: [usize; 3], spacing: [f64; 3]) -> Volume<i16> {
        let mut state = 12345u32;
        let data = (0..dims.iter().product::<usize>())
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((state >> 16) % 2000) as i16 - 1000
            })
            .collect();
        Volume::from_vec(dims, data, Geometry::axis_aligned(spacing, [0.0; 3])).expect("shape")
    }

    #[test]
    fn sigma_zero_is_identity() {
        let v = noise_volume([7, 5, 3], [1.0, 1.0, 1.0]);
        assert_eq!(gaussian_smooth(&v, 0.0), v);
        assert_eq!(gaussian_smooth(&v, f64::NAN), v);
    }

    #[test]
    fn mean_is_preserved() {
        let v = noise_volume([20, 17, 9], [0.8, 0.8, 2.0]);
        let s = gaussian_smooth(&v, 1.5);
        let mean = |x: &Volume<i16>| x.data().iter().map(|&a| f64::from(a)).sum::<f64>() / x.len() as f64;
        assert!((mean(&v) - mean(&s)).abs() < 1.0, "{} vs {}", mean(&v), mean(&s));
        // Smoothing noise reduces its variance.
        let var = |x: &Volume<i16>| {
            let m = mean(x);
            x.data().iter().map(|&a| (f64::from(a) - m).powi(2)).sum::<f64>() / x.len() as f64
        };
        assert!(var(&s) < 0.3 * var(&v));
    }

    /// A unit impulse spreads into a Gaussian whose per-axis variance equals (sigma/spacing)²
    /// voxels², so an anisotropic grid gets the same spread in millimetres along every axis.
    #[test]
    fn impulse_response_matches_analytic_variance_per_axis() {
        let dims = [41, 41, 21];
        let spacing = [0.5, 1.0, 2.0];
        let mut v = Volume::filled(dims, 0i16, Geometry::axis_aligned(spacing, [0.0; 3]));
        let centre = v.index(20, 20, 10);
        v.data_mut()[centre] = 30000;
        let sigma_mm = 2.0;
        let s = gaussian_smooth(&v, sigma_mm);
        let c = [20.0, 20.0, 10.0];
        for axis in 0..3 {
            let mut mass = 0.0;
            let mut second = 0.0;
            for z in 0..dims[2] {
                for y in 0..dims[1] {
                    for x in 0..dims[0] {
                        let w = f64::from(s.data()[s.index(x, y, z)]);
                        let d = [x as f64, y as f64, z as f64][axis] - c[axis];
                        mass += w;
                        second += w * d * d;
                    }
                }
            }
            let var_mm2 = second / mass * spacing[axis] * spacing[axis];
            // Sampled Gaussian: variance (σ/h)² voxels² up to discretisation and rounding.
            assert!(
                (var_mm2 - sigma_mm * sigma_mm).abs() < 0.15 * sigma_mm * sigma_mm,
                "axis {axis}: {var_mm2}"
            );
        }
    }

    #[test]
    fn mirror_index_reflects() {
        assert_eq!(mirror_index(-1, 5), 0);
        assert_eq!(mirror_index(-2, 5), 1);
        assert_eq!(mirror_index(5, 5), 4);
        assert_eq!(mirror_index(3, 1), 0);
    }
}
