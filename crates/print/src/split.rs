//! Splitting models larger than the build volume into parts that fit, joined by pins.
//!
//! Cut planes are axis-aligned: along each axis the extent is divided into the fewest slabs
//! that fit; each plane is moved, within the slack that keeps every slab fitting, to where the
//! model's section is smallest (9 samples), then nudged ≤ 0.5 mm into the widest vertex-free
//! gap so the plane hits no vertex. Every part therefore fits the build box without rotation. The mesh is clipped
//! exactly ([`crate::clip`]) and the cut faces capped. On every section region that is thick
//! enough, a connector is placed at the point of greatest clearance (a pole of inaccessibility
//! over the section at the cut and at several depths on both sides, and the cell's other cut
//! planes): a blind socket of `hole_diameter_mm` × `hole_depth_mm` is sunk into both faces and
//! a separate pin (`pin_diameter_mm` × `pin_length_mm`, role "connector") joins them, as the
//! seed's pre-cut models do. Pins are returned in assembled position, inside their sockets.
//! A region too thin for that connector (a rib, a thin process) gets a smaller one: socket,
//! pin and wall scaled down together to the largest size that fits, the hole–pin clearance
//! kept, down to `min_hole_diameter_mm`; only thinner regions go without.
//!
//! A cut part that comes out open (a section through self-touching or nearly coincident
//! surfaces) gets a repair pass; when that fails, [`split_with_alternatives`] tries other cut
//! planes (the next-smallest sections, one more cut per axis) and then cuts without connectors,
//! and reports what it had to give up.

use medprint_mesh::repair::{remove_degenerate_and_duplicate_triangles, repair_topology, weld_vertices};
use medprint_mesh::{check_mesh, Mesh};
use rayon::prelude::*;
use serde::Serialize;

use crate::clip::{clip, point_in_polygon, section_loops, signed_area2, AxisPlane, Socket};
use crate::error::{check_solid, positive, PrintError};
use crate::primitives::{cylinder, CYLINDER_SEGMENTS};

/// Parameters of [`split_to_fit`] (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitOptions {
    /// Printer build volume along x, y, z, mm.
    pub build_volume_mm: [f64; 3],
    /// Socket diameter, mm.
    pub hole_diameter_mm: f64,
    /// Socket depth into each part, mm.
    pub hole_depth_mm: f64,
    /// Pin diameter, mm (< hole diameter).
    pub pin_diameter_mm: f64,
    /// Pin length, mm (< 2 × hole depth).
    pub pin_length_mm: f64,
    /// Minimum material around a socket, mm.
    pub wall_clearance_mm: f64,
    /// Smallest socket for a thin section region, mm (> hole − pin diameter; one above the hole
    /// diameter means no reduced connectors).
    pub min_hole_diameter_mm: f64,
}

impl Default for SplitOptions {
    /// 120 mm cube, 3.0 mm sockets 4 mm deep, 2.8 mm pins 7.6 mm long, 1 mm wall; thin regions
    /// down to 1.5 mm sockets (1.3 mm pins, 0.5 mm wall).
    fn default() -> Self {
        Self {
            build_volume_mm: [120.0; 3],
            hole_diameter_mm: 3.0,
            hole_depth_mm: 4.0,
            pin_diameter_mm: 2.8,
            pin_length_mm: 7.6,
            wall_clearance_mm: 1.0,
            min_hole_diameter_mm: 1.5,
        }
    }
}

/// What [`split_to_fit`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplitReport {
    /// Cut planes as (axis 0/1/2, offset mm).
    pub cuts: Vec<(usize, f64)>,
    /// Area of the model's section in each cut plane, mm² (each is capped twice).
    pub cut_section_area_mm2: Vec<f64>,
    /// Parts produced.
    pub parts: usize,
    /// Pins placed (each joins two sockets).
    pub connectors: usize,
    /// Connectors scaled down for a thin section region (included in `connectors`).
    pub reduced_connectors: usize,
    /// Section regions too thin even for the smallest socket (no connector there).
    pub regions_without_connector: usize,
    /// Largest part extent along x, y, z, mm.
    pub largest_part_extent_mm: [f64; 3],
    /// Volume of all sockets sunk (two per connector), mm³.
    pub sockets_volume_mm3: f64,
    /// How the cut was made (the planned planes with connectors unless an alternative was needed).
    pub variant: SplitVariant,
    /// Cut parts that came out open and were closed by the repair pass.
    pub repaired_parts: usize,
}

