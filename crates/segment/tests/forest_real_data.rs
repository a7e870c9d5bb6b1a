//! Forests trained on the lower half of the slices of the real abdominal CT and evaluated on
//! the held-out upper half, against the threshold pipeline on the same half.

use medprint_segment::forest::{
    sample_training_set, BoneForest, ChainedForest, FeatureConfig, ForestParams, ForestResolution, LabelledScan,
};
use medprint_segment::{dice, segment_bone, BoneParams};
use medprint_volume::nifti::read_nifti_scan;
use medprint_volume::Volume;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// Label ids marked `is_bone = 1` in labels.tsv (columns id, name, is_bone).
fn bone_ids() -> Vec<i16> {
    let text = std::fs::read_to_string(data("ct-abdomen-3mm/labels.tsv")).expect("labels.tsv");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.get(2)?.trim() == "1").then(|| f.first()?.trim().parse().ok())?
        })
        .collect()
}

/// Slices `z0..z1` of a volume (the geometry's origin is not needed by the features).
fn slab<T: Clone>(v: &Volume<T>, z0: usize, z1: usize) -> Volume<T> {
    let [nx, ny, _] = v.dims();
    let plane = nx * ny;
    Volume::from_vec([nx, ny, z1 - z0], v.data()[z0 * plane..z1 * plane].to_vec(), v.geometry).expect("slab")
}

fn held_out_dice(probability: &[u8], truth: &[u8], from: usize) -> f64 {
    let mask: Vec<u8> = probability[from..].iter().map(|&p| u8::from(p >= 128)).collect();
    dice(&mask, &truth[from..]).expect("sizes")
}

#[test]
fn forests_on_held_out_half_of_ct_abdomen() {
    let ct = read_nifti_scan(&data("ct-abdomen-3mm/ct.nii.gz")).expect("ct").volume;
    let labels = read_nifti_scan(&data("ct-abdomen-3mm/labels.nii.gz"))
        .expect("labels")
        .volume;
    let ids = bone_ids();
    assert!(ids.len() > 20, "bone ids {ids:?}");
    let truth: Vec<u8> = labels.data().iter().map(|l| u8::from(ids.contains(l))).collect();
    let [nx, ny, nz] = ct.dims();
    let half = nz / 2;
    let held_out_from = half * nx * ny;

    // Training half: its own threshold probability (each scan gets its own threshold).
    let train_scan = slab(&ct, 0, half);
    let train_truth = &truth[..held_out_from];
    let train_threshold = segment_bone(&train_scan, &BoneParams::default())
        .expect("segment")
        .probability;
    let pipeline = segment_bone(&ct, &BoneParams::default()).expect("segment");

    let config = FeatureConfig::default();
    let params = ForestParams {
        trees: 24,
        ..ForestParams::default()
    };
    let clock = Instant::now();
    let (samples, sample_labels) =
        sample_training_set(&train_scan, train_truth, &[], 100_000, 1, &config).expect("samples");
    let sampling_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let forest = BoneForest::train(&samples, &sample_labels, &params).expect("train");
    let train_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let subsampled = forest
        .predict_volume(&ct, &[], ForestResolution::Subsampled)
        .expect("predict");
    let predict_sub_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let full = forest
        .predict_volume(&ct, &[], ForestResolution::Full)
        .expect("predict");
    let predict_full_s = clock.elapsed().as_secs_f64();

    let clock = Instant::now();
    let case = LabelledScan {
        scan: &train_scan,
        bone_truth: train_truth,
        extra: vec![&train_threshold],
    };
    let chain = ChainedForest::train(&[case], 2, 100_000, &config, &params).expect("train chain");
    let chain_train_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let chained = chain
        .predict_volume(&ct, &[&pipeline.probability], ForestResolution::Full)
        .expect("predict chain");
    let chain_predict_s = clock.elapsed().as_secs_f64();

    let d_sub = held_out_dice(subsampled.data(), &truth, held_out_from);
    let d_full = held_out_dice(full.data(), &truth, held_out_from);
    let d_chain = held_out_dice(chained.data(), &truth, held_out_from);
    let pipeline_mask: Vec<u8> = pipeline.mask.data().iter().map(|&m| m * 255).collect();
    let d_pipeline = held_out_dice(&pipeline_mask, &truth, held_out_from);
    println!(
        "ct-abdomen-3mm held-out slices {half}..{nz}: Dice forest subsampled {d_sub:.4}, forest full {d_full:.4}, \
         chained {d_chain:.4}, threshold pipeline {d_pipeline:.4}"
    );
    println!(
        "timings: sampling {:.2} s ({} samples × {} features), train {train_s:.2} s ({} trees), predict subsampled \
         {predict_sub_s:.2} s (stride {}), predict full {predict_full_s:.2} s ({} voxels); chain train \
         {chain_train_s:.2} s, chain predict {chain_predict_s:.2} s",
        sampling_s,
        samples.rows(),
        samples.columns(),
        params.trees,
        medprint_segment::forest::subsample_stride(ct.geometry.spacing[0]),
        ct.len()
    );
    assert!(d_full > 0.7, "forest Dice {d_full}");
    assert!(d_chain >= 0.80, "chained forest Dice {d_chain}");
}
