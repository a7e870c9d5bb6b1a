//! Slice previews: radiological orientation, geometry independence, aspect, overlay.

use image::RgbImage;
use medprint_preview::{render_slice, write_slice_previews, Overlay, Plane, Window};
use medprint_volume::{Geometry, Volume};

/// Soft-tissue background (0 HU) shows as this gray in the bone window.
const BACKGROUND_GRAY: u8 = 71;

/// A volume whose voxel values are `f(patient position)`, for any geometry: the truth is
/// defined in patient space, so every geometry describes the same anatomy.
fn phantom<T: Clone>(dims: [usize; 3], geometry: Geometry, f: impl Fn([f64; 3]) -> T) -> Volume<T> {
    let mut data = Vec::with_capacity(dims.iter().product());
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                data.push(f(geometry.index_to_patient([i as f64, j as f64, k as f64])));
            }
        }
    }
    Volume::from_vec(dims, data, geometry).expect("dims match data")
}

/// Bone cube at x ∈ [5, 15] (patient left), y ∈ [−15, −5] (anterior), z ∈ [5, 15] (superior).
fn in_cube(p: [f64; 3]) -> bool {
    (5.0..15.0).contains(&p[0]) && (-15.0..-5.0).contains(&p[1]) && (5.0..15.0).contains(&p[2])
}

fn cube_scan(geometry: Geometry) -> Volume<i16> {
    phantom([40, 40, 40], geometry, |p| if in_cube(p) { 1500 } else { 0 })
}

/// 40 mm cube of 1-mm voxels centred on the patient origin, axes i→+x, j→+y, k→+z.
fn standard_geometry() -> Geometry {
    Geometry::axis_aligned([1.0; 3], [-19.5; 3])
}

/// Same voxel centres, but the i axis points to −x (right), the k axis to −z (feet).
fn flipped_geometry() -> Geometry {
    Geometry {
        spacing: [1.0; 3],
        origin: [19.5, -19.5, 19.5],
        direction: [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]],
    }
}

/// Index axes permuted: i→+y, j→−z, k→−x (a non-trivial rotation of the grid).
fn permuted_geometry() -> Geometry {
    Geometry {
        spacing: [1.0; 3],
        origin: [19.5, -19.5, 19.5],
        direction: [[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]],
    }
}

fn gray_at(img: &RgbImage, fx: f64, fy: f64) -> [u8; 3] {
    img.get_pixel(
        (fx * f64::from(img.width())) as u32,
        (fy * f64::from(img.height())) as u32,
    )
    .0
}

/// Asserts the cube is in exactly one quadrant: `(right, top)` as expected.
fn assert_cube_quadrant(img: &RgbImage, right: bool, top: bool, what: &str) {
    for (fx, fy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
        let expect_cube = (fx > 0.5) == right && (fy < 0.5) == top;
        let px = gray_at(img, fx, fy);
        let want = if expect_cube { [255; 3] } else { [BACKGROUND_GRAY; 3] };
        assert_eq!(
            px,
            want,
            "{what}: pixel at ({fx}, {fy}) of {}x{}",
            img.width(),
            img.height()
        );
    }
}

fn through_cube_centre() -> Option<[f64; 3]> {
    Some([10.0, -10.0, 10.0])
}

#[test]
fn cube_left_anterior_superior_appears_in_radiological_position() {
    let scan = cube_scan(standard_geometry());
    let axial = render_slice(&scan, None, Plane::Axial, through_cube_centre(), Window::BONE, 200);
    let coronal = render_slice(&scan, None, Plane::Coronal, through_cube_centre(), Window::BONE, 200);
    let sagittal = render_slice(&scan, None, Plane::Sagittal, through_cube_centre(), Window::BONE, 200);
    // Axial from the feet: patient left → image right, anterior → top.
    assert_cube_quadrant(&axial, true, true, "axial");
    // Coronal from the front: patient left → image right, superior → top.
    assert_cube_quadrant(&coronal, true, true, "coronal");
    // Sagittal from the patient's left: anterior → image left, superior → top.
    assert_cube_quadrant(&sagittal, false, true, "sagittal");
}

