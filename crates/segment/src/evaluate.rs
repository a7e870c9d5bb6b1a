//! Agreement of a predicted segmentation with a reference, per class, in patient space.
//!
//! Metrics per class: Dice, Jaccard, 95 % Hausdorff distance (HD95) and mean symmetric surface
//! distance (MSD) in mm, and the volume difference. Surfaces are the boundary voxels of each
//! mask (foreground voxels face-connected to background or to the grid's outside); distances
//! between them come from an exact anisotropic Euclidean distance transform
//! ([`distance::distance_transform_mm`]). HD95 is the 95th percentile (linear interpolation,
//! as numpy's default) of the union of both directed boundary-to-boundary distance sets; MSD is
//! the mean of that union.
//!
//! Label maps on different grids are compared on the reference grid: each reference voxel
//! centre is mapped through both affines to the prediction's continuous index and rounded
//! (nearest neighbour); centres outside the prediction count as background.

pub mod classes;
pub mod distance;

use std::collections::HashMap;

use medprint_volume::{Dims, Geometry, Sample, Volume};
use rayon::prelude::*;
use serde::Serialize;

pub use classes::{parse_class, ClassError, LabelClass, LabelSet, MAX_LABEL};
pub use distance::distance_transform_mm;

/// Largest affine difference (mm, at any corner-free affine entry) under which two grids are
/// treated as the same and compared voxel by voxel.
pub const SAME_GRID_TOLERANCE_MM: f64 = 1e-4;

/// Why an evaluation could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    /// A mask does not have `dims[0] * dims[1] * dims[2]` samples.
    #[error("mask sizes do not match the grid {dims:?}: prediction {pred} and reference {reference} samples")]
    SizeMismatch {
        /// Grid size.
        dims: Dims,
        /// Samples of the prediction.
        pred: usize,
        /// Samples of the reference.
        reference: usize,
    },
    /// The spacing is not finite and positive.
    #[error("invalid voxel spacing {spacing:?} mm (every component must be finite and > 0)")]
    InvalidSpacing {
        /// Offending spacing.
        spacing: [f64; 3],
    },
    /// A label map holds a value that is not a label (negative, fractional, too large).
    #[error("the {which} holds the value {value}, which is not a label (labels are integers in 0..={max})")]
    NotALabelMap {
        /// "prediction" or "reference".
        which: &'static str,
        /// First offending value.
        value: f32,
        /// Largest accepted label.
        max: u32,
    },
}

/// Agreement of one class between prediction and reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// Class name.
    pub name: String,
    /// `2|P∩R| / (|P|+|R|)`; 1 when both masks are empty.
    pub dice: f64,
    /// `|P∩R| / |P∪R|`; 1 when both masks are empty.
    pub jaccard: f64,
    /// 95th percentile of the symmetric boundary distances (mm); `None` if a mask is empty.
    pub hd95_mm: Option<f64>,
    /// Mean of the symmetric boundary distances (mm); `None` if a mask is empty.
    pub mean_surface_distance_mm: Option<f64>,
    /// Volume of the prediction on the compared (reference) grid, mm³.
    pub pred_volume_mm3: f64,
    /// Volume of the reference, mm³.
    pub ref_volume_mm3: f64,
    /// `pred_volume_mm3 - ref_volume_mm3`.
    pub volume_difference_mm3: f64,
    /// Volume difference in percent of the reference volume; `None` when the reference is empty.
    pub volume_difference_percent: Option<f64>,
    /// Why a metric is missing, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A class to evaluate: its label values in the prediction and in the reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassPair {
    /// Class name.
    pub name: String,
    /// Label values of the class in the prediction.
    pub pred: LabelSet,
    /// Label values of the class in the reference.
    pub reference: LabelSet,
}

/// Result of [`evaluate_labels`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelEvaluation {
    /// True when the prediction was resampled onto the reference grid (grids differ).
    pub resampled: bool,
    /// Metrics per class, in the order of the classes given (or of label value by default).
    pub classes: Vec<ClassMetrics>,
}

fn check_spacing(spacing: [f64; 3]) -> Result<(), EvaluateError> {
    if spacing.iter().all(|s| s.is_finite() && *s > 0.0) {
        Ok(())
    } else {
        Err(EvaluateError::InvalidSpacing { spacing })
    }
}

