//! `convert --print-ready`: the conditioned bone model through print preparation
//! (`medprint_print::prepare`), written as one STL per piece and a 3MF with one object per piece.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;

use medprint_mesh::export::{write_3mf, write_stl_binary, ModelPart};
use medprint_mesh::measure::signed_volume_mm3;
use medprint_mesh::Mesh;
use medprint_print::tag::TagOptions;
use medprint_print::{prepare, NamedMesh, PartRole, PrintOptions, PrintReport, TagRequest};
use rayon::prelude::*;
use serde::Serialize;

use crate::convert::{output_error, write_atomically, write_with_buffer, PipelineError};

/// Folder of the print-ready pieces.
pub const PRINT_DIR: &str = "print";
/// The 3MF of the print-ready pieces.
pub const PRINT_3MF: &str = "print/print.3mf";

/// One piece in the report.
#[derive(Debug, Clone, Serialize)]
pub struct PrintPiece {
    /// Piece name.
    pub name: String,
    /// What it is for.
    pub role: PartRole,
    /// Triangles.
    pub triangles: usize,
    /// Enclosed volume, mm³.
    pub volume_mm3: f64,
    /// STL file, relative to the output directory.
    pub stl: String,
}

/// What print preparation did, in `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PrintSummary {
    /// Every piece written.
    pub pieces: Vec<PrintPiece>,
    /// Steps left out or done differently, and pieces that are not closed, in plain language
    /// (also among the run's warnings); empty when preparation went as planned.
    pub warnings: Vec<String>,
    /// The preparation steps' figures (cavities, splits, dowels, orientation, supports, tag,
    /// fallbacks with their technical reasons).
    pub preparation: PrintReport,
}

fn role_color(role: PartRole) -> [u8; 4] {
    match role {
        PartRole::Model => [235, 225, 195, 255],
        PartRole::Dowel => [120, 160, 220, 255],
        PartRole::Support => [180, 180, 180, 255],
        PartRole::Tag => [40, 40, 40, 255],
        PartRole::Connector => [230, 120, 40, 255],
    }
}

/// Prepares `bone` for printing with `options`; the hard-link code is computed over
/// `code_inputs` (medprint version, input, series) and the model's STL bytes.
pub fn write_print_ready(
    out_dir: &Path,
    bone: &Mesh,
    options: &PrintOptions,
    code_inputs: Vec<Vec<u8>>,
) -> Result<PrintSummary, PipelineError> {
    let mut options = options.clone();
    if let Some(tag) = &mut options.tag {
        let mut stl = Vec::new();
        write_stl_binary(&mut stl, bone).map_err(|e| output_error(out_dir, e))?;
        tag.inputs = code_inputs;
        tag.inputs.push(stl);
    }
    let prepared = prepare(
        &[NamedMesh {
            name: "bone".into(),
            mesh: bone.clone(),
        }],
        &options,
    )?;
    let dir = out_dir.join(PRINT_DIR);
    fs::create_dir_all(&dir).map_err(|e| output_error(&dir, e))?;
    let pieces: Vec<PrintPiece> = prepared
        .parts
        .par_iter()
        .map(|part| {
            let stl = format!("{PRINT_DIR}/{}.stl", part.name);
            write_with_buffer(&out_dir.join(&stl), |w| write_stl_binary(w, &part.mesh))?;
            Ok(PrintPiece {
                name: part.name.clone(),
                role: part.role,
                triangles: part.mesh.triangle_count(),
                volume_mm3: signed_volume_mm3(&part.mesh),
                stl,
            })
        })
        .collect::<Result<_, PipelineError>>()?;
    let objects: Vec<ModelPart> = prepared
        .parts
        .iter()
        .map(|p| ModelPart {
            name: p.name.clone(),
            mesh: &p.mesh,
            color_rgba: role_color(p.role),
        })
        .collect();
    write_atomically(&out_dir.join(PRINT_3MF), |tmp| {
        let file = File::create(tmp).map_err(|e| e.to_string())?;
        write_3mf(BufWriter::with_capacity(1 << 20, file), &objects).map_err(|e| e.to_string())
    })?;
    Ok(PrintSummary {
        pieces,
        warnings: prepared.report.warnings(),
        preparation: prepared.report,
    })
}

/// Print options for the CLI: a build volume (mm), optional hollowing (wall mm, drain mm),
/// supports, and the hard-link tag.
pub fn print_options(
    build_volume_mm: [f64; 3],
    hollow_wall_mm: Option<f64>,
    supports: bool,
    tag: bool,
) -> PrintOptions {
    let mut options = PrintOptions::default();
    if let Some(split) = &mut options.split {
        split.build_volume_mm = build_volume_mm;
    }
    options.hollow = hollow_wall_mm.map(|wall_mm| medprint_print::hollow::HollowOptions {
        wall_mm,
        ..Default::default()
    });
    if supports {
        options.supports = Some(Default::default());
    }
    options.tag = tag.then(|| TagRequest {
        inputs: Vec::new(),
        options: TagOptions::default(),
    });
    options
}
