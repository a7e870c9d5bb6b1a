//! Segmentation curing (section 3.5 of the method): bones that touch in the mask — joints
//! narrowed by partial volume — are split into individual instances by a marker-controlled
//! watershed on the negated distance map.

pub mod watershed;

pub use watershed::{separate_touching_bones, BoneInstances, SeparationParams};
