//! The print-preparation entry point the pipeline calls for `convert --print-ready`: runs the
//! enabled steps in a fixed order and returns every printable piece with its role.
//!
//! Order: validate → fill cavities → orientation (on the solid models) → channels → hollow
//! (drains at the lowest points for that orientation; a channel crossing the cavity keeps a wall
//! around its bore) → dowels between separate shells → split for the build volume (pins) →
//! supports → hard-link tag.
//!
//! A step that fails on a part's geometry does not stop preparation: the split tries other
//! planes and leaves out connectors before it gives up, an open input gets a repair pass, and a
//! step that still fails is left out for that part with a [`Fallback`] naming it (the report's
//! `fallbacks`, shown to users as warnings). Invalid parameters, and inputs that leave no model
//! at all, are errors.

use medprint_mesh::repair::repair_topology;
use medprint_mesh::shells::{merge, split_shells};
use medprint_mesh::{check_mesh, Mesh};
use serde::Serialize;
use tracing::info;

use crate::cavities::{fill_cavities, CavityReport};
use crate::channels::{cut_channel, outer_hull, ChannelOptions, ChannelReport};
use crate::dowels::{place_dowels, DowelOptions, DowelReport};
use crate::error::{check_geometry, check_solid, unit_direction, PrintError};
use crate::fallback::{Fallback, Fallbacks, PrintStep};
use crate::hollow::{hollow, HollowOptions, HollowReport};
use crate::orientation::{auto_orient, overhangs, OrientationReport, OverhangReport};
use crate::spatial::SurfaceIndex;
use crate::split::{split_with_alternatives, SplitOptions, SplitReport};
use crate::supports::{support_pillars, SupportOptions, SupportReport};
use crate::tag::{hard_link_code, hard_link_tag, TagOptions};

/// A model part as it comes from conditioning: a name (e.g. "bone") and a closed mesh in mm.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedMesh {
    /// Name used for output files.
    pub name: String,
    /// Closed mesh, patient mm.
    pub mesh: Mesh,
}

/// What a prepared piece is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartRole {
    /// Anatomy (or a split piece of it).
    Model,
    /// A dowel holding separate pieces in place (including the tag's).
    Dowel,
    /// A support pillar.
    Support,
    /// The hard-link tag plate.
    Tag,
    /// A pin joining split pieces.
    Connector,
}

/// One printable piece.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedPart {
    /// Unique name, derived from the input name.
    pub name: String,
    /// Role.
    pub role: PartRole,
    /// Closed mesh (one or more closed shells), patient mm.
    pub mesh: Mesh,
}

/// The hard-link tag request: the inputs the code is computed over (order id, input digests,
/// pipeline version, output digests …) and the plate parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRequest {
    /// Hashed in order by [`hard_link_code`].
    pub inputs: Vec<Vec<u8>>,
    /// Plate geometry.
    pub options: TagOptions,
}

/// Which steps [`prepare`] runs and with what parameters (all lengths mm).
#[derive(Debug, Clone, PartialEq)]
pub struct PrintOptions {
    /// Keep internal cavities (hollow output) instead of filling them.
    pub keep_cavities: bool,
    /// Hollow every part to a wall, with drains.
    pub hollow: Option<HollowOptions>,
    /// Internal points (mm) to connect to the outer surface by channels, e.g. inside a structure
    /// removed from the model (kept as a void with `keep_cavities`).
    pub channel_targets: Vec<[f64; 3]>,
    /// Channel geometry.
    pub channel: ChannelOptions,
    /// Dowels between separate shells.
    pub dowels: Option<DowelOptions>,
    /// Split parts larger than the build volume.
    pub split: Option<SplitOptions>,
    /// Build direction ("up") to use or to start the search from (`HollowOptions::up` is
    /// replaced by the direction chosen).
    pub up: [f64; 3],
    /// Search the orientation with least support volume (`samples` directions).
    pub auto_orient_samples: Option<usize>,
    /// Self-supporting angle, degrees from horizontal.
    pub self_supporting_deg: f64,
    /// Support pillars.
    pub supports: Option<SupportOptions>,
    /// Hard-link tag.
    pub tag: Option<TagRequest>,
}

impl Default for PrintOptions {
    /// Fill cavities, no hollowing or channels, dowels and a 120 mm build volume with default
    /// parameters, +z up with a 200-direction orientation search, no supports, no tag.
    fn default() -> Self {
        Self {
            keep_cavities: false,
            hollow: None,
            channel_targets: Vec::new(),
            channel: ChannelOptions::default(),
            dowels: Some(DowelOptions::default()),
            split: Some(SplitOptions::default()),
            up: [0.0, 0.0, 1.0],
            auto_orient_samples: Some(200),
            self_supporting_deg: 45.0,
            supports: None,
            tag: None,
        }
    }
}

