//! STL, binary and ASCII. Coordinates are written as they are (patient mm), normals are
//! recomputed from the winding.

use std::io::{self, BufWriter, Read, Write};

use thiserror::Error;
use tracing::warn;

use crate::measure::{norm, triangle_cross};
use crate::mesh::Mesh;
use crate::repair::weld_vertices;

/// Bytes of a binary STL header plus triangle count.
const BINARY_PREAMBLE: usize = 84;
/// Bytes per binary STL triangle record.
const BINARY_RECORD: usize = 50;

/// Why an STL could not be read.
#[derive(Debug, Error)]
pub enum StlError {
    /// Reading failed.
    #[error("cannot read STL: {0}")]
    Io(#[from] io::Error),
    /// Fewer bytes than a binary header, and not ASCII STL.
    #[error("STL too short: {0} bytes, a binary STL needs at least 84")]
    TooShort(usize),
    /// The binary triangle count needs more bytes than the file has.
    #[error("binary STL declares {declared} triangles ({needed} bytes) but has {actual} bytes")]
    Truncated { declared: u32, needed: u64, actual: usize },
    /// A coordinate is NaN or infinite.
    #[error("STL triangle {0} has a non-finite coordinate")]
    NonFinite(usize),
    /// Malformed ASCII STL.
    #[error("ASCII STL line {line}: {message}")]
    Parse { line: usize, message: String },
}

/// Writes binary STL (80-byte header, little-endian records). Triangle normals are unit
/// right-hand-rule normals (zero for degenerate triangles).
pub fn write_stl_binary(w: impl Write, m: &Mesh) -> io::Result<()> {
    let count = u32::try_from(m.triangles.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "binary STL holds at most 2^32 - 1 triangles",
        )
    })?;
    let mut w = BufWriter::with_capacity(1 << 20, w);
    let mut header = [b' '; 80];
    let text = b"binary STL written by medprint; units mm, patient coordinates (LPS)";
    header[..text.len()].copy_from_slice(text);
    w.write_all(&header)?;
    w.write_all(&count.to_le_bytes())?;
    let mut record = [0u8; BINARY_RECORD];
    for t in &m.triangles {
        let values = std::iter::once(unit_normal(m, t)).chain(t.map(|v| m.vertices[v as usize]));
        for (slot, p) in record.chunks_exact_mut(12).zip(values) {
            for (bytes, c) in slot.chunks_exact_mut(4).zip(p) {
                bytes.copy_from_slice(&c.to_le_bytes());
            }
        }
        w.write_all(&record)?;
    }
    w.flush()
}

/// Writes ASCII STL. Coordinates use Rust's shortest round-trip formatting, so reading
/// the file back gives the same f32 values.
pub fn write_stl_ascii(w: impl Write, m: &Mesh) -> io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 20, w);
    writeln!(w, "solid medprint")?;
    for t in &m.triangles {
        let n = unit_normal(m, t);
        writeln!(w, "  facet normal {:e} {:e} {:e}", n[0], n[1], n[2])?;
        writeln!(w, "    outer loop")?;
        for &v in t {
            let p = m.vertices[v as usize];
            writeln!(w, "      vertex {} {} {}", p[0], p[1], p[2])?;
        }
        writeln!(w, "    endloop")?;
        writeln!(w, "  endfacet")?;
    }
    writeln!(w, "endsolid medprint")?;
    w.flush()
}

