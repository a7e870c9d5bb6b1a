//! Slice previews: a plane through a scan, resampled in patient space, in radiological
//! display convention, with optional label overlay and burnt-in annotations.

use std::path::{Path, PathBuf};

use image::RgbImage;
use medprint_volume::{Geometry, Sample, Volume};
use rayon::prelude::*;

use crate::draw::{fill_rect, mix, nice_step};
use crate::error::{save_png, PreviewError};
use crate::palette::{ORIENTATION_AMBER, OUTSIDE_VOLUME, TEXT_HALO, TEXT_WHITE};
use crate::text::{draw_text, message_image, scale_for, text_size};

/// Largest side of a rendered slice in pixels; finer grids are shown downsampled.
pub const MAX_SLICE_SIDE_PX: u32 = 4096;

/// Side of the slice images written by [`write_slice_previews`], in pixels (at least).
pub const PREVIEW_MIN_SIZE_PX: u32 = 512;

/// A label map drawn over a slice.
#[derive(Debug, Clone, Copy)]
pub struct Overlay<'a> {
    /// Label per voxel; may have its own grid and geometry (it is resampled in patient space).
    pub labels: &'a Volume<u8>,
    /// Display colour of each label value; values not listed are not drawn.
    pub colors: &'a [(u8, [u8; 3])],
    /// Opacity of the label fill in `[0, 1]`; outlines are always opaque.
    pub alpha: f32,
}

/// Display window in HU: `center ± width/2` maps to black … white.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Window level, HU.
    pub center: f32,
    /// Window width, HU (> 0; smaller values act as a 1-HU threshold).
    pub width: f32,
}

impl Window {
    /// Bone window (level 400 HU, width 1800 HU).
    pub const BONE: Window = Window {
        center: 400.0,
        width: 1800.0,
    };
    /// Soft-tissue window (level 40 HU, width 400 HU).
    pub const SOFT_TISSUE: Window = Window {
        center: 40.0,
        width: 400.0,
    };