/// Everything [`prepare`] measured and decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrintReport {
    /// Cavity filling per input part.
    pub cavities: Vec<(String, CavityReport)>,
    /// Hollowing per input part.
    pub hollow: Vec<(String, HollowReport)>,
    /// Channels cut.
    pub channels: Vec<ChannelReport>,
    /// Dowels between shells.
    pub dowels: Option<DowelReport>,
    /// Splits per input part that did not fit.
    pub splits: Vec<(String, SplitReport)>,
    /// Overhangs for the given direction (`None` when they could not be measured).
    pub overhangs: Option<OverhangReport>,
    /// Orientation search.
    pub orientation: Option<OrientationReport>,
    /// The build direction chosen, unit vector in patient coordinates.
    pub build_direction: [f64; 3],
    /// Supports built.
    pub supports: Option<SupportReport>,
    /// The hard-link code (on the tag plate unless a fallback says the plate was left out).
    pub tag_code: Option<String>,
    /// Steps done differently or left out, with the parts concerned and why.
    pub fallbacks: Vec<Fallback>,
    /// Pieces that are not closed, manifold and consistently oriented (empty when all are).
    pub open_pieces: Vec<String>,
    /// Every output shell is closed and manifold.
    pub all_closed: bool,
}

impl PrintReport {
    /// One plain-language warning per fallback and one for the open pieces, for users.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings: Vec<String> = self.fallbacks.iter().map(Fallback::warning).collect();
        if !self.open_pieces.is_empty() {
            warnings.push(format!(
                "print preparation: {} not closed; check and repair in the slicer before printing",
                self.open_pieces.join(", ")
            ));
        }
        warnings
    }
}

/// The prepared print: pieces with roles and the report.
#[derive(Debug, Clone)]
pub struct PreparedPrint {
    /// Every piece to print.
    pub parts: Vec<PreparedPart>,
    /// What was done.
    pub report: PrintReport,
}

/// Checks every parameter before any work, so that a mistake in them is reported as such and
/// not mistaken for a geometry failure.
fn validate_options(options: &PrintOptions) -> Result<[f64; 3], PrintError> {
    if let Some(split) = &options.split {
        split.validate()?;
    }
    unit_direction("up", options.up)
}

/// The input parts that can be prepared (closed after a repair pass where needed), and those
/// that cannot but still hold triangles (passed through as they are, reported open).
fn usable_inputs(
    parts: &[NamedMesh],
    fallbacks: &mut Fallbacks,
) -> Result<(Vec<NamedMesh>, Vec<NamedMesh>), PrintError> {
    let mut solid = Vec::with_capacity(parts.len());
    let mut as_is = Vec::new();
    let mut first_error = None;
    for part in parts {
        let name = part.name.as_str();
        if let Err(e) = check_geometry(&part.mesh, name) {
            first_error.get_or_insert(e.clone());
            fallbacks.record(
                PrintStep::Input,
                &[name],
                "left out: it holds no usable triangles".into(),
                e.to_string(),
            );
            continue;
        }
        let Err(open) = check_solid(&part.mesh, name) else {
            solid.push(part.clone());
            continue;
        };
        let mut repaired = part.mesh.clone();
        repair_topology(&mut repaired);
        if check_solid(&repaired, name).is_ok() {
            fallbacks.record(
                PrintStep::Input,
                &[name],
                "was not closed; holes were filled before preparation".into(),
                open.to_string(),
            );
            solid.push(NamedMesh {
                name: part.name.clone(),
                mesh: repaired,
            });
        } else {
            fallbacks.record(
                PrintStep::Input,
                &[name],
                "is not closed even after repair; written as it is, without print preparation".into(),
                open.to_string(),
            );
            as_is.push(part.clone());
        }
    }
    if solid.is_empty() && as_is.is_empty() {
        return Err(first_error.unwrap_or_else(|| PrintError::EmptyMesh {
            what: "print preparation (no usable part)".into(),
        }));
    }
    Ok((solid, as_is))
}

