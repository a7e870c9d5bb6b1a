//! Training samples from a labelled scan: balanced bone / non-bone voxels of the body, half of
//! each class taken near the bone boundary where the classifier has to decide.

use super::features::{compute_features, FeatureConfig, FeatureMatrix};
use crate::body::body_mask;
use crate::SegmentError;
use medprint_volume::Volume;
use rand::seq::index::sample;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Distance (voxels along an axis) within which a voxel counts as near the bone boundary.
pub const BOUNDARY_BAND_VOXELS: usize = 2;

/// Draws up to `max_samples` body voxels of `scan` (HU), half bone and half not
/// (`bone_truth` nonzero = bone, same grid), half of each class from the band of
/// [`BOUNDARY_BAND_VOXELS`] around the bone boundary (fewer if a class has fewer voxels), and
/// returns their features (with `extra` classifier outputs) and labels (1 = bone). Deterministic
/// for a `seed`; rows are in voxel order.
pub fn sample_training_set(
    scan: &Volume<i16>,
    bone_truth: &[u8],
    extra: &[&Volume<u8>],
    max_samples: usize,
    seed: u64,
    config: &FeatureConfig,
) -> Result<(FeatureMatrix, Vec<u8>), SegmentError> {
    if bone_truth.len() != scan.len() {
        return Err(SegmentError::SizeMismatch {
            left: scan.len(),
            right: bone_truth.len(),
        });
    }
    if max_samples < 2 {
        return Err(SegmentError::InvalidParameter {
            name: "max_samples",
            value: max_samples as f64,
            reason: "≥ 2 (one per class)",
        });
    }
    let body = body_mask(scan)?;
    let near_boundary = boundary_band(scan.dims(), bone_truth);
    // [class][0 = near boundary, 1 = elsewhere]
    let mut groups: [[Vec<usize>; 2]; 2] = Default::default();
    for (v, (&inside, &truth)) in body.mask.iter().zip(bone_truth).enumerate() {
        // Bone voxels outside the body mask (rare) are kept: the truth says they are bone.
        if inside != 0 || truth != 0 {
            groups[usize::from(truth != 0)][usize::from(near_boundary[v] == 0)].push(v);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per_class = max_samples / 2;
    let mut chosen: Vec<(usize, u8)> = Vec::with_capacity(2 * per_class);
    for (class, [band, rest]) in groups.iter().enumerate() {
        let from_rest = rest.len().min(per_class - (per_class / 2).min(band.len()));
        let from_band = band.len().min(per_class - from_rest);
        for (pool, amount) in [(band, from_band), (rest, from_rest)] {
            chosen.extend(
                sample(&mut rng, pool.len(), amount)
                    .iter()
                    .map(|i| (pool[i], class as u8)),
            );
        }
    }
    chosen.sort_unstable();
    let voxels: Vec<usize> = chosen.iter().map(|&(v, _)| v).collect();
    let labels: Vec<u8> = chosen.iter().map(|&(_, l)| l).collect();
    tracing::debug!(
        samples = voxels.len(),
        bone = labels.iter().filter(|&&l| l != 0).count(),
        "training samples drawn"
    );
    Ok((compute_features(scan, config, extra, &voxels)?, labels))
}

/// 1 where a voxel within [`BOUNDARY_BAND_VOXELS`] along any axis has the other label.
fn boundary_band(dims: [usize; 3], truth: &[u8]) -> Vec<u8> {
    let [nx, ny, nz] = dims;
    let steps = [1, nx, nx * ny];
    (0..truth.len())
        .into_par_iter()
        .map(|v| {
            let p = [v % nx, (v / nx) % ny, v / (nx * ny)];
            let own = truth[v] != 0;
            let differs = (0..3).any(|a| {
                (1..=BOUNDARY_BAND_VOXELS).any(|d| {
                    let below = p[a] >= d && (truth[v - d * steps[a]] != 0) != own;
                    let above = p[a] + d < [nx, ny, nz][a] && (truth[v + d * steps[a]] != 0) != own;
                    below || above
                })
            });
            u8::from(differs)
        })
        .collect()
}
