//! The model file `medprint train` writes and `convert --model` reads: a chained forest whose
//! first stage sees the threshold pipeline's result, what "bone" meant in the training labels,
//! and how well it did in cross-validation.

use super::chain::{ChainedForest, LabelledScan};
use super::features::FeatureConfig;
use super::file::{read_model_file, write_model_file, FileKind};
use super::model::{ForestParams, ForestResolution};
use crate::bone::{segment_bone, BoneParams};
use crate::metrics::dice;
use crate::SegmentError;
use medprint_volume::Volume;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Magic bytes of a bone model file.
pub const BONE_MODEL_MAGIC: &[u8; 16] = b"MEDPRINT-BONEMDL";
/// Format version of bone model files written by this build; other versions are rejected.
pub const BONE_MODEL_FORMAT_VERSION: u32 = 1;

const BONE_MODEL_FILE: FileKind = FileKind {
    magic: BONE_MODEL_MAGIC,
    version: BONE_MODEL_FORMAT_VERSION,
    name: "bone model",
};

/// A class as defined by the training labels (e.g. `bone` = TotalSegmentator ids 25..=92).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingClass {
    /// Class name.
    pub name: String,
    /// Inclusive ranges of the label values that belong to it.
    pub label_ranges: Vec<(u32, u32)>,
}

/// Dice of one cross-validation fold on data the forest did not see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoldScore {
    /// What was held out ("scan 2" or "scan 1, slices 15..30").
    pub held_out: String,
    /// Dice of the model on the held-out part.
    pub dice: f64,
    /// Dice of the threshold pipeline alone on the same part (the baseline).
    pub threshold_dice: f64,
}

/// How a model was trained and how well it generalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// medprint version that trained it.
    pub medprint_version: String,
    /// Names of the training scans.
    pub scans: Vec<String>,
    /// Samples drawn per scan.
    pub samples_per_scan: usize,
    /// Forest parameters.
    pub forest: ForestParams,
    /// Number of chained stages.
    pub stages: usize,
    /// Cross-validation folds.
    pub folds: Vec<FoldScore>,
}

impl TrainingSummary {
    /// Mean held-out Dice of the model over the folds (None without folds).
    pub fn mean_dice(&self) -> Option<f64> {
        (!self.folds.is_empty()).then(|| self.folds.iter().map(|f| f.dice).sum::<f64>() / self.folds.len() as f64)
    }
}

/// A trained bone model: chained forests on top of the threshold pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoneModel {
    /// The forests; the first stage's one extra input is the threshold pipeline's surface field.
    pub chain: ChainedForest,
    /// Classes of the training labels.
    pub classes: Vec<TrainingClass>,
    /// Training record.
    pub summary: TrainingSummary,
}

/// A labelled training scan.
#[derive(Debug, Clone)]
pub struct TrainingCase {
    /// Name shown in the summary (file name).
    pub name: String,
    /// The scan, HU.
    pub scan: Volume<i16>,
    /// 1 = bone, same grid.
    pub bone_truth: Vec<u8>,
}

/// Options of [`train_bone_model`].
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Chained stages (≥ 1).
    pub stages: usize,
    /// Samples drawn per scan (balanced bone / not bone).
    pub samples_per_scan: usize,
    /// Forest parameters of every stage.
    pub forest: ForestParams,
    /// Feature parameters.
    pub features: FeatureConfig,
    /// Threshold pipeline whose result the first stage sees.
    pub threshold: BoneParams,
    /// Run cross-validation before training the final model.
    pub cross_validate: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            stages: 2,
            samples_per_scan: 100_000,
            forest: ForestParams {
                trees: 24,
                ..ForestParams::default()
            },
            features: FeatureConfig::default(),
            threshold: BoneParams::default(),
            cross_validate: true,
        }
    }
}

/// The threshold pipeline's result as a forest input: its surface field (> 127.5 ⇔ bone after
/// cleaning, smooth across the boundary).
pub fn threshold_input(scan: &Volume<i16>, params: &BoneParams) -> Result<Volume<u8>, SegmentError> {
    Ok(segment_bone(scan, params)?.surface_field)
}

