//! Decision forests for bone (seed §2.4–2.5): per-voxel features, a random forest trained on
//! labelled scans, evaluated on a subsampled grid (then upsampled) or at full resolution, a
//! versioned model file, and chained forests that refine the threshold probability.

pub mod bone_model;
pub mod chain;
pub mod features;
pub mod file;
pub mod model;
pub mod sampling;
pub mod tree;

pub use bone_model::{
    threshold_input, train_bone_model, BoneModel, FoldScore, TrainOptions, TrainingCase, TrainingClass, TrainingSummary,
};
pub use chain::{ChainedForest, LabelledScan};
pub use features::{compute_features, FeatureConfig, FeatureExtractor, FeatureLayout, FeatureMatrix};
pub use file::MAX_MODEL_FILE_BYTES;
pub use model::{
    subsample_stride, BoneForest, ForestParams, ForestResolution, MODEL_FORMAT_VERSION, MODEL_MAGIC, REFINE_BAND,
};
pub use sampling::sample_training_set;
