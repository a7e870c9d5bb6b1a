//! The reducer (seed §2.5): combines the bone probability maps of several algorithms
//! (threshold pipeline, decision forest, chained forest) into the final labels, while each
//! algorithm's own result stays available for review.
//!
//! Every map is a `Volume<u8>` on the scan grid, 0..=255 with 128 ≈ undecided, so maps of any
//! algorithm can be combined voxel by voxel.

use crate::components::Connectivity;
use crate::metrics::dice;
use crate::morphology::{fill_holes, remove_components};
use crate::SegmentError;
use medprint_volume::Volume;
use rayon::prelude::*;
use serde::Serialize;

/// One algorithm's bone probability on the scan grid.
#[derive(Debug, Clone)]
pub struct AlgorithmOutput {
    /// Short name shown to reviewers ("threshold", "forest", "chained-forest").
    pub algorithm: String,
    /// Bone probability, 0..=255 (≥ 128 = bone).
    pub probability: Volume<u8>,
}

/// How [`fuse`] combines the maps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum FusionRule {
    /// Weighted mean of the probabilities; one non-negative weight per map (not all zero).
    WeightedMean(Vec<f32>),
    /// Bone where more than half of the maps say bone (≥ 128); a tie goes to the first map.
    /// The fused value is the mean probability of the majority side, so it stays a probability.
    MajorityVote,
    /// The last map alone: a learned reducer (a chained forest whose inputs are the other maps)
    /// has already combined them.
    Learned,
}

/// The fused result and how each algorithm compares with it.
#[derive(Debug, Clone)]
pub struct Fusion {
    /// Fused probability (0..=255).
    pub probability: Volume<u8>,
    /// Per algorithm: bone voxels and Dice against the fused labels (`probability ≥ 128`).
    pub agreement: Vec<AlgorithmAgreement>,
}

/// One algorithm's result next to the fused one (for the report and review).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlgorithmAgreement {
    /// Algorithm name.
    pub algorithm: String,
    /// Voxels with probability ≥ 128.
    pub bone_voxels: u64,
    /// Their volume, mm³.
    pub bone_volume_mm3: f64,
    /// Dice overlap with the fused labels.
    pub dice_vs_fused: f64,
}

fn check_maps(maps: &[AlgorithmOutput]) -> Result<[usize; 3], SegmentError> {
    let first = maps.first().ok_or(SegmentError::InvalidParameter {
        name: "maps",
        value: 0.0,
        reason: "at least one probability map to fuse",
    })?;
    let dims = first.probability.dims();
    for m in maps {
        if m.probability.dims() != dims {
            return Err(SegmentError::SizeMismatch {
                left: first.probability.len(),
                right: m.probability.len(),
            });
        }
    }
    Ok(dims)
}

/// Combines `maps` (same grid) by `rule`.
pub fn fuse(maps: &[AlgorithmOutput], rule: &FusionRule) -> Result<Fusion, SegmentError> {
    check_maps(maps)?;
    let first = &maps[0].probability;
    let slices: Vec<&[u8]> = maps.iter().map(|m| m.probability.data()).collect();
    let data: Vec<u8> = match rule {
        FusionRule::WeightedMean(weights) => {
            if weights.len() != maps.len() {
                return Err(SegmentError::SizeMismatch {
                    left: maps.len(),
                    right: weights.len(),
                });
            }
            let total: f32 = weights.iter().sum();
            if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || total <= 0.0 {
                return Err(SegmentError::InvalidParameter {
                    name: "fusion weights",
                    value: f64::from(total),
                    reason: "finite, non-negative, not all zero",
                });
            }
            let normalised: Vec<f32> = weights.iter().map(|w| w / total).collect();
            (0..first.len())
                .into_par_iter()
                .map(|i| {
                    let p: f32 = slices.iter().zip(&normalised).map(|(s, w)| w * f32::from(s[i])).sum();
                    p.round().clamp(0.0, 255.0) as u8
                })
                .collect()
        }
        FusionRule::MajorityVote => (0..first.len())
            .into_par_iter()
            .map(|i| majority(slices.iter().map(|s| s[i])))
            .collect(),
        FusionRule::Learned => maps[maps.len() - 1].probability.data().to_vec(),
    };
    let probability = Volume::from_vec(first.dims(), data, first.geometry).map_err(|e| SegmentError::SizeMismatch {
        left: e.expected,
        right: e.actual,
    })?;
    let fused_mask: Vec<u8> = probability.data().par_iter().map(|&p| u8::from(p >= 128)).collect();
    let voxel_mm3 = first.geometry.voxel_volume_mm3();
    let agreement = maps
        .iter()
        .map(|m| {
            let mask: Vec<u8> = m.probability.data().par_iter().map(|&p| u8::from(p >= 128)).collect();
            let bone_voxels = mask.par_iter().filter(|&&v| v != 0).count() as u64;
            Ok(AlgorithmAgreement {
                algorithm: m.algorithm.clone(),
                bone_voxels,
                bone_volume_mm3: bone_voxels as f64 * voxel_mm3,
                dice_vs_fused: dice(&mask, &fused_mask)?,
            })
        })
        .collect::<Result<_, SegmentError>>()?;
    Ok(Fusion { probability, agreement })
}

/// Majority of the votes `p ≥ 128`; a tie goes to the first vote. Returns the mean probability
/// of the winning side (≥ 128 when bone wins, < 128 otherwise).
fn majority(values: impl Iterator<Item = u8> + Clone) -> u8 {
    let (mut yes, mut no, mut sum_yes, mut sum_no) = (0u32, 0u32, 0u32, 0u32);
    let mut first_yes = None;
    for v in values {
        let bone = v >= 128;
        first_yes.get_or_insert(bone);
        if bone {
            yes += 1;
            sum_yes += u32::from(v);
        } else {
            no += 1;
            sum_no += u32::from(v);
        }
    }
    let bone = yes > no || (yes == no && first_yes == Some(true));
    if bone {
        (sum_yes / yes.max(1)) as u8
    } else {
        (sum_no / no.max(1)) as u8
    }
}

