//! The bone random forest: training (rayon over trees), prediction of samples or of whole scans
//! (subsampled grid + trilinear upsampling, or full resolution), and a versioned model file.

use super::features::{FeatureExtractor, FeatureLayout, FeatureMatrix};
use super::file::{read_model_file, write_model_file, FileKind};
use super::tree::{BinnedFeatures, GrowLimits, Tree};
use crate::body::body_mask;
use crate::SegmentError;
use medprint_volume::Volume;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Training parameters of a [`BoneForest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees (1..=10 000).
    pub trees: usize,
    /// Maximum depth of a tree (1..=64; root = depth 0).
    pub max_depth: usize,
    /// Minimum training samples in each leaf (≥ 1).
    pub min_samples_leaf: usize,
    /// Bootstrap size of each tree as a fraction of the samples, drawn with replacement (0, 1].
    pub sample_fraction: f32,
    /// Features tried at each split (≥ 1; clamped to the number of features).
    pub features_per_split: usize,
    /// Seed of the bootstrap and feature sampling: same seed, samples and params → same forest
    /// (independent of the number of threads).
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 32,
            max_depth: 14,
            min_samples_leaf: 5,
            sample_fraction: 0.7,
            features_per_split: 4,
            seed: 0x6d65_6470_7269_6e74,
        }
    }
}

impl ForestParams {
    fn validate(&self) -> Result<(), SegmentError> {
        let invalid = |name: &'static str, value: f64, reason: &'static str| {
            Err(SegmentError::InvalidParameter { name, value, reason })
        };
        if !(1..=10_000).contains(&self.trees) {
            return invalid("trees", self.trees as f64, "1..=10000");
        }
        if !(1..=64).contains(&self.max_depth) {
            return invalid("max_depth", self.max_depth as f64, "1..=64");
        }
        if self.min_samples_leaf == 0 {
            return invalid("min_samples_leaf", 0.0, "≥ 1");
        }
        if !(self.sample_fraction > 0.0 && self.sample_fraction <= 1.0) {
            return invalid("sample_fraction", self.sample_fraction.into(), "(0, 1]");
        }
        if self.features_per_split == 0 {
            return invalid("features_per_split", 0.0, "≥ 1");
        }
        Ok(())
    }
}

/// Where [`BoneForest::predict_volume`] evaluates the forest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForestResolution {
    /// On an in-plane grid of stride 13, 7 or 5 voxels (the largest keeping ≤ 5 mm between
    /// samples; coarser pixels use `floor(5 mm / pixel)`, at least 1), every slice, then
    /// trilinear upsampling (seed §2.4).
    Subsampled,
    /// As [`Subsampled`](Self::Subsampled), then every voxel whose interpolated probability
    /// is uncertain (between [`REFINE_BAND`] bounds: near a boundary, where interpolation
    /// blurs thin structures) is evaluated at full resolution. Costs a fraction of `Full`
    /// and keeps its boundaries.
    Refined,
    /// At every voxel.
    Full,
}

/// Interpolated probabilities (0..=255) inside this inclusive band are re-evaluated at full
/// resolution by [`ForestResolution::Refined`].
pub const REFINE_BAND: (u8, u8) = (26, 229);

/// A random forest that gives the bone probability of a voxel from its features.
///
/// Invariant: every tree is valid for `columns` features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoneForest {
    columns: usize,
    layout: Option<FeatureLayout>,
    trees: Vec<Tree>,
}

/// Magic bytes at the start of a model file.
pub const MODEL_MAGIC: &[u8; 16] = b"MEDPRINT-FOREST\0";
/// Model file format version written by [`BoneForest::save`]; other versions are rejected.
pub const MODEL_FORMAT_VERSION: u32 = 1;
const FOREST_FILE: FileKind = FileKind {
    magic: MODEL_MAGIC,
    version: MODEL_FORMAT_VERSION,
    name: "forest model",
};
/// Voxels whose features are held in memory at once by [`BoneForest::predict_volume`].
const PREDICT_CHUNK: usize = 1 << 18;

impl BoneForest {
    /// Trains on `samples` with `labels` (nonzero = bone), one row per label. Uses all cores.
    pub fn train(samples: &FeatureMatrix, labels: &[u8], params: &ForestParams) -> Result<Self, SegmentError> {
        params.validate()?;
        let rows = samples.rows();
        if rows != labels.len() {
            return Err(SegmentError::SizeMismatch {
                left: rows,
                right: labels.len(),
            });
        }
        if rows == 0 || rows >= u32::MAX as usize {
            return Err(SegmentError::InvalidParameter {
                name: "samples",
                value: rows as f64,
                reason: "1..2^32 training samples",
            });
        }
        let binned = BinnedFeatures::new(samples.columns(), samples.values());
        let limits = GrowLimits {
            max_depth: params.max_depth,
            min_samples_leaf: params.min_samples_leaf,
            features_per_split: params.features_per_split,
        };
        let bootstrap = ((rows as f64 * f64::from(params.sample_fraction)).round() as usize).max(1);
        let trees: Vec<Tree> = (0..params.trees)
            .into_par_iter()
            .map(|t| {
                let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ (t as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let chosen: Vec<u32> = (0..bootstrap).map(|_| rng.random_range(0..rows as u32)).collect();
                Tree::grow(&binned, labels, chosen, &limits, &mut rng)
            })
            .collect();
        tracing::debug!(
            trees = trees.len(),
            nodes = trees.iter().map(Tree::len).sum::<usize>(),
            rows,
            "forest trained"
        );
        Ok(Self {
            columns: samples.columns(),
            layout: samples.layout().cloned(),
            trees,
        })
    }

    /// Number of features a row must have.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// How the training features were computed (`None` when trained on a hand-built matrix:
    /// such a forest cannot [`predict_volume`](Self::predict_volume)).
    pub fn layout(&self) -> Option<&FeatureLayout> {
        self.layout.as_ref()
    }

    /// Mean tree vote: bone probability (0..=1) of each row, in parallel. Errors if the matrix
    /// has another number of columns than the training samples.
    pub fn predict_probability(&self, features: &FeatureMatrix) -> Result<Vec<f32>, SegmentError> {
        if features.columns() != self.columns {
            return Err(SegmentError::SizeMismatch {
                left: self.columns,
                right: features.columns(),
            });
        }
        let scale = 1.0 / self.trees.len() as f32;
        Ok(features
            .values()
            .par_chunks(self.columns)
            .map(|row| self.trees.iter().map(|t| t.predict(row)).sum::<f32>() * scale)
            .collect())
    }

    /// Bone probability (0..=255) of every voxel of `scan` (HU); voxels outside the body are 0.
    /// `extra` must be the same kind and number of classifier outputs as in training.
    pub fn predict_volume(
        &self,
        scan: &Volume<i16>,
        extra: &[&Volume<u8>],
        mode: ForestResolution,
    ) -> Result<Volume<u8>, SegmentError> {
        let layout = self.layout.as_ref().ok_or(SegmentError::InvalidParameter {
            name: "forest",
            value: 0.0,
            reason: "trained on a hand-built feature matrix: cannot compute its features on a scan",
        })?;
        if extra.len() != layout.extras {
            return Err(SegmentError::InvalidParameter {
                name: "extra inputs",
                value: extra.len() as f64,
                reason: "as many extra classifier outputs as in training",
            });
        }
        let extractor = FeatureExtractor::new(scan, &layout.config, extra)?;
        let body = body_mask(scan)?;
        let dims = scan.dims();
        let spacing = scan.geometry.spacing;
        let strides = match mode {
            ForestResolution::Full => [1, 1, 1],
            ForestResolution::Subsampled | ForestResolution::Refined => {
                [subsample_stride(spacing[0]), subsample_stride(spacing[1]), 1]
            }
        };
        let positions: [Vec<usize>; 3] = [0, 1, 2].map(|a| sample_positions(dims[a], strides[a]));
        let coarse_dims = [0, 1, 2].map(|a| positions[a].len());
        // Coarse grid points inside the body, as (coarse index, voxel index).
        let mut targets = Vec::new();
        for (cz, &z) in positions[2].iter().enumerate() {
            for (cy, &y) in positions[1].iter().enumerate() {
                for (cx, &x) in positions[0].iter().enumerate() {
                    let voxel = scan.index(x, y, z);
                    if body.mask[voxel] != 0 {
                        targets.push(((cz * coarse_dims[1] + cy) * coarse_dims[0] + cx, voxel));
                    }
                }
            }
        }
        let mut coarse = vec![0f32; coarse_dims.iter().product()];
        for chunk in targets.chunks(PREDICT_CHUNK) {
            let voxels: Vec<usize> = chunk.iter().map(|&(_, v)| v).collect();
            let probabilities = self.predict_probability(&extractor.features(&voxels)?)?;
            for (&(c, _), p) in chunk.iter().zip(probabilities) {
                coarse[c] = p;
            }
        }
        let data = if strides == [1, 1, 1] {
            coarse.par_iter().map(|&p| to_u8(p)).collect()
        } else {
            let mut data = upsample_trilinear(&coarse, coarse_dims, &positions, dims, &body.mask);
            if mode == ForestResolution::Refined {
                self.refine_uncertain(&extractor, &mut data)?;
            }
            data
        };
        Volume::from_vec(dims, data, scan.geometry).map_err(|_| SegmentError::SizeMismatch {
            left: scan.len(),
            right: coarse.len(),
        })
    }

    /// Re-evaluates at full resolution the voxels whose probability lies in [`REFINE_BAND`].
    fn refine_uncertain(&self, extractor: &FeatureExtractor, data: &mut [u8]) -> Result<(), SegmentError> {
        let uncertain: Vec<usize> = data
            .par_iter()
            .enumerate()
            .filter(|(_, &p)| (REFINE_BAND.0..=REFINE_BAND.1).contains(&p))
            .map(|(i, _)| i)
            .collect();
        for chunk in uncertain.chunks(PREDICT_CHUNK) {
            let probabilities = self.predict_probability(&extractor.features(chunk)?)?;
            for (&voxel, p) in chunk.iter().zip(probabilities) {
                data[voxel] = to_u8(p);
            }
        }
        Ok(())
    }

    /// Writes the forest: [`MODEL_MAGIC`], [`MODEL_FORMAT_VERSION`] (u32 little endian), postcard
    /// body.
    pub fn save(&self, path: &Path) -> Result<(), SegmentError> {
        write_model_file(path, FOREST_FILE, self)
    }

    /// Reads a forest written by [`save`](Self::save). Another format version, a file that is
    /// not a model, a truncated or inconsistent file give [`SegmentError::ModelFile`].
    pub fn load(path: &Path) -> Result<Self, SegmentError> {
        read_model_file(path, FOREST_FILE, Self::validate)
    }

    /// Checks the invariants of a forest read from outside.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.trees.is_empty() {
            return Err("no trees".into());
        }
        if let Some(layout) = &self.layout {
            if layout.config.feature_count(layout.extras) != self.columns {
                return Err("feature layout does not match the number of columns".into());
            }
        }
        self.trees
            .iter()
            .enumerate()
            .try_for_each(|(i, t)| t.validate(self.columns).map_err(|e| format!("tree {i}: {e}")))
    }
}

fn to_u8(p: f32) -> u8 {
    (p * 255.0).round().clamp(0.0, 255.0) as u8
}

/// In-plane stride for the subsampled grid: the largest of 13, 7, 5 whose sample distance
/// `stride × pixel` is ≤ 5 mm; for coarser pixels `floor(5 mm / pixel)`, at least 1.
pub fn subsample_stride(pixel_mm: f64) -> usize {
    const MAX_DISTANCE_MM: f64 = 5.0;
    if !(pixel_mm.is_finite() && pixel_mm > 0.0) {
        return 1;
    }
    [13usize, 7, 5]
        .into_iter()
        .find(|&s| s as f64 * pixel_mm <= MAX_DISTANCE_MM)
        .unwrap_or(((MAX_DISTANCE_MM / pixel_mm).floor() as usize).max(1))
}

/// `0, s, 2s, …` plus the last index, so interpolation covers the whole axis.
fn sample_positions(n: usize, stride: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).step_by(stride.max(1)).collect();
    if p.last() != Some(&(n - 1)) {
        p.push(n - 1);
    }
    p
}

/// Per full-resolution index: (lower coarse index, weight of the upper one).
fn interpolation_weights(positions: &[usize], n: usize) -> Vec<(usize, f32)> {
    let mut j = 0;
    (0..n)
        .map(|i| {
            while j + 2 < positions.len() && positions[j + 1] <= i {
                j += 1;
            }
            if positions.len() == 1 {
                return (0, 0.0);
            }
            let (a, b) = (positions[j], positions[j + 1]);
            (j, (i - a) as f32 / (b - a) as f32)
        })
        .collect()
}

/// Trilinear interpolation of the coarse probabilities to the full grid, 0 outside the body.
fn upsample_trilinear(
    coarse: &[f32],
    coarse_dims: [usize; 3],
    positions: &[Vec<usize>; 3],
    dims: [usize; 3],
    body: &[u8],
) -> Vec<u8> {
    let w: [Vec<(usize, f32)>; 3] = [0, 1, 2].map(|a| interpolation_weights(&positions[a], dims[a]));
    let next = |a: usize, j: usize| (j + 1).min(coarse_dims[a] - 1);
    let at = |x: usize, y: usize, z: usize| coarse[(z * coarse_dims[1] + y) * coarse_dims[0] + x];
    let mut out = vec![0u8; dims.iter().product()];
    out.par_chunks_mut(dims[0] * dims[1])
        .enumerate()
        .for_each(|(z, slice)| {
            let (z0, tz) = w[2][z];
            let z1 = next(2, z0);
            for (y, row) in slice.chunks_mut(dims[0]).enumerate() {
                let (y0, ty) = w[1][y];
                let y1 = next(1, y0);
                let offset = (z * dims[1] + y) * dims[0];
                for (x, value) in row.iter_mut().enumerate() {
                    if body[offset + x] == 0 {
                        continue;
                    }
                    let (x0, tx) = w[0][x];
                    let x1 = next(0, x0);
                    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
                    let plane = |zz: usize| {
                        lerp(
                            lerp(at(x0, y0, zz), at(x1, y0, zz), tx),
                            lerp(at(x0, y1, zz), at(x1, y1, zz), tx),
                            ty,
                        )
                    };
                    *value = to_u8(lerp(plane(z0), plane(z1), tz));
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_keep_five_mm() {
        assert_eq!(subsample_stride(0.35), 13);
        assert_eq!(subsample_stride(0.7), 7);
        assert_eq!(subsample_stride(0.9), 5);
        assert_eq!(subsample_stride(1.2), 4);
        assert_eq!(subsample_stride(3.0), 1);
        assert_eq!(subsample_stride(f64::NAN), 1);
    }

    #[test]
    fn interpolation_covers_the_axis() {
        let p = sample_positions(11, 4);
        assert_eq!(p, vec![0, 4, 8, 10]);
        let w = interpolation_weights(&p, 11);
        assert_eq!(w[0], (0, 0.0));
        assert_eq!(w[6], (1, 0.5));
        assert_eq!(w[9], (2, 0.5));
        assert_eq!(w[10], (2, 1.0));
        assert_eq!(interpolation_weights(&sample_positions(1, 5), 1), vec![(0, 0.0)]);
    }
}
