//! The print-preparation entry point the pipeline calls for `convert --print-ready`: runs the
//! enabled steps in a fixed order and returns every printable piece with its role.
//!
//! Order: validate → fill cavities → orientation (on the solid models) → channels → hollow
//! (drains at the lowest points for that orientation; a channel crossing the cavity keeps a wall
//! around its bore) → dowels between separate shells → split for the build volume (pins) →
//! supports → hard-link tag.

use medprint_mesh::shells::{merge, split_shells};
use medprint_mesh::{check_mesh, Mesh};
use serde::Serialize;
use tracing::info;

use crate::cavities::{fill_cavities, CavityReport};
use crate::channels::{cut_channel, outer_hull, ChannelOptions, ChannelReport};
use crate::dowels::{place_dowels, DowelOptions, DowelReport};
use crate::error::{check_solid, unit_direction, PrintError};
use crate::hollow::{hollow, HollowOptions, HollowReport};
use crate::orientation::{auto_orient, overhangs, OrientationReport, OverhangReport};
use crate::spatial::SurfaceIndex;
use crate::split::{split_to_fit, SplitOptions, SplitReport};
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
    /// Overhangs for the given direction, and the search result when enabled.
    pub overhangs: OverhangReport,
    /// Orientation search.
    pub orientation: Option<OrientationReport>,
    /// The build direction chosen, unit vector in patient coordinates.
    pub build_direction: [f64; 3],
    /// Supports built.
    pub supports: Option<SupportReport>,
    /// The hard-link code on the tag.
    pub tag_code: Option<String>,
    /// Every output shell is closed and manifold.
    pub all_closed: bool,
}

/// The prepared print: pieces with roles and the report.
#[derive(Debug, Clone)]
pub struct PreparedPrint {
    /// Every piece to print.
    pub parts: Vec<PreparedPart>,
    /// What was done.
    pub report: PrintReport,
}

/// Prepares conditioned parts for printing (see the module docs for the order of steps).
pub fn prepare(parts: &[NamedMesh], options: &PrintOptions) -> Result<PreparedPrint, PrintError> {
    if parts.is_empty() {
        return Err(PrintError::EmptyMesh {
            what: "print preparation (no parts)".into(),
        });
    }
    let up = unit_direction("up", options.up)?;
    let mut models: Vec<NamedMesh> = Vec::with_capacity(parts.len());
    let mut cavities = Vec::new();
    let mut hollowed = Vec::new();
    for part in parts {
        check_solid(&part.mesh, &part.name)?;
        let mut mesh = part.mesh.clone();
        if !options.keep_cavities || options.hollow.is_some() {
            let (filled, report) = fill_cavities(&mesh)?;
            cavities.push((part.name.clone(), report));
            mesh = filled;
        }
        models.push(NamedMesh {
            name: part.name.clone(),
            mesh,
        });
    }
    // The build direction is chosen on the solid models, before hollowing, so that the drains
    // go to the lowest cavity points of the orientation actually printed.
    let solid = merge(&models.iter().map(|m| m.mesh.clone()).collect::<Vec<_>>());
    let given = overhangs(&solid, up, options.self_supporting_deg)?;
    let orientation = match options.auto_orient_samples {
        Some(samples) => Some(auto_orient(&solid, up, options.self_supporting_deg, samples)?),
        None => None,
    };
    let build_direction = orientation.map_or(up, |o| o.after.up);
    let mut channels = Vec::new();
    for &target in &options.channel_targets {
        let holder = models
            .iter()
            .position(|m| SurfaceIndex::new(&outer_hull(&m.mesh)).contains(target))
            .ok_or_else(|| PrintError::Infeasible(format!("channel target {target:?} lies in no part")))?;
        let (out, report) = cut_channel(&models[holder].mesh, target, &options.channel)?;
        models[holder].mesh = out;
        channels.push(report);
    }
    if let Some(h) = &options.hollow {
        for m in models.iter_mut() {
            let (out, report) = hollow(
                &m.mesh,
                &HollowOptions {
                    up: build_direction,
                    ..*h
                },
            )?;
            hollowed.push((m.name.clone(), report));
            m.mesh = out;
        }
    }
    let mut outputs: Vec<PreparedPart> = Vec::new();
    let dowels = match &options.dowels {
        Some(d) => {
            let shells: Vec<Mesh> = models.iter().flat_map(|m| split_shells(&m.mesh)).collect();
            if shells.len() > 1 {
                let (meshes, report) = place_dowels(&shells, d)?;
                outputs.extend(meshes.into_iter().enumerate().map(|(n, mesh)| PreparedPart {
                    name: format!("dowel-{n}"),
                    role: PartRole::Dowel,
                    mesh,
                }));
                Some(report)
            } else {
                None
            }
        }
        None => None,
    };
    let mut splits = Vec::new();
    let mut model_parts = Vec::new();
    for m in models {
        match &options.split {
            Some(s) => {
                let result = split_to_fit(&m.mesh, s)?;
                if result.parts.len() > 1 {
                    for (n, mesh) in result.parts.into_iter().enumerate() {
                        model_parts.push(PreparedPart {
                            name: format!("{}-part{n}", m.name),
                            role: PartRole::Model,
                            mesh,
                        });
                    }
                    for (n, mesh) in result.pins.into_iter().enumerate() {
                        outputs.push(PreparedPart {
                            name: format!("{}-pin{n}", m.name),
                            role: PartRole::Connector,
                            mesh,
                        });
                    }
                    splits.push((m.name.clone(), result.report));
                    continue;
                }
                model_parts.push(PreparedPart {
                    name: m.name,
                    role: PartRole::Model,
                    mesh: result.parts.into_iter().next().unwrap_or(m.mesh),
                });
            }
            None => model_parts.push(PreparedPart {
                name: m.name,
                role: PartRole::Model,
                mesh: m.mesh,
            }),
        }
    }
    let everything = merge(
        &model_parts
            .iter()
            .chain(outputs.iter().filter(|p| p.role == PartRole::Dowel))
            .map(|p| p.mesh.clone())
            .collect::<Vec<_>>(),
    );
    let supports = match &options.supports {
        Some(s) => {
            let (pillars, report) = support_pillars(&everything, build_direction, s)?;
            outputs.extend(pillars.into_iter().enumerate().map(|(n, mesh)| PreparedPart {
                name: format!("support-{n}"),
                role: PartRole::Support,
                mesh,
            }));
            Some(report)
        }
        None => None,
    };
    let mut tag_code = None;
    if let Some(request) = &options.tag {
        let inputs: Vec<&[u8]> = request.inputs.iter().map(Vec::as_slice).collect();
        let code = hard_link_code(&inputs);
        let neighbours: Vec<&Mesh> = model_parts.iter().map(|p| &p.mesh).collect();
        let tag = hard_link_tag(&code, &neighbours, &request.options)?;
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
        tag_code = Some(code);
    }
    let mut all: Vec<PreparedPart> = model_parts;
    all.extend(outputs);
    let all_closed = all.iter().all(|p| {
        let c = check_mesh(&p.mesh);
        c.closed && c.manifold && c.oriented
    });
    info!(
        pieces = all.len(),
        splits = splits.len(),
        channels = channels.len(),
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
            all_closed,
        },
    })
}
