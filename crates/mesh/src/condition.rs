//! The standard surface-conditioning chain the CLI runs on every extracted isosurface.

use serde::Serialize;
use tracing::info;

use crate::decimate::{decimate, DecimateOptions};
use crate::measure::{signed_volume_mm3, surface_area_mm2};
use crate::mesh::Mesh;
use crate::repair::{
    remove_degenerate_and_duplicate_triangles, remove_small_shells_counted, repair_topology, weld_vertices,
};
use crate::smooth::{restore_volume, smooth_taubin, TAUBIN_LAMBDA, TAUBIN_MU};
use crate::topology::{check_mesh, MeshCheck};

/// Parameters of [`condition`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionOptions {
    /// Taubin λ/μ iterations (0 = no smoothing).
    pub smooth_iterations: usize,
    /// Poly-reduction; `None` keeps every triangle.
    pub decimate: Option<DecimateOptions>,
    /// Shells enclosing less than this volume (mm³) are dropped as specks.
    pub min_shell_volume_mm3: f64,
}

impl Default for ConditionOptions {
    /// 10 smoothing iterations, decimation to 25 % within 0.2 mm, specks below 50 mm³.
    fn default() -> Self {
        Self {
            smooth_iterations: 10,
            decimate: Some(DecimateOptions::default()),
            min_shell_volume_mm3: 50.0,
        }
    }
}

/// What [`condition`] did and the state of its output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConditionReport {
    /// Triangles received.
    pub input_triangles: usize,
    /// Triangles returned.
    pub output_triangles: usize,
    /// Shells dropped for enclosing less than the minimum volume.
    pub shells_removed: usize,
    /// Boundary loops closed.
    pub holes_filled: usize,
    /// Validation of the output.
    pub check: MeshCheck,
    /// Enclosed volume of the output, mm³.
    pub volume_mm3: f64,
    /// Surface area of the output, mm².
    pub area_mm2: f64,
}

/// Conditions an extracted surface for printing:
///
/// 1. clean-up: weld bit-identical vertices, drop degenerate/duplicate triangles;
/// 2. drop specks (shells below `min_shell_volume_mm3`);
/// 3. Taubin smoothing (λ = 0.5, μ = −0.53) followed, for closed input, by a global
///    volume correction back to the pre-smoothing volume, so the print keeps its size;
/// 4. decimation (skipped when `decimate` is `None`);
/// 5. repair: degenerate/duplicate triangles, non-manifold vertices, hole filling
///    (after smoothing, as the method recommends), outward orientation;
/// 6. validation ([`check_mesh`]) into the report.
pub fn condition(mut m: Mesh, o: &ConditionOptions) -> (Mesh, ConditionReport) {
    let input_triangles = m.triangles.len();
    weld_vertices(&mut m, 0.0);
    remove_degenerate_and_duplicate_triangles(&mut m);
    let (mut m, shells_removed) = remove_small_shells_counted(&m, o.min_shell_volume_mm3);

    if o.smooth_iterations > 0 {
        // Volume is only meaningful (and worth restoring) for a closed surface.
        let volume_before = check_mesh(&m).closed.then(|| signed_volume_mm3(&m));
        smooth_taubin(&mut m, o.smooth_iterations, TAUBIN_LAMBDA, TAUBIN_MU);
        if let Some(volume) = volume_before {
            restore_volume(&mut m, volume);
        }
    }
    if let Some(d) = &o.decimate {
        m = decimate(&m, d);
    }
    let holes_filled = repair_topology(&mut m);

    let report = ConditionReport {
        input_triangles,
        output_triangles: m.triangles.len(),
        shells_removed,
        holes_filled,
        check: check_mesh(&m),
        volume_mm3: signed_volume_mm3(&m),
        area_mm2: surface_area_mm2(&m),
    };
    info!(?report, "conditioned mesh");
    (m, report)
}
