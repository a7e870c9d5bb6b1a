//! Mesh previews: orientation of both views, shared scale, winding, hostile input.

use image::RgbImage;
use medprint_mesh::Mesh;
use medprint_preview::{render_mesh_views, write_mesh_preview};

/// Closed axis-aligned box, triangles counter-clockwise seen from outside.
fn push_box(mesh: &mut Mesh, lo: [f32; 3], hi: [f32; 3]) {
    let base = mesh.vertices.len() as u32;
    for k in 0..8 {
        mesh.vertices.push([
            if k & 1 == 0 { lo[0] } else { hi[0] },
            if k & 2 == 0 { lo[1] } else { hi[1] },
            if k & 4 == 0 { lo[2] } else { hi[2] },
        ]);
    }
    // Quads (corner bits x=1, y=2, z=4), each listed counter-clockwise from outside.
    let quads = [
        [0, 2, 3, 1],
        [4, 5, 7, 6],
        [0, 1, 5, 4],
        [2, 6, 7, 3],
        [0, 4, 6, 2],
        [1, 3, 7, 5],
    ];
    for q in quads {
        mesh.triangles.push([base + q[0], base + q[1], base + q[2]]);
        mesh.triangles.push([base + q[0], base + q[2], base + q[3]]);
    }
}

fn boxes(list: &[([f32; 3], [f32; 3])]) -> Mesh {
    let mut mesh = Mesh::default();
    for &(lo, hi) in list {
        push_box(&mut mesh, lo, hi);
    }
    mesh
}

/// Lit front faces: ivory hues (r ≥ g > b, b not tiny), unlike the bluish background,
/// white text, amber letters or plum back faces.
fn is_front_face(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(u32::from);
    r >= g && g > b && 2 * b > r && r > 20
}

fn is_back_face(p: [u8; 3]) -> bool {
    let [r, g, b] = p.map(u32::from);
    r > g && b > g && r > 20
}

/// Bounding box `(x0, y0, x1, y1)` of pixels matching `pred` in columns `[from, to)`.
fn extent(img: &RgbImage, from: u32, to: u32, pred: impl Fn([u8; 3]) -> bool) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for y in 0..img.height() {
        for x in from..to {
            if pred(img.get_pixel(x, y).0) {
                b = Some(b.map_or((x, y, x, y), |(a, c, d, e)| (a.min(x), c.min(y), d.max(x), e.max(y))));
            }
        }
    }
    b
}

#[test]
fn box_shows_its_sides_at_one_shared_scale() {
    // 40 (x) × 20 (y) × 10 (z) mm box.
    let mesh = boxes(&[([0.0, 0.0, 0.0], [40.0, 20.0, 10.0])]);
    let img = render_mesh_views(&mesh, 800, 400);
    assert_eq!(img.dimensions(), (800, 400));
    let (ax0, ay0, ax1, ay1) = extent(&img, 0, 400, is_front_face).expect("anterior view shows the box");
    let (lx0, ly0, lx1, ly1) = extent(&img, 400, 800, is_front_face).expect("lateral view shows the box");
    let (aw, ah) = (f64::from(ax1 - ax0 + 1), f64::from(ay1 - ay0 + 1));
    let (lw, lh) = (f64::from(lx1 - lx0 + 1), f64::from(ly1 - ly0 + 1));
    // Anterior shows x × z = 40 × 10, lateral y × z = 20 × 10, at the same scale.
    assert!((aw / ah - 4.0).abs() < 0.25, "anterior aspect {aw}×{ah}");
    assert!((lw / lh - 2.0).abs() < 0.15, "lateral aspect {lw}×{lh}");
    assert!((ah - lh).abs() <= 1.0, "heights {ah} vs {lh}");
    // Centred in each panel.
    assert!((f64::from(ax0 + ax1) / 2.0 - 200.0).abs() <= 2.0);
    assert!((f64::from(lx0 + lx1) / 2.0 - 600.0).abs() <= 2.0);
    assert!(
        extent(&img, 0, 800, is_back_face).is_none(),
        "a closed, outward-wound box shows no back face"
    );
}

