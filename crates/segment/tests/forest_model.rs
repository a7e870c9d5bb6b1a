//! Forest training, prediction, determinism and the model file on a phantom with known bone.

use medprint_segment::forest::{
    sample_training_set, BoneForest, ChainedForest, FeatureConfig, FeatureMatrix, ForestParams, ForestResolution,
    LabelledScan, MODEL_MAGIC,
};
use medprint_segment::phantom::{ct_phantom, Phantom};
use medprint_segment::{dice, SegmentError};

fn small_params(seed: u64) -> ForestParams {
    ForestParams {
        trees: 8,
        max_depth: 10,
        seed,
        ..ForestParams::default()
    }
}

fn phantom() -> Phantom {
    ct_phantom([64, 64, 16], [1.5, 1.5, 3.0], 30.0, 3)
}

fn trained(p: &Phantom, seed: u64) -> BoneForest {
    let (samples, labels) =
        sample_training_set(&p.scan, &p.bone, &[], 20_000, seed, &FeatureConfig::default()).expect("samples");
    BoneForest::train(&samples, &labels, &small_params(seed)).expect("train")
}

fn mask(probability: &[u8]) -> Vec<u8> {
    probability.iter().map(|&p| u8::from(p >= 128)).collect()
}

#[test]
fn sampling_is_balanced_and_seeded() {
    let p = phantom();
    let config = FeatureConfig::default();
    let (a, la) = sample_training_set(&p.scan, &p.bone, &[], 10_000, 5, &config).expect("samples");
    let (b, lb) = sample_training_set(&p.scan, &p.bone, &[], 10_000, 5, &config).expect("samples");
    let (c, _) = sample_training_set(&p.scan, &p.bone, &[], 10_000, 6, &config).expect("samples");
    assert_eq!((a.clone(), la.clone()), (b, lb));
    assert_ne!(a, c);
    let bone = la.iter().filter(|&&l| l == 1).count();
    let truth_bone = p.bone.iter().filter(|&&b| b != 0).count();
    // Half of the samples per class, or every voxel of a class that has fewer.
    assert_eq!(bone, truth_bone.min(5_000), "bone samples");
    assert_eq!(la.len() - bone, 5_000, "non-bone samples");
    // No sample from outside the body other than bone: the table (600 HU shell) is excluded.
    assert!(matches!(
        sample_training_set(&p.scan, &p.bone[1..], &[], 100, 0, &config),
        Err(SegmentError::SizeMismatch { .. })
    ));
}

#[test]
fn forest_segments_a_phantom_and_is_deterministic() {
    let p = phantom();
    let forest = trained(&p, 11);
    let again = trained(&p, 11);
    assert_eq!(forest, again, "same seed, same forest");
    // Thread count does not change the forest.
    let single = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| trained(&p, 11));
    assert_eq!(forest, single);
    assert_ne!(forest, trained(&p, 12), "another seed, another forest");

    let full = forest
        .predict_volume(&p.scan, &[], ForestResolution::Full)
        .expect("predict");
    let d = dice(&mask(full.data()), &p.bone).expect("sizes");
    let table_hits = mask(full.data())
        .iter()
        .zip(&p.table)
        .filter(|(&m, &t)| m != 0 && t != 0)
        .count();
    println!("phantom forest Dice {d:.4}, table voxels classified bone {table_hits}");
    assert!(d > 0.9, "Dice {d}");
    assert_eq!(table_hits, 0);
}

#[test]
fn subsampled_prediction_interpolates_a_coarse_grid() {
    // 0.7 mm pixels → stride 7 in-plane.
    let p = ct_phantom([140, 140, 6], [0.7, 0.7, 3.0], 20.0, 4);
    let forest = trained(&p, 1);
    let full = forest
        .predict_volume(&p.scan, &[], ForestResolution::Full)
        .expect("full");
    let coarse = forest
        .predict_volume(&p.scan, &[], ForestResolution::Subsampled)
        .expect("coarse");
    // Coarse grid points (x, y multiples of 7) are evaluated exactly as at full resolution.
    for z in 0..6 {
        for y in (0..140).step_by(7) {
            for x in (0..140).step_by(7) {
                let i = p.scan.index(x, y, z);
                assert_eq!(full.data()[i], coarse.data()[i], "grid point {x} {y} {z}");
            }
        }
    }
    let d_full = dice(&mask(full.data()), &p.bone).expect("sizes");
    let d_coarse = dice(&mask(coarse.data()), &p.bone).expect("sizes");
    println!("0.7 mm phantom: Dice full {d_full:.4}, subsampled (stride 7) {d_coarse:.4}");
    assert!(
        d_coarse > 0.75 && d_coarse <= d_full + 0.02,
        "coarse {d_coarse} full {d_full}"
    );
}

