//! Chained decision forests (seed §2.5): each stage sees the voxel features, the outputs of the
//! other classifiers (e.g. the threshold probability) and the previous stage's probability.

use super::features::FeatureConfig;
use super::model::{BoneForest, ForestParams, ForestResolution};
use super::sampling::sample_training_set;
use crate::SegmentError;
use medprint_volume::Volume;
use serde::{Deserialize, Serialize};

/// A labelled scan for training.
pub struct LabelledScan<'a> {
    /// The scan (HU).
    pub scan: &'a Volume<i16>,
    /// Nonzero = bone, same grid as `scan`.
    pub bone_truth: &'a [u8],
    /// Other classifier outputs (0..=255 on the scan grid), the same kinds for every scan.
    pub extra: Vec<&'a Volume<u8>>,
}

/// Forests applied in sequence; stage `k > 0` has the previous stage's probability as its last
/// extra input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainedForest {
    /// The stages, first to last.
    pub stages: Vec<BoneForest>,
}

impl ChainedForest {
    /// Trains `stages` (≥ 1) forests on samples of `cases` (at most `max_samples_per_scan`
    /// each). The previous stage's input to the next one is its full-resolution prediction on
    /// the training scans.
    pub fn train(
        cases: &[LabelledScan<'_>],
        stages: usize,
        max_samples_per_scan: usize,
        config: &FeatureConfig,
        params: &ForestParams,
    ) -> Result<Self, SegmentError> {
        if stages == 0 || cases.is_empty() {
            return Err(SegmentError::InvalidParameter {
                name: "stages / cases",
                value: stages.min(cases.len()) as f64,
                reason: "at least one stage and one training scan",
            });
        }
        let mut previous: Vec<Option<Volume<u8>>> = vec![None; cases.len()];
        let mut forests = Vec::with_capacity(stages);
        for stage in 0..stages {
            let mut samples = None;
            let mut labels = Vec::new();
            for (case, prior) in cases.iter().zip(&previous) {
                let mut extra = case.extra.clone();
                extra.extend(prior.iter());
                let seed = params.seed.wrapping_add(stage as u64);
                let (m, l) =
                    sample_training_set(case.scan, case.bone_truth, &extra, max_samples_per_scan, seed, config)?;
                match &mut samples {
                    None => samples = Some(m),
                    Some(all) => all.append(&m)?,
                }
                labels.extend(l);
            }
            let Some(samples) = samples else {
                break;
            };
            let stage_params = ForestParams {
                seed: params.seed.wrapping_add(0x5eed * stage as u64),
                ..params.clone()
            };
            let forest = BoneForest::train(&samples, &labels, &stage_params)?;
            if stage + 1 < stages {
                for (case, prior) in cases.iter().zip(previous.iter_mut()) {
                    let mut extra = case.extra.clone();
                    extra.extend(prior.iter());
                    let probability = forest.predict_volume(case.scan, &extra, ForestResolution::Full)?;
                    *prior = Some(probability);
                }
            }
            forests.push(forest);
        }
        Ok(Self { stages: forests })
    }

    /// Bone probability (0..=255) of every voxel of `scan` (HU) from the last stage; `extra` as
    /// in training. Every stage is evaluated at `mode`.
    pub fn predict_volume(
        &self,
        scan: &Volume<i16>,
        extra: &[&Volume<u8>],
        mode: ForestResolution,
    ) -> Result<Volume<u8>, SegmentError> {
        let mut previous: Option<Volume<u8>> = None;
        for forest in &self.stages {
            let mut inputs = extra.to_vec();
            inputs.extend(previous.iter());
            let probability = forest.predict_volume(scan, &inputs, mode)?;
            previous = Some(probability);
        }
        previous.ok_or(SegmentError::InvalidParameter {
            name: "stages",
            value: 0.0,
            reason: "a chained forest needs at least one stage",
        })
    }
}
