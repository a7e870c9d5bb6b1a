//! Print preparation degrades instead of failing: a split that cannot cap a section is retried
//! with other cut planes, and a part that cannot be split is left whole with a fallback naming
//! it. The inputs are closed, edge-manifold meshes with an inside-out fragment lying outside the
//! material (a mis-oriented shell, as a cavity wall pushed through a thin cortex can become): a
//! plane through it gives a section with a hole in no outer loop, which cannot be capped.

use medprint_mesh::shells::merge;
use medprint_mesh::{check_mesh, Mesh};
use medprint_print::primitives::cuboid;
use medprint_print::split::{split_to_fit, split_with_alternatives, SplitOptions, SplitVariant};
use medprint_print::{prepare, NamedMesh, PartRole, PrintOptions, PrintStep};

fn inverted(m: Mesh) -> Mesh {
    Mesh {
        triangles: m.triangles.iter().map(|t| [t[0], t[2], t[1]]).collect(),
        ..m
    }
}

/// A 150 × 20 × 20 mm bar with an inside-out box spanning `x_from..x_to` floating 5 mm above
/// its top face (not nested in the bar, so cavity filling keeps it).
fn bar_with_inside_out_fragment(x_from: f64, x_to: f64) -> Mesh {
    merge(&[
        cuboid([0.0; 3], [150.0, 20.0, 20.0]).expect("bar"),
        inverted(cuboid([x_from, 5.0, 25.0], [x_to, 15.0, 35.0]).expect("fragment")),
    ])
}

fn options_100mm() -> SplitOptions {
    SplitOptions {
        build_volume_mm: [100.0; 3],
        ..Default::default()
    }
}

fn assert_sound(m: &Mesh, what: &str) {
    let check = check_mesh(m);
    assert!(check.closed && check.manifold && check.oriented, "{what}: {check:?}");
}

#[test]
fn a_failed_cut_is_retried_on_other_planes() {
    // The planned plane is where the section is smallest: through the 6 mm wide fragment.
    let mesh = bar_with_inside_out_fragment(70.0, 76.0);
    let planned = split_to_fit(&mesh, &options_100mm());
    assert!(
        planned.is_err(),
        "the planned cut through the defect must fail: {planned:?}"
    );

    let split = split_with_alternatives(&mesh, &options_100mm()).expect("an alternative plane works");
    assert!(!split.failed.is_empty());
    assert_eq!(split.failed[0].0, SplitVariant::PLANNED);
    assert_ne!(split.result.report.variant, SplitVariant::PLANNED);
    assert_eq!(split.result.parts.len(), 2);
    let (axis, offset) = split.result.report.cuts[0];
    assert_eq!(axis, 0);
    assert!(!(70.0..=76.0).contains(&offset), "the cut avoids the defect: {offset}");
    for (n, part) in split.result.parts.iter().enumerate() {
        assert_sound(part, &format!("part {n}"));
        let (lo, hi) = part.bounds().expect("part");
        assert!(hi[0] - lo[0] <= 100.0, "part {n} fits");
    }

    // Through `prepare`: the split is made, and the change is reported for the part.
    let prepared = prepare(
        &[NamedMesh {
            name: "femur".into(),
            mesh,
        }],
        &PrintOptions {
            split: Some(options_100mm()),
            auto_orient_samples: None,
            ..Default::default()
        },
    )
    .expect("prepared");
    let report = &prepared.report;
    assert_eq!(report.splits.len(), 1);
    let split_fallbacks: Vec<_> = report.fallbacks.iter().filter(|f| f.step == PrintStep::Split).collect();
    assert_eq!(split_fallbacks.len(), 1, "{:?}", report.fallbacks);
    assert_eq!(split_fallbacks[0].parts, vec!["femur".to_string()]);
    assert!(report
        .warnings()
        .iter()
        .any(|w| w.contains("femur") && w.contains("other cut planes")));
    assert!(report.open_pieces.is_empty(), "{:?}", report.open_pieces);
    for part in &prepared.parts {
        assert_sound(&part.mesh, &part.name);
    }
}

#[test]
fn a_part_that_cannot_be_cut_is_left_whole_with_a_warning() {
    // The fragment spans the whole bar: every plane crosses it.
    let mesh = bar_with_inside_out_fragment(5.0, 145.0);
    assert!(split_with_alternatives(&mesh, &options_100mm()).is_err());
    let small = cuboid([0.0, 40.0, 0.0], [20.0, 60.0, 20.0]).expect("small");
    let prepared = prepare(
        &[
            NamedMesh {
                name: "femur".into(),
                mesh: mesh.clone(),
            },
            NamedMesh {
                name: "patella".into(),
                mesh: small,
            },
        ],
        &PrintOptions {
            split: Some(options_100mm()),
            auto_orient_samples: None,
            ..Default::default()
        },
    )
    .expect("prepared without the split");
    let report = &prepared.report;
    assert!(report.splits.is_empty());
    let fallback = report
        .fallbacks
        .iter()
        .find(|f| f.step == PrintStep::Split)
        .expect("the split is reported as left out");
    assert_eq!(fallback.parts, vec!["femur".to_string()]);
    let warning = fallback.warning();
    assert!(warning.contains("femur") && warning.contains("left whole"), "{warning}");
    assert!(!warning.contains('{'), "no debug text: {warning}");
    let femur = prepared
        .parts
        .iter()
        .find(|p| p.name == "femur")
        .expect("femur kept whole");
    assert_eq!(femur.role, PartRole::Model);
    assert_eq!(femur.mesh.triangle_count(), mesh.triangle_count());
    // The other part and the dowel joining them are still made.
    assert!(prepared.parts.iter().any(|p| p.name == "patella"));
    assert!(prepared.parts.iter().any(|p| p.role == PartRole::Dowel));
    assert!(report.open_pieces.is_empty(), "{:?}", report.open_pieces);
}

#[test]
fn an_open_input_is_repaired_or_passed_through() {
    // A box missing one triangle: the repair pass closes it and preparation goes on.
    let mut open = cuboid([0.0; 3], [30.0, 30.0, 30.0]).expect("box");
    open.triangles.remove(0);
    let prepared = prepare(
        &[NamedMesh {
            name: "rib".into(),
            mesh: open,
        }],
        &PrintOptions {
            auto_orient_samples: None,
            ..Default::default()
        },
    )
    .expect("prepared after repair");
    let report = &prepared.report;
    assert_eq!(report.fallbacks.len(), 1, "{:?}", report.fallbacks);
    assert_eq!(report.fallbacks[0].step, PrintStep::Input);
    assert!(report.all_closed);
    assert_sound(&prepared.parts[0].mesh, "rib");
}
