//! 3MF (3D Manufacturing Format) export: one zip with the core-spec model file, one
//! object per anatomical part, each with its own display colour.
//!
//! Coordinates are written as they are, in patient mm (LPS), with no build transform, so
//! parts exported separately stay registered to each other. 3MF allows negative
//! coordinates; slicers place the build items on their plate themselves.

use std::io::{self, BufWriter, Seek, Write};

use thiserror::Error;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use crate::mesh::Mesh;

/// One object of a 3MF model.
#[derive(Debug, Clone)]
pub struct ModelPart<'a> {
    /// Object name shown by slicers (e.g. "bone").
    pub name: String,
    /// The part's surface (mm, outward winding).
    pub mesh: &'a Mesh,
    /// Display colour, sRGB + alpha.
    pub color_rgba: [u8; 4],
}

/// Why a model could not be exported.
#[derive(Debug, Error)]
pub enum ExportError {
    /// Writing failed.
    #[error("cannot write: {0}")]
    Io(#[from] io::Error),
    /// The zip container could not be written.
    #[error("cannot write zip container: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A part violates what the 3MF core spec requires of a mesh.
    #[error("part {part:?}: {problem}")]
    InvalidPart { part: String, problem: String },
    /// Nothing to export.
    #[error("a model needs at least one part")]
    NoParts,
}

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>
</Types>
"#;

const RELATIONSHIPS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Target="/3D/3dmodel.model" Id="rel0" Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>
</Relationships>
"#;

/// Writes a 3MF package: `[Content_Types].xml`, `_rels/.rels` and `3D/3dmodel.model`
/// (unit millimeter, one `basematerials` entry per part for its colour, one
/// `<object type="model">` per part and one build item per object). The model is
/// streamed into the deflated zip entry, so memory stays flat for large meshes.
///
/// Errors for an empty part list, and for parts the spec forbids: no triangles, an index
/// out of range, a triangle with a repeated index, or a non-finite coordinate.
pub fn write_3mf(w: impl Write + Seek, parts: &[ModelPart]) -> Result<(), ExportError> {
    check_parts(parts)?;
    let estimated_bytes: u64 = parts
        .iter()
        .map(|p| 80 * p.mesh.vertices.len() as u64 + 60 * p.mesh.triangles.len() as u64)
        .sum();
    // Level 1: 3MF meshes are large XML; the fastest deflate level already shrinks them ~4x and
    // keeps export time small next to the rest of the pipeline.
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1));
    let mut zip = ZipWriter::new(w);
    zip.start_file("[Content_Types].xml", options)?;
    zip.write_all(CONTENT_TYPES.as_bytes())?;
    zip.start_file("_rels/.rels", options)?;
    zip.write_all(RELATIONSHIPS.as_bytes())?;
    zip.start_file(
        "3D/3dmodel.model",
        options.large_file(estimated_bytes >= u64::from(u32::MAX)),
    )?;
    {
        let mut out = BufWriter::with_capacity(1 << 20, &mut zip);
        write_model(&mut out, parts)?;
        out.flush()?;
    }
    zip.finish()?;
    Ok(())
}

/// The checks every exporter makes: at least one part, and each part with triangles,
/// indices in range, no repeated index in a triangle and finite coordinates.
pub(crate) fn check_parts(parts: &[ModelPart]) -> Result<(), ExportError> {
    if parts.is_empty() {
        return Err(ExportError::NoParts);
    }
    parts.iter().try_for_each(check_part)
}

fn check_part(part: &ModelPart) -> Result<(), ExportError> {
    let invalid = |problem: String| ExportError::InvalidPart {
        part: part.name.clone(),
        problem,
    };
    let m = part.mesh;
    if m.triangles.is_empty() {
        return Err(invalid("no triangles".into()));
    }
    if let Some(v) = m.vertices.iter().position(|p| !p.iter().all(|c| c.is_finite())) {
        return Err(invalid(format!("vertex {v} has a non-finite coordinate")));
    }
    let n = m.vertices.len() as u32;
    for (i, t) in m.triangles.iter().enumerate() {
        if t.iter().any(|&v| v >= n) {
            return Err(invalid(format!("triangle {i} indexes past {n} vertices")));
        }
        if t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
            return Err(invalid(format!("triangle {i} repeats a vertex")));
        }
    }
    Ok(())
}

fn write_model(out: &mut impl Write, parts: &[ModelPart]) -> io::Result<()> {
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<model unit="millimeter" xml:lang="en-US" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">"#
    )?;
    writeln!(out, r#"  <metadata name="Application">medprint</metadata>"#)?;
    writeln!(out, "  <resources>")?;
    writeln!(out, r#"    <basematerials id="1">"#)?;
    for part in parts {
        let [r, g, b, a] = part.color_rgba;
        writeln!(
            out,
            r##"      <base name="{}" displaycolor="#{r:02X}{g:02X}{b:02X}{a:02X}"/>"##,
            xml_escape(&part.name)
        )?;
    }
    writeln!(out, "    </basematerials>")?;
    for (k, part) in parts.iter().enumerate() {
        writeln!(
            out,
            r#"    <object id="{}" type="model" name="{}" pid="1" pindex="{k}">"#,
            k + 2,
            xml_escape(&part.name)
        )?;
        writeln!(out, "      <mesh>\n        <vertices>")?;
        for p in &part.mesh.vertices {
            writeln!(out, r#"          <vertex x="{}" y="{}" z="{}"/>"#, p[0], p[1], p[2])?;
        }
        writeln!(out, "        </vertices>\n        <triangles>")?;
        for t in &part.mesh.triangles {
            writeln!(
                out,
                r#"          <triangle v1="{}" v2="{}" v3="{}"/>"#,
                t[0], t[1], t[2]
            )?;
        }
        writeln!(out, "        </triangles>\n      </mesh>\n    </object>")?;
    }
    writeln!(out, "  </resources>\n  <build>")?;
    for k in 0..parts.len() {
        writeln!(out, r#"    <item objectid="{}"/>"#, k + 2)?;
    }
    writeln!(out, "  </build>\n</model>")
}

/// Escapes the five XML special characters for attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}