#[test]
fn model_file_round_trip_and_hostile_files() {
    let p = phantom();
    let forest = trained(&p, 2);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bone.forest");
    forest.save(&path).expect("save");
    let loaded = BoneForest::load(&path).expect("load");
    assert_eq!(loaded, forest);
    let a = forest
        .predict_volume(&p.scan, &[], ForestResolution::Full)
        .expect("predict");
    let b = loaded
        .predict_volume(&p.scan, &[], ForestResolution::Full)
        .expect("predict");
    assert_eq!(a, b, "identical predictions after a round trip");

    let bytes = std::fs::read(&path).expect("read");
    assert!(bytes.starts_with(MODEL_MAGIC));
    let write = |name: &str, content: &[u8]| {
        let f = dir.path().join(name);
        std::fs::write(&f, content).expect("write");
        f
    };
    let is_model_error = |r: Result<BoneForest, SegmentError>| matches!(r, Err(SegmentError::ModelFile { .. }));
    assert!(is_model_error(BoneForest::load(&write("empty", b""))));
    assert!(is_model_error(BoneForest::load(&write(
        "garbage",
        b"this is not a model at all, just text"
    ))));
    assert!(is_model_error(BoneForest::load(&dir.path().join("missing"))));
    let mut other_version = bytes.clone();
    other_version[MODEL_MAGIC.len()] = 2;
    match BoneForest::load(&write("v2", &other_version)) {
        Err(e @ SegmentError::ModelFile { .. }) => assert!(e.to_string().contains("version 2"), "{e}"),
        other => panic!("expected a version error, got {other:?}"),
    }
    for cut in [MODEL_MAGIC.len() + 2, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            is_model_error(BoneForest::load(&write("cut", &bytes[..cut]))),
            "cut at {cut}"
        );
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(is_model_error(BoneForest::load(&write("trailing", &trailing))));
    // Corrupted bytes anywhere: an error or a valid model that predicts without panicking.
    let rows = FeatureMatrix::from_rows(forest.columns(), vec![0.5; forest.columns() * 4]).expect("rows");
    for position in (MODEL_MAGIC.len() + 4..bytes.len()).step_by(97) {
        let mut corrupt = bytes.clone();
        corrupt[position] ^= 0xA5;
        if let Ok(model) = BoneForest::load(&write("corrupt", &corrupt)) {
            let p = model.predict_probability(&rows).expect("same columns");
            assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
}

#[test]
fn training_rejects_bad_input() {
    let m = FeatureMatrix::from_rows(2, vec![0.0, 1.0, 2.0, 3.0]).expect("rows");
    assert!(matches!(
        BoneForest::train(&m, &[0], &ForestParams::default()),
        Err(SegmentError::SizeMismatch { .. })
    ));
    let zero_trees = ForestParams {
        trees: 0,
        ..ForestParams::default()
    };
    assert!(matches!(
        BoneForest::train(&m, &[0, 1], &zero_trees),
        Err(SegmentError::InvalidParameter { .. })
    ));
    assert!(FeatureMatrix::from_rows(2, vec![f32::NAN, 0.0]).is_err());
    assert!(FeatureMatrix::from_rows(3, vec![0.0; 4]).is_err());
    // Hand-built matrices: rows predict, volumes cannot (the features are unknown).
    let forest = BoneForest::train(&m, &[0, 1], &ForestParams::default()).expect("train");
    assert_eq!(forest.predict_probability(&m).expect("predict").len(), 2);
    let p = phantom();
    assert!(forest.predict_volume(&p.scan, &[], ForestResolution::Full).is_err());
    let three = FeatureMatrix::from_rows(3, vec![0.0; 3]).expect("rows");
    assert!(forest.predict_probability(&three).is_err());
}

#[test]
fn chained_forest_uses_the_previous_stage() {
    let p = phantom();
    let case = LabelledScan {
        scan: &p.scan,
        bone_truth: &p.bone,
        extra: vec![],
    };
    let chain =
        ChainedForest::train(&[case], 2, 10_000, &FeatureConfig::default(), &small_params(9)).expect("train chain");
    assert_eq!(chain.stages.len(), 2);
    assert_eq!(chain.stages[1].columns(), chain.stages[0].columns() + 1);
    let probability = chain
        .predict_volume(&p.scan, &[], ForestResolution::Full)
        .expect("predict");
    let d = dice(&mask(probability.data()), &p.bone).expect("sizes");
    println!("phantom chained forest Dice {d:.4}");
    assert!(d > 0.9, "Dice {d}");
    assert!(ChainedForest::train(&[], 2, 100, &FeatureConfig::default(), &small_params(0)).is_err());
}
