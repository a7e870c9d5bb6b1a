//! The parameters of one run as plain, serialisable values: what the CLI's flags and an
//! order's job parameters both turn into, so that both build [`ConvertOptions`] the same way.

use serde::{Deserialize, Serialize};

use medprint_segment::edits::{validate_label_edits, LabelEdit};
use medprint_segment::patient::{PatientParams, Sex};
use medprint_segment::threshold::BoneType;
use medprint_volume::input::Modality;

use crate::convert::{ConvertOptions, PipelineError};
use crate::print_ready::print_options;
use crate::tissues::parse_tissue_list;

/// Bone type of the threshold estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BoneKind {
    /// Cortical, adult bone.
    #[default]
    Hard,
    /// Paediatric or osteoporotic bone.
    Soft,
}

/// Declared modality of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModalityKind {
    /// CT (HU).
    Ct,
    /// MRI.
    Mr,
    /// PET.
    Pt,
    /// Nuclear medicine.
    Nm,
}

/// Patient sex as declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SexKind {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Not known.
    Unknown,
}

/// Every parameter of a run that is a plain value (a trained model file is added by the CLI).
/// Unknown fields are refused so that a misspelt parameter is not silently ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunParams {
    /// Overrides the modality the data declares.
    pub modality: Option<ModalityKind>,
    /// Bone type.
    pub bone: BoneKind,
    /// Fixed bone threshold in HU instead of the estimate.
    pub threshold_hu: Option<f32>,
    /// Smoothing iterations (0 keeps the voxel staircase).
    pub smooth: usize,
    /// Fraction of triangles kept by decimation (1 = none).
    pub keep: f32,
    /// Render PNG previews.
    pub previews: bool,
    /// Alternative thresholds as offsets in HU.
    pub alternatives_hu: Vec<f32>,
    /// Tissue classes besides bone (`lung,vessel` or `all`).
    pub tissues: Option<String>,
    /// Separate touching bones.
    pub separate_bones: bool,
    /// Prepare for printing.
    pub print_ready: bool,
    /// Printer build volume, mm.
    pub build_volume_mm: [f64; 3],
    /// Hollow to this wall thickness, mm.
    pub hollow_mm: Option<f64>,
    /// Add supports.
    pub supports: bool,
    /// Add the hard-link tag.
    pub tag: bool,
    /// Patient age, years.
    pub age_years: Option<f32>,
    /// Patient sex.
    pub sex: Option<SexKind>,
    /// Patient weight, kg.
    pub weight_kg: Option<f32>,
    /// A reviewer's brush and eraser strokes on the slices, applied to the bone mask in order.
    pub label_edits: Vec<LabelEdit>,
}

impl Default for RunParams {
    fn default() -> Self {
        Self {
            modality: None,
            bone: BoneKind::Hard,
            threshold_hu: None,
            smooth: 10,
            keep: 0.25,
            previews: true,
            alternatives_hu: Vec::new(),
            tissues: None,
            separate_bones: false,
            print_ready: false,
            build_volume_mm: [120.0, 120.0, 120.0],
            hollow_mm: None,
            supports: false,
            tag: true,
            age_years: None,
            sex: None,
            weight_kg: None,
            label_edits: Vec::new(),
        }
    }
}

