//! HU histogram plots: log-scale counts, HU axis with ticks, threshold and other markers.

use std::path::Path;

use image::RgbImage;

use crate::draw::{blend_rect, fill_rect, hline, mix, nice_step, vertical_gradient, vline};
use crate::error::{save_png, PreviewError};
use crate::palette::{AXIS_GRAY, BACKGROUND_BOTTOM, BACKGROUND_TOP, CURVE_STEEL, GRID_GRAY, TEXT_WHITE};
use crate::text::{draw_text, draw_text_plain, text_size};

/// Width of written histogram plots, pixels.
pub const PLOT_WIDTH_PX: u32 = 1000;
/// Height of written histogram plots, pixels.
pub const PLOT_HEIGHT_PX: u32 = 520;

/// Pixel frame of the plot area and its HU → x mapping.
///
/// The HU axis is continuous: bin `i` spans `[min_hu + i, min_hu + i + 1)`, and the axis from
/// `min_hu` to `min_hu + bins` covers columns `left ..= right` linearly (the frame lines).
#[derive(Debug, Clone, Copy)]
struct PlotFrame {
    left: i64,
    right: i64,
    top: i64,
    bottom: i64,
    min_hu: f64,
    bins: f64,
    decades: f64,
}

impl PlotFrame {
    fn x_of_hu(&self, hu: f64) -> f64 {
        self.left as f64 + (hu - self.min_hu) / self.bins * (self.right - self.left) as f64
    }

    fn hu_of_x(&self, x: f64) -> f64 {
        self.min_hu + (x - self.left as f64) / (self.right - self.left) as f64 * self.bins
    }

    /// Row of a count on the log axis (`log10(1 + count)`, 0 at the bottom frame line).
    fn y_of_count(&self, count: u64) -> i64 {
        let t = (1.0 + count as f64).log10() / self.decades;
        self.bottom - (t * (self.bottom - self.top) as f64).round() as i64
    }
}

/// Renders the histogram plot; see [`write_histogram_plot`].
///
/// Errors: [`PreviewError::EmptyHistogram`] without bins, [`PreviewError::NonFiniteMarker`]
/// for a NaN/infinite marker. Markers outside the HU range are listed in the legend as
/// "off scale" and not drawn.
pub fn render_histogram_plot(
    min_hu: i32,
    counts: &[u64],
    markers: &[(String, f32, [u8; 3])],
    title: &str,
) -> Result<RgbImage, PreviewError> {
    if counts.is_empty() {
        return Err(PreviewError::EmptyHistogram);
    }
    if let Some((name, _, _)) = markers.iter().find(|m| !m.1.is_finite()) {
        return Err(PreviewError::NonFiniteMarker { name: name.clone() });
    }
    let (w, h) = (PLOT_WIDTH_PX, PLOT_HEIGHT_PX);
    let mut img = RgbImage::new(w, h);
    vertical_gradient(&mut img, BACKGROUND_TOP, BACKGROUND_BOTTOM);
    let max_count = counts.iter().copied().max().unwrap_or(0);
    let frame = PlotFrame {
        left: 96,
        right: i64::from(w) - 48,
        top: 64,
        bottom: i64::from(h) - 72,
        min_hu: f64::from(min_hu),
        bins: counts.len() as f64,
        decades: (1.0 + max_count as f64).log10().ceil().max(1.0),
    };

    draw_grid_and_ticks(&mut img, &frame);
    draw_counts(&mut img, &frame, counts);
    draw_frame(&mut img, &frame);
    draw_markers(&mut img, &frame, markers);

    let (tw, _) = text_size(title, 2);
    draw_text(&mut img, (i64::from(w) - i64::from(tw)) / 2, 18, title, 2, TEXT_WHITE);
    let (aw, _) = text_size("HU", 2);
    draw_text(
        &mut img,
        (frame.left + frame.right - i64::from(aw)) / 2,
        frame.bottom + 42,
        "HU",
        2,
        TEXT_WHITE,
    );
    draw_text(&mut img, 8, frame.top - 22, "voxels (log)", 1, AXIS_GRAY);
    Ok(img)
}

fn draw_grid_and_ticks(img: &mut RgbImage, f: &PlotFrame) {
    // Decades on the log axis.
    for d in 0..=f.decades as u32 {
        let count = 10u64.saturating_pow(d).saturating_sub(1);
        let y = f.y_of_count(count);
        hline(img, f.left, f.right, y, 1, GRID_GRAY);
        let label = match d {
            0 => "0".to_string(),
            1..=3 => 10u64.pow(d).to_string(),
            _ => format!("1e{d}"),
        };
        let (lw, lh) = text_size(&label, 2);
        draw_text_plain(
            img,
            f.left - 10 - i64::from(lw),
            y - i64::from(lh) / 2,
            &label,
            2,
            TEXT_WHITE,
        );
    }
    // HU ticks: a nice step giving labels that do not overlap.
    let range = f.bins;
    let plot_w = (f.right - f.left) as f64;
    let label_w = |scale: u32| {
        let widest = [f.min_hu, f.min_hu + f.bins]
            .map(|v| text_size(&format!("{v:.0}"), scale).0)
            .into_iter()
            .max();
        f64::from(widest.unwrap_or(0) + 16)
    };
    let scale = if plot_w / label_w(2) >= 5.0 { 2 } else { 1 };
    let max_ticks = (plot_w / label_w(scale)).max(2.0);
    let mut step = nice_step(range / max_ticks * 2.5);
    while range / step > max_ticks {
        step *= 2.0;
    }
    let mut tick = (f.min_hu / step).ceil() * step;
    while tick <= f.min_hu + f.bins {
        let x = f.x_of_hu(tick).round() as i64;
        vline(img, x, f.top, f.bottom, 1, GRID_GRAY);
        vline(img, x, f.bottom, f.bottom + 6, 1, AXIS_GRAY);
        let label = format!("{tick:.0}");
        let (lw, _) = text_size(&label, scale);
        draw_text_plain(img, x - i64::from(lw) / 2, f.bottom + 12, &label, scale, TEXT_WHITE);
        tick += step;
    }
}

