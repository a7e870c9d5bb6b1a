//! `medprint eval` on real data and on hostile input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn medprint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medprint"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/ct-abdomen-3mm")
        .join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn convert_then_eval_bone_against_totalsegmentator() {
    let out = tempfile::tempdir().expect("tempdir");
    let convert = medprint()
        .arg("convert")
        .arg(data("ct.nii.gz"))
        .arg("--out")
        .arg(out.path())
        .arg("--no-preview")
        .output()
        .expect("run convert");
    assert_eq!(convert.status.code(), Some(0), "{}", stderr(&convert));
    let table = data("labels.tsv");
    let eval = medprint()
        .arg("eval")
        .arg("--pred")
        .arg(out.path().join("labels.nii.gz"))
        .arg("--ref")
        .arg(data("labels.nii.gz"))
        .args(["--pred-classes", "bone=1", "--ref-classes"])
        .arg(format!("bone={}", table.display()))
        .arg("--json")
        .output()
        .expect("run eval");
    assert_eq!(eval.status.code(), Some(0), "{}", stderr(&eval));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("stdout is JSON");
    let bone = &report["classes"][0];
    assert_eq!(bone["name"], "bone");
    let dice = bone["dice"].as_f64().expect("dice");
    let hd95 = bone["hd95_mm"].as_f64().expect("HD95 reported");
    let msd = bone["mean_surface_distance_mm"].as_f64().expect("MSD reported");
    println!(
        "abdomen bone: Dice {dice:.4}, Jaccard {:.4}, HD95 {hd95:.2} mm, MSD {msd:.2} mm, volume difference {:+.2} %",
        bone["jaccard"].as_f64().unwrap_or(f64::NAN),
        bone["volume_difference_percent"].as_f64().unwrap_or(f64::NAN)
    );
    assert!(dice >= 0.85, "Dice {dice}");
    assert!(hd95 >= 0.0 && msd >= 0.0 && msd <= hd95 * 2.0);

    // The human table names the class and the same figures.
    let table_out = medprint()
        .arg("eval")
        .arg("--pred")
        .arg(out.path().join("labels.nii.gz"))
        .arg("--ref")
        .arg(data("labels.nii.gz"))
        .args(["--pred-classes", "bone=1", "--ref-classes"])
        .arg(format!("bone={}", table.display()))
        .output()
        .expect("run eval");
    let text = String::from_utf8_lossy(&table_out.stdout);
    assert!(text.contains("bone") && text.contains(&format!("{dice:.4}")), "{text}");
}

#[test]
fn reference_against_itself_without_classes_is_perfect_for_every_label() {
    let labels = data("labels.nii.gz");
    let eval = medprint()
        .arg("eval")
        .arg("--pred")
        .arg(&labels)
        .arg("--ref")
        .arg(&labels)
        .arg("--json")
        .output()
        .expect("run eval");
    assert_eq!(eval.status.code(), Some(0), "{}", stderr(&eval));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("JSON");
    let classes = report["classes"].as_array().expect("classes");
    assert!(classes.len() > 20, "{} classes", classes.len());
    for c in classes {
        assert_eq!(c["dice"], 1.0, "{c}");
        assert_eq!(c["hd95_mm"], 0.0, "{c}");
    }
}

#[test]
fn hostile_inputs_give_clear_errors_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let labels = data("labels.nii.gz");
    let garbage = dir.path().join("garbage.nii.gz");
    std::fs::write(&garbage, b"\x1f\x8b\x08\x00 certainly not a NIfTI").expect("write");
    let junk_table = dir.path().join("junk.tsv");
    std::fs::write(&junk_table, "id\tname\tis_bone\n1\tspleen\t0\n<html>oops</html>\n").expect("write");
    let run = |args: &[&std::ffi::OsStr]| medprint().arg("eval").args(args).output().expect("run");
    let os = |s: &str| std::ffi::OsString::from(s);
    let cases: Vec<(Vec<std::ffi::OsString>, i32, &str)> = vec![
        (
            vec![
                os("--pred"),
                os("/nonexistent/pred.nii.gz"),
                os("--ref"),
                labels.clone().into(),
            ],
            3,
            "/nonexistent/pred.nii.gz",
        ),
        (
            vec![os("--pred"), garbage.clone().into(), os("--ref"), labels.clone().into()],
            3,
            "garbage.nii.gz",
        ),
        (
            vec![
                os("--pred"),
                labels.clone().into(),
                os("--ref"),
                labels.clone().into(),
                os("--pred-classes"),
                os("bone=1,x"),
            ],
            2,
            "bone=1,x",
        ),
        (
            vec![
                os("--pred"),
                labels.clone().into(),
                os("--ref"),
                labels.clone().into(),
                os("--pred-classes"),
                os("bone"),
            ],
            2,
            "NAME=ids",
        ),
        (
            vec![
                os("--pred"),
                labels.clone().into(),
                os("--ref"),
                labels.clone().into(),
                os("--ref-classes"),
                format!("bone={}", junk_table.display()).into(),
            ],
            3,
            "junk.tsv:3",
        ),
        (
            vec![
                os("--pred"),
                labels.clone().into(),
                os("--ref"),
                labels.clone().into(),
                os("--pred-classes"),
                os("a=1"),
                os("--ref-classes"),
                os("b=1"),
            ],
            2,
            "same classes",
        ),
        (vec![os("--pred"), labels.clone().into()], 2, "--ref"),
    ];
    for (args, code, needle) in cases {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let out = run(&refs);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: stderr lacks {needle:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn ct_given_as_a_label_map_is_rejected() {
    let out = medprint()
        .arg("eval")
        .arg("--pred")
        .arg(data("ct.nii.gz"))
        .arg("--ref")
        .arg(data("labels.nii.gz"))
        .output()
        .expect("run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("not a label"), "{err}");
}

#[test]
fn help_documents_the_class_syntax() {
    let out = medprint().args(["eval", "--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("--pred-classes bone=1 --ref-classes bone=labels.tsv"),
        "{text}"
    );
    assert!(text.contains("is_bone"), "{text}");
}
