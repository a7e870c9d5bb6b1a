//! Wavefront OBJ: one `o` group per part, vertices in patient mm (LPS), 1-based faces.

use std::io::{self, BufWriter, Write};

use super::threemf::{check_parts, ExportError, ModelPart};

/// Writes all parts into one OBJ text: a comment header naming the unit (mm), then per
/// part `o <name>`, its `v x y z` lines and its `f a b c` lines (indices 1-based and
/// global across parts, counter-clockwise seen from outside). Names are reduced to one
/// line without leading/trailing blanks. Same part checks as [`super::write_3mf`].
pub fn write_obj(w: impl Write, parts: &[ModelPart]) -> Result<(), ExportError> {
    check_parts(parts)?;
    let mut out = BufWriter::with_capacity(1 << 20, w);
    writeln!(out, "# OBJ written by medprint; units mm, patient coordinates (LPS)")?;
    let mut offset: u64 = 1;
    for part in parts {
        let name: String = part
            .name
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let name = name.trim();
        writeln!(out, "o {}", if name.is_empty() { "part" } else { name })?;
        for p in &part.mesh.vertices {
            writeln!(out, "v {} {} {}", p[0], p[1], p[2])?;
        }
        for t in &part.mesh.triangles {
            let [a, b, c] = t.map(|v| u64::from(v) + offset);
            writeln!(out, "f {a} {b} {c}")?;
        }
        offset += part.mesh.vertices.len() as u64;
    }
    out.flush().map_err(|e: io::Error| e.into())
}