/// Compares two masks (nonzero = foreground) on the same grid.
///
/// `dims` is the grid size (x fastest) and `spacing` the voxel size in mm. The returned metrics
/// have an empty `name`; set it as needed. Work is confined to the bounding box of the union
/// of both masks, so small structures in large grids are cheap.
pub fn evaluate_masks(
    pred: &[u8],
    reference: &[u8],
    dims: Dims,
    spacing: [f64; 3],
) -> Result<ClassMetrics, EvaluateError> {
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if n != Some(pred.len()) || n != Some(reference.len()) {
        return Err(EvaluateError::SizeMismatch {
            dims,
            pred: pred.len(),
            reference: reference.len(),
        });
    }
    check_spacing(spacing)?;
    let union = |i: usize| pred[i] != 0 || reference[i] != 0;
    let Some(bounds) = bounding_box(dims, union) else {
        return Ok(metrics_from_counts(0, 0, 0, spacing, None));
    };
    let crop = bounds.grown(dims);
    let pred_crop = crop.extract(dims, |i| pred[i] != 0);
    let ref_crop = crop.extract(dims, |i| reference[i] != 0);
    Ok(evaluate_cropped(&pred_crop, &ref_crop, crop.dims(), spacing))
}

/// Metrics of two masks already cropped to a box holding every foreground voxel plus a
/// one-voxel background margin (except where the box meets the grid's edge).
fn evaluate_cropped(pred: &[u8], reference: &[u8], dims: Dims, spacing: [f64; 3]) -> ClassMetrics {
    let (both, np, nr) = pred
        .par_iter()
        .zip(reference)
        .map(|(&p, &r)| (u64::from(p != 0 && r != 0), u64::from(p != 0), u64::from(r != 0)))
        .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    let distances = (np > 0 && nr > 0).then(|| surface_distances(pred, reference, dims, spacing));
    metrics_from_counts(both, np, nr, spacing, distances)
}

fn metrics_from_counts(both: u64, np: u64, nr: u64, spacing: [f64; 3], distances: Option<Vec<f32>>) -> ClassMetrics {
    let voxel = spacing.iter().product::<f64>();
    let (pred_volume, ref_volume) = (np as f64 * voxel, nr as f64 * voxel);
    let (dice, jaccard) = if np + nr == 0 {
        (1.0, 1.0)
    } else {
        let union = np + nr - both;
        (2.0 * both as f64 / (np + nr) as f64, both as f64 / union as f64)
    };
    let note = match (np, nr) {
        (0, 0) => Some("both masks are empty: no surface distances".to_string()),
        (0, _) => Some("the prediction is empty: no surface distances".to_string()),
        (_, 0) => Some("the reference is empty: no surface distances".to_string()),
        _ => None,
    };
    let (hd95, msd) = match distances {
        Some(mut d) if !d.is_empty() => {
            let mean = d.par_iter().map(|&v| f64::from(v)).sum::<f64>() / d.len() as f64;
            (Some(percentile(&mut d, 95.0)), Some(mean))
        }
        _ => (None, None),
    };
    ClassMetrics {
        name: String::new(),
        dice,
        jaccard,
        hd95_mm: hd95,
        mean_surface_distance_mm: msd,
        pred_volume_mm3: pred_volume,
        ref_volume_mm3: ref_volume,
        volume_difference_mm3: pred_volume - ref_volume,
        volume_difference_percent: (nr > 0).then(|| 100.0 * (pred_volume - ref_volume) / ref_volume),
        note,
    }
}

/// The `q`-th percentile (0..=100) with linear interpolation between order statistics.
/// `values` must be non-empty; it is reordered.
fn percentile(values: &mut [f32], q: f64) -> f64 {
    values.par_sort_unstable_by(f32::total_cmp);
    let rank = q / 100.0 * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(values.len() - 1);
    let t = rank - lo as f64;
    f64::from(values[lo]) * (1.0 - t) + f64::from(values[hi]) * t
}

/// Distances (mm) from every boundary voxel of `a` to the nearest boundary voxel of `b`, and
/// from every boundary voxel of `b` to the nearest of `a`. Both masks are non-empty.
fn surface_distances(a: &[u8], b: &[u8], dims: Dims, spacing: [f64; 3]) -> Vec<f32> {
    let boundary_a = boundary(a, dims);
    let boundary_b = boundary(b, dims);
    let (to_b, to_a) = rayon::join(
        || distance_transform_mm(&boundary_b, dims, spacing),
        || distance_transform_mm(&boundary_a, dims, spacing),
    );
    let directed = |from: &[u8], to: &[f32]| -> Vec<f32> {
        from.par_iter()
            .zip(to)
            .filter(|(&f, _)| f != 0)
            .map(|(_, &d)| d)
            .collect()
    };
    let mut all = directed(&boundary_a, &to_b);
    all.extend(directed(&boundary_b, &to_a));
    all
}

