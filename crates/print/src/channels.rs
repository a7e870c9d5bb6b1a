//! Channels for clear-resin models: a tube from the outer surface to an internal point (e.g. a
//! structure removed from inside the model), bored through so it can be filled or drained.
//!
//! The path is the shortest: from the target to the nearest point of the outermost shells. The
//! result is `(model ∪ tube of outer_diameter) \ bore of inner_diameter` (the tube flat-ended in
//! the tangent plane at the entry, so it stands proud of a curved surface by at most
//! r²/(2R)), built on the model's
//! signed distance field (voxel CSG at `pitch_mm`, see [`crate::distance_field`]) and
//! re-extracted, so the tube wall also seals the bore where it crosses other voids.

use medprint_mesh::shells::{merge, split_shells};
use medprint_mesh::Mesh;
use serde::Serialize;

use crate::cavities::nested_shells;
use crate::distance_field::{flat_cylinder_depth, segment_distance, DistanceField};
use crate::error::{check_solid, positive, PrintError};
use crate::spatial::SurfaceIndex;
use crate::vector::{add, norm, normalized, scale, sub};

/// Parameters of [`cut_channel`] (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChannelOptions {
    /// Bore diameter, mm.
    pub inner_diameter_mm: f64,
    /// Tube diameter, mm (> inner).
    pub outer_diameter_mm: f64,
    /// Sampling pitch, mm.
    pub pitch_mm: f64,
}

impl Default for ChannelOptions {
    /// A 3 mm bore in a 5 mm tube, sampled at 0.5 mm.
    fn default() -> Self {
        Self {
            inner_diameter_mm: 3.0,
            outer_diameter_mm: 5.0,
            pitch_mm: 0.5,
        }
    }
}

/// Where [`cut_channel`] put the channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChannelReport {
    /// The internal point, mm.
    pub target: [f64; 3],
    /// Where the channel leaves the outer surface, mm.
    pub entry: [f64; 3],
    /// Target-to-entry length, mm.
    pub length_mm: f64,
}

/// Cuts a channel from the outer surface of a closed model to `target` (mm, inside the outer
/// surface; it may lie in an internal void).
pub fn cut_channel(
    mesh: &Mesh,
    target: [f64; 3],
    options: &ChannelOptions,
) -> Result<(Mesh, ChannelReport), PrintError> {
    check_solid(mesh, "channel input")?;
    let inner = positive("inner_diameter_mm", options.inner_diameter_mm)? / 2.0;
    let outer = positive("outer_diameter_mm", options.outer_diameter_mm)? / 2.0;
    let pitch = positive("pitch_mm", options.pitch_mm)?;
    if outer <= inner {
        return Err(PrintError::BadParameter {
            name: "outer_diameter_mm",
            value: options.outer_diameter_mm,
            why: "must exceed inner_diameter_mm",
        });
    }
    if target.iter().any(|c| !c.is_finite()) {
        return Err(PrintError::BadParameter {
            name: "target",
            value: f64::NAN,
            why: "must be a finite point",
        });
    }
    let hull = outer_hull(mesh);
    let index = SurfaceIndex::new(&hull);
    if !index.contains(target) {
        return Err(PrintError::Infeasible(format!(
            "channel target {target:?} is outside the model"
        )));
    }
    let (entry, length_mm) = index
        .closest_point(target, f64::INFINITY)
        .ok_or_else(|| PrintError::Infeasible("the model has no outer surface".into()))?;
    let dir = normalized(sub(entry, target))
        .ok_or_else(|| PrintError::Infeasible("channel target lies on the surface".into()))?;
    let tube = (target, entry);
    let bore = (
        sub(target, scale(dir, outer + pitch)),
        add(entry, scale(dir, outer + 2.0 * pitch)),
    );
    let mut field = DistanceField::of_mesh(mesh, pitch, outer + 2.0 * pitch)?;
    field.update(|p, d| {
        let wall = flat_cylinder_depth(p, tube.0, tube.1, outer) as f32;
        let hole = (segment_distance(p, bore.0, bore.1) - inner) as f32;
        d.max(wall).min(hole)
    });
    let out = field.surface(0.0)?;
    debug_assert!(norm(sub(entry, target)) - length_mm < 1e-6);
    Ok((
        out,
        ChannelReport {
            target,
            entry,
            length_mm,
        },
    ))
}

/// The outermost shells of a closed mesh (voids and anything inside them left out).
pub(crate) fn outer_hull(mesh: &Mesh) -> Mesh {
    let shells = split_shells(mesh);
    let nested = nested_shells(&shells);
    let outermost: Vec<Mesh> = shells
        .iter()
        .zip(&nested)
        .filter(|(_, &n)| !n)
        .map(|(s, _)| s.clone())
        .collect();
    merge(&outermost)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::ellipsoid;
    use medprint_mesh::{check_mesh, signed_volume_mm3};
    use std::f64::consts::PI;

    #[test]
    fn channel_bored_to_the_nearest_surface() {
        let sphere = ellipsoid([0.0; 3], [20.0; 3], 4).expect("sphere");
        let options = ChannelOptions {
            pitch_mm: 1.0,
            ..Default::default()
        };
        let (out, report) = cut_channel(&sphere, [0.0, 0.0, 12.0], &options).expect("channel");
        assert!((report.length_mm - 8.0).abs() < 0.1, "{report:?}");
        assert!(report.entry[2] > 19.9);
        let check = check_mesh(&out);
        assert!(check.is_printable() && check.shells == 1, "{check:?}");
        // Bore: from 3.5 mm below the target (a capsule end) up through the surface.
        let bore = PI * 1.5 * 1.5 * (20.0 - 12.0 + 3.5) + 2.0 / 3.0 * PI * 1.5f64.powi(3);
        // Against the same sphere resampled on the same grid, so only the bore differs.
        let resampled = DistanceField::of_mesh(&sphere, 1.0, 5.0)
            .expect("field")
            .surface(0.0)
            .expect("surface");
        let removed = signed_volume_mm3(&resampled) - signed_volume_mm3(&out);
        assert!((removed - bore).abs() < 0.1 * bore, "removed {removed} vs bore {bore}");
        assert!(cut_channel(&sphere, [0.0, 0.0, 40.0], &options).is_err());
        assert!(cut_channel(
            &sphere,
            [0.0, 0.0, 5.0],
            &ChannelOptions {
                outer_diameter_mm: 2.0,
                ..options
            }
        )
        .is_err());
        assert!(cut_channel(&sphere, [f64::NAN, 0.0, 5.0], &options).is_err());
    }

    #[test]
    fn channel_opens_an_internal_void() {
        let outer = ellipsoid([0.0; 3], [20.0; 3], 4).expect("outer");
        let void = ellipsoid([0.0, 0.0, 0.0], [6.0; 3], 3).expect("void");
        let void = Mesh {
            triangles: void.triangles.iter().map(|t| [t[0], t[2], t[1]]).collect(),
            ..void
        };
        let model = merge(&[outer, void]);
        let options = ChannelOptions {
            pitch_mm: 1.0,
            ..Default::default()
        };
        let (out, report) = cut_channel(&model, [0.0, 0.0, 0.0], &options).expect("channel");
        assert!((report.length_mm - 20.0).abs() < 0.2, "{report:?}");
        let check = check_mesh(&out);
        assert!(
            check.is_printable() && check.shells == 1,
            "void joined to the outside: {check:?}"
        );
    }
}