/// Slices `z0..z1` of `v` as a volume whose geometry keeps patient positions.
fn slab<T: Clone>(v: &Volume<T>, z0: usize, z1: usize) -> Result<Volume<T>, SegmentError> {
    let [nx, ny, _] = v.dims();
    let plane = nx * ny;
    let mut geometry = v.geometry;
    geometry.origin = v.geometry.index_to_patient([0.0, 0.0, z0 as f64]);
    Volume::from_vec([nx, ny, z1 - z0], v.data()[z0 * plane..z1 * plane].to_vec(), geometry).map_err(|e| {
        SegmentError::SizeMismatch {
            left: e.expected,
            right: e.actual,
        }
    })
}

/// Held-out parts for cross-validation: leave one scan out (at most 5 folds) when there are
/// several scans; with one scan, its lower and upper halves of slices in turn.
enum Folds {
    Scans(Vec<usize>),
    Halves,
}

fn mask_of(probability: &Volume<u8>) -> Vec<u8> {
    probability.data().iter().map(|&p| u8::from(p >= 128)).collect()
}

/// Trains the chained model on `cases`, reporting `(step, fraction)` to `progress`.
/// Cross-validation (when asked) trains extra models on parts of the data and measures Dice on
/// the rest; the returned model is trained on everything. Uses all cores.
pub fn train_bone_model(
    cases: &[TrainingCase],
    classes: Vec<TrainingClass>,
    options: &TrainOptions,
    progress: &dyn Fn(&str, f32),
) -> Result<BoneModel, SegmentError> {
    if cases.is_empty() {
        return Err(SegmentError::InvalidParameter {
            name: "training scans",
            value: 0.0,
            reason: "at least one labelled scan",
        });
    }
    for case in cases {
        if case.bone_truth.len() != case.scan.len() {
            return Err(SegmentError::SizeMismatch {
                left: case.scan.len(),
                right: case.bone_truth.len(),
            });
        }
    }
    let mut folds = Vec::new();
    if options.cross_validate {
        let plan = if cases.len() > 1 {
            Folds::Scans((0..cases.len().min(5)).collect())
        } else {
            Folds::Halves
        };
        folds = cross_validate(cases, options, plan, progress)?;
    }
    progress("final model", 0.8);
    let chain = train_chain(cases, options)?;
    progress("done", 1.0);
    Ok(BoneModel {
        chain,
        classes,
        summary: TrainingSummary {
            medprint_version: env!("CARGO_PKG_VERSION").to_string(),
            scans: cases.iter().map(|c| c.name.clone()).collect(),
            samples_per_scan: options.samples_per_scan,
            forest: options.forest.clone(),
            stages: options.stages,
            folds,
        },
    })
}

fn train_chain(cases: &[TrainingCase], options: &TrainOptions) -> Result<ChainedForest, SegmentError> {
    let inputs: Vec<Volume<u8>> = cases
        .iter()
        .map(|c| threshold_input(&c.scan, &options.threshold))
        .collect::<Result<_, _>>()?;
    let labelled: Vec<LabelledScan> = cases
        .iter()
        .zip(&inputs)
        .map(|(c, input)| LabelledScan {
            scan: &c.scan,
            bone_truth: &c.bone_truth,
            extra: vec![input],
        })
        .collect();
    ChainedForest::train(
        &labelled,
        options.stages,
        options.samples_per_scan,
        &options.features,
        &options.forest,
    )
}

