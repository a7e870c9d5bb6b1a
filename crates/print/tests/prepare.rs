//! The `prepare` entry point on phantoms: every step enabled, roles, closedness, hostile input.

use medprint_mesh::shells::merge;
use medprint_mesh::{check_mesh, Mesh};
use medprint_print::channels::ChannelOptions;
use medprint_print::hollow::HollowOptions;
use medprint_print::primitives::ellipsoid;
use medprint_print::supports::SupportOptions;
use medprint_print::tag::TagOptions;
use medprint_print::{prepare, NamedMesh, PartRole, PrintError, PrintOptions, TagRequest};

fn inverted(m: Mesh) -> Mesh {
    Mesh {
        triangles: m.triangles.iter().map(|t| [t[0], t[2], t[1]]).collect(),
        ..m
    }
}

#[test]
fn two_bones_with_a_cavity_are_prepared_with_every_role() {
    // A long "bone" (too long for the build volume) with a cavity, and a small one beside it.
    let long = merge(&[
        ellipsoid([0.0; 3], [90.0, 15.0, 15.0], 4).expect("long"),
        inverted(ellipsoid([0.0; 3], [20.0, 5.0, 5.0], 2).expect("cavity")),
    ]);
    let small = ellipsoid([0.0, 30.0, 0.0], [10.0; 3], 3).expect("small");
    let parts = [
        NamedMesh {
            name: "long".into(),
            mesh: long,
        },
        NamedMesh {
            name: "small".into(),
            mesh: small,
        },
    ];
    let options = PrintOptions {
        supports: Some(SupportOptions::default()),
        tag: Some(TagRequest {
            inputs: vec![b"order 1".to_vec(), b"input digest".to_vec()],
            options: TagOptions::default(),
        }),
        auto_orient_samples: Some(60),
        ..Default::default()
    };
    let prepared = prepare(&parts, &options).expect("prepare");
    let report = &prepared.report;
    assert!(report.all_closed);
    assert_eq!(report.cavities[0].1.shells_removed, 1);
    assert_eq!(report.splits.len(), 1, "the 180 mm bone is split");
    assert_eq!(report.dowels.as_ref().expect("dowels").connected_groups, 1);
    assert!(report.tag_code.as_ref().is_some_and(|c| c.len() == 10));
    let orientation = report.orientation.expect("orientation");
    assert!(orientation.after.support_volume_mm3 <= orientation.before.support_volume_mm3);
    for role in [
        PartRole::Model,
        PartRole::Dowel,
        PartRole::Support,
        PartRole::Tag,
        PartRole::Connector,
    ] {
        assert!(prepared.parts.iter().any(|p| p.role == role), "no {role:?}");
    }
    for part in &prepared.parts {
        let check = check_mesh(&part.mesh);
        assert!(check.closed && check.manifold, "{}: {check:?}", part.name);
    }
}

#[test]
fn hollowed_sphere_gets_a_drain_and_a_void_gets_a_channel() {
    let sphere = ellipsoid([0.0; 3], [20.0; 3], 4).expect("sphere");
    let options = PrintOptions {
        hollow: Some(HollowOptions {
            wall_mm: 3.0,
            pitch_mm: 1.0,
            ..Default::default()
        }),
        auto_orient_samples: None,
        ..Default::default()
    };
    let named = |mesh: Mesh| NamedMesh {
        name: "sphere".into(),
        mesh,
    };
    let prepared = prepare(&[named(sphere.clone())], &options).expect("prepare hollow");
    let report = &prepared.report;
    assert!(report.all_closed);
    assert_eq!(report.hollow[0].1.drains.len(), 1);
    assert!(
        report.hollow[0].1.drains[0].outer[2] < -19.0,
        "drain at the bottom for +z up"
    );
    assert!(check_mesh(&prepared.parts[0].mesh).is_printable());

    // The seed's clear-resin case: a structure removed from inside (a void) reached by a channel.
    let with_void = merge(&[sphere, inverted(ellipsoid([0.0, 0.0, 8.0], [4.0; 3], 3).expect("void"))]);
    let options = PrintOptions {
        keep_cavities: true,
        channel_targets: vec![[0.0, 0.0, 8.0]],
        channel: ChannelOptions {
            pitch_mm: 1.0,
            ..Default::default()
        },
        auto_orient_samples: None,
        ..Default::default()
    };
    let prepared = prepare(&[named(with_void)], &options).expect("prepare channel");
    let report = &prepared.report;
    assert!(report.cavities.is_empty());
    assert!(
        (report.channels[0].length_mm - 12.0).abs() < 0.2,
        "{:?}",
        report.channels
    );
    let check = check_mesh(&prepared.parts[0].mesh);
    assert!(
        check.is_printable() && check.shells == 1,
        "void opened to the outside: {check:?}"
    );
}