/// How [`split_variant`] places its cuts: [`SplitVariant::PLANNED`] is the normal split, the
/// others are what [`split_with_alternatives`] falls back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SplitVariant {
    /// Which candidate position each plane takes, ranked by section area (0 = smallest).
    pub plane_rank: usize,
    /// Cuts added along each axis beyond the fewest that fit (every plane moves).
    pub extra_cuts: usize,
    /// Sockets and pins on the cut faces.
    pub connectors: bool,
}

impl SplitVariant {
    /// The smallest sections, fewest cuts, connectors.
    pub const PLANNED: Self = Self {
        plane_rank: 0,
        extra_cuts: 0,
        connectors: true,
    };

    /// What [`split_with_alternatives`] tries after [`Self::PLANNED`], in order: other planes
    /// with connectors first, then the same planes without connectors.
    pub const ALTERNATIVES: [Self; 6] = [
        Self {
            plane_rank: 1,
            ..Self::PLANNED
        },
        Self {
            plane_rank: 3,
            ..Self::PLANNED
        },
        Self {
            extra_cuts: 1,
            ..Self::PLANNED
        },
        Self {
            connectors: false,
            ..Self::PLANNED
        },
        Self {
            plane_rank: 1,
            connectors: false,
            ..Self::PLANNED
        },
        Self {
            extra_cuts: 1,
            connectors: false,
            ..Self::PLANNED
        },
    ];

    /// What differs from the planned split, in plain words (empty for [`Self::PLANNED`]).
    pub fn describe(&self) -> String {
        let mut what = Vec::new();
        if self.plane_rank > 0 {
            what.push("other cut planes");
        }
        if self.extra_cuts > 0 {
            what.push("an extra cut per axis");
        }
        if !self.connectors {
            what.push("no connector pins (glue the parts)");
        }
        what.join(", ")
    }
}

/// Parts, pins and report of [`split_to_fit`].
#[derive(Debug, Clone)]
pub struct SplitResult {
    /// Closed parts in original placement, each fitting the build volume without rotation.
    pub parts: Vec<Mesh>,
    /// Closed pins in assembled position.
    pub pins: Vec<Mesh>,
    /// Summary.
    pub report: SplitReport,
}

/// Most build-volume cells a model may be split into.
const MAX_CELLS: u64 = 1000;

/// Widest window (mm) a cut plane may be moved to avoid vertices.
const NUDGE_MM: f64 = 0.5;

impl SplitOptions {
    /// Checks every length (positive, finite), that a pin fits its socket, and that the build
    /// volume holds a connector; the error names the parameter.
    pub fn validate(&self) -> Result<(), PrintError> {
        for b in self.build_volume_mm {
            positive("build_volume_mm", b)?;
        }
        let hole = positive("hole_diameter_mm", self.hole_diameter_mm)?;
        let depth = positive("hole_depth_mm", self.hole_depth_mm)?;
        let pin = positive("pin_diameter_mm", self.pin_diameter_mm)?;
        let length = positive("pin_length_mm", self.pin_length_mm)?;
        let wall = positive("wall_clearance_mm", self.wall_clearance_mm)?;
        if pin >= hole {
            return Err(PrintError::BadParameter {
                name: "pin_diameter_mm",
                value: pin,
                why: "must be smaller than hole_diameter_mm",
            });
        }
        let min_hole = positive("min_hole_diameter_mm", self.min_hole_diameter_mm)?;
        if min_hole.min(hole) <= hole - pin {
            return Err(PrintError::BadParameter {
                name: "min_hole_diameter_mm",
                value: min_hole,
                why: "must leave a pin: above hole_diameter_mm − pin_diameter_mm",
            });
        }
        if length >= 2.0 * depth {
            return Err(PrintError::BadParameter {
                name: "pin_length_mm",
                value: length,
                why: "must be shorter than two socket depths",
            });
        }
        let smallest = self.build_volume_mm.iter().copied().fold(f64::INFINITY, f64::min);
        if smallest < 2.0 * (depth + wall) + 2.0 * NUDGE_MM || smallest < hole + 2.0 * wall {
            return Err(PrintError::BadParameter {
                name: "build_volume_mm",
                value: smallest,
                why: "is smaller than a connector needs (two socket depths plus walls)",
            });
        }
        Ok(())
    }
}

