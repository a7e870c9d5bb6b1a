//! Reviewer edits of a bone mask: brush (add) and eraser (remove) strokes drawn on slices.
//!
//! A stroke lies in one plane of the voxel grid: the plane normal to voxel axis
//! [`LabelEdit::normal_axis`] at index [`LabelEdit::slice`]. Each point of the stroke paints a
//! disc of radius [`LabelEdit::radius_vox`] voxels centred on the voxel that holds the point:
//! the in-plane voxels `(⌊u⌋ + du, ⌊v⌋ + dv)` with `du² + dv² ≤ r²`. The web app's brush paints
//! with exactly this rule, so what the reviewer saw on the slices is what the pipeline applies.
//! Strokes are applied in order, so a later eraser stroke wins over an earlier brush stroke.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use medprint_volume::Volume;

/// Most strokes one run accepts.
pub const MAX_EDIT_STROKES: usize = 1_000;
/// Most points over all strokes of one run.
pub const MAX_EDIT_POINTS: usize = 100_000;
/// Largest brush radius, voxels.
pub const MAX_BRUSH_RADIUS_VOX: u32 = 50;

/// What a stroke does to the voxels it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditMode {
    /// Brush: the voxels become bone.
    Add,
    /// Eraser: the voxels stop being bone.
    Remove,
}

/// One brush or eraser stroke on a slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelEdit {
    /// Brush or eraser.
    pub mode: EditMode,
    /// Voxel axis normal to the slice: 0 = i (sagittal for an axial scan), 1 = j (coronal),
    /// 2 = k (axial).
    pub normal_axis: u8,
    /// Index of the slice along `normal_axis`.
    pub slice: usize,
    /// Brush radius in voxels (0 paints single voxels), at most [`MAX_BRUSH_RADIUS_VOX`].
    pub radius_vox: u32,
    /// Points of the stroke as voxel coordinates `[u, v]` along the two other axes in increasing
    /// axis order (i, j for an axial slice; i, k for coronal; j, k for sagittal).
    pub points_vox: Vec<[f32; 2]>,
}

/// Why a list of edits cannot be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// More strokes or points than a run accepts.
    #[error(
        "{strokes} edit strokes with {points} points: at most {MAX_EDIT_STROKES} strokes and {MAX_EDIT_POINTS} points"
    )]
    TooMany {
        /// Strokes given.
        strokes: usize,
        /// Points given over all strokes.
        points: usize,
    },
    /// A stroke's own values are out of range.
    #[error("edit stroke {stroke}: {reason}")]
    InvalidStroke {
        /// Position of the stroke in the list (0-based).
        stroke: usize,
        /// What is wrong.
        reason: String,
    },
    /// A stroke's slice is not in this scan (it was drawn on another scan or grid).
    #[error("edit stroke {stroke}: slice {slice} along axis {axis} is outside this scan (0..{size})")]
    SliceOutside {
        /// Position of the stroke in the list (0-based).
        stroke: usize,
        /// Normal axis of the stroke.
        axis: u8,
        /// Its slice index.
        slice: usize,
        /// Slices along that axis.
        size: usize,
    },
    /// The mask and the field are on different grids.
    #[error("the mask ({mask} voxels) and its surface field ({field} voxels) differ in size")]
    GridMismatch {
        /// Voxels of the mask.
        mask: usize,
        /// Voxels of the field.
        field: usize,
    },
}

/// What the edits changed, counted against the mask before any edit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditSummary {
    /// Strokes applied.
    pub strokes: usize,
    /// Voxels that were not bone and are now.
    pub voxels_added: u64,
    /// Voxels that were bone and no longer are.
    pub voxels_removed: u64,
}

/// Checks the values of `edits` that do not depend on the scan: counts, modes, radii and finite
/// coordinates. [`apply_label_edits`] runs it too; callers use it to refuse a request early.
pub fn validate_label_edits(edits: &[LabelEdit]) -> Result<(), EditError> {
    let points: usize = edits.iter().map(|e| e.points_vox.len()).sum();
    if edits.len() > MAX_EDIT_STROKES || points > MAX_EDIT_POINTS {
        return Err(EditError::TooMany {
            strokes: edits.len(),
            points,
        });
    }
    for (stroke, edit) in edits.iter().enumerate() {
        let invalid = |reason: String| Err(EditError::InvalidStroke { stroke, reason });
        if edit.normal_axis > 2 {
            return invalid(format!("normal axis {} is not 0, 1 or 2", edit.normal_axis));
        }
        if edit.radius_vox > MAX_BRUSH_RADIUS_VOX {
            return invalid(format!(
                "brush radius {} voxels is more than {MAX_BRUSH_RADIUS_VOX}",
                edit.radius_vox
            ));
        }
        if edit.points_vox.is_empty() {
            return invalid("the stroke has no point".into());
        }
        if let Some(p) = edit
            .points_vox
            .iter()
            .find(|p| !p.iter().all(|c| c.is_finite() && c.abs() < 1e6))
        {
            return invalid(format!("point {p:?} is not a finite voxel coordinate"));
        }
    }
    Ok(())
}

