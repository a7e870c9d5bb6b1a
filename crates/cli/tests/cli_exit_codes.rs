//! The `medprint` binary: exit codes, messages and `--json` output.

use std::path::Path;
use std::process::Command;

fn medprint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_medprint"))
}

#[test]
fn missing_input_exits_3_and_names_the_path() {
    let out = tempfile::tempdir().expect("tempdir");
    let result = medprint()
        .args(["convert", "/nonexistent/scan", "--out"])
        .arg(out.path())
        .output()
        .expect("run");
    assert_eq!(result.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&result.stderr).contains("/nonexistent/scan"));
}

#[test]
fn folder_without_dicom_exits_3_and_lists_the_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("empty.dcm"), b"").expect("write");
    std::fs::write(dir.path().join("notes.txt"), b"not a scan").expect("write");
    let out = tempfile::tempdir().expect("tempdir");
    let result = medprint()
        .arg("convert")
        .arg(dir.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("run");
    assert_eq!(result.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("empty.dcm"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2() {
    let result = medprint().args(["convert", "--bone", "rubber"]).output().expect("run");
    assert_eq!(result.status.code(), Some(2));
}

#[test]
fn json_report_on_stdout() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-abdomen-3mm/ct.nii.gz");
    let out = tempfile::tempdir().expect("tempdir");
    let result = medprint()
        .arg("convert")
        .arg(&input)
        .arg("--out")
        .arg(out.path())
        .args(["--json", "--no-preview"])
        .output()
        .expect("run");
    assert_eq!(
        result.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).expect("stdout is the JSON report");
    assert_eq!(report["input"]["dims"], serde_json::json!([122, 101, 30]));
    assert!(report["model"]["printable"].as_bool().unwrap_or(false));
}

#[test]
fn bad_label_edit_files_exit_2_and_name_the_file() {
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/ct-abdomen-3mm/ct.nii.gz");
    let dir = tempfile::tempdir().expect("tempdir");
    let stroke = r#"{"mode":"add","normal_axis":2,"slice":3,"radius_vox":2,"points_vox":[[10,10]]}"#;
    let cases: [(&str, String); 4] = [
        ("truncated.json", format!("[{}", &stroke[..stroke.len() / 2])),
        ("not-a-list.json", "{\"mode\":\"add\"}".into()),
        (
            "hostile-radius.json",
            format!("[{}]", stroke.replace("\"radius_vox\":2", "\"radius_vox\":4000000000")),
        ),
        (
            "slice-outside.json",
            format!("[{}]", stroke.replace("\"slice\":3", "\"slice\":99999")),
        ),
    ];
    for (name, text) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let result = medprint()
            .arg("convert")
            .arg(&input)
            .arg("--out")
            .arg(dir.path().join("out"))
            .args(["--no-preview", "--label-edits"])
            .arg(&path)
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        // A file that is not a list of strokes is named; a stroke out of range is numbered.
        if name.starts_with("truncated") || name.starts_with("not-a-list") {
            assert!(stderr.contains(name), "{name}: the message names the file: {stderr}");
        } else {
            assert!(stderr.contains("edit stroke 0"), "{name}: {stderr}");
        }
    }
    let missing = medprint()
        .arg("convert")
        .arg(&input)
        .arg("--out")
        .arg(dir.path().join("out"))
        .args(["--label-edits", "/nonexistent/edits.json"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/edits.json"));
}