#[test]
fn views_follow_anatomical_orientation() {
    // Large box near the origin, small box towards patient left (+x), posterior (+y), head (+z).
    let mesh = boxes(&[([-10.0; 3], [10.0; 3]), ([25.0; 3], [35.0; 3])]);
    let img = render_mesh_views(&mesh, 800, 400);
    for (panel, from) in [("anterior", 0u32), ("lateral", 400)] {
        let (x0, y0, x1, y1) = extent(&img, from, from + 400, is_front_face).expect("visible");
        let at = |fx: f64, fy_from_top: f64| {
            let x = f64::from(x0) + fx * f64::from(x1 - x0);
            let y = f64::from(y0) + fy_from_top * f64::from(y1 - y0);
            is_front_face(img.get_pixel(x as u32, y as u32).0)
        };
        // The model spans −10…35 mm on each axis: the small box fills the last 10/45.
        // Anterior: +x (left) → image right; lateral: +y (posterior) → image right; +z up.
        assert!(at(0.89, 0.11), "{panel}: small box must be top right");
        assert!(!at(0.11, 0.11), "{panel}: nothing top left");
        assert!(!at(0.89, 0.89), "{panel}: nothing bottom right");
        assert!(at(0.22, 0.78), "{panel}: large box bottom left");
    }
}

#[test]
fn inverted_winding_is_visible() {
    let mut mesh = boxes(&[([0.0; 3], [30.0; 3])]);
    for t in &mut mesh.triangles {
        t.swap(1, 2);
    }
    let img = render_mesh_views(&mesh, 600, 300);
    assert!(
        extent(&img, 0, 600, is_back_face).is_some(),
        "flipped faces must show in the back-face colour"
    );
    assert!(extent(&img, 0, 600, is_front_face).is_none());
}

#[test]
fn hostile_meshes_render_a_message_or_skip() {
    let img = render_mesh_views(&Mesh::default(), 640, 320);
    assert_eq!(img.dimensions(), (640, 320));
    assert!(extent(&img, 0, 640, is_front_face).is_none());
    // Text is drawn in the middle of the message image.
    let white = extent(&img, 0, 640, |p| p[0] > 200 && p[0] == p[2]).expect("message text");
    assert!(white.1 < 160 && white.3 > 160);
    // Out-of-range indices and non-finite vertices are skipped, the rest still renders.
    let mut mesh = boxes(&[([0.0; 3], [10.0; 3])]);
    mesh.triangles.push([0, 1, 999]);
    mesh.vertices.push([f32::NAN, 0.0, f32::INFINITY]);
    let nan = (mesh.vertices.len() - 1) as u32;
    mesh.triangles.push([0, 1, nan]);
    let img = render_mesh_views(&mesh, 400, 200);
    assert!(extent(&img, 0, 400, is_front_face).is_some());
    // All vertices non-finite: message, no panic. Zero-size requests are clamped.
    let bad = Mesh {
        vertices: vec![[f32::NAN; 3]; 3],
        triangles: vec![[0, 1, 2]],
    };
    assert!(render_mesh_views(&bad, 0, 0).width() >= 64);
    // A flat (zero-thickness) mesh renders without dividing by zero.
    let flat = Mesh {
        vertices: vec![[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 0.0, 10.0]],
        triangles: vec![[0, 1, 2]],
    };
    assert!(extent(&render_mesh_views(&flat, 400, 200), 0, 200, |p| is_front_face(p)
        || is_back_face(p))
    .is_some());
}

/// UV sphere with `n` × `n` quads (2n² triangles), outward CCW winding.
fn sphere(radius: f32, n: u32) -> Mesh {
    let mut mesh = Mesh::default();
    for i in 0..=n {
        let theta = std::f32::consts::PI * i as f32 / n as f32;
        for j in 0..n {
            let phi = 2.0 * std::f32::consts::PI * j as f32 / n as f32;
            mesh.vertices.push([
                radius * theta.sin() * phi.cos(),
                radius * theta.sin() * phi.sin(),
                radius * theta.cos(),
            ]);
        }
    }
    for i in 0..n {
        for j in 0..n {
            let a = i * n + j;
            let b = i * n + (j + 1) % n;
            let (c, d) = (a + n, b + n);
            mesh.triangles.push([a, c, b]);
            mesh.triangles.push([b, c, d]);
        }
    }
    mesh
}

#[test]
fn writes_png_of_a_dense_sphere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = std::env::var_os("MEDPRINT_PREVIEW_KEEP").map(std::path::PathBuf::from);
    let dir = keep.as_deref().unwrap_or(dir.path());
    let mut mesh = sphere(40.0, 300);
    push_box(&mut mesh, [30.0, -60.0, -20.0], [60.0, -45.0, 50.0]);
    let path = dir.join("mesh.png");
    write_mesh_preview(&path, &mesh).expect("written");
    let img = image::open(&path).expect("png").to_rgb8();
    assert!(
        extent(&img, 0, img.width(), is_back_face).is_none(),
        "closed outward meshes show no back face"
    );
    assert!(write_mesh_preview(&dir.join("no/such/dir/m.png"), &mesh).is_err());
    write_mesh_preview(&dir.join("empty.png"), &Mesh::default()).expect("message image written");
}