/// Splits a closed mesh (mm) into parts that each fit `options.build_volume_mm` without rotation.
/// A mesh that already fits comes back whole, without connectors.
pub fn split_to_fit(mesh: &Mesh, options: &SplitOptions) -> Result<SplitResult, PrintError> {
    split_variant(mesh, options, SplitVariant::PLANNED)
}

/// A split and the attempts that failed before it.
#[derive(Debug, Clone)]
pub struct SplitWithAlternatives {
    /// The first split that worked.
    pub result: SplitResult,
    /// Each variant tried before it, with why it failed.
    pub failed: Vec<(SplitVariant, PrintError)>,
}

/// [`split_to_fit`], and when a cut fails (a part that stays open after the repair pass, a
/// section that cannot be capped) the [`SplitVariant::ALTERNATIVES`] in order. Invalid input or
/// parameters fail at once; when every variant fails, the planned one's error is returned.
pub fn split_with_alternatives(mesh: &Mesh, options: &SplitOptions) -> Result<SplitWithAlternatives, PrintError> {
    check_solid(mesh, "split input")?;
    options.validate()?;
    let mut failed: Vec<(SplitVariant, PrintError)> = Vec::new();
    let mut tried: Vec<([Vec<f64>; 3], bool)> = Vec::new();
    for variant in std::iter::once(SplitVariant::PLANNED).chain(SplitVariant::ALTERNATIVES) {
        // A variant whose planes coincide with one already tried would fail the same way.
        let planes = (nominal_cuts(mesh, options, variant)?, variant.connectors);
        if tried.contains(&planes) {
            continue;
        }
        let cuts = planes.0.clone();
        tried.push(planes);
        match split_at(mesh, options, variant, cuts) {
            Ok(result) => return Ok(SplitWithAlternatives { result, failed }),
            Err(e @ (PrintError::Infeasible(_) | PrintError::NotClosed { .. } | PrintError::TooLarge { .. })) => {
                tracing::warn!(?variant, error = %e, "split attempt failed");
                failed.push((variant, e));
            }
            Err(e) => return Err(e),
        }
    }
    Err(failed
        .into_iter()
        .next()
        .map(|(_, e)| e)
        .unwrap_or_else(|| PrintError::Infeasible("no split was attempted".into())))
}

/// Nominal cut positions along each axis (mm) for `variant`, before the nudge off vertices.
fn nominal_cuts(mesh: &Mesh, options: &SplitOptions, variant: SplitVariant) -> Result<[Vec<f64>; 3], PrintError> {
    let (lo, hi) = mesh.bounds().ok_or_else(|| PrintError::EmptyMesh {
        what: "split input".into(),
    })?;
    Ok([0, 1, 2].map(|axis| {
        let (lo, hi) = (f64::from(lo[axis]), f64::from(hi[axis]));
        let box_mm = options.build_volume_mm[axis];
        if hi - lo <= box_mm {
            return Vec::new();
        }
        let slabs = ((hi - lo) / (box_mm - 2.0 * NUDGE_MM)).ceil() as usize + variant.extra_cuts;
        let width = (hi - lo) / slabs as f64;
        // Each plane may move by this much either way and every slab still fits.
        let slack = ((box_mm - 2.0 * NUDGE_MM) - width).max(0.0) / 2.0;
        (1..slabs)
            .map(|k| ranked_section_offset(mesh, axis, lo + width * k as f64, slack, variant.plane_rank))
            .collect()
    }))
}

