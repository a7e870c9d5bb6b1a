//! `medprint train` on the real abdominal CT, `convert --model` with the written model, alternative
//! thresholds and patient parameters, and hostile model files.

use std::path::PathBuf;
use std::process::{Command, Output};

fn medprint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medprint"))
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ct-abdomen-3mm")
        .join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn train_with_cross_validation_then_convert_with_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("bone.model");
    let tsv = format!("bone={}", data("labels.tsv").display());
    let train = medprint()
        .arg("train")
        .arg("--image")
        .arg(data("ct.nii.gz"))
        .arg("--labels")
        .arg(data("labels.nii.gz"))
        .args(["--classes", &tsv, "--json", "--out"])
        .arg(&model)
        .output()
        .expect("run train");
    assert!(train.status.success(), "train failed: {}", stderr(&train));
    let summary = json(&train);
    let folds = summary["summary"]["folds"].as_array().expect("folds");
    assert_eq!(folds.len(), 2, "one scan: its two halves are held out in turn");
    for fold in folds {
        let (dice, baseline) = (
            fold["dice"].as_f64().expect("dice"),
            fold["threshold_dice"].as_f64().expect("dice"),
        );
        println!(
            "held out {}: model {dice:.4}, threshold {baseline:.4}",
            fold["held_out"]
        );
        assert!(dice > 0.85, "held-out Dice {dice}");
        assert!(
            dice > baseline - 0.03,
            "the model is not much worse than the threshold alone"
        );
    }
    assert!(model.metadata().expect("model written").len() > 1000);

    let out = dir.path().join("out");
    let convert = medprint()
        .arg("convert")
        .arg(data("ct.nii.gz"))
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(&model)
        .args([
            "--alternatives=-40,40",
            "--age",
            "82",
            "--sex",
            "female",
            "--no-preview",
            "--json",
        ])
        .output()
        .expect("run convert");
    assert!(convert.status.success(), "convert failed: {}", stderr(&convert));
    let report = json(&convert);
    let seg = &report["segmentation"];
    let algorithms = seg["algorithms"].as_array().expect("algorithms");
    let names: Vec<&str> = algorithms.iter().filter_map(|a| a["algorithm"].as_str()).collect();
    assert_eq!(names, ["threshold", "forest"]);
    for a in algorithms {
        assert!(a["dice_vs_fused"].as_f64().expect("dice") > 0.7, "{a}");
    }
    assert!(out.join("algorithms/threshold.nii.gz").is_file());
    assert!(out.join("algorithms/forest.nii.gz").is_file());
    let adjustment = &seg["patient_adjustment"];
    assert!(
        adjustment["threshold_offset_hu"].as_f64().expect("offset") > 20.0,
        "{adjustment}"
    );
    assert!(seg["threshold"]["note"].as_str().expect("note").contains("patient"));
    let alternatives = report["alternatives"].as_array().expect("alternatives");
    assert_eq!(alternatives.len(), 2);
    let main_t = seg["threshold"]["threshold_hu"].as_f64().expect("t");
    for alt in alternatives {
        let t = alt["threshold_hu"].as_f64().expect("t");
        assert!((t - main_t).abs() > 39.0, "alternative at {t} vs main {main_t}");
        assert!(out.join(alt["stl"].as_str().expect("stl")).is_file());
    }
    // Higher threshold, less bone.
    let volumes: Vec<f64> = alternatives
        .iter()
        .map(|a| a["bone_volume_mm3"].as_f64().expect("volume"))
        .collect();
    assert!(volumes[0] > volumes[1], "{volumes:?}");

    let eval = medprint()
        .arg("eval")
        .arg("--pred")
        .arg(out.join("labels.nii.gz"))
        .arg("--ref")
        .arg(data("labels.nii.gz"))
        .args(["--pred-classes", "bone=1", "--ref-classes", &tsv, "--json"])
        .output()
        .expect("run eval");
    assert!(eval.status.success(), "{}", stderr(&eval));
    let dice = json(&eval)["classes"][0]["dice"].as_f64().expect("dice");
    println!("convert --model on the training scan: Dice {dice:.4}");
    assert!(dice > 0.88, "Dice {dice}");
}

#[test]
fn bad_model_files_and_training_input_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let convert_with = |model: &std::path::Path| {
        medprint()
            .arg("convert")
            .arg(data("ct.nii.gz"))
            .arg("--out")
            .arg(dir.path().join("out"))
            .arg("--model")
            .arg(model)
            .arg("--no-preview")
            .output()
            .expect("run")
    };
    let missing = convert_with(&dir.path().join("nope.model"));
    assert_eq!(missing.status.code(), Some(3), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("nope.model"));
    let garbage = dir.path().join("garbage.model");
    std::fs::write(&garbage, b"not a model at all, just text").expect("write");
    let out = convert_with(&garbage);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("bad magic"), "{}", stderr(&out));
    let mut wrong_version = b"MEDPRINT-BONEMDL".to_vec();
    wrong_version.extend_from_slice(&99u32.to_le_bytes());
    wrong_version.extend_from_slice(&[0; 64]);
    let versioned = dir.path().join("v99.model");
    std::fs::write(&versioned, wrong_version).expect("write");
    let out = convert_with(&versioned);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("version 99"), "{}", stderr(&out));
    let mut truncated = b"MEDPRINT-BONEMDL".to_vec();
    truncated.extend_from_slice(&1u32.to_le_bytes());
    truncated.extend_from_slice(&[3, 1, 2]);
    let cut = dir.path().join("cut.model");
    std::fs::write(&cut, truncated).expect("write");
    let out = convert_with(&cut);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("corrupt or truncated"), "{}", stderr(&out));

    // Unpaired images and labels, a class with no voxel, a CT given as labels.
    let train = |extra: &[&str]| {
        medprint()
            .arg("train")
            .arg("--image")
            .arg(data("ct.nii.gz"))
            .args(extra)
            .arg("--out")
            .arg(dir.path().join("m.model"))
            .output()
            .expect("run")
    };
    let labels = data("labels.nii.gz").display().to_string();
    let ct = data("ct.nii.gz").display().to_string();
    let out = train(&["--labels", &labels, "--labels", &labels, "--classes", "bone=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = train(&["--labels", &labels, "--classes", "bone=200-300"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no voxel"), "{}", stderr(&out));
    let out = train(&["--labels", &ct, "--classes", "bone=1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = train(&["--labels", &labels, "--classes", "bone"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!dir.path().join("m.model").exists(), "no model written on failure");
}
