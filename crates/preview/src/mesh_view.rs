//! Shaded previews of meshes: a software z-buffer rasteriser with orthographic anterior and
//! left-lateral views side by side.
//!
//! Hand-written rather than a GPU or a 3D crate: it must run on a bare headless machine and
//! stay fast on 10 M triangles. Triangles are rasterised in parallel into one shared depth
//! buffer of packed `(depth, triangle id)` keys updated with atomic `fetch_min`, so there is
//! no per-thread buffer to merge; shading is deferred to one pass per pixel.

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use image::RgbImage;
use medprint_mesh::Mesh;
use rayon::prelude::*;

use crate::draw::{fill_rect, mix, nice_step, thousands, vertical_gradient, vline};
use crate::error::{save_png, PreviewError};
use crate::palette::{
    BACKGROUND_BOTTOM, BACKGROUND_TOP, BACK_FACE_PLUM, BONE_IVORY, GRID_GRAY, ORIENTATION_AMBER, TEXT_WHITE,
};
use crate::text::{draw_text, message_image, text_size};

/// Size of the image written by [`write_mesh_preview`], pixels.
pub const MESH_PREVIEW_SIZE_PX: (u32, u32) = (1600, 800);
/// Accepted image sides in pixels; requests outside are clamped.
pub const MESH_VIEW_SIDE_RANGE_PX: (u32, u32) = (64, 8192);

/// Empty depth-buffer key.
const NO_HIT: u64 = u64::MAX;

type Vec3 = [f32; 3];

fn dot(a: Vec3, b: Vec3) -> f32 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn normalize(a: Vec3) -> Vec3 {
    let len = dot(a, a).sqrt();
    if len > 0.0 {
        a.map(|c| c / len)
    } else {
        a
    }
}

/// An orthographic view direction in LPS: screen right, screen up, and towards the viewer.
struct ViewDirection {
    name: &'static str,
    right: Vec3,
    up: Vec3,
    toward_viewer: Vec3,
    /// Orientation letters at the left, right, top and bottom panel edges.
    edge_letters: [&'static str; 4],
}

const VIEWS: [ViewDirection; 2] = [
    // Seen from the front: patient left on image right, head up.
    ViewDirection {
        name: "ANTERIOR",
        right: [1.0, 0.0, 0.0],
        up: [0.0, 0.0, 1.0],
        toward_viewer: [0.0, -1.0, 0.0],
        edge_letters: ["R", "L", "S", "I"],
    },
    // Seen from the patient's left: anterior on image left, head up.
    ViewDirection {
        name: "LEFT LATERAL",
        right: [0.0, 1.0, 0.0],
        up: [0.0, 0.0, 1.0],
        toward_viewer: [1.0, 0.0, 0.0],
        edge_letters: ["A", "P", "S", "I"],
    },
];

/// Pixel placement of one view: a panel of `width`×`height` pixels whose centre shows the
/// mesh's bounding-box centre, at `px_per_mm` (shared by all panels so sizes compare).
struct Panel<'v> {
    view: &'v ViewDirection,
    x0: u32,
    y0: u32,
    width: u32,
    height: u32,
    px_per_mm: f32,
    centre: Vec3,
    /// Largest distance towards the viewer of any vertex: depth 0 is nearest.
    front: f32,
}

