//! Tissue classes besides bone (`convert --tissues`): the multi-label CT segmentation of
//! `medprint_segment::tissues`, and one printable model per requested class.

use medprint_mesh::condition::{condition, ConditionOptions};
use medprint_mesh::isosurface::try_extract_isosurface;
use medprint_mesh::Mesh;
use medprint_segment::body::body_mask;
use medprint_segment::tissues::{classify_tissues, TissueClass, TissueLabels, TissueParams};
use medprint_volume::Volume;
use rayon::prelude::*;
use serde::Serialize;

use crate::convert::PipelineError;

/// Inside / outside values of the binary field a tissue surface is extracted from (isovalue
/// 127.5); conditioning smooths the voxel staircase away.
const FIELD_INSIDE: u8 = 200;
const FIELD_OUTSIDE: u8 = 55;

/// Display colour of a class in the 3MF (sRGB + alpha).
pub fn class_color(class: TissueClass) -> [u8; 4] {
    match class {
        TissueClass::Bone => [235, 225, 195, 255],
        TissueClass::Skin => [240, 190, 160, 90],
        TissueClass::Lung => [250, 160, 170, 160],
        TissueClass::Airway => [120, 200, 230, 255],
        TissueClass::Fat => [250, 220, 90, 160],
        TissueClass::SoftTissue => [200, 90, 80, 160],
        TissueClass::Vessel => [200, 30, 40, 255],
        TissueClass::Metal => [150, 155, 165, 255],
    }
}

/// Parses `lung,airway,vessel` or `all` (every class but bone, which is always modelled).
pub fn parse_tissue_list(text: &str) -> Result<Vec<TissueClass>, String> {
    let mut classes = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("all") {
            classes.extend(TissueClass::ALL.iter().copied().filter(|&c| c != TissueClass::Bone));
            continue;
        }
        let class = TissueClass::ALL
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(word) || c.name().replace('_', "-").eq_ignore_ascii_case(word))
            .ok_or_else(|| {
                let names: Vec<&str> = TissueClass::ALL.iter().map(|c| c.name()).collect();
                format!("unknown tissue \"{word}\" (one of {}, or all)", names.join(", "))
            })?;
        if class != TissueClass::Bone && !classes.contains(&class) {
            classes.push(class);
        }
    }
    Ok(classes)
}

/// One class's printable model.
pub struct TissueModel {
    /// The class.
    pub class: TissueClass,
    /// Its conditioned surface (patient mm).
    pub mesh: Mesh,
    /// Its figures for the report.
    pub report: TissueReport,
}

/// Figures of one tissue class in `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TissueReport {
    /// Class name.
    pub class: String,
    /// Label value in `labels.nii.gz`.
    pub label: u8,
    /// Voxels of the class (for skin: of the whole body outline).
    pub voxels: u64,
    /// Their volume, mm³.
    pub volume_mm3: f64,
    /// Volume enclosed by its model, mm³.
    pub model_volume_mm3: f64,
    /// Triangles of its model.
    pub triangles: usize,
    /// Closed shells.
    pub shells: usize,
    /// Every shell closed, manifold and oriented.
    pub printable: bool,
    /// STL file, relative to the output directory.
    pub stl: String,
}

/// The multi-label segmentation and the models of `classes`.
pub struct TissueResult {
    /// Labels on the scan grid (`TissueClass::label` values).
    pub labels: TissueLabels,
    /// One model per requested class that has voxels.
    pub models: Vec<TissueModel>,
}

/// Classifies the tissues of `scan` around `bone` and builds a conditioned model of each of
/// `classes` in parallel. Skin is printed as the body outline (everything inside the skin).
pub fn model_tissues(
    scan: &Volume<i16>,
    bone: &Volume<u8>,
    classes: &[TissueClass],
    conditioning: &ConditionOptions,
    warnings: &mut Vec<String>,
) -> Result<TissueResult, PipelineError> {
    let labels = classify_tissues(scan, bone, &TissueParams::default())?;
    warnings.extend(labels.warnings.iter().cloned());
    let outline = if classes.contains(&TissueClass::Skin) {
        Some(body_mask(scan)?.mask)
    } else {
        None
    };
    let voxel_mm3 = scan.geometry.voxel_volume_mm3();
    let models: Vec<Result<Option<TissueModel>, PipelineError>> = classes
        .par_iter()
        .map(|&class| {
            let inside: Vec<u8> = match (class, &outline) {
                (TissueClass::Skin, Some(body)) => body.clone(),
                _ => labels.mask(class),
            };
            let voxels = inside.par_iter().filter(|&&v| v != 0).count() as u64;
            if voxels == 0 {
                return Ok(None);
            }
            let field = Volume::from_vec(
                scan.dims(),
                inside
                    .par_iter()
                    .map(|&v| if v != 0 { FIELD_INSIDE } else { FIELD_OUTSIDE })
                    .collect(),
                scan.geometry,
            )
            .map_err(|e| PipelineError::Output {
                path: class.name().to_string(),
                reason: e.to_string(),
            })?;
            let raw = try_extract_isosurface(&field, 127.5)?;
            let (mesh, conditioned) = condition(raw, conditioning);
            if mesh.is_empty() {
                // Too small to give a surface: reported with the missing classes, never exported.
                return Ok(None);
            }
            let report = TissueReport {
                class: class.name().to_string(),
                label: class.label(),
                voxels,
                volume_mm3: voxels as f64 * voxel_mm3,
                model_volume_mm3: conditioned.volume_mm3,
                triangles: mesh.triangle_count(),
                shells: conditioned.check.shells,
                printable: conditioned.check.is_printable(),
                stl: format!("{}/{}.stl", PARTS_DIR, class.name()),
            };
            Ok(Some(TissueModel { class, mesh, report }))
        })
        .collect();
    let mut built = Vec::new();
    for m in models {
        if let Some(m) = m? {
            built.push(m);
        }
    }
    for missing in classes.iter().filter(|c| !built.iter().any(|m| m.class == **c)) {
        warnings.push(format!("no {} found: no model written for it", missing.name()));
    }
    Ok(TissueResult { labels, models: built })
}

/// Folder of the per-class STL files.
pub const PARTS_DIR: &str = "parts";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tissue_lists_parse() {
        assert_eq!(
            parse_tissue_list("lung, airway,lung").expect("parse"),
            vec![TissueClass::Lung, TissueClass::Airway]
        );
        assert_eq!(parse_tissue_list("all").expect("parse").len(), 7);
        assert!(parse_tissue_list("bone").expect("parse").is_empty());
        let err = parse_tissue_list("lung,kidney").expect_err("unknown");
        assert!(err.contains("kidney") && err.contains("vessel"), "{err}");
    }
}
