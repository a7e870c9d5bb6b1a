//! The tissue classes and their stable label values.

/// A tissue class of the multi-label CT segmentation. Label values are stable across the
/// project (1 is bone everywhere, as in `labels.nii.gz`); 0 is outside the body or unclassified
/// gas (bowel gas) inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TissueClass {
    /// Cortical and trabecular bone (label 1).
    Bone,
    /// The outer layer of the body (label 2).
    Skin,
    /// Lung parenchyma (label 3).
    Lung,
    /// Trachea and bronchi lumen (label 4).
    Airway,
    /// Adipose tissue (label 5).
    Fat,
    /// Muscle, organs and every other body voxel (label 6).
    SoftTissue,
    /// Contrast-filled vessels and heart chambers (label 7).
    Vessel,
    /// Metal implants and foreign bodies (label 8).
    Metal,
}

impl TissueClass {
    /// Every class, in label order.
    pub const ALL: [TissueClass; 8] = [
        TissueClass::Bone,
        TissueClass::Skin,
        TissueClass::Lung,
        TissueClass::Airway,
        TissueClass::Fat,
        TissueClass::SoftTissue,
        TissueClass::Vessel,
        TissueClass::Metal,
    ];

    /// Overlap priority, highest first: a voxel claimed by several classes takes the first one.
    /// Metal > Bone > Vessel > Airway > Lung > Fat > SoftTissue > Skin.
    pub const PRIORITY: [TissueClass; 8] = [
        TissueClass::Metal,
        TissueClass::Bone,
        TissueClass::Vessel,
        TissueClass::Airway,
        TissueClass::Lung,
        TissueClass::Fat,
        TissueClass::SoftTissue,
        TissueClass::Skin,
    ];

    /// The stable label value, 1..=8.
    pub fn label(self) -> u8 {
        match self {
            TissueClass::Bone => 1,
            TissueClass::Skin => 2,
            TissueClass::Lung => 3,
            TissueClass::Airway => 4,
            TissueClass::Fat => 5,
            TissueClass::SoftTissue => 6,
            TissueClass::Vessel => 7,
            TissueClass::Metal => 8,
        }
    }

    /// Lower-case name (as written in label tables).
    pub fn name(self) -> &'static str {
        match self {
            TissueClass::Bone => "bone",
            TissueClass::Skin => "skin",
            TissueClass::Lung => "lung",
            TissueClass::Airway => "airway",
            TissueClass::Fat => "fat",
            TissueClass::SoftTissue => "soft_tissue",
            TissueClass::Vessel => "vessel",
            TissueClass::Metal => "metal",
        }
    }

    /// The class of a label value; `None` for 0 and values above 8.
    pub fn from_label(label: u8) -> Option<TissueClass> {
        TissueClass::ALL.get(usize::from(label).checked_sub(1)?).copied()
    }

    /// Rank in [`TissueClass::PRIORITY`] (0 = highest).
    pub fn priority_rank(self) -> usize {
        TissueClass::PRIORITY
            .iter()
            .position(|&c| c == self)
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_are_stable() {
        for class in TissueClass::ALL {
            assert_eq!(TissueClass::from_label(class.label()), Some(class));
        }
        assert_eq!(TissueClass::Bone.label(), 1);
        assert_eq!(TissueClass::Metal.label(), 8);
        assert_eq!(TissueClass::from_label(0), None);
        assert_eq!(TissueClass::from_label(9), None);
        assert_eq!(TissueClass::from_label(255), None);
        assert!(TissueClass::Metal.priority_rank() < TissueClass::Bone.priority_rank());
        assert!(TissueClass::SoftTissue.priority_rank() < TissueClass::Skin.priority_rank());
    }
}