fn max_channel_difference(a: &RgbImage, b: &RgbImage) -> u8 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y))
        .max()
        .unwrap_or(0)
}

#[test]
fn flipped_and_permuted_direction_matrices_render_identically() {
    let reference = cube_scan(standard_geometry());
    for geometry in [flipped_geometry(), permuted_geometry()] {
        let other = cube_scan(geometry);
        assert_ne!(
            reference.data(),
            other.data(),
            "the phantom must really be stored differently"
        );
        for plane in Plane::ALL {
            for through in [None, through_cube_centre()] {
                let a = render_slice(&reference, None, plane, through, Window::BONE, 160);
                let b = render_slice(&other, None, plane, through, Window::BONE, 160);
                assert!(
                    max_channel_difference(&a, &b) <= 1,
                    "{plane:?} through {through:?} differs for {geometry:?}"
                );
            }
        }
    }
}

/// Length of the run of sphere pixels (pure gray above the half-way level) through the centre.
fn run_length(img: &RgbImage, horizontal: bool) -> u32 {
    let (cx, cy) = (img.width() / 2, img.height() / 2);
    let is_sphere = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        p[0] == p[1] && p[1] == p[2] && p[0] > Window::BONE.gray(500.0)
    };
    assert!(is_sphere(cx, cy), "centre pixel must be inside the sphere");
    let (n, centre) = if horizontal {
        (img.width(), cx)
    } else {
        (img.height(), cy)
    };
    let at = |t: u32| if horizontal { is_sphere(t, cy) } else { is_sphere(cx, t) };
    let up = (centre..n).take_while(|&t| at(t)).count() as u32;
    let down = (0..centre).rev().take_while(|&t| at(t)).count() as u32;
    up + down
}

#[test]
fn sphere_on_anisotropic_grid_renders_round() {
    let spacing = [0.5, 0.5, 2.5];
    let dims = [80, 80, 16];
    let origin = std::array::from_fn(|a| -0.5 * (dims[a] as f64 - 1.0) * spacing[a]);
    let geometry = Geometry::axis_aligned(spacing, origin);
    let radius = 15.0;
    let scan = phantom(dims, geometry, |p: [f64; 3]| {
        if p.iter().map(|c| c * c).sum::<f64>() < radius * radius {
            1000i16
        } else {
            0
        }
    });
    for plane in [Plane::Coronal, Plane::Sagittal] {
        let img = render_slice(&scan, None, plane, Some([0.0; 3]), Window::BONE, 256);
        // 40 mm field of view in both directions: square image.
        assert_eq!(img.width(), img.height(), "{plane:?}");
        let pixel_mm = 40.0 / f64::from(img.width());
        let across = f64::from(run_length(&img, true)) * pixel_mm;
        let along_z = f64::from(run_length(&img, false)) * pixel_mm;
        assert!(
            (across - 2.0 * radius).abs() < 1.5,
            "{plane:?}: horizontal diameter {across} mm"
        );
        // z is sampled every 2.5 mm: allow one slice of error.
        assert!(
            (along_z - 2.0 * radius).abs() < 2.5,
            "{plane:?}: vertical diameter {along_z} mm"
        );
    }
}

