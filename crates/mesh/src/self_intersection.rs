//! Repair of self-intersections: cut out the triangles that cross each other (with a
//! growing margin of neighbours) and close the openings again.

use serde::Serialize;
use tracing::{debug, warn};

use crate::mesh::Mesh;
use crate::repair::{remove_unreferenced_vertices, repair_topology};
use crate::shells::shell_labels;
use crate::topology::{LocalCheck, VertexCorners};
use crate::validate::intersecting_pairs;

/// Rounds of cut-and-close before giving up.
const MAX_ROUNDS: usize = 5;

/// What [`resolve_self_intersections`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SelfIntersectionRepair {
    /// Intersecting triangle pairs within one shell found in the input.
    pub pairs_found: usize,
    /// Triangles cut out over all rounds.
    pub triangles_removed: usize,
    /// Openings closed again over all rounds.
    pub holes_filled: usize,
    /// Intersecting pairs left at the end (0 unless every round failed).
    pub pairs_remaining: usize,
    /// The repair made the topology worse or removed nothing, so the input was restored.
    pub reverted: bool,
}

/// Removes self-intersections: pairs of intersecting triangles of one shell. Pairs from
/// two different shells (touching or interpenetrating parts, which a slicer unites) are
/// left alone; [`crate::validate()`] still reports them. Each round finds the
/// intersecting pairs within shells ([`intersecting_pairs`]); if there are none it stops. Otherwise it deletes every
/// triangle of a pair plus `round` rings of vertex-adjacent triangles around them (round
/// 0, 1, 2, …), then runs [`repair_topology`] (non-manifold vertices split, holes
/// filled, winding made outward) and tests again. The loop ends when the test passes,
/// so a reported `pairs_remaining == 0` is proven by the same test the validator uses;
/// after five rounds the remaining count is reported and logged. The repair never leaves
/// the mesh with more topological defects (boundary, non-manifold or mis-oriented edges,
/// non-manifold vertices, degenerate triangles) than it had, nor without progress: then
/// the input is restored (`reverted`).
pub fn resolve_self_intersections(m: &mut Mesh) -> SelfIntersectionRepair {
    let mut report = SelfIntersectionRepair::default();
    let mut original: Option<(Mesh, LocalCheck)> = None;
    for round in 0..=MAX_ROUNDS {
        let labels = shell_labels(m);
        let pairs: Vec<(u32, u32)> = intersecting_pairs(m)
            .into_iter()
            .filter(|&(a, b)| labels.triangle[a as usize] == labels.triangle[b as usize])
            .collect();
        if round == 0 {
            report.pairs_found = pairs.len();
        }
        report.pairs_remaining = pairs.len();
        if pairs.is_empty() || round == MAX_ROUNDS {
            break;
        }
        if original.is_none() {
            original = Some((m.clone(), LocalCheck::of_mesh(m)));
        }
        let mut cut = vec![false; m.triangles.len()];
        for &(a, b) in &pairs {
            cut[a as usize] = true;
            cut[b as usize] = true;
        }
        for _ in 0..round {
            grow_by_one_ring(m, &mut cut);
        }
        let before = m.triangles.len();
        let mut index = 0;
        m.triangles.retain(|_| {
            index += 1;
            !cut[index - 1]
        });
        report.triangles_removed += before - m.triangles.len();
        remove_unreferenced_vertices(m);
        report.holes_filled += repair_topology(m);
        debug!(
            round,
            pairs = pairs.len(),
            removed = before - m.triangles.len(),
            "self-intersection repair"
        );
    }
    if let Some((input, before)) = original {
        let worse = !LocalCheck::of_mesh(m).no_worse_than(&before);
        if worse || report.pairs_remaining >= report.pairs_found {
            *m = input;
            report.reverted = true;
            report.pairs_remaining = report.pairs_found;
        }
    }
    if report.pairs_remaining > 0 {
        warn!(?report, "self-intersections remain after repair");
    }
    report
}

/// Adds to `marked` every triangle that shares a vertex with a marked one.
fn grow_by_one_ring(m: &Mesh, marked: &mut [bool]) {
    let corners = VertexCorners::build(m);
    let mut at_vertex = vec![false; m.vertices.len()];
    for (t, tri) in m.triangles.iter().enumerate() {
        if marked[t] {
            for &v in tri {
                at_vertex[v as usize] = true;
            }
        }
    }
    for (v, _) in at_vertex.iter().enumerate().filter(|(_, &a)| a) {
        for &c in corners.corners_of(v as u32) {
            marked[(c / 3) as usize] = true;
        }
    }
}
