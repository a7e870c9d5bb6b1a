//! The hard-link tag: a small plate printed beside the model that carries the order's short
//! code as a QR code (raised modules) and as raised text, joined to the nearest part by a dowel,
//! so the physical model stays linked to its order, inputs and outputs.

use font8x8::UnicodeFonts;
use medprint_mesh::Mesh;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{check_geometry, positive, PrintError};
use crate::primitives::{cuboid, cylinder, CYLINDER_SEGMENTS};
use crate::spatial::SurfaceIndex;
use crate::vector::{add, normalized, scale, sub, Vec3};

/// Version of the hashing scheme, hashed into every code.
const HARD_LINK_DOMAIN: &[u8] = b"medprint hard link v1";
/// Crockford base32: digits and capitals without I, L, O, U (easy to type back).
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a hard-link code (50 bits of SHA-256).
pub const CODE_LENGTH: usize = 10;

/// A short, human-typable code (10 Crockford base32 characters, 50 bits of SHA-256) over the
/// inputs in order, e.g. order id, input digests, pipeline version, output digests. Each input
/// is length-prefixed, so different splits of the same bytes give different codes.
pub fn hard_link_code(inputs: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(HARD_LINK_DOMAIN);
    for input in inputs {
        hasher.update((input.len() as u64).to_le_bytes());
        hasher.update(input);
    }
    let digest = hasher.finalize();
    let bits = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    (0..CODE_LENGTH)
        .map(|k| CODE_ALPHABET[((bits >> (59 - 5 * k)) & 31) as usize] as char)
        .collect()
}

/// Parameters of [`hard_link_tag`] (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TagOptions {
    /// Plate width (x), height (y) and thickness (z), mm.
    pub plate_mm: [f64; 3],
    /// Height of the raised modules and letters, mm.
    pub relief_mm: f64,
    /// Gap between the model's bounding box and the plate, mm.
    pub gap_mm: f64,
    /// Diameter of the dowel joining the plate to the model, mm.
    pub dowel_diameter_mm: f64,
}

impl Default for TagOptions {
    /// A 20 × 30 × 2 mm plate, 0.6 mm relief, 5 mm from the model, 2 mm dowel.
    fn default() -> Self {
        Self {
            plate_mm: [20.0, 30.0, 2.0],
            relief_mm: 0.6,
            gap_mm: 5.0,
            dowel_diameter_mm: 2.0,
        }
    }
}

/// The tag, its dowel and where the code sits.
#[derive(Debug, Clone)]
pub struct Tag {
    /// Plate with raised QR modules and text (several closed shells), mm.
    pub plate: Mesh,
    /// Dowel from the plate to the nearest part (closed), if any part was given.
    pub dowel: Option<Mesh>,
    /// The code carried.
    pub code: String,
    /// Plate corner with the smallest coordinates, mm; the plate's top is at `origin.z + thickness`.
    pub origin: [f64; 3],
    /// QR module edge, mm.
    pub module_mm: f64,
}

/// Rows of runs are inset by this fraction of a pixel on their top and bottom edges so that runs
/// of neighbouring rows never share an edge or a face: every raised feature stays its own
/// closed 2-manifold shell once coincident vertices are welded (as any STL reader does).
const ROW_INSET: f64 = 0.02;

/// Axis-aligned rectangle runs (x0, x1, y0, y1 in mm, plate-local) of a binary raster.
fn row_runs(rows: &[Vec<bool>], pixel: f64, left: f64, top: f64) -> Vec<[f64; 4]> {
    let mut out = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let mut c = 0;
        while c < row.len() {
            if !row[c] {
                c += 1;
                continue;
            }
            let start = c;
            while c < row.len() && row[c] {
                c += 1;
            }
            let y1 = top - pixel * r as f64;
            let inset = ROW_INSET * pixel;
            out.push([
                left + pixel * start as f64,
                left + pixel * c as f64,
                y1 - pixel + inset,
                y1 - inset,
            ]);
        }
    }
    out
}