#[test]
fn prepare_refuses_hostile_input() {
    let options = PrintOptions::default();
    assert!(matches!(prepare(&[], &options), Err(PrintError::EmptyMesh { .. })));
    let empty = NamedMesh {
        name: "empty".into(),
        mesh: Mesh::default(),
    };
    assert!(prepare(std::slice::from_ref(&empty), &options).is_err());
    let mut nan = ellipsoid([0.0; 3], [10.0; 3], 2).expect("sphere");
    nan.vertices[0][0] = f32::NAN;
    let nan = NamedMesh {
        name: "nan".into(),
        mesh: nan,
    };
    assert!(matches!(
        prepare(&[nan], &options),
        Err(PrintError::NonFiniteVertex { .. })
    ));
    let sphere = NamedMesh {
        name: "sphere".into(),
        mesh: ellipsoid([0.0; 3], [10.0; 3], 2).expect("sphere"),
    };
    let bad_up = PrintOptions {
        up: [0.0; 3],
        ..Default::default()
    };
    assert!(prepare(std::slice::from_ref(&sphere), &bad_up).is_err());
    let outside_channel = PrintOptions {
        channel_targets: vec![[100.0, 0.0, 0.0]],
        ..Default::default()
    };
    // A channel target outside every part is left out with a fallback, not a failure.
    let prepared = prepare(&[sphere], &outside_channel).expect("prepared without the channel");
    assert!(prepared.report.channels.is_empty());
    assert_eq!(prepared.report.fallbacks.len(), 1, "{:?}", prepared.report.fallbacks);
    assert_eq!(prepared.report.fallbacks[0].step, medprint_print::PrintStep::Channel);
}

#[test]
fn torso_bone_model_is_prepared_with_defaults() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-torso-3mm/ct.nii.gz");
    let scan = medprint_volume::nifti::read_nifti_scan(&path).expect("torso CT").volume;
    let bone = medprint_segment::bone::segment_bone(&scan, &Default::default()).expect("bone");
    let raw = medprint_mesh::isosurface::extract_isosurface(&bone.surface_field, 127.5);
    let mesh = medprint_mesh::condition(raw, &Default::default()).0;
    let options = PrintOptions {
        tag: Some(TagRequest {
            inputs: vec![b"torso".to_vec()],
            options: TagOptions::default(),
        }),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let prepared = prepare(
        &[NamedMesh {
            name: "bone".into(),
            mesh,
        }],
        &options,
    )
    .expect("prepare");
    let report = &prepared.report;
    println!(
        "torso prepare: {:.1} s, {} pieces, dowels {:?}, splits {:?}, orientation {:?}",
        started.elapsed().as_secs_f64(),
        prepared.parts.len(),
        report
            .dowels
            .as_ref()
            .map(|d| (d.candidate_links, d.links.len(), d.connected_groups)),
        report
            .splits
            .iter()
            .map(|s| (s.1.parts, s.1.connectors))
            .collect::<Vec<_>>(),
        report
            .orientation
            .map(|o| (o.before.support_volume_mm3, o.after.support_volume_mm3, o.after.up)),
    );
    assert!(report.all_closed);
    assert!(prepared.parts.iter().any(|p| p.role == PartRole::Connector));
}