/// Splits `mesh` the way `variant` says (see [`split_to_fit`]).
pub fn split_variant(mesh: &Mesh, options: &SplitOptions, variant: SplitVariant) -> Result<SplitResult, PrintError> {
    check_solid(mesh, "split input")?;
    options.validate()?;
    let cuts = nominal_cuts(mesh, options, variant)?;
    split_at(mesh, options, variant, cuts)
}

/// Splits a checked `mesh` with checked `options` at the nominal `cuts` of `variant`: each axis
/// is nudged off the vertices of the pieces it cuts just before cutting (earlier cuts add
/// vertices), and its sockets are planned then.
fn split_at(
    mesh: &Mesh,
    options: &SplitOptions,
    variant: SplitVariant,
    mut cuts: [Vec<f64>; 3],
) -> Result<SplitResult, PrintError> {
    let cells = cuts.iter().fold(1u64, |n, c| n.saturating_mul(c.len() as u64 + 1));
    if cells > MAX_CELLS {
        return Err(PrintError::TooLarge {
            what: "splitting into build volumes",
            needed: cells,
            limit: MAX_CELLS,
        });
    }
    let radius = options.hole_diameter_mm / 2.0;
    let mut planes_done: Vec<AxisPlane> = Vec::new();
    let mut cut_section_area_mm2 = Vec::new();
    let mut regions_without_connector = 0;
    let mut sockets_volume_mm3 = 0.0;
    let mut reduced_connectors = 0;
    let mut pieces = vec![mesh.clone()];
    let mut pins = Vec::new();
    for axis in 0..3 {
        if cuts[axis].is_empty() {
            continue;
        }
        for c in cuts[axis].iter_mut() {
            *c = nudge_off_vertices(&pieces, axis, *c);
        }
        let mut planes = Vec::new();
        for &offset in &cuts[axis] {
            let plane = AxisPlane { axis, offset };
            cut_section_area_mm2.push(section_area_mm2(mesh, plane));
            let (sockets, missed) = if variant.connectors {
                plan_sockets(mesh, plane, &cuts, radius, options)?
            } else {
                (Vec::new(), 0)
            };
            regions_without_connector += missed;
            planes.push((plane, sockets));
        }
        let mut used: Vec<Vec<bool>> = planes.iter().map(|(_, s)| vec![false; s.len()]).collect();
        let mut next = Vec::new();
        for piece in pieces {
            let mut rest = piece;
            for (n, (plane, sockets)) in planes.iter().enumerate() {
                let r = clip(&rest, *plane, sockets)?;
                for (u, &now) in used[n].iter_mut().zip(&r.used) {
                    *u |= now;
                }
                next.push(r.below);
                rest = r.above;
            }
            next.push(rest);
        }
        pieces = next.into_iter().filter(|p| !p.is_empty()).collect();
        for ((plane, sockets), used) in planes.iter().zip(&used) {
            planes_done.push(*plane);
            for (socket, _) in sockets.iter().zip(used).filter(|(_, &u)| u) {
                let half = options.pin_length_mm / 2.0;
                // The hole–pin clearance is the printer's tolerance: kept for a reduced socket.
                let pin_radius = socket.radius - (options.hole_diameter_mm - options.pin_diameter_mm) / 2.0;
                let pin = cylinder(
                    plane.lift(socket.centre, -half),
                    plane.lift(socket.centre, half),
                    pin_radius,
                    CYLINDER_SEGMENTS,
                )
                .ok_or_else(|| PrintError::Infeasible("degenerate pin".into()))?;
                pins.push(pin);
                reduced_connectors += usize::from(socket.radius < radius);
                sockets_volume_mm3 +=
                    2.0 * crate::primitives::cylinder_volume_mm3(socket.radius, socket.depth, CYLINDER_SEGMENTS);
            }
        }
    }
    let mut largest = [0.0f64; 3];
    let mut repaired_parts = 0;
    for (n, part) in pieces.iter_mut().enumerate() {
        remove_slivers(part);
        if !is_sound(part) {
            let mut repaired = part.clone();
            repair_topology(&mut repaired);
            if !is_sound(&repaired) || repaired.is_empty() {
                let check = check_mesh(part);
                return Err(PrintError::NotClosed {
                    what: format!("split part {n}"),
                    boundary_edges: check.boundary_edges,
                    non_manifold_edges: check.non_manifold_edges,
                });
            }
            *part = repaired;
            repaired_parts += 1;
        }
        if let Some((plo, phi)) = part.bounds() {
            for a in 0..3 {
                largest[a] = largest[a].max(f64::from(phi[a]) - f64::from(plo[a]));
            }
        }
    }
    let report = SplitReport {
        cuts: planes_done.iter().map(|p| (p.axis, p.offset)).collect(),
        cut_section_area_mm2,
        parts: pieces.len(),
        connectors: pins.len(),
        reduced_connectors,
        regions_without_connector,
        largest_part_extent_mm: largest,
        sockets_volume_mm3,
        variant,
        repaired_parts,
    };
    Ok(SplitResult {
        parts: pieces,
        pins,
        report,
    })
}