/// Pieces of one input part after the split (or the whole part) and its connector pins.
fn split_part(
    m: NamedMesh,
    split: &SplitOptions,
    fallbacks: &mut Fallbacks,
    splits: &mut Vec<(String, SplitReport)>,
) -> Result<(Vec<PreparedPart>, Vec<PreparedPart>), PrintError> {
    let whole = |m: NamedMesh| PreparedPart {
        name: m.name,
        role: PartRole::Model,
        mesh: m.mesh,
    };
    let [x, y, z] = split.build_volume_mm;
    let attempt = split_with_alternatives(&m.mesh, split);
    let Some(done) = fallbacks.or_leave_out(
        attempt,
        PrintStep::Split,
        &[&m.name],
        &format!(
            "could not be split for the {x:.0} × {y:.0} × {z:.0} mm build volume and is left whole;              print it on a larger printer or cut it in the slicer"
        ),
    )?
    else {
        return Ok((vec![whole(m)], Vec::new()));
    };
    let result = done.result;
    if let Some((_, first_failure)) = done.failed.first() {
        fallbacks.record(
            PrintStep::Split,
            &[&m.name],
            format!("was split with {}", result.report.variant.describe()),
            first_failure.to_string(),
        );
    }
    if result.parts.len() <= 1 {
        let mesh = result.parts.into_iter().next().unwrap_or(m.mesh);
        return Ok((vec![whole(NamedMesh { name: m.name, mesh })], Vec::new()));
    }
    let pieces = result
        .parts
        .into_iter()
        .enumerate()
        .map(|(n, mesh)| PreparedPart {
            name: format!("{}-part{n}", m.name),
            role: PartRole::Model,
            mesh,
        })
        .collect();
    let pins = result
        .pins
        .into_iter()
        .enumerate()
        .map(|(n, mesh)| PreparedPart {
            name: format!("{}-pin{n}", m.name),
            role: PartRole::Connector,
            mesh,
        })
        .collect();
    splits.push((m.name, result.report));
    Ok((pieces, pins))
}

