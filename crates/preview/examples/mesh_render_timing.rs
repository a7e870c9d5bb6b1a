//! Times `render_mesh_views` on a dense UV sphere (default 10 M triangles).
//!
//! `cargo run --release -p medprint-preview --example mesh_render_timing -- [triangles] [out.png]`

use std::time::Instant;

use medprint_mesh::Mesh;
use medprint_preview::render_mesh_views;

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
            let (a, b) = (i * n + j, i * n + (j + 1) % n);
            mesh.triangles.push([a, a + n, b]);
            mesh.triangles.push([b, a + n, b + n]);
        }
    }
    mesh
}

fn main() {
    let mut args = std::env::args().skip(1);
    let triangles: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(10e6);
    let out = args.next();
    let n = (triangles / 2.0).sqrt().round().max(3.0) as u32;
    let mesh = sphere(80.0, n);
    println!(
        "{} triangles, {} threads",
        mesh.triangle_count(),
        rayon::current_num_threads()
    );
    for run in 0..3 {
        let t = Instant::now();
        let img = render_mesh_views(&mesh, 1600, 800);
        println!("run {run}: render 1600x800 in {:.3} s", t.elapsed().as_secs_f64());
        if let (0, Some(path)) = (run, out.as_ref()) {
            if let Err(e) = img.save(path) {
                eprintln!("cannot save {path}: {e}");
            }
        }
    }
}