/// Material area (mm²) of the model's section in `plane`; +∞ when the section is not a set of loops.
fn section_area_mm2(mesh: &Mesh, plane: AxisPlane) -> f64 {
    section_loops(mesh, plane).map_or(f64::INFINITY, |loops| {
        loops.iter().map(|l| signed_area2(l)).sum::<f64>().abs() / 2.0
    })
}

/// The offset within `nominal ± slack` (9 samples) with the `rank`-th smallest section (0: the
/// smallest, so cut faces and the connectors they need stay small; clamped to the distinct
/// samples); ties go to the sample nearest `nominal`.
fn ranked_section_offset(mesh: &Mesh, axis: usize, nominal: f64, slack: f64, rank: usize) -> f64 {
    let mut samples: Vec<(f64, f64, f64)> = (0..9)
        .map(|j| nominal + slack * (j as f64 / 4.0 - 1.0))
        .map(|offset| {
            (
                section_area_mm2(mesh, AxisPlane { axis, offset }),
                (offset - nominal).abs(),
                offset,
            )
        })
        .collect();
    samples.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    samples.dedup_by(|a, b| a.2 == b.2);
    samples
        .get(rank.min(samples.len().saturating_sub(1)))
        .map_or(nominal, |chosen| chosen.2)
}

/// Closed, manifold (edges and vertices) and consistently oriented: what a cut part must be.
fn is_sound(part: &Mesh) -> bool {
    let check = check_mesh(part);
    check.closed && check.manifold && check.oriented
}

/// Cut vertices a few µm apart (where a cut plane crosses a fan of an earlier cap) leave
/// sliver triangles. Welds vertices within [`SLIVER_WELD_MM`] and drops the collapsed
/// triangles; the result is kept only if it is still closed, manifold and oriented.
fn remove_slivers(part: &mut Mesh) {
    if check_mesh(part).degenerate_triangles == 0 {
        return;
    }
    let mut welded = part.clone();
    weld_vertices(&mut welded, SLIVER_WELD_MM as f32);
    remove_degenerate_and_duplicate_triangles(&mut welded);
    let check = check_mesh(&welded);
    if check.closed && check.manifold && check.oriented && !welded.is_empty() {
        *part = welded;
    }
}

/// Vertices closer than this (mm) are merged when removing slivers from split parts.
const SLIVER_WELD_MM: f64 = 1e-3;