/// Foreground voxels with a face neighbour that is background or outside the grid (1), else 0.
fn boundary(mask: &[u8], dims: Dims) -> Vec<u8> {
    let [nx, ny, nz] = dims;
    let slice_len = nx * ny;
    let mut out = vec![0u8; mask.len()];
    out.par_chunks_mut(slice_len).enumerate().for_each(|(z, slice)| {
        for y in 0..ny {
            for x in 0..nx {
                let i = x + nx * (y + ny * z);
                if mask[i] == 0 {
                    continue;
                }
                let background = |inside: bool, j: usize| !inside || mask[j] == 0;
                let edge = background(x > 0, i.wrapping_sub(1))
                    || background(x + 1 < nx, i + 1)
                    || background(y > 0, i.wrapping_sub(nx))
                    || background(y + 1 < ny, i + nx)
                    || background(z > 0, i.wrapping_sub(slice_len))
                    || background(z + 1 < nz, i + slice_len);
                slice[x + nx * y] = u8::from(edge);
            }
        }
    });
    out
}

/// Inclusive voxel bounding box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bounds {
    lo: [usize; 3],
    hi: [usize; 3],
}

impl Bounds {
    fn point(p: [usize; 3]) -> Self {
        Self { lo: p, hi: p }
    }

    fn merge(self, other: Self) -> Self {
        Self {
            lo: std::array::from_fn(|a| self.lo[a].min(other.lo[a])),
            hi: std::array::from_fn(|a| self.hi[a].max(other.hi[a])),
        }
    }

    /// The box grown by one voxel on every side, clamped to the grid.
    fn grown(self, dims: Dims) -> Self {
        Self {
            lo: self.lo.map(|v| v.saturating_sub(1)),
            hi: std::array::from_fn(|a| (self.hi[a] + 1).min(dims[a] - 1)),
        }
    }

    fn dims(&self) -> Dims {
        std::array::from_fn(|a| self.hi[a] - self.lo[a] + 1)
    }

    /// The box's voxels as a mask (x fastest): 1 where `inside(linear index in the grid)`.
    fn extract(&self, dims: Dims, inside: impl Fn(usize) -> bool + Sync) -> Vec<u8> {
        let [cx, cy, cz] = self.dims();
        let mut out = vec![0u8; cx * cy * cz];
        out.par_chunks_mut(cx * cy).enumerate().for_each(|(z, slice)| {
            for (y, row) in slice.chunks_mut(cx).enumerate() {
                let start = self.lo[0] + dims[0] * (self.lo[1] + y + dims[1] * (self.lo[2] + z));
                for (x, v) in row.iter_mut().enumerate() {
                    *v = u8::from(inside(start + x));
                }
            }
        });
        out
    }
}

/// Bounding box of the voxels whose linear index satisfies `inside`; `None` when there is none.
fn bounding_box(dims: Dims, inside: impl Fn(usize) -> bool + Sync) -> Option<Bounds> {
    let [nx, ny, nz] = dims;
    (0..nz)
        .into_par_iter()
        .filter_map(|z| {
            let mut bounds: Option<Bounds> = None;
            for y in 0..ny {
                let row = nx * (y + ny * z);
                let first = (0..nx).find(|&x| inside(row + x));
                if let Some(first) = first {
                    let last = (first..nx).rev().find(|&x| inside(row + x)).unwrap_or(first);
                    let b = Bounds {
                        lo: [first, y, z],
                        hi: [last, y, z],
                    };
                    bounds = Some(bounds.map_or(b, |acc| acc.merge(b)));
                }
            }
            bounds
        })
        .reduce_with(Bounds::merge)
}

/// True when two grids share size and voxel-to-patient mapping (every affine entry within
/// [`SAME_GRID_TOLERANCE_MM`]).
pub fn same_grid(a_dims: Dims, a: &Geometry, b_dims: Dims, b: &Geometry) -> bool {
    let (ma, mb) = (a.affine(), b.affine());
    a_dims == b_dims
        && ma
            .iter()
            .flatten()
            .zip(mb.iter().flatten())
            .all(|(x, y)| (x - y).abs() <= SAME_GRID_TOLERANCE_MM)
}