/// Builds the tag for `code` beside `parts` (placed +x of their joint bounding box, at its
/// lowest z) and a dowel to the nearest part. The code must be ASCII letters/digits only.
pub fn hard_link_tag(code: &str, parts: &[&Mesh], options: &TagOptions) -> Result<Tag, PrintError> {
    let [width, height, thickness] = options.plate_mm;
    for v in options.plate_mm {
        positive("plate_mm", v)?;
    }
    let relief = positive("relief_mm", options.relief_mm)?;
    let gap = positive("gap_mm", options.gap_mm)?;
    let dowel_radius = positive("dowel_diameter_mm", options.dowel_diameter_mm)? / 2.0;
    if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PrintError::Infeasible(format!(
            "tag code {code:?} must be 1..=32 ASCII letters or digits"
        )));
    }
    let qr = qrcode::QrCode::new(code.as_bytes()).map_err(|e| PrintError::Infeasible(format!("QR code: {e}")))?;
    let modules = qr.width();
    // The QR code (with a 2-module quiet zone) spans the plate width at the top; text below it.
    let module = width / (modules + 4) as f64;
    let qr_top = height - 2.0 * module;
    let text_rows: Vec<&str> = if code.len() > 5 {
        vec![&code[..code.len().div_ceil(2)], &code[code.len().div_ceil(2)..]]
    } else {
        vec![code]
    };
    let text_chars = text_rows.iter().map(|r| r.len()).max().unwrap_or(1);
    let text_space = qr_top - module * modules as f64 - 2.0 * module;
    let pixel = ((width - 2.0) / (8 * text_chars) as f64).min(text_space / (9 * text_rows.len()) as f64);
    if text_space <= 0.0 || pixel <= 0.0 {
        return Err(PrintError::BadParameter {
            name: "plate_mm",
            value: height,
            why: "plate too small for the QR code and the text",
        });
    }
    let colors = qr.to_colors();
    let qr_rows: Vec<Vec<bool>> = (0..modules)
        .map(|r| {
            (0..modules)
                .map(|c| colors[r * modules + c] != qrcode::Color::Light)
                .collect()
        })
        .collect();
    let mut rects = row_runs(&qr_rows, module, 2.0 * module, qr_top);
    for (line, text) in text_rows.iter().enumerate() {
        let glyph_rows: Vec<Vec<bool>> = (0..8)
            .map(|r| {
                text.chars()
                    .flat_map(|ch| {
                        let glyph = font8x8::BASIC_FONTS.get(ch).unwrap_or([0; 8]);
                        (0..8).map(move |bit| glyph[r] & (1 << bit) != 0)
                    })
                    .collect()
            })
            .collect();
        let left = (width - pixel * (8 * text.len()) as f64) / 2.0;
        let top = text_space - pixel * (9 * line) as f64;
        rects.extend(row_runs(&glyph_rows, pixel, left, top));
    }
    let valid: Vec<&Mesh> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    for (n, p) in valid.iter().enumerate() {
        check_geometry(p, &format!("tag neighbour {n}"))?;
    }
    let bounds = valid
        .iter()
        .filter_map(|p| p.bounds())
        .fold(None, |acc: Option<(Vec3, Vec3)>, (lo, hi)| {
            let (lo, hi) = (lo.map(f64::from), hi.map(f64::from));
            Some(match acc {
                None => (lo, hi),
                Some((a, b)) => ([0, 1, 2].map(|k| a[k].min(lo[k])), [0, 1, 2].map(|k| b[k].max(hi[k]))),
            })
        });
    let origin = match bounds {
        Some((lo, hi)) => [hi[0] + gap, lo[1], lo[2]],
        None => [0.0; 3],
    };
    let mut shells = vec![cuboid(origin, add(origin, [width, height, thickness]))
        .ok_or_else(|| PrintError::Infeasible("degenerate tag plate".into()))?];
    // Raised features start 0.1 mm inside the plate so they fuse with it.
    let embed = 0.1f64.min(thickness / 2.0);
    for [x0, x1, y0, y1] in rects {
        let lo = add(origin, [x0, y0, thickness - embed]);
        let hi = add(origin, [x1, y1, thickness + relief]);
        if let Some(b) = cuboid(lo, hi) {
            shells.push(b);
        }
    }
    let anchor = add(origin, [0.0, height / 2.0, thickness / 2.0]);
    let nearest = valid
        .iter()
        .filter_map(|p| SurfaceIndex::new(p).closest_point(anchor, f64::INFINITY))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let dowel = nearest.and_then(|(target, _)| {
        let dir = normalized(sub(target, anchor))?;
        let overlap = 2.0 * dowel_radius;
        cylinder(
            sub(anchor, scale(dir, overlap)),
            add(target, scale(dir, overlap)),
            dowel_radius,
            CYLINDER_SEGMENTS,
        )
    });
    Ok(Tag {
        plate: medprint_mesh::shells::merge(&shells),
        dowel,
        code: code.to_string(),
        origin,
        module_mm: module,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_stable_short_and_order_sensitive() {
        let a = hard_link_code(&[b"order-17", b"input", b"0.1.0"]);
        assert_eq!(a.len(), CODE_LENGTH);
        assert!(a.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(a, hard_link_code(&[b"order-17", b"input", b"0.1.0"]));
        assert_ne!(a, hard_link_code(&[b"input", b"order-17", b"0.1.0"]));
        assert_ne!(a, hard_link_code(&[b"order-17input", b"0.1.0"]));
        assert_eq!(hard_link_code(&[]).len(), CODE_LENGTH);
    }
}
