//! The standard surface-conditioning chain the CLI runs on every extracted isosurface.

use serde::Serialize;
use tracing::info;

use rayon::prelude::*;

use crate::decimate::{decimate_shell, DecimateOptions};
use crate::measure::{signed_volume_mm3, surface_area_mm2};
use crate::mesh::Mesh;
use crate::repair::{remove_degenerate_and_duplicate_triangles, repair_topology, weld_vertices};
use crate::self_intersection::{resolve_self_intersections, SelfIntersectionRepair};
use crate::shells::{merge, shell_labels, split_labelled};
use crate::smooth::{
    restore_volume_along, smooth_taubin_with, vertex_normals_with, VertexNeighbours, TAUBIN_LAMBDA, TAUBIN_MU,
};
use crate::topology::{check_mesh, LocalCheck, MeshCheck, VertexCorners};

/// Parameters of [`condition`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionOptions {
    /// Taubin λ/μ iterations (0 = no smoothing).
    pub smooth_iterations: usize,
    /// Poly-reduction; `None` keeps every triangle.
    pub decimate: Option<DecimateOptions>,
    /// Shells enclosing less than this volume (mm³) are dropped as specks.
    pub min_shell_volume_mm3: f64,
    /// Find and cut out self-intersections after the other repairs and close the
    /// openings ([`resolve_self_intersections`]).
    pub resolve_self_intersections: bool,
}

impl Default for ConditionOptions {
    /// 10 smoothing iterations, decimation to 25 % within 0.2 mm, specks below 50 mm³.
    fn default() -> Self {
        Self {
            smooth_iterations: 10,
            decimate: Some(DecimateOptions::default()),
            min_shell_volume_mm3: 50.0,
            resolve_self_intersections: true,
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
    /// Self-intersection repair (all zero when disabled or none was found).
    pub self_intersections: SelfIntersectionRepair,
    /// Validation of the output.
    pub check: MeshCheck,
    /// Enclosed volume of the output, mm³.
    pub volume_mm3: f64,
    /// Surface area of the output, mm².
    pub area_mm2: f64,
}

/// Conditions an extracted surface for printing:
///
/// 1. clean-up: weld bit-identical vertices, drop degenerate/duplicate triangles — skipped
///    when the input is already closed, manifold, consistently oriented and free of
///    degenerate triangles (an isosurface), where it cannot improve printability;
/// 2. split into shells (connected components) and drop specks (shells below
///    `min_shell_volume_mm3`);
/// 3. per shell, in parallel: Taubin smoothing (λ = 0.5, μ = −0.53) followed, for a
///    closed shell, by a volume correction back to its pre-smoothing volume, so the print
///    keeps its size; then decimation (skipped when `decimate` is `None`), checked per
///    shell (see [`crate::decimate()`]);
/// 4. repair: degenerate/duplicate triangles, non-manifold vertices, hole filling
///    (after smoothing, as the method recommends), outward orientation — always for input
///    that needed clean-up, otherwise only if the validation below finds a defect;
/// 5. self-intersections (when `resolve_self_intersections`): crossing triangles cut
///    out and the openings closed until the intersection test passes;
/// 6. validation ([`check_mesh`]) into the report.
pub fn condition(mut m: Mesh, o: &ConditionOptions) -> (Mesh, ConditionReport) {
    let input_triangles = m.triangles.len();
    let clean_input = LocalCheck::of_mesh(&m).is_clean();
    if !clean_input {
        weld_vertices(&mut m, 0.0);
        remove_degenerate_and_duplicate_triangles(&mut m);
    }
    let labels = shell_labels(&m);
    let keep: Vec<bool> = labels
        .signed_volumes(&m)
        .iter()
        .map(|v| v.abs() >= o.min_shell_volume_mm3)
        .collect();
    let shells_removed = keep.iter().filter(|&&k| !k).count();
    let shells = split_labelled(&m, &labels, &keep);
    drop(m);
    let conditioned: Vec<Mesh> = shells
        .into_par_iter()
        .with_max_len(1)
        .map(|shell| condition_shell(shell, o, clean_input))
        .collect();
    let mut m = merge(&conditioned);
    drop(conditioned);

    let mut check = check_mesh(&m);
    let mut holes_filled = 0;
    if !clean_input || !check.is_printable() {
        holes_filled = repair_topology(&mut m);
        check = check_mesh(&m);
    }
    let mut self_intersections = SelfIntersectionRepair::default();
    if o.resolve_self_intersections {
        self_intersections = resolve_self_intersections(&mut m);
        if self_intersections.pairs_found > 0 {
            check = check_mesh(&m);
        }
    }
    let report = ConditionReport {
        input_triangles,
        self_intersections,
        output_triangles: m.triangles.len(),
        shells_removed,
        holes_filled,
        check,
        volume_mm3: signed_volume_mm3(&m),
        area_mm2: surface_area_mm2(&m),
    };
    info!(?report, "conditioned mesh");
    (m, report)
}

/// Smooths (with volume restore when closed) and decimates one compact shell. `clean`
/// says the shell is known to pass [`LocalCheck::is_clean`]; the vertex→corner table is
/// built once and serves the neighbour table, the normals and the check.
fn condition_shell(mut shell: Mesh, o: &ConditionOptions, clean: bool) -> Mesh {
    let local = if clean {
        LocalCheck::default()
    } else {
        LocalCheck::of_mesh(&shell)
    };
    if o.smooth_iterations > 0 {
        let corners = VertexCorners::build(&shell);
        // Volume is only meaningful (and worth restoring) for a closed surface.
        let volume_before = (local.boundary_edges == 0).then(|| signed_volume_mm3(&shell));
        let adjacency = if clean {
            VertexNeighbours::from_clean_corners(&shell, &corners)
        } else {
            VertexNeighbours::build(&shell)
        };
        smooth_taubin_with(&mut shell, &adjacency, o.smooth_iterations, TAUBIN_LAMBDA, TAUBIN_MU);
        if let Some(volume) = volume_before {
            let normals = vertex_normals_with(&shell, &corners);
            restore_volume_along(&mut shell, volume, &normals);
        }
    }
    match &o.decimate {
        // A dirty shell is re-checked after smoothing, as the old whole-mesh chain did.
        Some(d) => decimate_shell(&shell, d, clean.then_some(&local)),
        None => shell,
    }
}