impl RunParams {
    /// The options of a run; out-of-range values are a [`PipelineError::Usage`].
    pub fn to_options(&self) -> Result<ConvertOptions, PipelineError> {
        let usage = |m: String| Err(PipelineError::Usage(m));
        if let Some(t) = self.threshold_hu {
            if !t.is_finite() || !(-1024.0..=4000.0).contains(&t) {
                return usage(format!("threshold {t} HU is outside −1024…4000"));
            }
        }
        if !self.keep.is_finite() || !(0.0..=1.0).contains(&self.keep) || self.keep == 0.0 {
            return usage(format!("keep {} must be in (0, 1]", self.keep));
        }
        if self.smooth > 200 {
            return usage(format!("smooth {} is more than 200 iterations", self.smooth));
        }
        if self.alternatives_hu.len() > 8 || self.alternatives_hu.iter().any(|a| !a.is_finite() || a.abs() > 1000.0) {
            return usage("at most 8 alternatives, each within ±1000 HU".into());
        }
        if !self
            .build_volume_mm
            .iter()
            .all(|v| v.is_finite() && *v > 0.0 && *v <= 5000.0)
        {
            return usage("the build volume needs three positive sizes in mm (at most 5000)".into());
        }
        if let Some(h) = self.hollow_mm {
            if !h.is_finite() || !(0.5..=20.0).contains(&h) {
                return usage(format!("hollow wall {h} mm is outside 0.5…20 mm"));
            }
        }
        validate_label_edits(&self.label_edits).map_err(|e| PipelineError::Usage(e.to_string()))?;
        let mut options = ConvertOptions {
            modality: self.modality.map(|m| match m {
                ModalityKind::Ct => Modality::Ct,
                ModalityKind::Mr => Modality::Mr,
                ModalityKind::Pt => Modality::Pt,
                ModalityKind::Nm => Modality::Nm,
            }),
            previews: self.previews,
            label_edits: self.label_edits.clone(),
            ..ConvertOptions::default()
        };
        options.bone.bone = match self.bone {
            BoneKind::Hard => BoneType::Hard,
            BoneKind::Soft => BoneType::Soft,
        };
        options.bone.threshold_override_hu = self.threshold_hu;
        options.condition.smooth_iterations = self.smooth;
        let default_decimation = options.condition.decimate.unwrap_or_default();
        options.condition.decimate = (self.keep < 1.0).then_some(medprint_mesh::decimate::DecimateOptions {
            target_ratio: self.keep.clamp(0.01, 1.0),
            ..default_decimation
        });
        if self.age_years.is_some() || self.sex.is_some() || self.weight_kg.is_some() {
            options.bone.patient = Some(PatientParams {
                age_years: self.age_years,
                sex: self.sex.map(|s| match s {
                    SexKind::Female => Sex::Female,
                    SexKind::Male => Sex::Male,
                    SexKind::Unknown => Sex::Unknown,
                }),
                weight_kg: self.weight_kg,
            });
        }
        options.alternatives_hu = self.alternatives_hu.clone();
        options.separate_bones = self.separate_bones;
        if self.print_ready {
            options.print = Some(print_options(
                self.build_volume_mm,
                self.hollow_mm,
                self.supports,
                self.tag,
            ));
        }
        if let Some(list) = &self.tissues {
            options.tissues =
                parse_tissue_list(list).map_err(|reason| PipelineError::Usage(format!("tissues: {reason}")))?;
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_convert_defaults() {
        let o = RunParams::default().to_options().unwrap();
        assert!(o.print.is_none());
        assert_eq!(o.condition.smooth_iterations, 10);
        assert!(o.previews);
    }

    #[test]
    fn out_of_range_values_are_usage_errors() {
        for p in [
            RunParams {
                threshold_hu: Some(f32::NAN),
                ..Default::default()
            },
            RunParams {
                keep: 0.0,
                ..Default::default()
            },
            RunParams {
                build_volume_mm: [0.0, 1.0, 1.0],
                ..Default::default()
            },
            RunParams {
                hollow_mm: Some(100.0),
                ..Default::default()
            },
            RunParams {
                tissues: Some("liver".into()),
                ..Default::default()
            },
            RunParams {
                label_edits: vec![LabelEdit {
                    mode: medprint_segment::edits::EditMode::Add,
                    normal_axis: 2,
                    slice: 0,
                    radius_vox: 51,
                    points_vox: vec![[1.0, 1.0]],
                }],
                ..Default::default()
            },
        ] {
            assert!(matches!(p.to_options(), Err(PipelineError::Usage(_))), "{p:?}");
        }
    }

    #[test]
    fn json_round_trip_and_unknown_fields_refused() {
        let p: RunParams = serde_json::from_str(r#"{"bone":"soft","print_ready":true,"age_years":70}"#).unwrap();
        assert_eq!(p.bone, BoneKind::Soft);
        let o = p.to_options().unwrap();
        assert!(o.print.is_some());
        assert!(o.bone.patient.is_some());
        assert!(serde_json::from_str::<RunParams>(r#"{"treshold_hu":200}"#).is_err());
    }
}
