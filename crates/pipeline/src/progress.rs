//! Progress reporting for long stages.

use serde::Serialize;

/// The pipeline stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Finding, decoding and ordering the input.
    Load,
    /// Anomaly checks: is it a CT, metal, table, noise, slices, field of view.
    Check,
    /// Bone segmentation.
    Segment,
    /// The trained model and the fusion of its result with the threshold's.
    Model,
    /// Isosurface extraction.
    Surface,
    /// Smoothing, decimation, repair, validation.
    Condition,
    /// Separation of touching bones.
    Curing,
    /// Models at alternative thresholds.
    Alternatives,
    /// Tissue classes besides bone and their models.
    Tissues,
    /// Print preparation.
    PrintPrep,
    /// Writing STL, 3MF and the label volume.
    Export,
    /// Rendering PNG previews.
    Preview,
}

impl Stage {
    /// The stages a run with `options` goes through, in order.
    pub fn planned(options: &crate::ConvertOptions) -> Vec<Stage> {
        let mut stages = vec![Stage::Load, Stage::Check, Stage::Segment];
        if options.model.is_some() {
            stages.push(Stage::Model);
        }
        if options.separate_bones {
            stages.push(Stage::Curing);
        }
        stages.extend([Stage::Surface, Stage::Condition]);
        if !options.alternatives_hu.is_empty() {
            stages.push(Stage::Alternatives);
        }
        if !options.tissues.is_empty() {
            stages.push(Stage::Tissues);
        }
        if options.print.is_some() {
            stages.push(Stage::PrintPrep);
        }
        stages.push(Stage::Export);
        if options.previews {
            stages.push(Stage::Preview);
        }
        stages
    }

    /// Short human-readable name.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Load => "load scan",
            Stage::Check => "check scan",
            Stage::Segment => "segment bone",
            Stage::Model => "trained model",
            Stage::Surface => "extract surface",
            Stage::Condition => "condition mesh",
            Stage::Curing => "separate bones",
            Stage::Alternatives => "alternative models",
            Stage::Tissues => "tissue models",
            Stage::PrintPrep => "print preparation",
            Stage::Export => "write models",
            Stage::Preview => "render previews",
        }
    }
}

/// Receives progress; implementations must be cheap and thread-safe.
pub trait Progress: Sync {
    /// A stage starts.
    fn start(&self, stage: Stage);
    /// Fraction (0..=1) of the current stage done; `step` names the step now running.
    fn advance(&self, stage: Stage, fraction: f32, step: &str);
    /// A stage ended after `millis` milliseconds.
    fn finish(&self, stage: Stage, millis: f64);
}

/// Discards progress.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: Stage) {}
    fn advance(&self, _: Stage, _: f32, _: &str) {}
    fn finish(&self, _: Stage, _: f64) {}
}
