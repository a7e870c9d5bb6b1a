//! medprint-segment: bone segmentation of CT scans.
//!
//! Every segmentation algorithm yields a per-voxel probability map (`Volume<u8>`, 0..=255,
//! 128 ≈ undecided) so later algorithms (decision forests) can be combined with the threshold
//! method. The threshold pipeline ([`bone::segment_bone`]) follows sections 2.2–2.3 of the
//! method: histogram-derived threshold, logistic probability, removal of the scanner table and
//! of small islands, and hole filling so bones print solid.

pub mod anomaly;
pub mod body;
pub mod bone;
pub mod components;
pub mod contrast;
pub mod curing;
pub mod edge;
pub mod edits;
pub mod error;
pub mod evaluate;
pub mod forest;
pub mod fusion;
pub mod gaussian;
pub mod histogram;
pub mod metrics;
pub mod morphology;
pub mod patient;
pub mod phantom;
pub mod probability;
pub mod threshold;
pub mod tissues;

pub use body::{body_mask, BodyMask};
pub use bone::{segment_bone, segment_bone_with_progress, BoneParams, BoneSegmentation};
pub use components::{Components, Connectivity};
pub use curing::{separate_touching_bones, BoneInstances, SeparationParams};
pub use edge::HalfMaxEdge;
pub use error::SegmentError;
pub use gaussian::gaussian_smooth;
pub use histogram::Histogram;
pub use metrics::{dice, volume_error_percent};
pub use probability::logistic_probability;
pub use threshold::{estimate_bone_threshold, BoneType, ScanType, ThresholdEstimate, ThresholdMethod};
pub use tissues::{classify_tissues, TissueClass, TissueLabels, TissueParams};
