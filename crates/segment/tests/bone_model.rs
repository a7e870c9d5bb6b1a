//! The trained bone model on the knee phantom: cross-validation, save/load round trip, hostile
//! model files; metal exclusion and patient parameters of the threshold pipeline.

use medprint_phantom::{hu, knee_phantom, KneePhantomSpec};
use medprint_segment::forest::{
    threshold_input, train_bone_model, BoneModel, ForestParams, ForestResolution, TrainOptions, TrainingCase,
    TrainingClass,
};
use medprint_segment::fusion::{fuse, labels_from_probability, AlgorithmOutput, FusionRule};
use medprint_segment::patient::{PatientParams, Sex};
use medprint_segment::{dice, segment_bone, BoneParams, SegmentError};

fn small_phantom(seed: u64) -> medprint_phantom::Phantom {
    knee_phantom(&KneePhantomSpec {
        dims: [80, 70, 60],
        spacing: [2.0, 2.0, 3.0],
        seed,
        ..KneePhantomSpec::default()
    })
}

fn options() -> TrainOptions {
    TrainOptions {
        stages: 2,
        samples_per_scan: 20_000,
        forest: ForestParams {
            trees: 8,
            ..ForestParams::default()
        },
        ..TrainOptions::default()
    }
}

#[test]
fn model_trains_cross_validates_and_round_trips() {
    let cases: Vec<TrainingCase> = [1u64, 2]
        .into_iter()
        .map(|seed| {
            let p = small_phantom(seed);
            TrainingCase {
                name: format!("phantom {seed}"),
                bone_truth: p.bone_truth.data().to_vec(),
                scan: p.ct,
            }
        })
        .collect();
    let classes = vec![TrainingClass {
        name: "bone".into(),
        label_ranges: vec![(1, 1)],
    }];
    let steps = std::sync::Mutex::new(Vec::new());
    let model = train_bone_model(&cases, classes, &options(), &|step, f| {
        steps.lock().expect("lock").push((step.to_string(), f))
    })
    .expect("train");
    let folds = &model.summary.folds;
    assert_eq!(folds.len(), 2, "leave one scan out");
    for f in folds {
        assert!(f.dice > 0.95, "{f:?}");
    }
    let steps = steps.into_inner().expect("lock");
    assert!(
        steps.windows(2).all(|w| w[0].1 <= w[1].1),
        "progress only moves forward: {steps:?}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bone.model");
    model.save(&path).expect("save");
    let loaded = BoneModel::load(&path).expect("load");
    assert_eq!(loaded, model);

    // Prediction on an unseen phantom, fused with the threshold result.
    let unseen = small_phantom(3);
    let threshold = threshold_input(&unseen.ct, &BoneParams::default()).expect("threshold");
    let truth = unseen.bone_truth.data();
    let forest_dice = |mode: ForestResolution| {
        let p = loaded.predict(&unseen.ct, &threshold, mode).expect("predict");
        let mask: Vec<u8> = p.data().iter().map(|&v| u8::from(v >= 128)).collect();
        (dice(&mask, truth).expect("dice"), p)
    };
    let (subsampled, _) = forest_dice(ForestResolution::Subsampled);
    let (refined, _) = forest_dice(ForestResolution::Refined);
    let (full, forest) = forest_dice(ForestResolution::Full);
    println!("unseen phantom: forest Dice subsampled {subsampled:.4}, refined {refined:.4}, full {full:.4}");
    assert!(subsampled > 0.85, "{subsampled}");
    assert!(full > 0.95, "{full}");
    assert!(
        refined > full - 0.01,
        "refinement recovers the boundary: {refined} vs {full}"
    );
    let maps = [
        AlgorithmOutput {
            algorithm: "threshold".into(),
            probability: threshold,
        },
        AlgorithmOutput {
            algorithm: "forest".into(),
            probability: forest,
        },
    ];
    for rule in [
        FusionRule::Learned,
        FusionRule::MajorityVote,
        FusionRule::WeightedMean(vec![1.0, 1.0]),
    ] {
        let fused = fuse(&maps, &rule).expect("fuse");
        let (mask, _) = labels_from_probability(&fused.probability, 100.0, true).expect("labels");
        let d = dice(mask.data(), unseen.bone_truth.data()).expect("dice");
        assert!(d > 0.95, "{rule:?}: Dice {d}");
    }

    // Hostile files: truncated, trailing bytes, another kind of model file, empty.
    let bytes = std::fs::read(&path).expect("read");
    let write = |name: &str, content: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, content).expect("write");
        p
    };
    let cases = [
        write("truncated", &bytes[..bytes.len() / 2]),
        write("trailing", &[bytes.as_slice(), &[1, 2, 3]].concat()),
        write("empty", b""),
        write("forest", &[b"MEDPRINT-FOREST\0".as_slice(), &bytes[16..]].concat()),
    ];
    for p in &cases {
        match BoneModel::load(p) {
            Err(SegmentError::ModelFile { path, reason }) => {
                assert!(path.contains(p.file_name().and_then(|n| n.to_str()).unwrap_or("?")));
                assert!(!reason.is_empty());
            }
            other => panic!("{}: {other:?}", p.display()),
        }
    }
    let wrong_grid = small_phantom(4);
    let other_grid = knee_phantom(&KneePhantomSpec {
        dims: [40, 30, 20],
        ..KneePhantomSpec::default()
    });
    assert!(loaded
        .predict(&wrong_grid.ct, &other_grid.bone_truth, ForestResolution::Full)
        .is_err());
}