impl Panel<'_> {
    /// Screen position (pixels, y down) and depth (mm from the front, ≥ 0) of a vertex.
    #[inline]
    fn project(&self, v: Vec3) -> [f32; 3] {
        let d = sub(v, self.centre);
        [
            0.5 * self.width as f32 + dot(d, self.view.right) * self.px_per_mm,
            0.5 * self.height as f32 - dot(d, self.view.up) * self.px_per_mm,
            self.front - dot(v, self.view.toward_viewer),
        ]
    }

    /// Rasterises triangle `id` with the top-left-agnostic rule "centre inside or on an
    /// edge" (shared edges are covered twice rather than never; the depth test resolves it).
    fn rasterise(&self, id: u32, corners: [Vec3; 3], depth: &[AtomicU64]) {
        let [a, b, c] = corners.map(|v| self.project(v));
        let edge = |p: [f32; 3], q: [f32; 3], x: f32, y: f32| (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0]);
        let area = edge(a, b, c[0], c[1]);
        if area == 0.0 || !area.is_finite() {
            return;
        }
        let (w, h) = (self.width as f32, self.height as f32);
        let min_x = a[0].min(b[0]).min(c[0]);
        let max_x = a[0].max(b[0]).max(c[0]);
        let min_y = a[1].min(b[1]).min(c[1]);
        let max_y = a[1].max(b[1]).max(c[1]);
        if max_x < 0.0 || max_y < 0.0 || min_x >= w || min_y >= h {
            return;
        }
        let x_lo = (min_x - 0.5).ceil().max(0.0) as u32;
        let x_hi = ((max_x - 0.5).floor().min(w - 1.0)) as i64;
        let y_lo = (min_y - 0.5).ceil().max(0.0) as u32;
        let y_hi = ((max_y - 0.5).floor().min(h - 1.0)) as i64;
        let inv_area = 1.0 / area;
        for y in i64::from(y_lo)..=y_hi {
            let py = y as f32 + 0.5;
            for x in i64::from(x_lo)..=x_hi {
                let px = x as f32 + 0.5;
                let l0 = edge(b, c, px, py) * inv_area;
                let l1 = edge(c, a, px, py) * inv_area;
                let l2 = edge(a, b, px, py) * inv_area;
                if l0 < 0.0 || l1 < 0.0 || l2 < 0.0 {
                    continue;
                }
                let z = (l0 * a[2] + l1 * b[2] + l2 * c[2]).max(0.0);
                // Non-negative f32 bit patterns order like the values.
                let key = (u64::from(z.to_bits()) << 32) | u64::from(id);
                let cell = &depth[x as usize + self.width as usize * y as usize];
                if key < cell.load(Ordering::Relaxed) {
                    cell.fetch_min(key, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Lambert + ambient + a little Blinn-Phong specular, light from the viewer's upper left.
fn shade(normal: Vec3, view: &ViewDirection) -> [u8; 3] {
    let n = normalize(normal);
    let facing = dot(n, view.toward_viewer);
    let (base, n) = if facing >= 0.0 {
        (BONE_IVORY, n)
    } else {
        (BACK_FACE_PLUM, n.map(|c| -c))
    };
    let light = normalize(std::array::from_fn(|a| {
        view.toward_viewer[a] + 0.55 * view.up[a] - 0.35 * view.right[a]
    }));
    let half = normalize(std::array::from_fn(|a| light[a] + view.toward_viewer[a]));
    let diffuse = dot(n, light).max(0.0);
    let specular = 0.22 * dot(n, half).max(0.0).powi(40);
    base.map(|c| (f32::from(c) * (0.2 + 0.8 * diffuse) + 255.0 * specular).clamp(0.0, 255.0) as u8)
}

/// Renders anterior and left-lateral orthographic views of `mesh` (LPS mm) side by side into
/// a `width`×`height` image (each side clamped to [`MESH_VIEW_SIDE_RANGE_PX`]).
///
/// Front faces (counter-clockwise seen from the viewer, i.e. outward normals) are ivory;
/// back faces seen through holes or flipped winding are plum, which makes orientation
/// errors visible. Both views share one scale; a scale bar (mm), orientation letters and a
/// caption with triangle count and size are burnt in. Triangles with out-of-range indices or
/// non-finite vertices are skipped. An empty mesh gives a message image.
pub fn render_mesh_views(mesh: &Mesh, width: u32, height: u32) -> RgbImage {
    let (lo, hi) = MESH_VIEW_SIDE_RANGE_PX;
    let (w, h) = (width.clamp(lo, hi), height.clamp(lo, hi));
    if mesh.is_empty() {
        return message_image(w, h, "EMPTY MESH - NOTHING TO RENDER");
    }
    let Some((min, max)) = finite_bounds(mesh) else {
        return message_image(w, h, "MESH HAS NO FINITE VERTEX");
    };
    let s = (h / 400).clamp(1, 3);
    let line = i64::from(text_size("X", s).1);
    let header = (line + 20) as u32;
    let footer = (2 * line + 28) as u32;
    let panel_w = w / 2;
    let panel_h = h.saturating_sub(header + footer).max(16);
    let margin = (panel_w.min(panel_h) / 10).max(4) as f32;
    let size = sub(max, min);
    let centre: Vec3 = std::array::from_fn(|a| 0.5 * (min[a] + max[a]));
    let fit = |px: u32, mm: f32| (px as f32 - 2.0 * margin).max(1.0) / mm.max(1e-3);
    let px_per_mm = VIEWS
        .iter()
        .map(|v| fit(panel_w, dot(size, v.right).abs()).min(fit(panel_h, dot(size, v.up).abs())))
        .fold(f32::MAX, f32::min);
    let panels: Vec<Panel> = VIEWS
        .iter()
        .enumerate()
        .map(|(n, view)| {
            let front = [min, max]
                .iter()
                .map(|c| dot(*c, view.toward_viewer))
                .fold(f32::MIN, f32::max);
            // The bounding-box corner nearest the viewer, along the (axis-aligned) view axis.
            Panel {
                view,
                x0: n as u32 * panel_w,
                y0: header,
                width: panel_w,
                height: panel_h,
                px_per_mm,
                centre,
                front,
            }
        })
        .collect();

    let buffers: Vec<Vec<AtomicU64>> = panels
        .iter()
        .map(|p| {
            (0..p.width as usize * p.height as usize)
                .map(|_| AtomicU64::new(NO_HIT))
                .collect()
        })
        .collect();
    let skipped = AtomicUsize::new(0);
    let n_vertices = mesh.vertices.len();
    mesh.triangles
        .par_iter()
        .enumerate()
        .with_min_len(4096)
        .for_each(|(id, tri)| {
            let id = match u32::try_from(id) {
                Ok(id) if tri.iter().all(|&i| (i as usize) < n_vertices) => id,
                _ => {
                    skipped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            let corners = tri.map(|i| mesh.vertices[i as usize]);
            for (panel, depth) in panels.iter().zip(&buffers) {
                panel.rasterise(id, corners, depth);
            }
        });
    let skipped = skipped.into_inner();
    if skipped > 0 {
        tracing::warn!(skipped, "triangles with out-of-range vertex indices skipped in preview");
    }

    let mut img = RgbImage::new(w, h);
    vertical_gradient(&mut img, BACKGROUND_TOP, BACKGROUND_BOTTOM);
    for (panel, depth) in panels.iter().zip(&buffers) {
        compose_panel(&mut img, panel, depth, mesh, max_extent(size));
        annotate_panel(&mut img, panel, s);
    }
    vline(
        &mut img,
        i64::from(panel_w),
        i64::from(header),
        i64::from(header + panel_h),
        1,
        GRID_GRAY,
    );
    annotate_footer(&mut img, mesh.triangle_count(), skipped, size, px_per_mm, s, footer);
    img
}

fn max_extent(size: Vec3) -> f32 {
    size[0].max(size[1]).max(size[2])
}

/// Bounding box of the finite vertices; `None` when there is none.
fn finite_bounds(mesh: &Mesh) -> Option<(Vec3, Vec3)> {
    mesh.vertices
        .par_iter()
        .filter(|v| v.iter().all(|c| c.is_finite()))
        .fold(
            || None,
            |acc: Option<(Vec3, Vec3)>, v| {
                let (lo, hi) = acc.unwrap_or((*v, *v));
                Some((
                    std::array::from_fn(|a| lo[a].min(v[a])),
                    std::array::from_fn(|a| hi[a].max(v[a])),
                ))
            },
        )
        .reduce(
            || None,
            |a, b| match (a, b) {
                (Some((l1, h1)), Some((l2, h2))) => Some((
                    std::array::from_fn(|i| l1[i].min(l2[i])),
                    std::array::from_fn(|i| h1[i].max(h2[i])),
                )),
                (x, None) | (None, x) => x,
            },
        )
}

/// Shades the panel's pixels from the depth buffer and darkens silhouettes and creases
/// (depth jumps over 2 % of the model size) so shapes read clearly.
fn compose_panel(img: &mut RgbImage, panel: &Panel, depth: &[AtomicU64], mesh: &Mesh, model_size_mm: f32) {
    let (w, h) = (panel.width as usize, panel.height as usize);
    let keys: Vec<u64> = depth.par_iter().map(|k| k.load(Ordering::Relaxed)).collect();
    let depth_of = |k: u64| {
        if k == NO_HIT {
            f32::INFINITY
        } else {
            f32::from_bits((k >> 32) as u32)
        }
    };
    let jump = 0.02 * model_size_mm.max(1e-3);
    let colours: Vec<Option<[u8; 3]>> = (0..w * h)
        .into_par_iter()
        .map(|i| {
            let key = keys[i];
            if key == NO_HIT {
                return None;
            }
            let tri = mesh.triangles[(key & 0xFFFF_FFFF) as usize];
            let [a, b, c] = tri.map(|v| mesh.vertices[v as usize]);
            let colour = shade(cross(sub(b, a), sub(c, a)), panel.view);
            let (x, y) = (i % w, i / w);
            let z = depth_of(key);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < w).then(|| i + 1),
                (y > 0).then(|| i - w),
                (y + 1 < h).then(|| i + w),
            ];
            let edge = neighbours.iter().flatten().any(|&n| depth_of(keys[n]) - z > jump);
            Some(if edge { mix(colour, [0, 0, 0], 0.55) } else { colour })
        })
        .collect();
    for (i, colour) in colours.into_iter().enumerate() {
        if let Some(c) = colour {
            img.put_pixel(panel.x0 + (i % w) as u32, panel.y0 + (i / w) as u32, image::Rgb(c));
        }
    }
}

fn annotate_panel(img: &mut RgbImage, panel: &Panel, s: u32) {
    let (x0, y0) = (i64::from(panel.x0), i64::from(panel.y0));
    let (pw, ph) = (i64::from(panel.width), i64::from(panel.height));
    let (tw, th) = text_size(panel.view.name, s);
    draw_text(
        img,
        x0 + (pw - i64::from(tw)) / 2,
        y0 - i64::from(th) - 10,
        panel.view.name,
        s,
        TEXT_WHITE,
    );
    let [left, right, top, bottom] = panel.view.edge_letters;
    let (lw, lh) = text_size(left, s + 1);
    let (lw, lh) = (i64::from(lw), i64::from(lh));
    let m = 14;
    draw_text(img, x0 + m, y0 + (ph - lh) / 2, left, s + 1, ORIENTATION_AMBER);
    draw_text(
        img,
        x0 + pw - m - lw,
        y0 + (ph - lh) / 2,
        right,
        s + 1,
        ORIENTATION_AMBER,
    );
    draw_text(img, x0 + (pw - lw) / 2, y0 + m, top, s + 1, ORIENTATION_AMBER);
    draw_text(
        img,
        x0 + (pw - lw) / 2,
        y0 + ph - m - lh,
        bottom,
        s + 1,
        ORIENTATION_AMBER,
    );
}

fn annotate_footer(
    img: &mut RgbImage,
    triangles: usize,
    skipped: usize,
    size: Vec3,
    px_per_mm: f32,
    s: u32,
    footer: u32,
) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let y = h - i64::from(footer) + 12;
    let mut caption = format!("{} triangles", thousands(triangles));
    if skipped > 0 {
        caption.push_str(&format!(" ({} invalid, skipped)", thousands(skipped)));
    }
    draw_text(img, 12, y, &caption, s, TEXT_WHITE);
    let dims = format!("size {:.1} x {:.1} x {:.1} mm (x y z)", size[0], size[1], size[2]);
    draw_text(img, 12, y + i64::from(text_size("X", s).1) + 8, &dims, s, TEXT_WHITE);

    let bar_mm = nice_step(f64::from(0.2 * (w as f32 / 2.0) / px_per_mm.max(1e-6)));
    let bar_px = (bar_mm * f64::from(px_per_mm)).round() as i64;
    let label = if bar_mm >= 1.0 {
        format!("{bar_mm} mm")
    } else {
        format!("{bar_mm:.2} mm")
    };
    let thick = i64::from(s) + 1;
    let x1 = w - 16;
    let bar_y = h - 18 - thick;
    fill_rect(img, x1 - bar_px, bar_y, bar_px, thick, TEXT_WHITE);
    fill_rect(img, x1 - bar_px, bar_y - 3 * thick, thick, 3 * thick, TEXT_WHITE);
    fill_rect(img, x1 - thick, bar_y - 3 * thick, thick, 3 * thick, TEXT_WHITE);
    let (tw, th) = text_size(&label, s);
    draw_text(
        img,
        x1 - bar_px / 2 - i64::from(tw) / 2,
        bar_y - 3 * thick - i64::from(th) - 6,
        &label,
        s,
        TEXT_WHITE,
    );
}

/// Writes [`render_mesh_views`] at [`MESH_PREVIEW_SIZE_PX`] as a PNG.
pub fn write_mesh_preview(path: &Path, mesh: &Mesh) -> Result<(), PreviewError> {
    let (w, h) = MESH_PREVIEW_SIZE_PX;
    save_png(&render_mesh_views(mesh, w, h), path)
}