/// Converts a label map to u16 labels, rejecting values that are not labels.
fn to_labels<T: Sample>(values: &[T], which: &'static str) -> Result<Vec<u16>, EvaluateError> {
    let labels: Vec<Option<u16>> = values
        .par_iter()
        .map(|v| {
            let f = v.to_f32();
            (f >= 0.0 && f <= MAX_LABEL as f32 && f.fract() == 0.0).then_some(f as u16)
        })
        .collect();
    if let Some(bad) = labels.par_iter().position_any(Option::is_none) {
        return Err(EvaluateError::NotALabelMap {
            which,
            value: values[bad].to_f32(),
            max: MAX_LABEL,
        });
    }
    Ok(labels.into_iter().flatten().collect())
}

/// Nearest-neighbour resampling of `source` labels onto the grid (`dims`, `geometry`):
/// each target voxel centre → patient mm → source continuous index → rounded; outside → 0.
pub fn resample_labels_nearest(
    source: &[u16],
    source_dims: Dims,
    source_geometry: &Geometry,
    dims: Dims,
    geometry: &Geometry,
) -> Vec<u16> {
    // Source index = offset + Σ_c step[c] · target index[c] (affine composition).
    let offset = source_geometry.patient_to_index(geometry.index_to_patient([0.0; 3]));
    let step: [[f64; 3]; 3] = std::array::from_fn(|c| {
        let mut unit = [0.0; 3];
        unit[c] = 1.0;
        let p = source_geometry.patient_to_index(geometry.index_to_patient(unit));
        std::array::from_fn(|a| p[a] - offset[a])
    });
    let [nx, ny, _] = dims;
    let mut out = vec![0u16; nx * ny * dims[2]];
    out.par_chunks_mut(nx * ny).enumerate().for_each(|(z, slice)| {
        for (y, row) in slice.chunks_mut(nx).enumerate() {
            for (x, v) in row.iter_mut().enumerate() {
                let t = [x as f64, y as f64, z as f64];
                let mut index = [0usize; 3];
                let mut inside = true;
                for a in 0..3 {
                    let s = (offset[a] + step[0][a] * t[0] + step[1][a] * t[1] + step[2][a] * t[2]).round();
                    inside &= s >= 0.0 && s < source_dims[a] as f64;
                    index[a] = s as usize;
                }
                if inside {
                    *v = source[index[0] + source_dims[0] * (index[1] + source_dims[1] * index[2])];
                }
            }
        }
    });
    out
}

/// Bounding box of every nonzero label value.
fn label_bounds(labels: &[u16], dims: Dims) -> HashMap<u16, Bounds> {
    let [nx, ny, nz] = dims;
    let merge_into = |mut acc: HashMap<u16, Bounds>, other: HashMap<u16, Bounds>| {
        for (label, b) in other {
            acc.entry(label).and_modify(|e| *e = e.merge(b)).or_insert(b);
        }
        acc
    };
    (0..nz)
        .into_par_iter()
        .map(|z| {
            let mut map: HashMap<u16, Bounds> = HashMap::new();
            for y in 0..ny {
                let row = &labels[nx * (y + ny * z)..][..nx];
                let mut x = 0;
                while x < nx {
                    let label = row[x];
                    let start = x;
                    while x < nx && row[x] == label {
                        x += 1;
                    }
                    if label != 0 {
                        let run = Bounds::point([start, y, z]).merge(Bounds::point([x - 1, y, z]));
                        map.entry(label).and_modify(|e| *e = e.merge(run)).or_insert(run);
                    }
                }
            }
            map
        })
        .reduce(HashMap::new, merge_into)
}

/// One class per nonzero label value present in either map, named by its value.
fn default_classes(pred: &HashMap<u16, Bounds>, reference: &HashMap<u16, Bounds>) -> Vec<ClassPair> {
    let mut values: Vec<u16> = pred.keys().chain(reference.keys()).copied().collect();
    values.sort_unstable();
    values.dedup();
    values
        .into_iter()
        .map(|v| ClassPair {
            name: v.to_string(),
            pred: LabelSet::single(u32::from(v)),
            reference: LabelSet::single(u32::from(v)),
        })
        .collect()
}