/// Voxels of `mask` where the scan is metal.
fn metal_in(mask: &medprint_volume::Volume<u8>, ct: &medprint_volume::Volume<i16>) -> usize {
    let metal_min = (hu::METAL - 500.0) as i16;
    mask.data()
        .iter()
        .zip(ct.data())
        .filter(|(&m, &v)| m != 0 && v >= metal_min)
        .count()
}

#[test]
fn metal_screw_is_kept_out_of_bone() {
    let phantom = knee_phantom(&KneePhantomSpec::demo());
    let seg = segment_bone(&phantom.ct, &BoneParams::default()).expect("segment");
    assert_eq!(metal_in(&seg.mask, &phantom.ct), 0);
    assert!(seg.metal_voxels_excluded > 0);
    assert!(seg.warnings.iter().any(|w| w.contains("metal")), "{:?}", seg.warnings);
    let d = dice(seg.mask.data(), phantom.bone_truth.data()).expect("dice");
    assert!(d > 0.98, "Dice {d}");
    let voxels = seg.mask.data().iter().filter(|&&m| m != 0).count() as f64;
    let volume = voxels * phantom.ct.geometry.voxel_volume_mm3();
    let error = (volume - phantom.bone_volume_mm3()) / phantom.bone_volume_mm3();
    assert!(error.abs() < 0.02, "volume error {:.2} %", 100.0 * error);
    // Without exclusion the screw (and its rim) would be bone.
    let kept = segment_bone(
        &phantom.ct,
        &BoneParams {
            metal_hu: None,
            ..BoneParams::default()
        },
    )
    .expect("segment");
    let kept_metal = metal_in(&kept.mask, &phantom.ct);
    assert!(kept_metal > 100, "{kept_metal}");
}

#[test]
fn patient_parameters_lower_the_threshold_within_bounds() {
    let phantom = small_phantom(5);
    let young = segment_bone(&phantom.ct, &BoneParams::default()).expect("segment");
    let old = segment_bone(
        &phantom.ct,
        &BoneParams {
            patient: Some(PatientParams {
                age_years: Some(80.0),
                sex: Some(Sex::Female),
                weight_kg: Some(70.0),
            }),
            ..BoneParams::default()
        },
    )
    .expect("segment");
    let (ty, to) = (young.threshold.threshold_hu, old.threshold.threshold_hu);
    assert!(to < ty, "old {to} vs young {ty}");
    assert!(to >= 100.0, "never below the hard-bone patient floor: {to}");
    let adjustment = old.patient_adjustment.as_ref().expect("adjustment recorded");
    assert!(adjustment.threshold_offset_hu > 30.0);
    assert!(old.threshold.note.contains("patient"));
    // A user threshold is never moved.
    let fixed = segment_bone(
        &phantom.ct,
        &BoneParams {
            threshold_override_hu: Some(200.0),
            patient: Some(PatientParams {
                age_years: Some(80.0),
                sex: Some(Sex::Female),
                weight_kg: None,
            }),
            ..BoneParams::default()
        },
    )
    .expect("segment");
    assert_eq!(fixed.threshold.threshold_hu, 200.0);
}
