//! Patient parameters given with an order (age, sex, weight) and how they move the bone
//! threshold (seed §2.3: the threshold depends on the scan type, the bone type and the patient).
//!
//! Bone mineral density falls with age, earlier and faster in women after the menopause, and
//! children's bone is less mineralised. Lower density lowers the CT numbers of cancellous and
//! thin cortical bone, so a threshold tuned on young adults loses thin bone in such patients.
//! The model below is deliberately simple and bounded: a relative density from age and sex
//! (1.0 for a young adult), and a threshold lowered by up to [`MAX_PATIENT_OFFSET_HU`]. Heavy
//! patients have noisier scans (fewer photons reach the detector), so the logistic
//! probability is widened. Every adjustment is written into the report for review.

use serde::{Deserialize, Serialize};

/// Biological sex as recorded with the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Not recorded or other; no sex-specific adjustment.
    Unknown,
}

/// Patient parameters of an order; every field is optional.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct PatientParams {
    /// Age in years (0..=130).
    pub age_years: Option<f32>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Weight in kg (1..=500).
    pub weight_kg: Option<f32>,
}

/// What [`adjust_for_patient`] changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientAdjustment {
    /// Expected bone density relative to a young adult (0.4..=1.0).
    pub relative_density: f32,
    /// Subtracted from the estimated threshold (HU, ≥ 0).
    pub threshold_offset_hu: f32,
    /// Multiplies the logistic width (≥ 1).
    pub logistic_width_factor: f32,
    /// Whether soft-bone settings are advised (children, very low expected density).
    pub advise_soft_bone: bool,
    /// Plain-words explanation for the report.
    pub note: String,
}

/// Largest threshold reduction for low expected density (HU).
pub const MAX_PATIENT_OFFSET_HU: f32 = 60.0;
/// HU of threshold reduction per unit loss of relative density (1.0 → 0.5 gives 50 HU).
pub const OFFSET_HU_PER_DENSITY_LOSS: f32 = 100.0;
/// Weight (kg) above which the logistic width grows with weight.
pub const HEAVY_PATIENT_KG: f32 = 100.0;

/// Relative bone density expected for age and sex (1.0 = young adult). Women lose about 1.2 %
/// a year after 45, men about 0.7 % a year after 40; children under 16 are taken as 0.8.
pub fn relative_bone_density(age_years: f32, sex: Sex) -> f32 {
    let density = if age_years < 16.0 {
        0.8
    } else {
        let (start, per_year) = match sex {
            Sex::Female => (45.0, 0.012),
            Sex::Male => (40.0, 0.007),
            Sex::Unknown => (42.0, 0.0095),
        };
        1.0 - per_year * (age_years - start).max(0.0)
    };
    density.clamp(0.4, 1.0)
}

/// Threshold and probability adjustments for `patient`; invalid values (negative age, NaN
/// weight) are ignored and said so in the note.
pub fn adjust_for_patient(patient: &PatientParams) -> PatientAdjustment {
    let mut notes = Vec::new();
    let sex = patient.sex.unwrap_or(Sex::Unknown);
    let age = patient.age_years.filter(|a| a.is_finite() && (0.0..=130.0).contains(a));
    if patient.age_years.is_some() && age.is_none() {
        notes.push("age outside 0..130 years ignored".to_string());
    }
    let relative_density = age.map_or(1.0, |a| relative_bone_density(a, sex));
    let threshold_offset_hu = ((1.0 - relative_density) * OFFSET_HU_PER_DENSITY_LOSS).clamp(0.0, MAX_PATIENT_OFFSET_HU);
    if let Some(a) = age {
        notes.push(format!(
            "age {a:.0} ({sex:?}): expected bone density {:.0} % of a young adult, threshold lowered by {threshold_offset_hu:.0} HU",
            relative_density * 100.0
        ));
    }
    let weight = patient.weight_kg.filter(|w| w.is_finite() && (1.0..=500.0).contains(w));
    if patient.weight_kg.is_some() && weight.is_none() {
        notes.push("weight outside 1..500 kg ignored".to_string());
    }
    let logistic_width_factor = weight.map_or(1.0, |w| (1.0 + (w - HEAVY_PATIENT_KG).max(0.0) / 200.0).min(1.5));
    if logistic_width_factor > 1.0 {
        notes.push(format!(
            "weight {:.0} kg: noisier scan expected, probability widened ×{logistic_width_factor:.2}",
            weight.unwrap_or_default()
        ));
    }
    let advise_soft_bone = age.is_some_and(|a| a < 16.0) || relative_density < 0.6;
    if advise_soft_bone {
        notes.push("soft-bone settings advised for this patient".to_string());
    }
    PatientAdjustment {
        relative_density,
        threshold_offset_hu,
        logistic_width_factor,
        advise_soft_bone,
        note: notes.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn density_falls_with_age_faster_in_women() {
        assert_eq!(relative_bone_density(30.0, Sex::Female), 1.0);
        assert_eq!(relative_bone_density(10.0, Sex::Male), 0.8);
        let woman = relative_bone_density(75.0, Sex::Female);
        let man = relative_bone_density(75.0, Sex::Male);
        assert!((woman - 0.64).abs() < 1e-5, "{woman}");
        assert!((man - 0.755).abs() < 1e-5, "{man}");
        assert_eq!(relative_bone_density(120.0, Sex::Female), 0.4);
    }

    #[test]
    fn adjustment_is_bounded_and_explained() {
        let none = adjust_for_patient(&PatientParams::default());
        assert_eq!(none.threshold_offset_hu, 0.0);
        assert_eq!(none.logistic_width_factor, 1.0);
        assert!(none.note.is_empty());
        let old = adjust_for_patient(&PatientParams {
            age_years: Some(85.0),
            sex: Some(Sex::Female),
            weight_kg: Some(140.0),
        });
        assert!((old.threshold_offset_hu - 48.0).abs() < 1e-3, "{old:?}");
        assert!((old.logistic_width_factor - 1.2).abs() < 1e-6);
        assert!(old.advise_soft_bone);
        assert!(old.note.contains("age 85"));
        let bad = adjust_for_patient(&PatientParams {
            age_years: Some(-3.0),
            sex: None,
            weight_kg: Some(f32::NAN),
        });
        assert_eq!(bad.threshold_offset_hu, 0.0);
        assert!(bad.note.contains("ignored"));
    }
}
