//! Bounds-checked drawing primitives on RGB images (pixels outside the image are skipped).

use image::RgbImage;

/// Sets pixel `(x, y)` when it lies inside the image.
#[inline]
pub fn put_pixel(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3]) {
    if x >= 0 && y >= 0 && x < i64::from(img.width()) && y < i64::from(img.height()) {
        img.put_pixel(x as u32, y as u32, image::Rgb(color));
    }
}

/// Mixes `color` over pixel `(x, y)` with opacity `alpha` in `[0, 1]`.
#[inline]
pub fn blend_pixel(img: &mut RgbImage, x: i64, y: i64, color: [u8; 3], alpha: f32) {
    if x >= 0 && y >= 0 && x < i64::from(img.width()) && y < i64::from(img.height()) {
        let p = img.get_pixel_mut(x as u32, y as u32);
        p.0 = mix(p.0, color, alpha);
    }
}

/// `a·(1−t) + b·t` per channel, `t` clamped to `[0, 1]`.
#[inline]
pub fn mix(a: [u8; 3], b: [u8; 3], t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let m = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    [m(a[0], b[0]), m(a[1], b[1]), m(a[2], b[2])]
}

/// Fills the rectangle with top-left `(x, y)` and size `w`×`h`.
pub fn fill_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: [u8; 3]) {
    for yy in y.max(0)..(y + h).min(i64::from(img.height())) {
        for xx in x.max(0)..(x + w).min(i64::from(img.width())) {
            img.put_pixel(xx as u32, yy as u32, image::Rgb(color));
        }
    }
}

/// Darkens/tints the rectangle with `color` at opacity `alpha` (caption backdrops, legends).
pub fn blend_rect(img: &mut RgbImage, x: i64, y: i64, w: i64, h: i64, color: [u8; 3], alpha: f32) {
    for yy in y.max(0)..(y + h).min(i64::from(img.height())) {
        for xx in x.max(0)..(x + w).min(i64::from(img.width())) {
            blend_pixel(img, xx, yy, color, alpha);
        }
    }
}

/// Horizontal line from `x0` to `x1` inclusive at row `y`, `thickness` rows downwards.
pub fn hline(img: &mut RgbImage, x0: i64, x1: i64, y: i64, thickness: i64, color: [u8; 3]) {
    let (a, b) = (x0.min(x1), x0.max(x1));
    fill_rect(img, a, y, b - a + 1, thickness.max(1), color);
}

/// Vertical line from `y0` to `y1` inclusive at column `x`, `thickness` columns rightwards.
pub fn vline(img: &mut RgbImage, x: i64, y0: i64, y1: i64, thickness: i64, color: [u8; 3]) {
    let (a, b) = (y0.min(y1), y0.max(y1));
    fill_rect(img, x, a, thickness.max(1), b - a + 1, color);
}

/// Fills the image with a vertical gradient from `top` to `bottom`.
pub fn vertical_gradient(img: &mut RgbImage, top: [u8; 3], bottom: [u8; 3]) {
    let h = img.height().max(2) - 1;
    for (y, row) in img.rows_mut().enumerate() {
        let c = mix(top, bottom, y as f32 / h as f32);
        for p in row {
            p.0 = c;
        }
    }
}

/// A "nice" length (1, 2 or 5 × 10ⁿ) not larger than `max` (> 0); used for scale bars and
/// axis ticks.
pub fn nice_step(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(max.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&v| v <= max)
        .unwrap_or(p)
}

/// Formats an integer with thousands separators (`12,345,678`).
pub fn thousands(n: usize) -> String {
    let digits = n.to_string().into_bytes();
    let groups: Vec<String> = digits
        .rchunks(3)
        .rev()
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect();
    groups.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_and_separators() {
        assert_eq!(nice_step(7.3), 5.0);
        assert_eq!(nice_step(19.0), 10.0);
        assert_eq!(nice_step(0.03), 0.02);
        assert_eq!(thousands(12345678), "12,345,678");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn drawing_outside_is_ignored() {
        let mut img = RgbImage::new(4, 4);
        fill_rect(&mut img, -10, -10, 100, 11, [9, 9, 9]);
        put_pixel(&mut img, 10, 10, [1, 1, 1]);
        assert_eq!(img.get_pixel(3, 3).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(0, 0).0, [9, 9, 9]);
    }
}