/// Moves `offset` (mm) within ±[`NUDGE_MM`] to the middle of the widest gap between vertex
/// coordinates of the pieces along `axis`, so that no vertex lies on the cut plane.
fn nudge_off_vertices(pieces: &[Mesh], axis: usize, offset: f64) -> f64 {
    let (lo, hi) = (offset - NUDGE_MM, offset + NUDGE_MM);
    let mut near: Vec<f64> = pieces
        .iter()
        .flat_map(|m| m.vertices.iter())
        .map(|v| f64::from(v[axis]))
        .filter(|&x| x > lo && x < hi)
        .collect();
    near.push(lo);
    near.push(hi);
    near.sort_by(f64::total_cmp);
    let (a, b) = near
        .windows(2)
        .map(|w| (w[0], w[1]))
        .max_by(|x, y| (x.1 - x.0).total_cmp(&(y.1 - y.0)))
        .unwrap_or((lo, hi));
    let mid = 0.5 * (a + b);
    // Round to f32 so the cut vertices lie exactly on the plane.
    f64::from(mid as f32)
}

/// Distance from `p` to segment `ab`.
fn segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let ab = [b[0] - a[0], b[1] - a[1]];
    let ap = [p[0] - a[0], p[1] - a[1]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1];
    let t = if len2 > 0.0 {
        ((ap[0] * ab[0] + ap[1] * ab[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let d = [ap[0] - t * ab[0], ap[1] - t * ab[1]];
    (d[0] * d[0] + d[1] * d[1]).sqrt()
}

/// The polygons of one section with a point query: signed clearance (mm) to the material
/// boundary, positive inside the material.
struct Section {
    loops: Vec<Vec<[f64; 2]>>,
}

impl Section {
    fn clearance(&self, p: [f64; 2]) -> f64 {
        let mut inside = false;
        let mut nearest = f64::INFINITY;
        for ring in &self.loops {
            if point_in_polygon(p, ring) {
                inside = !inside;
            }
            let n = ring.len();
            for i in 0..n {
                nearest = nearest.min(segment_distance(p, ring[i], ring[(i + 1) % n]));
            }
        }
        if inside {
            nearest
        } else {
            -nearest
        }
    }
}

/// Chooses socket centres on `plane`: one per section region (outer loop within each cell face)
/// whose clearance through the socket depth on both sides is at least radius + wall, or, for a
/// thinner region, a socket and wall scaled down to fit (not below `min_hole_diameter_mm`).
/// Returns the sockets and the number of regions too thin even for that.
fn plan_sockets(
    mesh: &Mesh,
    plane: AxisPlane,
    cuts: &[Vec<f64>; 3],
    radius: f64,
    options: &SplitOptions,
) -> Result<(Vec<Socket>, usize), PrintError> {
    let depth = options.hole_depth_mm;
    let need = radius + options.wall_clearance_mm;
    // Connectors scale by f ∈ [smallest, 1]: radius f·r with wall f·w needs clearance f·need.
    let smallest = options.min_hole_diameter_mm.min(options.hole_diameter_mm) / options.hole_diameter_mm;
    let need_smallest = smallest * need;
    let at_cut = section_loops(mesh, plane)?;
    let mut probes = Vec::new();
    for h in [0.5, 1.0] {
        for sign in [-1.0, 1.0] {
            let offset = plane.offset + sign * h * (depth + options.wall_clearance_mm);
            probes.push(Section {
                loops: section_loops(
                    mesh,
                    AxisPlane {
                        axis: plane.axis,
                        offset,
                    },
                )?,
            });
        }
    }
    let cut_section = Section { loops: at_cut.clone() };
    let (u, v) = plane.plane_axes();
    let cell_edges = |axis: usize| -> Vec<f64> {
        let mut e = vec![f64::NEG_INFINITY];
        e.extend_from_slice(&cuts[axis]);
        e.push(f64::INFINITY);
        e
    };
    let (u_edges, v_edges) = (cell_edges(u), cell_edges(v));
    let mut sockets: Vec<Socket> = Vec::new();
    let mut missed = 0;
    let min_area2 = 2.0 * std::f64::consts::PI * need_smallest * need_smallest;
    for ring in at_cut.iter().filter(|r| signed_area2(r) > 0.0) {
        if signed_area2(ring) <= min_area2 {
            // Smaller than the smallest socket's disc of clearance.
            missed += 1;
            continue;
        }
        let rlo = [0, 1].map(|a| ring.iter().map(|p| p[a]).fold(f64::INFINITY, f64::min));
        let rhi = [0, 1].map(|a| ring.iter().map(|p| p[a]).fold(f64::NEG_INFINITY, f64::max));
        for cu in u_edges.windows(2) {
            for cv in v_edges.windows(2) {
                let lo = [rlo[0].max(cu[0]), rlo[1].max(cv[0])];
                let hi = [rhi[0].min(cu[1]), rhi[1].min(cv[1])];
                if lo[0] >= hi[0] || lo[1] >= hi[1] {
                    continue;
                }
                let score = |p: [f64; 2]| -> f64 {
                    if !point_in_polygon(p, ring) {
                        return f64::NEG_INFINITY;
                    }
                    let rect = (p[0] - cu[0]).min(cu[1] - p[0]).min(p[1] - cv[0]).min(cv[1] - p[1]) - NUDGE_MM;
                    let mut s = rect.min(cut_section.clearance(p));
                    for probe in &probes {
                        if s < need_smallest {
                            break;
                        }
                        s = s.min(probe.clearance(p));
                    }
                    for other in &sockets {
                        let d = ((p[0] - other.centre[0]).powi(2) + (p[1] - other.centre[1]).powi(2)).sqrt();
                        s = s.min(d - other.radius);
                    }
                    s
                };
                let Some(best) = pole_of_inaccessibility(lo, hi, &score) else {
                    continue;
                };
                let clearance = score(best);
                if clearance >= need_smallest {
                    sockets.push(Socket {
                        centre: best,
                        radius: radius * (clearance / need).min(1.0),
                        depth,
                        segments: CYLINDER_SEGMENTS,
                    });
                } else {
                    missed += 1;
                }
            }
        }
    }
    Ok((sockets, missed))
}

/// Best-scoring point of a rectangle: a coarse grid search refined twice around the best
/// sample. `None` when every sample scores −∞ (the region misses the rectangle's samples).
fn pole_of_inaccessibility(lo: [f64; 2], hi: [f64; 2], score: &(dyn Fn([f64; 2]) -> f64 + Sync)) -> Option<[f64; 2]> {
    let extent = [hi[0] - lo[0], hi[1] - lo[1]];
    let mut step = (extent[0] * extent[1] / 1500.0).sqrt().max(0.25);
    let samples = |lo: [f64; 2], hi: [f64; 2], step: f64| -> Vec<[f64; 2]> {
        let nx = ((hi[0] - lo[0]) / step).floor() as usize + 1;
        let ny = ((hi[1] - lo[1]) / step).floor() as usize + 1;
        (0..nx * ny)
            .map(|n| [lo[0] + step * (n % nx) as f64, lo[1] + step * (n / nx) as f64])
            .map(|p| [p[0].min(hi[0]), p[1].min(hi[1])])
            .collect()
    };
    let best_of = |pts: Vec<[f64; 2]>| {
        pts.into_par_iter()
            .map(|p| (score(p), p))
            .filter(|(s, _)| s.is_finite())
            .max_by(|a, b| a.0.total_cmp(&b.0))
    };
    let (_, mut best) = best_of(samples(lo, hi, step))?;
    for _ in 0..2 {
        let r = step;
        step /= 4.0;
        let window_lo = [(best[0] - r).max(lo[0]), (best[1] - r).max(lo[1])];
        let window_hi = [(best[0] + r).min(hi[0]), (best[1] + r).min(hi[1])];
        if let Some((_, p)) = best_of(samples(window_lo, window_hi, step)) {
            best = p;
        }
    }
    Some(best)
}