/// Final bone labels from a fused probability: `p ≥ 128`, 6-connected components smaller than
/// `min_island_mm3` removed, enclosed cavities filled (bones print solid). Returns the mask (0/1)
/// and a surface field whose 127.5 isosurface bounds exactly the mask (`max(p, 128)` inside,
/// `min(p, 127)` outside), smooth where the probability is.
pub fn labels_from_probability(
    probability: &Volume<u8>,
    min_island_mm3: f64,
    fill: bool,
) -> Result<(Volume<u8>, Volume<u8>), SegmentError> {
    if !(min_island_mm3.is_finite() && min_island_mm3 >= 0.0) {
        return Err(SegmentError::InvalidParameter {
            name: "min_island_mm3",
            value: min_island_mm3,
            reason: "finite, ≥ 0 mm³",
        });
    }
    let dims = probability.dims();
    let mut mask: Vec<u8> = probability.data().par_iter().map(|&p| u8::from(p >= 128)).collect();
    let min_voxels = (min_island_mm3 / probability.geometry.voxel_volume_mm3()).ceil() as u64;
    remove_components(&mut mask, dims, min_voxels, |c| vec![true; c.count()])?;
    if fill {
        fill_holes(&mut mask, dims, Connectivity::Face3d)?;
    }
    let surface: Vec<u8> = mask
        .par_iter()
        .zip(probability.data())
        .map(|(&m, &p)| if m != 0 { p.max(128) } else { p.min(127) })
        .collect();
    let wrap = |data: Vec<u8>| {
        Volume::from_vec(dims, data, probability.geometry).map_err(|e| SegmentError::SizeMismatch {
            left: e.expected,
            right: e.actual,
        })
    };
    Ok((wrap(mask)?, wrap(surface)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::Geometry;

    fn map(name: &str, values: Vec<u8>) -> AlgorithmOutput {
        let n = values.len();
        AlgorithmOutput {
            algorithm: name.into(),
            probability: Volume::from_vec([n, 1, 1], values, Geometry::axis_aligned([1.0; 3], [0.0; 3]))
                .expect("sized"),
        }
    }

    #[test]
    fn weighted_mean_vote_and_learned() {
        let a = map("a", vec![255, 0, 200, 100]);
        let b = map("b", vec![255, 255, 0, 100]);
        let c = map("c", vec![0, 255, 0, 255]);
        let maps = [a, b, c];
        let mean = fuse(&maps, &FusionRule::WeightedMean(vec![2.0, 1.0, 1.0])).expect("fuse");
        assert_eq!(mean.probability.data(), &[191, 128, 100, 139]);
        let vote = fuse(&maps, &FusionRule::MajorityVote).expect("fuse");
        let bone: Vec<bool> = vote.probability.data().iter().map(|&p| p >= 128).collect();
        assert_eq!(bone, vec![true, true, false, false]);
        let learned = fuse(&maps, &FusionRule::Learned).expect("fuse");
        assert_eq!(learned.probability.data(), maps[2].probability.data());
        // b agrees with the vote on 3 of 4 voxels: bone {0,1} vs fused {0,1}.
        assert_eq!(vote.agreement[1].bone_voxels, 2);
        assert!((vote.agreement[1].dice_vs_fused - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tie_goes_to_the_first_map() {
        let maps = [map("a", vec![200, 10]), map("b", vec![10, 200])];
        let vote = fuse(&maps, &FusionRule::MajorityVote).expect("fuse");
        assert!(vote.probability.data()[0] >= 128);
        assert!(vote.probability.data()[1] < 128);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(fuse(&[], &FusionRule::MajorityVote).is_err());
        let maps = [map("a", vec![1, 2]), map("b", vec![1, 2, 3])];
        assert!(matches!(
            fuse(&maps, &FusionRule::MajorityVote),
            Err(SegmentError::SizeMismatch { .. })
        ));
        let maps = [map("a", vec![1, 2]), map("b", vec![1, 2])];
        assert!(fuse(&maps, &FusionRule::WeightedMean(vec![1.0])).is_err());
        assert!(fuse(&maps, &FusionRule::WeightedMean(vec![0.0, 0.0])).is_err());
        assert!(fuse(&maps, &FusionRule::WeightedMean(vec![f32::NAN, 1.0])).is_err());
        assert!(labels_from_probability(&maps[0].probability, -1.0, true).is_err());
    }

    #[test]
    fn labels_fill_cavities_and_drop_specks() {
        // A 5×5×5 hollow cube with a one-voxel speck far away, in a 12×7×7 grid.
        let dims = [12, 7, 7];
        let mut p = vec![0u8; dims.iter().product()];
        for z in 1..6 {
            for y in 1..6 {
                for x in 1..6 {
                    let inner = (2..5).contains(&x) && (2..5).contains(&y) && (2..5).contains(&z);
                    p[x + 12 * (y + 7 * z)] = if inner { 20 } else { 240 };
                }
            }
        }
        p[10 + 12 * (3 + 7 * 3)] = 250;
        let v = Volume::from_vec(dims, p, Geometry::axis_aligned([1.0; 3], [0.0; 3])).expect("sized");
        let (mask, surface) = labels_from_probability(&v, 2.0, true).expect("labels");
        assert_eq!(mask.data().iter().filter(|&&m| m != 0).count(), 125);
        assert!(mask
            .data()
            .iter()
            .zip(surface.data())
            .all(|(&m, &s)| (m != 0) == (s >= 128)));
    }
}
