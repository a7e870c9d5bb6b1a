//! Independent check of every export format by third-party libraries (trimesh, lib3mf,
//! manifold3d) through scripts/mesh_check.py, on a phantom with known parts.
//! Needs `.venv` at the repository root: run scripts/python_env.sh first.

use std::path::{Path, PathBuf};
use std::process::Command;

use medprint_mesh::export::{write_3mf, write_glb, write_obj, write_stl_binary, ModelPart};
use medprint_mesh::isosurface::extract_isosurface;
use medprint_mesh::shells::merge;
use medprint_mesh::{condition, signed_volume_mm3, ConditionOptions, Mesh};
use medprint_volume::{Geometry, Volume};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Samples `field` (positive inside) on a 1 mm grid of 90×60×40 and conditions the surface.
fn part_from_field(field: impl Fn([f64; 3]) -> f64) -> Mesh {
    let dims = [90, 60, 40];
    let mut data = Vec::with_capacity(dims[0] * dims[1] * dims[2]);
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                data.push(field([x as f64, y as f64, z as f64]) as f32);
            }
        }
    }
    let geometry = Geometry::axis_aligned([1.0; 3], [-40.0, 25.0, 300.0]);
    let volume = Volume::from_vec(dims, data, geometry).expect("dims match");
    let (m, report) = condition(extract_isosurface(&volume, 0.0), &ConditionOptions::default());
    assert!(report.check.is_printable(), "{report:?}");
    m
}

fn phantom() -> (Mesh, Mesh) {
    let ball = |p: [f64; 3], c: [f64; 3], r: f64| r - ((0..3).map(|a| (p[a] - c[a]).powi(2)).sum::<f64>()).sqrt();
    let spheres = part_from_field(|p| ball(p, [20.0, 30.0, 20.0], 12.0).max(ball(p, [48.0, 30.0, 20.0], 9.0)));
    let torus = part_from_field(|p| {
        let (x, y, z) = (p[0] - 72.0, p[1] - 30.0, p[2] - 20.0);
        let ring = ((x * x + y * y).sqrt() - 10.0).hypot(z);
        4.0 - ring
    });
    (spheres, torus)
}

fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * b.abs()
}

#[test]
fn every_export_format_is_watertight_with_our_volumes_in_third_party_readers() {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/python_env.sh to create the Python environment",
        python.display()
    );
    let (bone, vessel) = phantom();
    let parts = [
        ModelPart {
            name: "bone".into(),
            mesh: &bone,
            color_rgba: [0xF0, 0xE8, 0xD0, 0xFF],
        },
        ModelPart {
            name: "vessel".into(),
            mesh: &vessel,
            color_rgba: [0xC0, 0x10, 0x20, 0xFF],
        },
    ];
    let volumes = [signed_volume_mm3(&bone), signed_volume_mm3(&vessel)];
    let dir = tempfile::tempdir().expect("temp dir");
    let path = |name: &str| dir.path().join(name);
    let create = |name: &str| std::fs::File::create(path(name)).expect("create");
    write_stl_binary(create("model.stl"), &merge(&[bone.clone(), vessel.clone()])).expect("stl");
    write_obj(create("model.obj"), &parts).expect("obj");
    write_3mf(create("model.3mf"), &parts).expect("3mf");
    write_glb(create("model.glb"), &parts).expect("glb");
    let output = Command::new(&python)
        .arg(repo_root().join("scripts/mesh_check.py"))
        .args(["model.stl", "model.obj", "model.3mf", "model.glb"].map(path))
        .output()
        .expect("python runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("JSON from mesh_check.py");
    let files = report["files"].as_array().expect("files");
    for file in files {
        assert!(file.get("error").is_none(), "{file}");
        let format = file["format"].as_str().expect("format");
        let objects = file["objects"].as_array().expect("objects");
        // GLB is in metres (glTF), the others in mm.
        let unit_mm3 = if format == "glb" { 1e9 } else { 1.0 };
        for object in objects {
            assert_eq!(object["watertight"], true, "{format}: {object}");
            assert_eq!(object["winding_consistent"], true, "{format}: {object}");
            assert_eq!(object["manifold3d"], "NoError", "{format}: {object}");
        }
        let volume_of = |o: &Value| o["volume"].as_f64().expect("volume") * unit_mm3;
        if format == "stl" {
            assert_eq!(objects.len(), 1);
            let theirs = volume_of(&objects[0]);
            assert!(close(theirs, volumes[0] + volumes[1], 0.01), "{theirs} vs {volumes:?}");
            continue;
        }
        assert_eq!(objects.len(), 2, "{format}: {file}");
        for (k, name) in ["bone", "vessel"].into_iter().enumerate() {
            // Readers may list objects in another order: match them by name.
            let object = objects
                .iter()
                .find(|o| o["name"].as_str().is_some_and(|n| n.contains(name)))
                .unwrap_or_else(|| panic!("{format}: no object named {name} in {file}"));
            let theirs = volume_of(object);
            assert!(
                close(theirs, volumes[k], 0.01),
                "{format} {name}: {theirs} vs {volumes:?}"
            );
        }
        if format == "3mf" {
            assert!(file["lib3mf_error"].is_null(), "{file}");
            assert_eq!(file["lib3mf_warnings"].as_array().map(Vec::len), Some(0), "{file}");
            assert_eq!(file["unit"], "millimeter");
            assert_eq!(objects[0]["material"]["name"], "bone");
            assert_eq!(objects[0]["material"]["color"], "#F0E8D0FF");
            assert_eq!(objects[1]["material"]["name"], "vessel");
            assert_eq!(objects[1]["material"]["color"], "#C01020FF");
        }
    }
}
