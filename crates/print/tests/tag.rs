//! The hard-link tag: closed shells, beside the model, and a QR code that decodes back.

use medprint_mesh::check_mesh;
use medprint_mesh::shells::split_shells;
use medprint_print::primitives::ellipsoid;
use medprint_print::tag::{hard_link_code, hard_link_tag, TagOptions};

/// Rasterizes the raised tops of the plate seen from +z (dark = raised) at `pixel` mm.
fn raster_top(tag: &medprint_print::tag::Tag, options: &TagOptions, pixel: f64) -> (usize, usize, Vec<u8>) {
    let [w, h, t] = options.plate_mm;
    let (nx, ny) = ((w / pixel) as usize + 20, (h / pixel) as usize + 20);
    let mut image = vec![255u8; nx * ny];
    let m = &tag.plate;
    for tri in &m.triangles {
        let p = tri.map(|i| m.vertices[i as usize].map(f64::from));
        if p.iter().all(|q| q[2] > tag.origin[2] + t + 0.01) {
            // Raised tops are axis-aligned rectangles split in two triangles: fill the box of each.
            let lo = [0, 1].map(|a| p.iter().map(|q| q[a] - tag.origin[a]).fold(f64::INFINITY, f64::min));
            let hi = [0, 1].map(|a| p.iter().map(|q| q[a] - tag.origin[a]).fold(f64::NEG_INFINITY, f64::max));
            for y in 0..ny {
                for x in 0..nx {
                    let (px, py) = ((x as f64 - 10.0 + 0.5) * pixel, h - (y as f64 - 10.0 + 0.5) * pixel);
                    if px >= lo[0] && px < hi[0] && py >= lo[1] && py < hi[1] {
                        image[x + nx * y] = 0;
                    }
                }
            }
        }
    }
    (nx, ny, image)
}

#[test]
fn tag_qr_decodes_back_to_the_code() {
    let model = ellipsoid([0.0; 3], [30.0, 20.0, 15.0], 3).expect("model");
    let code = hard_link_code(&[b"order 42", b"ct.nii.gz sha256", b"medprint 0.1.0"]);
    let options = TagOptions::default();
    let tag = hard_link_tag(&code, &[&model], &options).expect("tag");
    for shell in split_shells(&tag.plate) {
        assert!(check_mesh(&shell).is_printable());
    }
    let dowel = tag.dowel.as_ref().expect("dowel to the model");
    assert!(check_mesh(dowel).is_printable());
    let (lo, _) = tag.plate.bounds().expect("bounds");
    assert!(
        (f64::from(lo[0]) - 35.0).abs() < 1e-4,
        "plate 5 mm beside the model: {lo:?}"
    );
    let (w, h, image) = raster_top(&tag, &options, 0.1);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| image[x + w * y]);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, decoded) = grids[0].decode().expect("QR decodes");
    assert_eq!(decoded, code);
}

#[test]
fn tag_refuses_bad_input() {
    let options = TagOptions::default();
    assert!(hard_link_tag("", &[], &options).is_err());
    assert!(hard_link_tag("AB CD", &[], &options).is_err());
    assert!(hard_link_tag(
        "ABCD",
        &[],
        &TagOptions {
            relief_mm: -1.0,
            ..options
        }
    )
    .is_err());
    assert!(hard_link_tag(
        "ABCD",
        &[],
        &TagOptions {
            plate_mm: [20.0, 5.0, 2.0],
            ..options
        }
    )
    .is_err());
    assert!(hard_link_tag(
        "ABCD",
        &[],
        &TagOptions {
            plate_mm: [f64::NAN, 30.0, 2.0],
            ..options
        }
    )
    .is_err());
    let tag = hard_link_tag("ABCD", &[], &options).expect("tag without model");
    assert!(tag.dowel.is_none());
}
