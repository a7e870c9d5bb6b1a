//! Binary glTF 2.0 (GLB) for web and AR viewers: one mesh and one named node per part,
//! each with its own PBR material (base colour from the part's sRGB colour).
//!
//! glTF is in metres with +Y up and +Z towards the viewer, so patient LPS millimetres are
//! mapped by a proper rotation and a scale: X = L, Y = S, Z = A = −P, all × 0.001. The
//! winding (counter-clockwise from outside) is kept; the model faces the viewer.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::threemf::{check_parts, ExportError, ModelPart};
use crate::mesh::Mesh;
use crate::smooth::vertex_normals;

/// glTF component type FLOAT.
const FLOAT: u32 = 5126;
/// glTF component type UNSIGNED_INT.
const UNSIGNED_INT: u32 = 5125;
/// glTF buffer view target ARRAY_BUFFER.
const ARRAY_BUFFER: u32 = 34962;
/// glTF buffer view target ELEMENT_ARRAY_BUFFER.
const ELEMENT_ARRAY_BUFFER: u32 = 34963;
/// Metres per millimetre.
const METRES_PER_MM: f32 = 0.001;

/// Patient LPS mm → glTF metres (X = L, Y = S, Z = −P).
fn to_gltf(p: [f32; 3]) -> [f32; 3] {
    [p[0] * METRES_PER_MM, p[2] * METRES_PER_MM, -p[1] * METRES_PER_MM]
}

/// Writes a GLB: JSON chunk + one binary buffer holding, per part, positions (VEC3 f32,
/// with accessor min/max), unit vertex normals (VEC3 f32) and triangle indices (u32),
/// every view 4-byte aligned. Materials are metallic 0, roughness 0.6, base colour the
/// part colour converted to linear, alpha blended when alpha < 255. Same part checks as
/// [`super::write_3mf`]; a buffer over 4 GiB is an error.
pub fn write_glb(mut w: impl Write, parts: &[ModelPart]) -> Result<(), ExportError> {
    check_parts(parts)?;
    let mut binary: Vec<u8> = Vec::new();
    let (mut views, mut accessors, mut meshes, mut nodes, mut materials) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (k, part) in parts.iter().enumerate() {
        let positions: Vec<[f32; 3]> = part.mesh.vertices.iter().map(|&p| to_gltf(p)).collect();
        let normals: Vec<[f32; 3]> = normals_of(part.mesh).into_iter().map(rotate_normal).collect();
        let (lo, hi) = bounds(&positions);
        let position_accessor = accessors.len();
        push_view(&mut binary, &mut views, positions.as_flattened(), ARRAY_BUFFER);
        accessors.push(
            json!({"bufferView": views.len() - 1, "componentType": FLOAT, "count": positions.len(),
                              "type": "VEC3", "min": lo, "max": hi}),
        );
        push_view(&mut binary, &mut views, normals.as_flattened(), ARRAY_BUFFER);
        accessors.push(
            json!({"bufferView": views.len() - 1, "componentType": FLOAT, "count": normals.len(),
                              "type": "VEC3"}),
        );
        let indices: Vec<u32> = part.mesh.triangles.as_flattened().to_vec();
        push_view(&mut binary, &mut views, &indices, ELEMENT_ARRAY_BUFFER);
        accessors.push(json!({"bufferView": views.len() - 1, "componentType": UNSIGNED_INT,
                              "count": indices.len(), "type": "SCALAR"}));
        let [r, g, b, a] = part.color_rgba;
        let mut material = json!({"name": part.name, "pbrMetallicRoughness": {
            "baseColorFactor": [srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), f32::from(a) / 255.0],
            "metallicFactor": 0.0, "roughnessFactor": 0.6}});
        if a < 255 {
            material["alphaMode"] = json!("BLEND");
        }
        materials.push(material);
        meshes.push(json!({"name": part.name, "primitives": [{"attributes": {
            "POSITION": position_accessor, "NORMAL": position_accessor + 1},
            "indices": position_accessor + 2, "material": k, "mode": 4}]}));
        nodes.push(json!({"name": part.name, "mesh": k}));
    }
    let buffer_length = u32::try_from(binary.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "GLB binary chunk over 4 GiB"))?;
    let document = json!({
        "asset": {"version": "2.0", "generator": "medprint"},
        "scene": 0,
        "scenes": [{"name": "medprint model", "nodes": (0..parts.len()).collect::<Vec<_>>()}],
        "nodes": nodes, "meshes": meshes, "materials": materials, "accessors": accessors,
        "bufferViews": views, "buffers": [{"byteLength": buffer_length}],
    });
    let mut text = serde_json::to_vec(&document).map_err(io::Error::other)?;
    while !text.len().is_multiple_of(4) {
        text.push(b' ');
    }
    let total = 12 + 8 + text.len() as u64 + 8 + binary.len() as u64;
    let total = u32::try_from(total).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "GLB file over 4 GiB"))?;
    w.write_all(b"glTF")?;
    w.write_all(&2u32.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(&(text.len() as u32).to_le_bytes())?;
    w.write_all(b"JSON")?;
    w.write_all(&text)?;
    w.write_all(&buffer_length.to_le_bytes())?;
    w.write_all(b"BIN\0")?;
    w.write_all(&binary)?;
    w.flush()?;
    Ok(())
}

/// Appends `values` (little-endian) as a buffer view starting on a 4-byte boundary.
fn push_view<T: LittleEndian>(binary: &mut Vec<u8>, views: &mut Vec<Value>, values: &[T], target: u32) {
    while !binary.len().is_multiple_of(4) {
        binary.push(0);
    }
    let offset = binary.len();
    for v in values {
        binary.extend_from_slice(&v.le_bytes());
    }
    views.push(json!({"buffer": 0, "byteOffset": offset, "byteLength": binary.len() - offset, "target": target}));
}

/// 4-byte scalars as stored in a glTF buffer.
trait LittleEndian {
    fn le_bytes(&self) -> [u8; 4];
}

impl LittleEndian for f32 {
    fn le_bytes(&self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

impl LittleEndian for u32 {
    fn le_bytes(&self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

/// Unit area-weighted vertex normals; a vertex without area gets +S (glTF needs unit
/// normals everywhere).
fn normals_of(m: &Mesh) -> Vec<[f32; 3]> {
    vertex_normals(m)
        .into_iter()
        .map(|n| {
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            if len > 0.5 && len.is_finite() {
                n.map(|c| c / len)
            } else {
                [0.0, 0.0, 1.0]
            }
        })
        .collect()
}

/// The rotation of [`to_gltf`] without the scale.
fn rotate_normal(n: [f32; 3]) -> [f32; 3] {
    [n[0], n[2], -n[1]]
}

fn bounds(points: &[[f32; 3]]) -> ([f32; 3], [f32; 3]) {
    points
        .iter()
        .fold(([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]), |(mut lo, mut hi), p| {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
            (lo, hi)
        })
}

/// sRGB 8-bit channel → linear [0, 1] (IEC 61966-2-1), as glTF base colours are linear.
fn srgb_to_linear(c: u8) -> f32 {
    let s = f32::from(c) / 255.0;
    if s <= 0.04045 {
        s / 12.92
    } else {
        ((s + 0.055) / 1.055).powf(2.4)
    }
}