fn cross_validate(
    cases: &[TrainingCase],
    options: &TrainOptions,
    plan: Folds,
    progress: &dyn Fn(&str, f32),
) -> Result<Vec<FoldScore>, SegmentError> {
    let mut scores = Vec::new();
    match plan {
        Folds::Scans(held) => {
            let n = held.len();
            for (k, &h) in held.iter().enumerate() {
                progress(
                    &format!("cross-validation fold {}/{n}", k + 1),
                    0.8 * k as f32 / n as f32,
                );
                let train: Vec<TrainingCase> = cases
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != h)
                    .map(|(_, c)| c.clone())
                    .collect();
                let held_out = &cases[h];
                scores.push(score_fold(&train, held_out, options, held_out.name.clone())?);
            }
        }
        Folds::Halves => {
            let case = &cases[0];
            let [nx, ny, nz] = case.scan.dims();
            if nz < 4 {
                return Ok(scores);
            }
            let half = nz / 2;
            let plane = nx * ny;
            let parts = [(0, half), (half, nz)];
            for (k, &(z0, z1)) in parts.iter().enumerate() {
                progress(&format!("cross-validation fold {}/2", k + 1), 0.4 * k as f32);
                let (t0, t1) = parts[1 - k];
                let train = TrainingCase {
                    name: format!("{} slices {t0}..{t1}", case.name),
                    scan: slab(&case.scan, t0, t1)?,
                    bone_truth: case.bone_truth[t0 * plane..t1 * plane].to_vec(),
                };
                let test = TrainingCase {
                    name: format!("{} slices {z0}..{z1}", case.name),
                    scan: slab(&case.scan, z0, z1)?,
                    bone_truth: case.bone_truth[z0 * plane..z1 * plane].to_vec(),
                };
                let name = test.name.clone();
                scores.push(score_fold(std::slice::from_ref(&train), &test, options, name)?);
            }
        }
    }
    Ok(scores)
}

fn score_fold(
    train: &[TrainingCase],
    test: &TrainingCase,
    options: &TrainOptions,
    held_out: String,
) -> Result<FoldScore, SegmentError> {
    let chain = train_chain(train, options)?;
    let baseline = threshold_input(&test.scan, &options.threshold)?;
    let predicted = chain.predict_volume(&test.scan, &[&baseline], ForestResolution::Full)?;
    Ok(FoldScore {
        held_out,
        dice: dice(&mask_of(&predicted), &test.bone_truth)?,
        threshold_dice: dice(&mask_of(&baseline), &test.bone_truth)?,
    })
}

impl BoneModel {
    /// Writes the model ([`BONE_MODEL_MAGIC`], [`BONE_MODEL_FORMAT_VERSION`], postcard body).
    pub fn save(&self, path: &Path) -> Result<(), SegmentError> {
        write_model_file(path, BONE_MODEL_FILE, self)
    }

    /// Reads a model written by [`save`](Self::save); a file of another kind or version, a
    /// truncated or inconsistent one gives [`SegmentError::ModelFile`].
    pub fn load(path: &Path) -> Result<Self, SegmentError> {
        read_model_file(path, BONE_MODEL_FILE, Self::validate)
    }

    fn validate(&self) -> Result<(), String> {
        if self.chain.stages.is_empty() {
            return Err("no forest stages".into());
        }
        for (i, stage) in self.chain.stages.iter().enumerate() {
            stage.validate().map_err(|e| format!("stage {i}: {e}"))?;
            let extras = stage.layout().map(|l| l.extras);
            let expected = 1 + usize::from(i > 0);
            if extras != Some(expected) {
                return Err(format!(
                    "stage {i} expects {extras:?} classifier inputs, the pipeline gives {expected}"
                ));
            }
        }
        Ok(())
    }

    /// Bone probability (0..=255) of `scan` given the threshold pipeline's surface field on the
    /// same grid (see [`threshold_input`]).
    pub fn predict(
        &self,
        scan: &Volume<i16>,
        threshold_surface: &Volume<u8>,
        mode: ForestResolution,
    ) -> Result<Volume<u8>, SegmentError> {
        if threshold_surface.dims() != scan.dims() {
            return Err(SegmentError::SizeMismatch {
                left: scan.len(),
                right: threshold_surface.len(),
            });
        }
        self.chain.predict_volume(scan, &[threshold_surface], mode)
    }
}