#[test]
fn overlay_is_drawn_where_labels_are_even_on_another_grid() {
    let scan = cube_scan(standard_geometry());
    // Labels on a coarser 2-mm grid with flipped axes, same patient-space cube.
    let label_geometry = Geometry {
        spacing: [2.0; 3],
        origin: [19.0, 19.0, -19.0],
        direction: [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
    };
    let labels = phantom([20, 20, 20], label_geometry, |p| if in_cube(p) { 3u8 } else { 0 });
    let green = [0, 255, 0];
    let colors = [(3u8, green)];
    let overlay = Overlay {
        labels: &labels,
        colors: &colors,
        alpha: 0.5,
    };
    let img = render_slice(
        &scan,
        Some(&overlay),
        Plane::Axial,
        through_cube_centre(),
        Window::BONE,
        200,
    );
    // Inside: 50 % green over white bone.
    assert_eq!(gray_at(&img, 0.75, 0.25), [128, 255, 128]);
    // Outside: untouched gray.
    assert_eq!(gray_at(&img, 0.25, 0.25), [BACKGROUND_GRAY; 3]);
    // The outline is opaque: some pixel on the row through the cube centre is pure green,
    // and it lies at the left border of the labelled 2-mm voxels: the leftmost labelled
    // voxel centre is x = 5 mm, so its box starts at x = 4 mm → (4 + 20) / 40 of the width.
    let row = img.height() / 4;
    let outline: Vec<u32> = (0..img.width()).filter(|&x| img.get_pixel(x, row).0 == green).collect();
    assert!(!outline.is_empty(), "no outline pixel");
    let left_border = 0.6 * f64::from(img.width());
    assert!(
        (f64::from(outline[0]) - left_border).abs() <= 1.0,
        "outline starts at {}",
        outline[0]
    );
}

#[test]
fn hostile_input_gives_message_images() {
    let empty = Volume::<i16>::from_vec([0, 0, 0], vec![], Geometry::default()).expect("empty");
    let img = render_slice(&empty, None, Plane::Axial, None, Window::BONE, 128);
    assert!(img.width() >= 64 && img.height() >= 32);
    let singular = Geometry {
        direction: [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        ..Geometry::default()
    };
    let scan = Volume::filled([4, 4, 4], 0i16, singular);
    let img = render_slice(&scan, None, Plane::Coronal, None, Window::BONE, 128);
    assert!(img.width() >= 64);
    let ok = Volume::filled([4, 4, 4], 0i16, Geometry::default());
    let img = render_slice(
        &ok,
        None,
        Plane::Sagittal,
        Some([f64::NAN, 0.0, 0.0]),
        Window::BONE,
        128,
    );
    assert!(img.width() >= 64);
    // A huge requested size is capped instead of allocating gigabytes.
    let img = render_slice(&ok, None, Plane::Axial, None, Window::BONE, u32::MAX);
    assert!(img.width() <= medprint_preview::slice::MAX_SLICE_SIDE_PX);
    // A slice through a point outside the volume is all background, no panic.
    let img = render_slice(&ok, None, Plane::Axial, Some([0.0, 0.0, 1e6]), Window::BONE, 64);
    assert_eq!(img.get_pixel(img.width() / 2, img.height() / 3).0, [0, 0, 0]);
}

#[test]
fn writes_three_pngs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::env::var_os("MEDPRINT_PREVIEW_KEEP").map(std::path::PathBuf::from);
    let dir = out.as_deref().unwrap_or(dir.path());
    let scan = cube_scan(flipped_geometry());
    let labels = phantom([40, 40, 40], standard_geometry(), |p| u8::from(in_cube(p)));
    let colors = [(1u8, medprint_preview::palette::HIGHLIGHT_GREEN)];
    let overlay = Overlay {
        labels: &labels,
        colors: &colors,
        alpha: 0.35,
    };
    let paths = write_slice_previews(dir, &scan, Some(&overlay), through_cube_centre()).expect("written");
    assert_eq!(paths.len(), 3);
    for (path, name) in paths.iter().zip(["axial.png", "coronal.png", "sagittal.png"]) {
        assert!(path.ends_with(name));
        let back = image::open(path).expect("readable PNG").to_rgb8();
        assert!(back.width() >= 512 || back.height() >= 512);
    }
    // A directory path that is a file gives a typed error.
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    assert!(write_slice_previews(&file.join("sub"), &scan, None, None).is_err());
}