/// Applies `edits` in order to a bone mask (1 = bone) and to its surface field (isosurface at
/// 127.5, `> 127.5 ⇔ mask`): added voxels get 255 in the field, removed ones 0, so the
/// invariant holds afterwards. Disc voxels outside the grid are skipped; a slice outside the
/// grid is an error and leaves both volumes unchanged.
pub fn apply_label_edits(
    mask: &mut Volume<u8>,
    field: &mut Volume<u8>,
    edits: &[LabelEdit],
) -> Result<EditSummary, EditError> {
    validate_label_edits(edits)?;
    if mask.len() != field.len() {
        return Err(EditError::GridMismatch {
            mask: mask.len(),
            field: field.len(),
        });
    }
    let dims = mask.dims();
    for (stroke, edit) in edits.iter().enumerate() {
        let size = dims[edit.normal_axis as usize];
        if edit.slice >= size {
            return Err(EditError::SliceOutside {
                stroke,
                axis: edit.normal_axis,
                slice: edit.slice,
                size,
            });
        }
    }
    // Value of each touched voxel before the first edit, to count net changes.
    let mut before: HashMap<usize, u8> = HashMap::new();
    for edit in edits {
        let normal = edit.normal_axis as usize;
        let (u_axis, v_axis) = match normal {
            0 => (1, 2),
            1 => (0, 2),
            _ => (0, 1),
        };
        let r = edit.radius_vox as i64;
        let (value, field_value) = match edit.mode {
            EditMode::Add => (1u8, 255u8),
            EditMode::Remove => (0u8, 0u8),
        };
        for point in &edit.points_vox {
            let cu = point[0].floor() as i64;
            let cv = point[1].floor() as i64;
            for du in -r..=r {
                for dv in -r..=r {
                    if du * du + dv * dv > r * r {
                        continue;
                    }
                    let (u, v) = (cu + du, cv + dv);
                    if u < 0 || v < 0 || u >= dims[u_axis] as i64 || v >= dims[v_axis] as i64 {
                        continue;
                    }
                    let mut ijk = [0usize; 3];
                    ijk[normal] = edit.slice;
                    ijk[u_axis] = u as usize;
                    ijk[v_axis] = v as usize;
                    let index = mask.index(ijk[0], ijk[1], ijk[2]);
                    let m = &mut mask.data_mut()[index];
                    before.entry(index).or_insert(*m);
                    *m = value;
                    field.data_mut()[index] = field_value;
                }
            }
        }
    }
    let mut summary = EditSummary {
        strokes: edits.len(),
        ..EditSummary::default()
    };
    for (&index, &old) in &before {
        match (old != 0, mask.data()[index] != 0) {
            (false, true) => summary.voxels_added += 1,
            (true, false) => summary.voxels_removed += 1,
            _ => {}
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use medprint_volume::Geometry;

    fn grid(value: u8) -> Volume<u8> {
        Volume::filled([20, 16, 12], value, Geometry::axis_aligned([1.0; 3], [0.0; 3]))
    }

    fn stroke(mode: EditMode, normal_axis: u8, slice: usize, radius_vox: u32, points: &[[f32; 2]]) -> LabelEdit {
        LabelEdit {
            mode,
            normal_axis,
            slice,
            radius_vox,
            points_vox: points.to_vec(),
        }
    }

    #[test]
    fn a_brush_disc_adds_exactly_the_disc_voxels() {
        let (mut mask, mut field) = (grid(0), grid(0));
        // Radius 2: 13 voxels (|du|,|dv| with du²+dv² ≤ 4), on axial slice 5 around (10, 8).
        let summary =
            apply_label_edits(&mut mask, &mut field, &[stroke(EditMode::Add, 2, 5, 2, &[[10.7, 8.2]])]).unwrap();
        assert_eq!(summary.voxels_added, 13);
        assert_eq!(summary.voxels_removed, 0);
        assert_eq!(mask.get(10, 8, 5), Some(1));
        assert_eq!(mask.get(12, 8, 5), Some(1));
        assert_eq!(mask.get(12, 9, 5), Some(0), "outside the disc");
        assert_eq!(mask.get(10, 8, 4), Some(0), "another slice");
        // Invariant: field > 127.5 ⇔ mask.
        assert!(mask
            .data()
            .iter()
            .zip(field.data())
            .all(|(&m, &f)| (m != 0) == (f as f32 > 127.5)));
    }

    #[test]
    fn eraser_after_brush_wins_and_counts_are_net() {
        let (mut mask, mut field) = (grid(1), grid(255));
        let edits = [
            // Erase a line on the coronal slice j = 3 (points are i, k).
            stroke(EditMode::Remove, 1, 3, 0, &[[2.0, 2.0], [3.0, 2.0], [4.0, 2.0]]),
            // Paint one of them back.
            stroke(EditMode::Add, 1, 3, 0, &[[3.5, 2.5]]),
        ];
        let summary = apply_label_edits(&mut mask, &mut field, &edits).unwrap();
        assert_eq!(
            summary,
            EditSummary {
                strokes: 2,
                voxels_added: 0,
                voxels_removed: 2
            }
        );
        assert_eq!(mask.get(2, 3, 2), Some(0));
        assert_eq!(mask.get(3, 3, 2), Some(1));
        assert_eq!(field.get(4, 3, 2), Some(0));
    }

    #[test]
    fn sagittal_strokes_use_j_and_k_and_clip_at_the_border() {
        let (mut mask, mut field) = (grid(0), grid(0));
        let summary =
            apply_label_edits(&mut mask, &mut field, &[stroke(EditMode::Add, 0, 19, 1, &[[0.0, 0.0]])]).unwrap();
        // The disc of radius 1 has 5 voxels; at the corner (0, 0) only 3 are inside the grid.
        assert_eq!(summary.voxels_added, 3);
        assert_eq!(mask.get(19, 1, 0), Some(1));
        assert_eq!(mask.get(19, 0, 1), Some(1));
    }

    #[test]
    fn bad_strokes_are_refused_and_change_nothing() {
        let cases = [
            stroke(EditMode::Add, 3, 0, 1, &[[1.0, 1.0]]),
            stroke(EditMode::Add, 2, 0, 51, &[[1.0, 1.0]]),
            stroke(EditMode::Add, 2, 0, 1, &[]),
            stroke(EditMode::Add, 2, 0, 1, &[[f32::NAN, 1.0]]),
            stroke(EditMode::Add, 2, 12, 1, &[[1.0, 1.0]]),
        ];
        for edit in cases {
            let (mut mask, mut field) = (grid(0), grid(0));
            let good = stroke(EditMode::Add, 2, 0, 1, &[[5.0, 5.0]]);
            assert!(
                apply_label_edits(&mut mask, &mut field, &[good, edit.clone()]).is_err(),
                "{edit:?}"
            );
            assert!(mask.data().iter().all(|&m| m == 0), "nothing applied for {edit:?}");
        }
        let many = vec![stroke(EditMode::Add, 2, 0, 0, &[[0.0, 0.0]]); MAX_EDIT_STROKES + 1];
        assert!(matches!(validate_label_edits(&many), Err(EditError::TooMany { .. })));
        let mut mask = grid(0);
        let mut small = Volume::filled([2, 2, 2], 0u8, mask.geometry);
        assert!(matches!(
            apply_label_edits(&mut mask, &mut small, &[]),
            Err(EditError::GridMismatch { .. })
        ));
    }

    #[test]
    fn json_form_is_what_the_web_app_sends() {
        let edit: LabelEdit = serde_json::from_str(
            r#"{"mode":"remove","normal_axis":2,"slice":4,"radius_vox":3,"points_vox":[[1.5,2.25],[2,3]]}"#,
        )
        .unwrap();
        assert_eq!(edit.mode, EditMode::Remove);
        assert_eq!(edit.points_vox[1], [2.0, 3.0]);
        assert!(serde_json::from_str::<LabelEdit>(
            r#"{"mode":"paint","normal_axis":2,"slice":4,"radius_vox":3,"points_vox":[]}"#
        )
        .is_err());
    }
}
