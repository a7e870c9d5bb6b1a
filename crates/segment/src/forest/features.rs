//! Per-voxel features of the bone decision forest (seed §2.4): intensity, how many voxels near
//! the voxel look almost like bone or clearly like bone, gradient strength and the consistency
//! of its direction, local mean and spread, plus optional outputs of other classifiers.
//!
//! Neighbourhood fractions come from 3D summed-area tables (O(1) per voxel for any radius); the
//! gradient and the small-box statistics read a 3×3×3 (or small) neighbourhood, clamped at the
//! grid border.

use crate::SegmentError;
use medprint_volume::Volume;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Parameters of [`compute_features`]. All radii are half-widths of axis-aligned boxes, in mm,
/// converted to voxels per axis (rounded, at least 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureConfig {
    /// Half-widths (mm) of the boxes in which the near-bone and clearly-bone fractions are
    /// counted; one pair of features per radius.
    pub neighbourhood_radii_mm: Vec<f64>,
    /// "Almost bone" HU band `[low, high)`: partial-volumed or thin bone, dense soft tissue.
    pub near_bone_hu: (f32, f32),
    /// "Clearly bone" above this HU.
    pub clearly_bone_hu: f32,
    /// Half-width (mm) of the small box of the local mean and standard deviation.
    pub local_radius_mm: f64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            neighbourhood_radii_mm: vec![3.0, 6.0, 12.0],
            near_bone_hu: (120.0, 250.0),
            clearly_bone_hu: 300.0,
            local_radius_mm: 3.0,
        }
    }
}

impl FeatureConfig {
    fn validate(&self) -> Result<(), SegmentError> {
        let radius_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 100.0;
        for &r in &self.neighbourhood_radii_mm {
            if !radius_ok(r) {
                return Err(SegmentError::InvalidParameter {
                    name: "neighbourhood_radii_mm",
                    value: r,
                    reason: "each radius in (0, 100] mm",
                });
            }
        }
        if !radius_ok(self.local_radius_mm) {
            return Err(SegmentError::InvalidParameter {
                name: "local_radius_mm",
                value: self.local_radius_mm,
                reason: "(0, 100] mm",
            });
        }
        let (lo, hi) = self.near_bone_hu;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(SegmentError::InvalidParameter {
                name: "near_bone_hu",
                value: lo.into(),
                reason: "finite band with low < high (HU)",
            });
        }
        if !self.clearly_bone_hu.is_finite() {
            return Err(SegmentError::InvalidParameter {
                name: "clearly_bone_hu",
                value: self.clearly_bone_hu.into(),
                reason: "finite HU",
            });
        }
        Ok(())
    }

    /// Number of feature columns for `extras` extra classifier inputs.
    pub fn feature_count(&self, extras: usize) -> usize {
        BASE_FEATURES + 2 * self.neighbourhood_radii_mm.len() + extras
    }

    /// Column names, in column order, for `extras` extra inputs.
    pub fn feature_names(&self, extras: usize) -> Vec<String> {
        let mut names: Vec<String> = [
            "intensity_hu",
            "gradient_hu_per_mm",
            "gradient_consistency",
            "local_mean_hu",
            "local_std_hu",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for r in &self.neighbourhood_radii_mm {
            names.push(format!("near_bone_fraction_{r}mm"));
            names.push(format!("clearly_bone_fraction_{r}mm"));
        }
        names.extend((0..extras).map(|e| format!("extra_{e}")));
        names
    }
}

/// Features that do not depend on the radii: intensity, gradient, consistency, mean, std.
const BASE_FEATURES: usize = 5;

/// How a feature matrix was computed, so a model can compute the same features on a new scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureLayout {
    /// The feature parameters.
    pub config: FeatureConfig,
    /// Number of extra classifier inputs (the last columns).
    pub extras: usize,
}

/// Row-major matrix of f32 features: one row per sample (voxel), `columns` per row.
///
/// Invariant: `values.len() == rows * columns`; no value is NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    columns: usize,
    values: Vec<f32>,
    layout: Option<FeatureLayout>,
}

