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
    restore_volume_along, smooth_taubin_with, vertex_normals, vertex_normals_with, VertexNeighbours, TAUBIN_LAMBDA,
    TAUBIN_MU,
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
pub fn condition(m: Mesh, o: &ConditionOptions) -> (Mesh, ConditionReport) {
    condition_with_volume_targets(m, o, &OwnVolumes)
}

/// The volume each shell of a surface should enclose, from whatever the surface was extracted
/// from (a segmentation's voxel count, typically). Used by [`condition_with_volume_targets`].
pub trait ShellVolumeTargets: Sync {
    /// For each of `shells` (closed and outward-oriented unless the input was dirty), the signed
    /// volume in mm³ it should enclose after conditioning, or `None` to keep its own.
    /// Must return one entry per shell.
    fn targets(&self, shells: &[Mesh]) -> Vec<Option<f64>>;
}

/// Every shell keeps the volume it had when extracted ([`condition`]).
struct OwnVolumes;

impl ShellVolumeTargets for OwnVolumes {
    fn targets(&self, shells: &[Mesh]) -> Vec<Option<f64>> {
        vec![None; shells.len()]
    }
}

/// [`condition`], except that each closed shell is brought to the volume `targets` gives it
/// (instead of its pre-smoothing volume), after smoothing and again after decimation: by a
/// uniform offset along the vertex normals (first order, ΔV / area, applied twice; a fraction
/// of a voxel on a segmentation's surface), or by scaling about its centre when the change is
/// larger than 20 % (fragments of a few voxels).
pub fn condition_with_volume_targets(
    mut m: Mesh,
    o: &ConditionOptions,
    targets: &dyn ShellVolumeTargets,
) -> (Mesh, ConditionReport) {
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
    let mut volume_targets = targets.targets(&shells);
    volume_targets.resize(shells.len(), None);
    let conditioned: Vec<Mesh> = shells
        .into_par_iter()
        .zip(volume_targets)
        .with_max_len(1)
        .map(|(shell, target)| condition_shell(shell, o, clean_input, target))
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
/// built once and serves the neighbour table, the normals and the check. A closed shell is
/// brought to `target` (mm³) when given, otherwise kept at its own volume through smoothing.
fn condition_shell(mut shell: Mesh, o: &ConditionOptions, clean: bool, target: Option<f64>) -> Mesh {
    let local = if clean {
        LocalCheck::default()
    } else {
        LocalCheck::of_mesh(&shell)
    };
    // Volume is only meaningful (and worth restoring) for a closed surface.
    let closed = local.boundary_edges == 0;
    let target = target.filter(|t| closed && t.is_finite());
    if o.smooth_iterations > 0 || target.is_some() {
        let corners = VertexCorners::build(&shell);
        let volume = closed.then(|| target.unwrap_or_else(|| signed_volume_mm3(&shell)));
        if o.smooth_iterations > 0 {
            let adjacency = if clean {
                VertexNeighbours::from_clean_corners(&shell, &corners)
            } else {
                VertexNeighbours::build(&shell)
            };
            smooth_taubin_with(&mut shell, &adjacency, o.smooth_iterations, TAUBIN_LAMBDA, TAUBIN_MU);
        }
        if let Some(volume) = volume {
            bring_to_volume(&mut shell, volume, |m| vertex_normals_with(m, &corners));
        }
    }
    let mut shell = match &o.decimate {
        // A dirty shell is re-checked after smoothing, as the old whole-mesh chain did.
        Some(d) => decimate_shell(&shell, d, clean.then_some(&local)),
        None => shell,
    };
    // Decimation moves the volume by a little; a shell with a target is brought back to it.
    if let (Some(volume), Some(_)) = (target, &o.decimate) {
        bring_to_volume(&mut shell, volume, vertex_normals);
    }
    shell
}

/// Relative volume change above which a closed shell is scaled about its centre instead of
/// offset along its normals: a shell that far from its target is a fragment of a few voxels
/// whose coarse surface would fold over itself under a large offset.
const MAX_OFFSET_CHANGE: f64 = 0.2;

/// Brings a closed shell to `target` mm³: by an offset along its vertex normals for a small
/// change, by uniform scaling about its vertex centroid for a large one (or when the offset
/// leaves it more than 1 % away).
fn bring_to_volume(shell: &mut Mesh, target: f64, normals: impl FnOnce(&Mesh) -> Vec<[f32; 3]>) {
    let own = signed_volume_mm3(shell);
    if own == 0.0 || !own.is_finite() || target.signum() != own.signum() {
        return;
    }
    if (target / own - 1.0).abs() <= MAX_OFFSET_CHANGE {
        let n = normals(shell);
        restore_volume_along(shell, target, &n);
    }
    let now = signed_volume_mm3(shell);
    if now == 0.0 || now.signum() != target.signum() || (target / now - 1.0).abs() <= 0.01 {
        return;
    }
    let factor = (target / now).cbrt() as f32;
    let count = shell.vertices.len().max(1) as f64;
    let mut centre = [0.0f64; 3];
    for p in &shell.vertices {
        for a in 0..3 {
            centre[a] += f64::from(p[a]) / count;
        }
    }
    let centre = centre.map(|c| c as f32);
    for p in &mut shell.vertices {
        for a in 0..3 {
            p[a] = centre[a] + (p[a] - centre[a]) * factor;
        }
    }
}