/// Reads binary or ASCII STL and welds bit-identical vertices, so the result is an
/// indexed mesh whose topology can be checked. Binary is recognised by its size
/// (84 + 50·count bytes; trailing bytes are ignored with a warning); ASCII by a leading
/// `solid` keyword when the size does not match. Hostile input gives an error, never a
/// panic: truncation, a count too large for the bytes, non-finite coordinates, malformed
/// ASCII.
pub fn read_stl(mut r: impl Read) -> Result<Mesh, StlError> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)?;
    let declared = bytes
        .get(80..BINARY_PREAMBLE)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let needed = declared.map(|d| BINARY_PREAMBLE as u64 + BINARY_RECORD as u64 * u64::from(d));
    let looks_ascii = bytes.trim_ascii_start().starts_with(b"solid");
    let mut mesh = match (declared, needed) {
        (Some(declared), Some(needed)) if needed == bytes.len() as u64 => parse_binary(&bytes, declared)?,
        _ if looks_ascii => parse_ascii(&bytes)?,
        (Some(declared), Some(needed)) if needed < bytes.len() as u64 => {
            warn!(
                extra = bytes.len() as u64 - needed,
                "binary STL has trailing bytes; ignored"
            );
            parse_binary(&bytes, declared)?
        }
        (Some(declared), Some(needed)) => {
            return Err(StlError::Truncated {
                declared,
                needed,
                actual: bytes.len(),
            })
        }
        _ => return Err(StlError::TooShort(bytes.len())),
    };
    weld_vertices(&mut mesh, 0.0);
    Ok(mesh)
}

/// Binary records; the caller has checked that `count` records fit in `bytes`.
fn parse_binary(bytes: &[u8], count: u32) -> Result<Mesh, StlError> {
    let count = count as usize;
    let mut m = Mesh {
        vertices: Vec::with_capacity(3 * count),
        triangles: Vec::with_capacity(count),
    };
    let records = bytes[BINARY_PREAMBLE..].chunks_exact(BINARY_RECORD).take(count);
    for (t, record) in records.enumerate() {
        for corner in record[12..48].chunks_exact(12) {
            let p: [f32; 3] = std::array::from_fn(|a| {
                let b = &corner[4 * a..4 * a + 4];
                f32::from_le_bytes([b[0], b[1], b[2], b[3]])
            });
            if !p.iter().all(|c| c.is_finite()) {
                return Err(StlError::NonFinite(t));
            }
            m.vertices.push(p);
        }
        let base = 3 * t as u32;
        m.triangles.push([base, base + 1, base + 2]);
    }
    Ok(m)
}

/// ASCII STL: `solid`, then `facet normal … outer loop vertex×3 endloop endfacet`
/// blocks, then `endsolid`. Keywords are matched case-insensitively; normals are ignored.
fn parse_ascii(bytes: &[u8]) -> Result<Mesh, StlError> {
    let text = std::str::from_utf8(bytes).map_err(|e| StlError::Parse {
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
        message: "not UTF-8 text".into(),
    })?;
    let mut m = Mesh::default();
    let mut corners = 0usize;
    let mut ended = false;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let fail = |message: String| StlError::Parse { line, message };
        let mut words = raw.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        match keyword.to_ascii_lowercase().as_str() {
            "solid" | "outer" | "facet" => {}
            "vertex" => {
                let p: Vec<f32> = words
                    .map(|w| w.parse::<f32>().map_err(|e| fail(format!("bad number {w:?}: {e}"))))
                    .collect::<Result<_, _>>()?;
                let [x, y, z] = p[..] else {
                    return Err(fail(format!("vertex needs 3 coordinates, got {}", p.len())));
                };
                if !(x.is_finite() && y.is_finite() && z.is_finite()) {
                    return Err(StlError::NonFinite(m.triangles.len()));
                }
                if corners == 3 {
                    return Err(fail("more than 3 vertices in a facet".into()));
                }
                m.vertices.push([x, y, z]);
                corners += 1;
            }
            "endloop" => {}
            "endfacet" => {
                if corners != 3 {
                    return Err(fail(format!("facet has {corners} vertices, expected 3")));
                }
                let base = m.vertices.len() as u32 - 3;
                m.triangles.push([base, base + 1, base + 2]);
                corners = 0;
            }
            "endsolid" => {
                ended = true;
                break;
            }
            other => return Err(fail(format!("unexpected keyword {other:?}"))),
        }
    }
    if !ended {
        return Err(StlError::Parse {
            line: text.lines().count(),
            message: "missing endsolid (truncated file?)".into(),
        });
    }
    Ok(m)
}

fn unit_normal(m: &Mesh, t: &[u32; 3]) -> [f32; 3] {
    let n = triangle_cross(m, t);
    let len = norm(n);
    if len > 0.0 {
        n.map(|c| (c / len) as f32)
    } else {
        [0.0; 3]
    }
}