/// Prepares conditioned parts for printing (see the module docs for the order of steps and
/// what happens when one fails).
pub fn prepare(parts: &[NamedMesh], options: &PrintOptions) -> Result<PreparedPrint, PrintError> {
    if parts.is_empty() {
        return Err(PrintError::EmptyMesh {
            what: "print preparation (no parts)".into(),
        });
    }
    let up = validate_options(options)?;
    let mut fallbacks = Fallbacks::default();
    let (inputs, as_is) = usable_inputs(parts, &mut fallbacks)?;
    let mut models: Vec<NamedMesh> = Vec::with_capacity(inputs.len());
    let mut cavities = Vec::new();
    let mut hollowed = Vec::new();
    for mut part in inputs {
        if !options.keep_cavities || options.hollow.is_some() {
            let filled = fallbacks.or_leave_out(
                fill_cavities(&part.mesh),
                PrintStep::Cavities,
                &[&part.name],
                "internal cavities were left unfilled; check that resin can drain",
            )?;
            if let Some((filled, report)) = filled {
                cavities.push((part.name.clone(), report));
                part.mesh = filled;
            }
        }
        models.push(part);
    }
    let all_names: Vec<&str> = parts.iter().map(|p| p.name.as_str()).collect();
    // The build direction is chosen on the solid models, before hollowing, so that the drains
    // go to the lowest cavity points of the orientation actually printed.
    let solid = merge(&models.iter().map(|m| m.mesh.clone()).collect::<Vec<_>>());
    let (given, orientation) = if solid.is_empty() {
        (None, None)
    } else {
        let unoptimised = "the print orientation could not be optimised; the scan's own up direction is used";
        let given = fallbacks.or_leave_out(
            overhangs(&solid, up, options.self_supporting_deg),
            PrintStep::Orientation,
            &all_names,
            unoptimised,
        )?;
        let orientation = match options.auto_orient_samples {
            Some(samples) => fallbacks.or_leave_out(
                auto_orient(&solid, up, options.self_supporting_deg, samples),
                PrintStep::Orientation,
                &all_names,
                unoptimised,
            )?,
            None => None,
        };
        (given, orientation)
    };
    let build_direction = orientation.map_or(up, |o| o.after.up);
    let mut channels = Vec::new();
    for &target in &options.channel_targets {
        let holder = models
            .iter()
            .position(|m| SurfaceIndex::new(&outer_hull(&m.mesh)).contains(target));
        let Some(holder) = holder else {
            fallbacks.record(
                PrintStep::Channel,
                &[],
                format!("no channel was cut to {target:.1?} mm: the point lies in no part"),
                "channel target outside every part".into(),
            );
            continue;
        };
        let holder = &mut models[holder];
        let cut = fallbacks.or_leave_out(
            cut_channel(&holder.mesh, target, &options.channel),
            PrintStep::Channel,
            &[&holder.name],
            &format!("no channel was cut to {target:.1?} mm"),
        )?;
        if let Some((out, report)) = cut {
            holder.mesh = out;
            channels.push(report);
        }
    }
    if let Some(h) = &options.hollow {
        for m in models.iter_mut() {
            let done = fallbacks.or_leave_out(
                hollow(
                    &m.mesh,
                    &HollowOptions {
                        up: build_direction,
                        ..*h
                    },
                ),
                PrintStep::Hollow,
                &[&m.name],
                "was left solid (hollowing failed)",
            )?;
            if let Some((out, report)) = done {
                hollowed.push((m.name.clone(), report));
                m.mesh = out;
            }
        }
    }
    let mut outputs: Vec<PreparedPart> = Vec::new();
    let dowels = match &options.dowels {
        Some(d) => {
            let shells: Vec<Mesh> = models.iter().flat_map(|m| split_shells(&m.mesh)).collect();
            let placed = if shells.len() > 1 {
                fallbacks.or_leave_out(
                    place_dowels(&shells, d),
                    PrintStep::Dowels,
                    &all_names,
                    "no dowels join the separate pieces; place them in the slicer",
                )?
            } else {
                None
            };
            placed.map(|(meshes, report)| {
                outputs.extend(meshes.into_iter().enumerate().map(|(n, mesh)| PreparedPart {
                    name: format!("dowel-{n}"),
                    role: PartRole::Dowel,
                    mesh,
                }));
                report
            })
        }
        None => None,
    };
    let mut splits = Vec::new();
    let mut model_parts = Vec::new();
    for m in models {
        match &options.split {
            Some(s) => {
                let (pieces, pins) = split_part(m, s, &mut fallbacks, &mut splits)?;
                model_parts.extend(pieces);
                outputs.extend(pins);
            }
            None => model_parts.push(PreparedPart {
                name: m.name,
                role: PartRole::Model,
                mesh: m.mesh,
            }),
        }
    }
    let supports = match &options.supports {
        Some(s) if !model_parts.is_empty() => {
            let everything = merge(
                &model_parts
                    .iter()
                    .chain(outputs.iter().filter(|p| p.role == PartRole::Dowel))
                    .map(|p| p.mesh.clone())
                    .collect::<Vec<_>>(),
            );
            let built = fallbacks.or_leave_out(
                support_pillars(&everything, build_direction, s),
                PrintStep::Supports,
                &all_names,
                "no support pillars were made; add supports in the slicer",
            )?;
            built.map(|(pillars, report)| {
                outputs.extend(pillars.into_iter().enumerate().map(|(n, mesh)| PreparedPart {
                    name: format!("support-{n}"),
                    role: PartRole::Support,
                    mesh,
                }));
                report
            })
        }
        _ => None,
    };
    model_parts.extend(as_is.into_iter().map(|m| PreparedPart {
        name: m.name,
        role: PartRole::Model,
        mesh: m.mesh,
    }));
    let mut tag_code = None;
    if let Some(request) = &options.tag {
        let inputs: Vec<&[u8]> = request.inputs.iter().map(Vec::as_slice).collect();
        let code = hard_link_code(&inputs);
        let neighbours: Vec<&Mesh> = model_parts.iter().map(|p| &p.mesh).collect();
        let tag = fallbacks.or_leave_out(
            hard_link_tag(&code, &neighbours, &request.options),
            PrintStep::Tag,
            &[],
            &format!("no tag plate was made; label the print with the code {code} by hand"),
        )?;
        if let Some(tag) = tag {
            outputs.push(PreparedPart {
                name: "tag".into(),
                role: PartRole::Tag,
                mesh: tag.plate,
            });
            if let Some(mesh) = tag.dowel {
                outputs.push(PreparedPart {
                    name: "tag-dowel".into(),
                    role: PartRole::Dowel,
                    mesh,
                });
            }
        }
        tag_code = Some(code);
    }
    let mut all: Vec<PreparedPart> = model_parts;
    all.extend(outputs);
    let open_pieces: Vec<String> = all
        .iter()
        .filter(|p| {
            let c = check_mesh(&p.mesh);
            !(c.closed && c.manifold && c.oriented)
        })
        .map(|p| p.name.clone())
        .collect();
    let all_closed = open_pieces.is_empty();
    info!(
        pieces = all.len(),
        splits = splits.len(),
        channels = channels.len(),
        fallbacks = fallbacks.taken.len(),
        up = ?build_direction,
        all_closed,
        "print preparation done"
    );
    Ok(PreparedPrint {
        parts: all,
        report: PrintReport {
            cavities,
            hollow: hollowed,
            channels,
            dowels,
            splits,
            overhangs: given,
            orientation,
            build_direction,
            supports,
            tag_code,
            fallbacks: fallbacks.taken,
            open_pieces,
            all_closed,
        },
    })
}