/// Evaluates a predicted label map against a reference label map, class by class.
///
/// Label values must be integers in `0..=MAX_LABEL` (0 = background). When the grids differ
/// the prediction is resampled onto the reference grid (nearest neighbour in patient space);
/// volumes are measured on the reference grid. `classes = None` evaluates every nonzero label
/// value present in either map as its own class.
pub fn evaluate_labels<P: Sample, R: Sample>(
    pred: &Volume<P>,
    reference: &Volume<R>,
    classes: Option<&[ClassPair]>,
) -> Result<LabelEvaluation, EvaluateError> {
    let spacing = reference.geometry.spacing;
    check_spacing(spacing)?;
    check_spacing(pred.geometry.spacing)?;
    let dims = reference.dims();
    let ref_labels = to_labels(reference.data(), "reference")?;
    let pred_native = to_labels(pred.data(), "prediction")?;
    let resampled = !same_grid(pred.dims(), &pred.geometry, dims, &reference.geometry);
    let pred_labels = if resampled {
        tracing::info!(pred = ?pred.dims(), reference = ?dims, "grids differ: resampling the prediction onto the reference grid");
        resample_labels_nearest(&pred_native, pred.dims(), &pred.geometry, dims, &reference.geometry)
    } else {
        pred_native
    };
    let (pred_bounds, ref_bounds) =
        rayon::join(|| label_bounds(&pred_labels, dims), || label_bounds(&ref_labels, dims));
    let defaults;
    let classes = match classes {
        Some(c) => c,
        None => {
            defaults = default_classes(&pred_bounds, &ref_bounds);
            &defaults
        }
    };
    let class_bounds = |set: &LabelSet, map: &HashMap<u16, Bounds>| {
        map.iter()
            .filter(|(&label, _)| set.contains(u32::from(label)))
            .map(|(_, &b)| b)
            .reduce(Bounds::merge)
    };
    let metrics = classes
        .iter()
        .map(|class| {
            let bounds = [
                class_bounds(&class.pred, &pred_bounds),
                class_bounds(&class.reference, &ref_bounds),
            ]
            .into_iter()
            .flatten()
            .reduce(Bounds::merge);
            let mut m = match bounds {
                None => metrics_from_counts(0, 0, 0, spacing, None),
                Some(b) => {
                    let crop = b.grown(dims);
                    let p = crop.extract(dims, |i| class.pred.contains(u32::from(pred_labels[i])));
                    let r = crop.extract(dims, |i| class.reference.contains(u32::from(ref_labels[i])));
                    evaluate_cropped(&p, &r, crop.dims(), spacing)
                }
            };
            m.name = class.name.clone();
            m
        })
        .collect();
    Ok(LabelEvaluation {
        resampled,
        classes: metrics,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_against_itself_and_empty() {
        let dims = [5, 5, 5];
        let mut a = vec![0u8; 125];
        for z in 1..4 {
            for y in 1..4 {
                for x in 1..4 {
                    a[x + 5 * (y + 5 * z)] = 1;
                }
            }
        }
        let same = evaluate_masks(&a, &a, dims, [1.0, 2.0, 3.0]).expect("valid");
        assert_eq!((same.dice, same.jaccard), (1.0, 1.0));
        assert_eq!(same.hd95_mm, Some(0.0));
        assert_eq!(same.pred_volume_mm3, 27.0 * 6.0);
        let empty = vec![0u8; 125];
        let one_empty = evaluate_masks(&a, &empty, dims, [1.0; 3]).expect("valid");
        assert_eq!((one_empty.dice, one_empty.hd95_mm), (0.0, None));
        assert!(one_empty.note.is_some() && one_empty.volume_difference_percent.is_none());
        let both_empty = evaluate_masks(&empty, &empty, dims, [1.0; 3]).expect("valid");
        assert_eq!(both_empty.dice, 1.0);
        assert!(evaluate_masks(&a, &a[1..], dims, [1.0; 3]).is_err());
        assert!(evaluate_masks(&a, &a, dims, [1.0, 0.0, 1.0]).is_err());
    }

    #[test]
    fn percentile_interpolates() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0, 0.0];
        assert_eq!(percentile(&mut v, 50.0), 2.0);
        assert!((percentile(&mut v, 95.0) - 3.8).abs() < 1e-6);
    }
}