/// Filled log-count curve; each column shows the largest bin it covers so narrow peaks
/// survive when there are more bins than pixels.
fn draw_counts(img: &mut RgbImage, f: &PlotFrame, counts: &[u64]) {
    let fill = mix(BACKGROUND_BOTTOM, CURVE_STEEL, 0.45);
    let mut previous_top: Option<i64> = None;
    for x in f.left..f.right {
        let lo = f.hu_of_x(x as f64) - f.min_hu;
        let hi = f.hu_of_x((x + 1) as f64) - f.min_hu;
        let first = (lo.floor().max(0.0) as usize).min(counts.len() - 1);
        let last = ((hi.ceil() as usize).saturating_sub(1)).clamp(first, counts.len() - 1);
        let count = counts[first..=last].iter().copied().max().unwrap_or(0);
        if count == 0 {
            previous_top = None;
            continue;
        }
        let top = f.y_of_count(count);
        vline(img, x, top, f.bottom - 1, 1, fill);
        let stroke_from = previous_top.unwrap_or(top);
        vline(img, x, stroke_from.min(top), stroke_from.max(top) + 1, 1, CURVE_STEEL);
        previous_top = Some(top);
    }
}

fn draw_frame(img: &mut RgbImage, f: &PlotFrame) {
    hline(img, f.left, f.right, f.top, 1, AXIS_GRAY);
    hline(img, f.left, f.right, f.bottom, 1, AXIS_GRAY);
    vline(img, f.left, f.top, f.bottom, 1, AXIS_GRAY);
    vline(img, f.right, f.top, f.bottom, 1, AXIS_GRAY);
}

/// Vertical marker lines with their values, and a legend (top right of the plot).
fn draw_markers(img: &mut RgbImage, f: &PlotFrame, markers: &[(String, f32, [u8; 3])]) {
    let lo = f.min_hu;
    let hi = f.min_hu + f.bins;
    let mut value_row = f.top + 8;
    for (name, value, color) in markers {
        let hu = f64::from(*value);
        if !(lo..=hi).contains(&hu) {
            tracing::debug!(marker = %name, hu, "histogram marker off scale");
            continue;
        }
        let x = f.x_of_hu(hu).round() as i64;
        vline(img, x, f.top + 1, f.bottom - 1, 2, *color);
        let label = format!("{value:.0}");
        let (lw, lh) = text_size(&label, 2);
        let lx = if x + 6 + i64::from(lw) < f.right {
            x + 6
        } else {
            x - 6 - i64::from(lw)
        };
        draw_text(img, lx, value_row, &label, 2, *color);
        value_row += i64::from(lh) + 6;
    }
    if markers.is_empty() {
        return;
    }
    let entries: Vec<String> = markers
        .iter()
        .map(|(name, value, _)| {
            let hu = f64::from(*value);
            if (lo..=hi).contains(&hu) {
                format!("{name}: {value:.0} HU")
            } else {
                format!("{name}: {value:.0} HU (off scale)")
            }
        })
        .collect();
    let line_h = i64::from(text_size("X", 1).1) + 8;
    let text_w = entries.iter().map(|e| i64::from(text_size(e, 1).0)).max().unwrap_or(0);
    let box_w = text_w + 44;
    let box_h = line_h * entries.len() as i64 + 12;
    let (bx, by) = (f.right - box_w - 10, f.top + 10);
    blend_rect(img, bx, by, box_w, box_h, BACKGROUND_BOTTOM, 0.8);
    for (n, (entry, (_, _, color))) in entries.iter().zip(markers).enumerate() {
        let y = by + 8 + n as i64 * line_h;
        fill_rect(img, bx + 8, y + 2, 20, 4, *color);
        draw_text_plain(img, bx + 36, y, entry, 1, TEXT_WHITE);
    }
}

/// Writes a PNG plot of an HU histogram: `counts[i]` voxels in `[min_hu + i, min_hu + i + 1)`
/// HU, counts on a log axis, HU axis with ticks, and each marker `(name, HU, colour)` (the
/// chosen threshold, peaks, inflection points …) as a vertical line with its value and a
/// legend entry.
pub fn write_histogram_plot(
    path: &Path,
    min_hu: i32,
    counts: &[u64],
    markers: &[(String, f32, [u8; 3])],
    title: &str,
) -> Result<(), PreviewError> {
    save_png(&render_histogram_plot(min_hu, counts, markers, title)?, path)
}
