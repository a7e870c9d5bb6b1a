//! 3MF package structure and content.

mod conditioning_support;

use std::io::{Cursor, Read};

use conditioning_support::{cuboid, icosphere};
use medprint_mesh::export::{write_3mf, ExportError, ModelPart};
use medprint_mesh::Mesh;

fn entry(zip: &mut zip::ZipArchive<Cursor<Vec<u8>>>, name: &str) -> String {
    let mut text = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut text).unwrap();
    text
}

#[test]
fn two_parts_give_two_coloured_objects_in_millimetres() {
    let bone = icosphere(2, 20.0, [-100.0, 50.0, -300.0]);
    let vessel = cuboid([0.0; 3], [5.0, 6.0, 7.0]);
    let parts = [
        ModelPart {
            name: "bone & <marrow>".into(),
            mesh: &bone,
            color_rgba: [0xF0, 0xE8, 0xD0, 0xFF],
        },
        ModelPart {
            name: "vessel".into(),
            mesh: &vessel,
            color_rgba: [0xC0, 0x10, 0x20, 0x80],
        },
    ];
    let mut file = Cursor::new(Vec::new());
    write_3mf(&mut file, &parts).unwrap();
    let mut zip = zip::ZipArchive::new(Cursor::new(file.into_inner())).unwrap();

    assert!(entry(&mut zip, "[Content_Types].xml").contains("3dmanufacturing-3dmodel+xml"));
    assert!(entry(&mut zip, "_rels/.rels").contains("Target=\"/3D/3dmodel.model\""));
    let model = entry(&mut zip, "3D/3dmodel.model");
    assert!(model.contains(r#"<model unit="millimeter""#));
    assert_eq!(model.matches("<object ").count(), 2);
    assert_eq!(model.matches(r#"type="model""#).count(), 2);
    assert_eq!(model.matches("<item ").count(), 2);
    assert!(model.contains(r#"name="bone &amp; &lt;marrow&gt;""#));
    assert!(model.contains(r##"displaycolor="#F0E8D0FF""##) && model.contains(r##"displaycolor="#C0102080""##));

    let objects: Vec<&str> = model.split("<object ").skip(1).collect();
    for (object, mesh) in objects.iter().zip([&bone, &vessel]) {
        assert_eq!(object.matches("<vertex ").count(), mesh.vertices.len());
        assert_eq!(object.matches("<triangle ").count(), mesh.triangles.len());
    }
    // Patient coordinates are kept, negative ones included.
    assert!(objects[0].contains(&format!(r#"x="{}""#, bone.vertices[0][0])));
}

#[test]
fn invalid_parts_are_refused() {
    let mut broken = cuboid([0.0; 3], [1.0; 3]);
    broken.triangles[3] = [0, 1, 99];
    let empty = Mesh::default();
    for mesh in [&broken, &empty] {
        let part = ModelPart {
            name: "x".into(),
            mesh,
            color_rgba: [0; 4],
        };
        let result = write_3mf(Cursor::new(Vec::new()), &[part]);
        assert!(matches!(result, Err(ExportError::InvalidPart { .. })), "{result:?}");
    }
    assert!(matches!(
        write_3mf(Cursor::new(Vec::new()), &[]),
        Err(ExportError::NoParts)
    ));
}