    /// Gray level 0–255 of an intensity in HU.
    #[inline]
    pub fn gray(self, hu: f32) -> u8 {
        let width = if self.width.is_finite() && self.width > 1.0 {
            self.width
        } else {
            1.0
        };
        let t = (hu - (self.center - 0.5 * width)) / width;
        // NaN (non-finite level) saturates to 0 in the cast.
        (t.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Standard slice orientations, shown in radiological convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plane {
    /// Constant z; seen from the feet: patient left on image right, anterior up.
    Axial,
    /// Constant y; seen from the front: patient left on image right, head up.
    Coronal,
    /// Constant x; seen from the patient's left: anterior on image left, head up.
    Sagittal,
}

/// Display frame of a plane in LPS: unit vectors of image right, image down and the normal.
struct PlaneFrame {
    right: [f64; 3],
    down: [f64; 3],
    normal: [f64; 3],
    /// Orientation letters at the left, right, top and bottom image edges.
    edge_letters: [&'static str; 4],
    /// Name of the patient axis along the normal.
    normal_axis: &'static str,
}

impl Plane {
    /// All three planes, in the order previews are written.
    pub const ALL: [Plane; 3] = [Plane::Axial, Plane::Coronal, Plane::Sagittal];

    /// Upper-case name used in captions.
    pub fn name(self) -> &'static str {
        match self {
            Plane::Axial => "AXIAL",
            Plane::Coronal => "CORONAL",
            Plane::Sagittal => "SAGITTAL",
        }
    }

    /// File name used by [`write_slice_previews`].
    pub fn file_name(self) -> &'static str {
        match self {
            Plane::Axial => "axial.png",
            Plane::Coronal => "coronal.png",
            Plane::Sagittal => "sagittal.png",
        }
    }

    fn frame(self) -> PlaneFrame {
        const X: [f64; 3] = [1.0, 0.0, 0.0];
        const Y: [f64; 3] = [0.0, 1.0, 0.0];
        const Z: [f64; 3] = [0.0, 0.0, 1.0];
        const MINUS_Z: [f64; 3] = [0.0, 0.0, -1.0];
        match self {
            Plane::Axial => PlaneFrame {
                right: X,
                down: Y,
                normal: Z,
                edge_letters: ["R", "L", "A", "P"],
                normal_axis: "z",
            },
            Plane::Coronal => PlaneFrame {
                right: X,
                down: MINUS_Z,
                normal: Y,
                edge_letters: ["R", "L", "S", "I"],
                normal_axis: "y",
            },
            Plane::Sagittal => PlaneFrame {
                right: Y,
                down: MINUS_Z,
                normal: X,
                edge_letters: ["A", "P", "S", "I"],
                normal_axis: "x",
            },
        }
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Inverse of a geometry's affine: patient mm → continuous voxel index. Works for any
/// invertible direction matrix (oblique, flipped, even non-orthonormal).
#[derive(Debug, Clone, Copy)]
struct PatientToIndex {
    inverse: [[f64; 3]; 3],
    origin: [f64; 3],
}

impl PatientToIndex {
    fn new(g: &Geometry) -> Option<Self> {
        let mut m = [[0.0; 3]; 3];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = g.direction[r][c] * g.spacing[c];
            }
        }
        let cof = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
        let det = m[0][0] * cof(1, 2, 1, 2) - m[0][1] * cof(1, 2, 0, 2) + m[0][2] * cof(1, 2, 0, 1);
        let scale = g.spacing.iter().map(|s| s.abs()).product::<f64>();
        if !(det.is_finite() && scale.is_finite() && det.abs() > 1e-9 * scale.max(f64::MIN_POSITIVE)) {
            return None;
        }
        if !g.origin.iter().all(|v| v.is_finite()) {
            return None;
        }
        let adj = [
            [cof(1, 2, 1, 2), -cof(0, 2, 1, 2), cof(0, 1, 1, 2)],
            [-cof(1, 2, 0, 2), cof(0, 2, 0, 2), -cof(0, 1, 0, 2)],
            [cof(1, 2, 0, 1), -cof(0, 2, 0, 1), cof(0, 1, 0, 1)],
        ];
        let inverse = adj.map(|row| row.map(|v| v / det));
        Some(Self {
            inverse,
            origin: g.origin,
        })
    }

    /// Index-space image of a patient-space displacement.
    fn linear(&self, d: [f64; 3]) -> [f64; 3] {
        self.inverse.map(|row| dot(row, d))
    }

    fn index_of(&self, p: [f64; 3]) -> [f64; 3] {
        self.linear([p[0] - self.origin[0], p[1] - self.origin[1], p[2] - self.origin[2]])
    }
}

/// True when continuous index `f` lies inside the grid's voxel boxes.
#[inline]
fn inside(f: [f64; 3], dims: [usize; 3]) -> bool {
    (0..3).all(|a| f[a] >= -0.5 && f[a] < dims[a] as f64 - 0.5)
}

/// Trilinear interpolation at continuous index `f`; `None` outside the grid.
fn sample_linear<T: Sample>(vol: &Volume<T>, f: [f64; 3]) -> Option<f32> {
    let dims = vol.dims();
    if !inside(f, dims) {
        return None;
    }
    let mut lo = [0usize; 3];
    let mut hi = [0usize; 3];
    let mut t = [0f32; 3];
    for a in 0..3 {
        let c = f[a].clamp(0.0, (dims[a] - 1) as f64);
        let fl = c.floor();
        lo[a] = fl as usize;
        hi[a] = (lo[a] + 1).min(dims[a] - 1);
        t[a] = (c - fl) as f32;
    }
    let data = vol.data();
    let at = |x: usize, y: usize, z: usize| data[x + dims[0] * (y + dims[1] * z)].to_f32();
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let plane = |z: usize| {
        lerp(
            lerp(at(lo[0], lo[1], z), at(hi[0], lo[1], z), t[0]),
            lerp(at(lo[0], hi[1], z), at(hi[0], hi[1], z), t[0]),
            t[1],
        )
    };
    Some(lerp(plane(lo[2]), plane(hi[2]), t[2]))
}

/// Nearest-neighbour sample at continuous index `f`; `None` outside the grid.
fn sample_nearest<T: Copy>(vol: &Volume<T>, f: [f64; 3]) -> Option<T> {
    let dims = vol.dims();
    if !inside(f, dims) {
        return None;
    }
    let i = f.map(|v| (v + 0.5).floor().max(0.0) as usize);
    vol.get(i[0].min(dims[0] - 1), i[1].min(dims[1] - 1), i[2].min(dims[2] - 1))
}

/// Pixel grid of a slice: pixel `(col, row)` has its centre at
/// `right·(u0 + (col+½)·pixel_mm) + down·(v0 + (row+½)·pixel_mm) + normal·depth_mm`.
#[derive(Debug, Clone, Copy)]
struct SliceGrid {
    width: u32,
    height: u32,
    pixel_mm: f64,
    u0: f64,
    v0: f64,
    depth_mm: f64,
}

impl SliceGrid {
    fn new(geometry: &Geometry, dims: [usize; 3], frame: &PlaneFrame, depth_mm: f64, min_size_px: u32) -> Option<Self> {
        let (mut umin, mut umax, mut vmin, mut vmax) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for corner in 0..8 {
            let ijk: [f64; 3] = std::array::from_fn(|a| {
                if corner >> a & 1 == 0 {
                    -0.5
                } else {
                    dims[a] as f64 - 0.5
                }
            });
            let p = geometry.index_to_patient(ijk);
            let (u, v) = (dot(p, frame.right), dot(p, frame.down));
            (umin, umax, vmin, vmax) = (umin.min(u), umax.max(u), vmin.min(v), vmax.max(v));
        }
        let (ext_u, ext_v) = (umax - umin, vmax - vmin);
        let finest = geometry.spacing.iter().fold(f64::MAX, |m, &s| m.min(s.abs()));
        if !(ext_u.is_finite() && ext_v.is_finite() && ext_u > 0.0 && ext_v > 0.0 && finest > 0.0) {
            return None;
        }
        let longest = ext_u.max(ext_v);
        let min_side = f64::from(min_size_px.clamp(1, MAX_SLICE_SIDE_PX));
        let pixel_mm = finest
            .min(longest / min_side)
            .max(longest / f64::from(MAX_SLICE_SIDE_PX));
        let width = (ext_u / pixel_mm).ceil().clamp(1.0, f64::from(MAX_SLICE_SIDE_PX)) as u32;
        let height = (ext_v / pixel_mm).ceil().clamp(1.0, f64::from(MAX_SLICE_SIDE_PX)) as u32;
        Some(Self {
            width,
            height,
            pixel_mm,
            u0: 0.5 * (umin + umax) - 0.5 * f64::from(width) * pixel_mm,
            v0: 0.5 * (vmin + vmax) - 0.5 * f64::from(height) * pixel_mm,
            depth_mm,
        })
    }

    /// Patient position of the centre of pixel (0, 0) and the steps of one column / one row.
    fn patient_steps(&self, frame: &PlaneFrame) -> ([f64; 3], [f64; 3], [f64; 3]) {
        let (u, v) = (self.u0 + 0.5 * self.pixel_mm, self.v0 + 0.5 * self.pixel_mm);
        let start = std::array::from_fn(|a| frame.right[a] * u + frame.down[a] * v + frame.normal[a] * self.depth_mm);
        (
            start,
            frame.right.map(|c| c * self.pixel_mm),
            frame.down.map(|c| c * self.pixel_mm),
        )
    }
}

/// Samples `f(index)` for every pixel in parallel over rows, with continuous indices of a
/// volume whose inverse affine is `map`.
fn resample<T: Send + Copy>(
    grid: &SliceGrid,
    frame: &PlaneFrame,
    map: &PatientToIndex,
    f: impl Fn([f64; 3]) -> T + Sync,
    fill: T,
) -> Vec<T> {
    let (start, col_step, row_step) = grid.patient_steps(frame);
    let (i0, di, dj) = (map.index_of(start), map.linear(col_step), map.linear(row_step));
    let w = grid.width as usize;
    let mut out = vec![fill; w * grid.height as usize];
    out.par_chunks_mut(w).enumerate().for_each(|(row, line)| {
        for (col, px) in line.iter_mut().enumerate() {
            let (c, r) = (col as f64, row as f64);
            *px = f(std::array::from_fn(|a| i0[a] + c * di[a] + r * dj[a]));
        }
    });
    out
}

/// Label value per pixel (nearest neighbour), `NO_LABEL` where no colour applies.
const NO_LABEL: u16 = u16::MAX;

fn paint_overlay(img: &mut RgbImage, grid: &SliceGrid, frame: &PlaneFrame, overlay: &Overlay) {
    let Some(map) = PatientToIndex::new(&overlay.labels.geometry) else {
        tracing::warn!("overlay geometry is not invertible; overlay skipped");
        return;
    };
    if overlay.labels.is_empty() {
        return;
    }
    let mut lut: [Option<[u8; 3]>; 256] = [None; 256];
    for &(label, color) in overlay.colors {
        lut[usize::from(label)] = Some(color);
    }
    let labels = resample(
        grid,
        frame,
        &map,
        |f| match sample_nearest(overlay.labels, f) {
            Some(l) if lut[usize::from(l)].is_some() => u16::from(l),
            _ => NO_LABEL,
        },
        NO_LABEL,
    );
    let alpha = if overlay.alpha.is_nan() {
        0.5
    } else {
        overlay.alpha.clamp(0.0, 1.0)
    };
    let (w, h) = (grid.width as usize, grid.height as usize);
    for y in 0..h {
        for x in 0..w {
            let l = labels[x + w * y];
            let Some(color) = lut.get(usize::from(l)).copied().flatten() else {
                continue;
            };
            let differs = |xx: usize, yy: usize| labels[xx + w * yy] != l;
            let edge = (x > 0 && differs(x - 1, y))
                || (x + 1 < w && differs(x + 1, y))
                || (y > 0 && differs(x, y - 1))
                || (y + 1 < h && differs(x, y + 1));
            let p = img.get_pixel_mut(x as u32, y as u32);
            p.0 = if edge { color } else { mix(p.0, color, alpha) };
        }
    }
}

/// Draws caption (corners), orientation letters (edge midpoints) and the scale bar.
fn annotate(img: &mut RgbImage, grid: &SliceGrid, frame: &PlaneFrame, plane: Plane, window: Window) {
    let (w, h) = (i64::from(grid.width), i64::from(grid.height));
    let s = scale_for(grid.width.min(grid.height));
    let m = 4 * i64::from(s);
    let line = i64::from(text_size("X", s).1) + 2 * i64::from(s);

    draw_text(img, m, m, plane.name(), s, TEXT_WHITE);
    let position = format!("{} {:+.1} mm", frame.normal_axis, grid.depth_mm);
    draw_text(img, m, m + line, &position, s, TEXT_WHITE);
    draw_text(
        img,
        m,
        h - m - 2 * line + 2 * i64::from(s),
        &format!("W {:.0}", window.width),
        s,
        TEXT_WHITE,
    );
    draw_text(
        img,
        m,
        h - m - line + 2 * i64::from(s),
        &format!("L {:.0}", window.center),
        s,
        TEXT_WHITE,
    );

    let [left, right, top, bottom] = frame.edge_letters;
    let (lw, lh) = text_size(left, s + 1);
    let (lw, lh) = (i64::from(lw), i64::from(lh));
    draw_text(img, m, (h - lh) / 2, left, s + 1, ORIENTATION_AMBER);
    draw_text(img, w - m - lw, (h - lh) / 2, right, s + 1, ORIENTATION_AMBER);
    draw_text(img, (w - lw) / 2, m, top, s + 1, ORIENTATION_AMBER);
    draw_text(img, (w - lw) / 2, h - m - lh, bottom, s + 1, ORIENTATION_AMBER);

    // 1 cm unless that is too short to read, then the next nice length ≥ 24 px.
    let min_bar_mm = 24.0 * grid.pixel_mm;
    let bar_mm = if min_bar_mm <= 10.0 {
        10.0
    } else {
        2.0 * nice_step(min_bar_mm).max(5.0)
    };
    let bar_mm = if bar_mm < min_bar_mm { bar_mm * 2.5 } else { bar_mm };
    let bar_px = (bar_mm / grid.pixel_mm).round() as i64;
    let label = if bar_mm >= 10.0 {
        format!("{} cm", bar_mm / 10.0)
    } else {
        format!("{bar_mm} mm")
    };
    let thick = i64::from(s) + 1;
    let (x1, y) = (w - m, h - m - thick);
    let x0 = x1 - bar_px;
    fill_rect(img, x0 - 1, y - 3 * thick - 1, bar_px + 2, 4 * thick + 2, TEXT_HALO);
    fill_rect(img, x0, y, bar_px, thick, TEXT_WHITE);
    fill_rect(img, x0, y - 3 * thick, thick, 3 * thick, TEXT_WHITE);
    fill_rect(img, x1 - thick, y - 3 * thick, thick, 3 * thick, TEXT_WHITE);
    let (tw, th) = text_size(&label, s);
    draw_text(
        img,
        x1 - i64::from(tw),
        y - 3 * thick - i64::from(th) - 2 * i64::from(s),
        &label,
        s,
        TEXT_WHITE,
    );
}

/// Renders one slice of `scan` (HU) through `through_mm` (patient point, mm LPS; the volume
/// centre when `None`) in radiological display convention (see [`Plane`]).
///
/// The slice is resampled in patient space through the full affine, so any direction matrix
/// (oblique, flipped) gives the same picture of the same anatomy. Display pixels are square,
/// `pixel_mm` = finest voxel spacing, enlarged so that the longer side has at least
/// `min_size_px` pixels and at most [`MAX_SLICE_SIDE_PX`]. Intensities are interpolated
/// trilinearly, labels by nearest neighbour; labels are filled with `overlay.alpha` and
/// outlined opaquely. Burnt in: plane and position (top left), window (bottom left),
/// orientation letters at the edges, a 1-cm scale bar (bottom right). Pixels outside the
/// volume are black. Input that cannot be rendered (empty grid, singular geometry,
/// non-finite point) gives an image with an explanatory message instead of a panic.
pub fn render_slice(
    scan: &Volume<i16>,
    overlay: Option<&Overlay>,
    plane: Plane,
    through_mm: Option<[f64; 3]>,
    window: Window,
    min_size_px: u32,
) -> RgbImage {
    let fallback = min_size_px.clamp(64, MAX_SLICE_SIDE_PX);
    if scan.is_empty() {
        return message_image(fallback, fallback, "EMPTY VOLUME");
    }
    let Some(map) = PatientToIndex::new(&scan.geometry) else {
        return message_image(fallback, fallback, "INVALID GEOMETRY");
    };
    let dims = scan.dims();
    let centre = scan.geometry.index_to_patient(dims.map(|n| (n as f64 - 1.0) * 0.5));
    let through = through_mm.unwrap_or(centre);
    if !through.iter().all(|v| v.is_finite()) {
        return message_image(fallback, fallback, "INVALID SLICE POSITION");
    }
    let frame = plane.frame();
    let Some(grid) = SliceGrid::new(&scan.geometry, dims, &frame, dot(through, frame.normal), min_size_px) else {
        return message_image(fallback, fallback, "INVALID GEOMETRY");
    };
    let gray = resample(
        &grid,
        &frame,
        &map,
        |f| sample_linear(scan, f).map(|hu| window.gray(hu)),
        None,
    );
    let mut img = RgbImage::from_fn(grid.width, grid.height, |x, y| {
        image::Rgb(gray[(x + grid.width * y) as usize].map_or(OUTSIDE_VOLUME, |g| [g, g, g]))
    });
    if let Some(overlay) = overlay {
        paint_overlay(&mut img, &grid, &frame, overlay);
    }
    annotate(&mut img, &grid, &frame, plane, window);
    img
}

/// Writes `axial.png`, `coronal.png` and `sagittal.png` (bone window, at least
/// [`PREVIEW_MIN_SIZE_PX`] pixels) into `dir`, creating it if needed; returns the paths.
pub fn write_slice_previews(
    dir: &Path,
    scan: &Volume<i16>,
    overlay: Option<&Overlay>,
    through_mm: Option<[f64; 3]>,
) -> Result<Vec<PathBuf>, PreviewError> {
    std::fs::create_dir_all(dir).map_err(|source| PreviewError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let images: Vec<(PathBuf, RgbImage)> = Plane::ALL
        .par_iter()
        .map(|&plane| {
            (
                dir.join(plane.file_name()),
                render_slice(scan, overlay, plane, through_mm, Window::BONE, PREVIEW_MIN_SIZE_PX),
            )
        })
        .collect();
    images
        .into_iter()
        .map(|(path, img)| save_png(&img, &path).map(|()| path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_maps_level_to_mid_gray() {
        assert_eq!(Window::BONE.gray(400.0), 128);
        assert_eq!(Window::BONE.gray(-500.0), 0);
        assert_eq!(Window::BONE.gray(1300.0), 255);
        assert_eq!(
            Window {
                center: 100.0,
                width: 0.0
            }
            .gray(101.0),
            255
        );
        assert_eq!(
            Window {
                center: f32::NAN,
                width: 10.0
            }
            .gray(5.0),
            0
        );
    }

    #[test]
    fn inverse_affine_handles_oblique_geometry() {
        let c = std::f64::consts::FRAC_1_SQRT_2;
        let g = Geometry {
            spacing: [0.5, 0.7, 2.5],
            origin: [10.0, -20.0, 30.0],
            direction: [[c, -c, 0.0], [c, c, 0.0], [0.0, 0.0, -1.0]],
        };
        let map = PatientToIndex::new(&g).expect("invertible");
        let ijk = map.index_of(g.index_to_patient([3.0, 4.5, 7.0]));
        assert!((ijk[0] - 3.0).abs() < 1e-9 && (ijk[1] - 4.5).abs() < 1e-9 && (ijk[2] - 7.0).abs() < 1e-9);
        let singular = Geometry {
            direction: [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            ..g
        };
        assert!(PatientToIndex::new(&singular).is_none());
    }
}
