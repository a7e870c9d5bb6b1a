//! OBJ and GLB structure: parts, units, glTF binary layout rules.

mod conditioning_support;

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::export::{write_glb, write_obj, ExportError, ModelPart};
use medprint_mesh::Mesh;

fn parts<'a>(bone: &'a Mesh, vessel: &'a Mesh) -> [ModelPart<'a>; 2] {
    [
        ModelPart {
            name: "bone".into(),
            mesh: bone,
            color_rgba: [0xF0, 0xE8, 0xD0, 0xFF],
        },
        ModelPart {
            name: "vessel\nline".into(),
            mesh: vessel,
            color_rgba: [0xC0, 0x10, 0x20, 0x80],
        },
    ]
}

#[test]
fn obj_has_one_object_per_part_with_global_one_based_faces() {
    let bone = icosphere(2, 20.0, [-100.0, 50.0, -300.0]);
    let vessel = cuboid([0.0; 3], [5.0, 6.0, 7.0]);
    let mut bytes = Vec::new();
    write_obj(&mut bytes, &parts(&bone, &vessel)).expect("written");
    let text = String::from_utf8(bytes).expect("utf-8");
    let objects: Vec<&str> = text.lines().filter(|l| l.starts_with("o ")).collect();
    assert_eq!(objects, ["o bone", "o vessel line"]);
    assert!(text.lines().next().expect("header").contains("mm"));
    let vertices = text.lines().filter(|l| l.starts_with("v ")).count();
    assert_eq!(vertices, bone.vertices.len() + vessel.vertices.len());
    let faces: Vec<[usize; 3]> = text
        .lines()
        .filter_map(|l| l.strip_prefix("f "))
        .map(|l| {
            let v: Vec<usize> = l.split(' ').map(|w| w.parse().expect("index")).collect();
            [v[0], v[1], v[2]]
        })
        .collect();
    assert_eq!(faces.len(), bone.triangles.len() + vessel.triangles.len());
    assert!(faces.iter().flatten().all(|&i| i >= 1 && i <= vertices));
    let last = faces.last().expect("faces");
    let expected = vessel
        .triangles
        .last()
        .expect("triangles")
        .map(|v| v as usize + 1 + bone.vertices.len());
    assert_eq!(*last, expected);
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

#[test]
fn glb_layout_accessors_and_materials_follow_the_spec() {
    let bone = icosphere(2, 20.0, [-100.0, 50.0, -300.0]);
    let vessel = cuboid([0.0; 3], [5.0, 6.0, 7.0]);
    let mut glb = Vec::new();
    write_glb(&mut glb, &parts(&bone, &vessel)).expect("written");
    assert_eq!(&glb[0..4], b"glTF");
    assert_eq!(u32_at(&glb, 4), 2);
    assert_eq!(u32_at(&glb, 8), glb.len());
    let json_length = u32_at(&glb, 12);
    assert_eq!(&glb[16..20], b"JSON");
    assert_eq!(json_length % 4, 0);
    let doc: serde_json::Value = serde_json::from_slice(&glb[20..20 + json_length]).expect("JSON chunk");
    let bin_at = 20 + json_length;
    let bin_length = u32_at(&glb, bin_at);
    assert_eq!(&glb[bin_at + 4..bin_at + 8], b"BIN\0");
    assert_eq!(bin_at + 8 + bin_length, glb.len());
    assert_eq!(doc["buffers"][0]["byteLength"].as_u64(), Some(bin_length as u64));
    assert_eq!(doc["asset"]["version"], "2.0");
    assert_eq!(doc["nodes"].as_array().expect("nodes").len(), 2);
    assert_eq!(doc["nodes"][1]["name"], "vessel\nline");
    for view in doc["bufferViews"].as_array().expect("views") {
        assert_eq!(view["byteOffset"].as_u64().expect("offset") % 4, 0);
    }
    let bin = &glb[bin_at + 8..];
    for (k, mesh) in [&bone, &vessel].into_iter().enumerate() {
        let primitive = &doc["meshes"][k]["primitives"][0];
        let position = &doc["accessors"][primitive["attributes"]["POSITION"].as_u64().expect("pos") as usize];
        assert_eq!(position["count"].as_u64(), Some(mesh.vertices.len() as u64));
        let view = &doc["bufferViews"][position["bufferView"].as_u64().expect("view") as usize];
        let offset = view["byteOffset"].as_u64().expect("offset") as usize;
        // Positions are metres, Y = superior, Z = anterior (−P); min/max match the data.
        let stored: Vec<[f32; 3]> = (0..mesh.vertices.len())
            .map(|i| {
                std::array::from_fn(|a| f32::from_le_bytes(bin[offset + 12 * i + 4 * a..][..4].try_into().expect("4")))
            })
            .collect();
        for (p, q) in mesh.vertices.iter().zip(&stored) {
            let expected = [p[0] * 0.001, p[2] * 0.001, -p[1] * 0.001];
            assert!((0..3).all(|a| (expected[a] - q[a]).abs() < 1e-6));
        }
        for a in 0..3 {
            let lo = stored.iter().map(|p| p[a]).fold(f32::INFINITY, f32::min);
            let hi = stored.iter().map(|p| p[a]).fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(position["min"][a].as_f64(), Some(f64::from(lo)));
            assert_eq!(position["max"][a].as_f64(), Some(f64::from(hi)));
        }
        let indices = &doc["accessors"][primitive["indices"].as_u64().expect("indices") as usize];
        assert_eq!(indices["count"].as_u64(), Some(3 * mesh.triangles.len() as u64));
        assert_eq!(indices["componentType"].as_u64(), Some(5125));
    }
    let colour = &doc["materials"][1]["pbrMetallicRoughness"]["baseColorFactor"];
    // sRGB 0xC0 is linear 0.527.
    assert!((colour[0].as_f64().expect("red") - 0.527).abs() < 0.002);
    assert_eq!(doc["materials"][1]["alphaMode"], "BLEND");
    assert!(doc["materials"][0].get("alphaMode").is_none());
}

#[test]
fn exporters_reject_bad_parts() {
    let empty = Mesh::default();
    let broken = Mesh {
        vertices: vec![[0.0; 3], [f32::INFINITY, 0.0, 0.0], [0.0, 1.0, 0.0]],
        triangles: vec![[0, 1, 2]],
    };
    let out_of_range = Mesh {
        vertices: vec![[0.0; 3]],
        triangles: vec![[0, 1, 2]],
    };
    for mesh in [&empty, &broken, &out_of_range] {
        let part = [ModelPart {
            name: "x".into(),
            mesh,
            color_rgba: [0; 4],
        }];
        assert!(matches!(
            write_obj(Vec::new(), &part),
            Err(ExportError::InvalidPart { .. })
        ));
        assert!(matches!(
            write_glb(Vec::new(), &part),
            Err(ExportError::InvalidPart { .. })
        ));
    }
    assert!(matches!(write_obj(Vec::new(), &[]), Err(ExportError::NoParts)));
    assert!(matches!(write_glb(Vec::new(), &[]), Err(ExportError::NoParts)));
}
