//! Bitmap text (8×8 public-domain font, integer scaling) drawn straight into RGB images.

use image::RgbImage;

use crate::draw::put_pixel;
use crate::palette::TEXT_HALO;

/// Glyph side in font pixels; a glyph is `GLYPH_PX * scale` image pixels wide and high.
pub const GLYPH_PX: u32 = 8;

/// The 8 row bitmaps of `c` (bit 0 = leftmost pixel); unknown characters render as `?`.
fn glyph(c: char) -> [u8; 8] {
    let code = c as usize;
    if code < 128 {
        font8x8::legacy::BASIC_LEGACY[code]
    } else if (0xA0..0x100).contains(&code) {
        font8x8::legacy::LATIN_LEGACY[code - 0xA0]
    } else {
        font8x8::legacy::BASIC_LEGACY['?' as usize]
    }
}

/// Size in image pixels `(width, height)` of `text` drawn at `scale`.
pub fn text_size(text: &str, scale: u32) -> (u32, u32) {
    (text.chars().count() as u32 * GLYPH_PX * scale, GLYPH_PX * scale)
}

fn draw_glyphs(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
    let s = i64::from(scale.max(1));
    for (n, c) in text.chars().enumerate() {
        let rows = glyph(c);
        let gx = x + n as i64 * 8 * s;
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..s {
                    for dx in 0..s {
                        put_pixel(img, gx + col * s + dx, y + row as i64 * s + dy, color);
                    }
                }
            }
        }
    }
}

/// Draws `text` with its top-left corner at `(x, y)` and a 1-pixel dark halo so it stays
/// legible on any background. Pixels outside the image are skipped.
pub fn draw_text(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
    let halo = (i64::from(scale.max(1)) + 1) / 2;
    for (dx, dy) in [
        (-halo, 0),
        (halo, 0),
        (0, -halo),
        (0, halo),
        (-halo, -halo),
        (halo, halo),
        (-halo, halo),
        (halo, -halo),
    ] {
        draw_glyphs(img, x + dx, y + dy, text, scale, TEXT_HALO);
    }
    draw_glyphs(img, x, y, text, scale, color);
}

/// Draws `text` without halo (for text on plain plot backgrounds).
pub fn draw_text_plain(img: &mut RgbImage, x: i64, y: i64, text: &str, scale: u32, color: [u8; 3]) {
    draw_glyphs(img, x, y, text, scale, color);
}

/// Text scale that suits an image whose shorter side is `short_side_px`: 1 up to 255 px,
/// then one step per 256 px, at most 4.
pub fn scale_for(short_side_px: u32) -> u32 {
    (short_side_px / 256).clamp(1, 4)
}

/// An image of `width`×`height` with `message` centred: used instead of panicking on input
/// that cannot be rendered (empty volume, empty mesh …).
pub fn message_image(width: u32, height: u32, message: &str) -> RgbImage {
    let (w, h) = (width.max(64), height.max(32));
    let mut img = RgbImage::new(w, h);
    crate::draw::vertical_gradient(
        &mut img,
        crate::palette::BACKGROUND_TOP,
        crate::palette::BACKGROUND_BOTTOM,
    );
    let mut scale = scale_for(w.min(h)) + 1;
    while scale > 1 && text_size(message, scale).0 + 8 > w {
        scale -= 1;
    }
    let (tw, th) = text_size(message, scale);
    draw_text(
        &mut img,
        (i64::from(w) - i64::from(tw)) / 2,
        (i64::from(h) - i64::from(th)) / 2,
        message,
        scale,
        crate::palette::TEXT_WHITE,
    );
    img
}