impl FeatureMatrix {
    /// Wraps row-major `values` of `columns` per row. NaN values are rejected (a split cannot
    /// order them).
    pub fn from_rows(columns: usize, values: Vec<f32>) -> Result<Self, SegmentError> {
        if columns == 0 || !values.len().is_multiple_of(columns) {
            return Err(SegmentError::InvalidParameter {
                name: "columns",
                value: columns as f64,
                reason: "≥ 1 and dividing the number of values",
            });
        }
        if values.iter().any(|v| v.is_nan()) {
            return Err(SegmentError::InvalidParameter {
                name: "values",
                value: f64::NAN,
                reason: "features must not be NaN",
            });
        }
        Ok(Self {
            columns,
            values,
            layout: None,
        })
    }

    /// Number of rows (samples).
    pub fn rows(&self) -> usize {
        self.values.len() / self.columns
    }

    /// Number of columns (features).
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Row `i` (panics if `i >= rows()`: an index of the caller's own loop).
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.columns..(i + 1) * self.columns]
    }

    /// All values, row-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// How the features were computed from a scan (`None` for a matrix built by hand).
    pub fn layout(&self) -> Option<&FeatureLayout> {
        self.layout.as_ref()
    }

    /// Appends the rows of `other`; both must have the same columns and layout.
    pub fn append(&mut self, other: &FeatureMatrix) -> Result<(), SegmentError> {
        if other.columns != self.columns {
            return Err(SegmentError::SizeMismatch {
                left: self.columns,
                right: other.columns,
            });
        }
        if other.layout != self.layout {
            return Err(SegmentError::InvalidParameter {
                name: "layout",
                value: 0.0,
                reason: "feature matrices computed with different feature configurations",
            });
        }
        self.values.extend_from_slice(&other.values);
        Ok(())
    }
}

/// 3D summed-area table of a voxel indicator: `sum[(z, y, x)]` = count over `[0,z)×[0,y)×[0,x)`.
/// Memory: 4 bytes per voxel (u32 counts: any grid below 2^32 voxels).
struct SummedArea {
    stride_y: usize,
    stride_z: usize,
    sum: Vec<u32>,
}

impl SummedArea {
    fn new(scan: &Volume<i16>, indicator: impl Fn(i16) -> bool + Sync) -> Self {
        let [nx, ny, nz] = scan.dims();
        let (sx, sy) = (nx + 1, ny + 1);
        let plane = sx * sy;
        let mut sum = vec![0u32; plane * (nz + 1)];
        // 2D prefix sums per slice (parallel), then a running sum along z.
        sum[plane..].par_chunks_mut(plane).enumerate().for_each(|(z, out)| {
            let slice = scan.slice_z(z);
            for y in 0..ny {
                let mut row = 0u32;
                for x in 0..nx {
                    row += u32::from(indicator(slice[y * nx + x]));
                    out[(y + 1) * sx + x + 1] = out[y * sx + x + 1] + row;
                }
            }
        });
        for z in 1..nz {
            let (done, rest) = sum.split_at_mut((z + 1) * plane);
            let previous = &done[z * plane..];
            rest[..plane]
                .par_iter_mut()
                .zip(previous.par_iter())
                .for_each(|(s, &p)| *s += p);
        }
        Self {
            stride_y: sx,
            stride_z: plane,
            sum,
        }
    }

    /// Count over the inclusive box `lo..=hi` (voxel indices inside the grid).
    fn count(&self, lo: [usize; 3], hi: [usize; 3]) -> u32 {
        let at = |x: usize, y: usize, z: usize| self.sum[z * self.stride_z + y * self.stride_y + x];
        let (x0, y0, z0) = (lo[0], lo[1], lo[2]);
        let (x1, y1, z1) = (hi[0] + 1, hi[1] + 1, hi[2] + 1);
        // Inclusion–exclusion; wrapping arithmetic because partial sums may go below zero.
        at(x1, y1, z1)
            .wrapping_sub(at(x0, y1, z1))
            .wrapping_sub(at(x1, y0, z1))
            .wrapping_sub(at(x1, y1, z0))
            .wrapping_add(at(x0, y0, z1))
            .wrapping_add(at(x0, y1, z0))
            .wrapping_add(at(x1, y0, z0))
            .wrapping_sub(at(x0, y0, z0))
    }
}

/// Box half-widths in voxels per axis for a radius in mm (rounded, at least 1).
fn radius_voxels(radius_mm: f64, spacing: [f64; 3]) -> [usize; 3] {
    spacing.map(|s| {
        let s = if s.is_finite() && s > 0.0 { s } else { 1.0 };
        ((radius_mm / s).round() as usize).max(1)
    })
}

