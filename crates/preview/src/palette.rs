//! Colours used by every preview, chosen to read well on dark backgrounds.

/// Bone, as printed models are usually shown.
pub const BONE_IVORY: [u8; 3] = [240, 230, 200];
/// Soft tissue / muscle.
pub const SOFT_TISSUE_ROSE: [u8; 3] = [222, 140, 130];
/// Arteries.
pub const ARTERY_RED: [u8; 3] = [210, 50, 50];
/// Veins.
pub const VEIN_BLUE: [u8; 3] = [70, 110, 210];
/// Cartilage.
pub const CARTILAGE_AQUA: [u8; 3] = [120, 200, 210];
/// Metal implants.
pub const IMPLANT_STEEL: [u8; 3] = [170, 180, 195];
/// Organs (liver, kidney …).
pub const ORGAN_AMBER: [u8; 3] = [215, 150, 70];
/// Segmentation / region-of-interest highlight.
pub const HIGHLIGHT_GREEN: [u8; 3] = [90, 210, 110];

/// Caption text.
pub const TEXT_WHITE: [u8; 3] = [245, 245, 245];
/// Orientation letters (R/L/A/P/S/I), as in most viewers.
pub const ORIENTATION_AMBER: [u8; 3] = [255, 200, 60];
/// Halo drawn behind text so it reads on any background.
pub const TEXT_HALO: [u8; 3] = [0, 0, 0];
/// Slice pixels outside the scanned volume.
pub const OUTSIDE_VOLUME: [u8; 3] = [0, 0, 0];
/// Top of the dark gradient behind plots and mesh views.
pub const BACKGROUND_TOP: [u8; 3] = [40, 46, 58];
/// Bottom of the dark gradient behind plots and mesh views.
pub const BACKGROUND_BOTTOM: [u8; 3] = [16, 18, 24];
/// Plot frame and axes.
pub const AXIS_GRAY: [u8; 3] = [200, 204, 212];
/// Faint grid lines of plots.
pub const GRID_GRAY: [u8; 3] = [62, 68, 80];
/// Histogram curve.
pub const CURVE_STEEL: [u8; 3] = [110, 170, 235];
/// Threshold marker.
pub const THRESHOLD_RED: [u8; 3] = [240, 70, 60];
/// Back faces of a mesh (seen through a hole or with flipped winding).
pub const BACK_FACE_PLUM: [u8; 3] = [150, 80, 120];