/// Computes features of any voxel of one scan; holds the summed-area tables so that chunks of
/// voxels can be processed without recomputing them (8 bytes per voxel).
pub struct FeatureExtractor<'a> {
    scan: &'a Volume<i16>,
    extra: Vec<&'a Volume<u8>>,
    layout: FeatureLayout,
    near_bone: SummedArea,
    clearly_bone: SummedArea,
    radii: Vec<[usize; 3]>,
    local_radius: [usize; 3],
    spacing: [f32; 3],
}

impl<'a> FeatureExtractor<'a> {
    /// Prepares feature extraction for `scan` (HU) with extra classifier outputs `extra` (each
    /// on the scan's grid, 0..=255).
    pub fn new(scan: &'a Volume<i16>, config: &FeatureConfig, extra: &[&'a Volume<u8>]) -> Result<Self, SegmentError> {
        config.validate()?;
        if scan.is_empty() {
            return Err(SegmentError::EmptyVolume { dims: scan.dims() });
        }
        if scan.len() >= u32::MAX as usize {
            return Err(SegmentError::TooLarge { dims: scan.dims() });
        }
        if let Some(bad) = extra.iter().find(|e| e.dims() != scan.dims()) {
            return Err(SegmentError::SizeMismatch {
                left: scan.len(),
                right: bad.len(),
            });
        }
        let (lo, hi) = config.near_bone_hu;
        let clearly = config.clearly_bone_hu;
        let spacing = scan.geometry.spacing;
        Ok(Self {
            scan,
            extra: extra.to_vec(),
            layout: FeatureLayout {
                config: config.clone(),
                extras: extra.len(),
            },
            near_bone: SummedArea::new(scan, |v| {
                let v = f32::from(v);
                v >= lo && v < hi
            }),
            clearly_bone: SummedArea::new(scan, |v| f32::from(v) > clearly),
            radii: config
                .neighbourhood_radii_mm
                .iter()
                .map(|&r| radius_voxels(r, spacing))
                .collect(),
            local_radius: radius_voxels(config.local_radius_mm, spacing),
            spacing: spacing.map(|s| if s.is_finite() && s > 0.0 { s as f32 } else { 1.0 }),
        })
    }

    /// Number of feature columns.
    pub fn columns(&self) -> usize {
        self.layout.config.feature_count(self.layout.extras)
    }

    /// Feature rows of the voxels with linear (x-fastest) indices `voxels`, computed in
    /// parallel. Errors if an index is outside the grid.
    pub fn features(&self, voxels: &[usize]) -> Result<FeatureMatrix, SegmentError> {
        if let Some(&bad) = voxels.iter().find(|&&v| v >= self.scan.len()) {
            return Err(SegmentError::InvalidParameter {
                name: "voxel index",
                value: bad as f64,
                reason: "inside the grid",
            });
        }
        let columns = self.columns();
        let mut values = vec![0f32; voxels.len() * columns];
        values
            .par_chunks_mut(columns)
            .zip(voxels.par_iter())
            .for_each(|(row, &v)| self.fill_row(v, row));
        Ok(FeatureMatrix {
            columns,
            values,
            layout: Some(self.layout.clone()),
        })
    }

    fn fill_row(&self, voxel: usize, row: &mut [f32]) {
        let [nx, ny, _] = self.scan.dims();
        let p = [voxel % nx, (voxel / nx) % ny, voxel / (nx * ny)];
        let data = self.scan.data();
        let gradient = self.sobel(p);
        let (mean, std) = self.local_mean_std(p);
        row[0] = f32::from(data[voxel]);
        row[1] = norm(gradient);
        row[2] = self.gradient_consistency(p);
        row[3] = mean;
        row[4] = std;
        let mut column = BASE_FEATURES;
        for r in &self.radii {
            let (lo, hi) = self.clamped_box(p, *r);
            let n = (0..3).map(|a| (hi[a] - lo[a] + 1) as f32).product::<f32>();
            row[column] = self.near_bone.count(lo, hi) as f32 / n;
            row[column + 1] = self.clearly_bone.count(lo, hi) as f32 / n;
            column += 2;
        }
        for e in &self.extra {
            row[column] = f32::from(e.data()[voxel]) / 255.0;
            column += 1;
        }
    }

    fn clamped_box(&self, p: [usize; 3], r: [usize; 3]) -> ([usize; 3], [usize; 3]) {
        let dims = self.scan.dims();
        let lo = [0, 1, 2].map(|a| p[a].saturating_sub(r[a]));
        let hi = [0, 1, 2].map(|a| (p[a] + r[a]).min(dims[a] - 1));
        (lo, hi)
    }

    /// Sample at `p + d`, clamped to the grid.
    #[inline]
    fn at(&self, p: [usize; 3], d: [isize; 3]) -> f32 {
        let dims = self.scan.dims();
        let c = [0, 1, 2].map(|a| (p[a] as isize + d[a]).clamp(0, dims[a] as isize - 1) as usize);
        f32::from(self.scan.data()[(c[2] * dims[1] + c[1]) * dims[0] + c[0]])
    }

    /// 3D Sobel gradient (HU/mm): central difference along each axis smoothed by [1 2 1] ⊗
    /// [1 2 1] / 16 across it, so a linear ramp of slope `a` HU/mm gives exactly `a`.
    fn sobel(&self, p: [usize; 3]) -> [f32; 3] {
        let w = [1.0f32, 2.0, 1.0];
        let mut g = [0f32; 3];
        for (axis, gradient) in g.iter_mut().enumerate() {
            let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
            let mut sum = 0.0;
            for (i, wu) in w.iter().enumerate() {
                for (j, wv) in w.iter().enumerate() {
                    let mut d = [0isize; 3];
                    d[u] = i as isize - 1;
                    d[v] = j as isize - 1;
                    let mut plus = d;
                    plus[axis] = 1;
                    let mut minus = d;
                    minus[axis] = -1;
                    sum += wu * wv * (self.at(p, plus) - self.at(p, minus));
                }
            }
            *gradient = sum / (16.0 * 2.0 * self.spacing[axis]);
        }
        g
    }

    /// |mean of the unit gradient vectors| over the 3×3×3 neighbourhood (central differences):
    /// 1 when all gradients point the same way (an edge), near 0 for noise; voxels without
    /// gradient do not count.
    fn gradient_consistency(&self, p: [usize; 3]) -> f32 {
        let mut mean = [0f32; 3];
        let mut count = 0u32;
        for dz in -1..=1isize {
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let d = [dx, dy, dz];
                    let g = [0, 1, 2].map(|a| {
                        let mut plus = d;
                        plus[a] += 1;
                        let mut minus = d;
                        minus[a] -= 1;
                        (self.at(p, plus) - self.at(p, minus)) / self.spacing[a]
                    });
                    let length = norm(g);
                    if length > 0.0 {
                        for a in 0..3 {
                            mean[a] += g[a] / length;
                        }
                        count += 1;
                    }
                }
            }
        }
        if count == 0 {
            0.0
        } else {
            norm(mean) / count as f32
        }
    }

    /// Mean and standard deviation (HU) over the small box, clamped to the grid.
    fn local_mean_std(&self, p: [usize; 3]) -> (f32, f32) {
        let (lo, hi) = self.clamped_box(p, self.local_radius);
        let [nx, ny, _] = self.scan.dims();
        let data = self.scan.data();
        let (mut sum, mut sum_sq, mut n) = (0f64, 0f64, 0f64);
        for z in lo[2]..=hi[2] {
            for y in lo[1]..=hi[1] {
                let start = (z * ny + y) * nx;
                for &v in &data[start + lo[0]..=start + hi[0]] {
                    let v = f64::from(v);
                    sum += v;
                    sum_sq += v * v;
                    n += 1.0;
                }
            }
        }
        let mean = sum / n;
        let variance = (sum_sq / n - mean * mean).max(0.0);
        (mean as f32, variance.sqrt() as f32)
    }
}

fn norm(v: [f32; 3]) -> f32 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// Features of the voxels `voxels` (linear x-fastest indices) of `scan` (HU), with extra
/// classifier outputs `extra` (0..=255 on the scan's grid, stored as fractions 0..=1) as the
/// last columns. Columns: see [`FeatureConfig::feature_names`].
pub fn compute_features(
    scan: &Volume<i16>,
    config: &FeatureConfig,
    extra: &[&Volume<u8>],
    voxels: &[usize],
) -> Result<FeatureMatrix, SegmentError> {
    FeatureExtractor::new(scan, config, extra)?.features(voxels)
}
