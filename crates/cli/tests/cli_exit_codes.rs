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

/// A synthetic scan of `dims` voxels (1 mm in-plane, 2 mm slices) with the value `hu(x, y, z)`.
fn synthetic_scan(dims: [usize; 3], hu: impl Fn(usize, usize, usize) -> i16) -> medprint_volume::Volume<i16> {
    let geometry = medprint_volume::Geometry::axis_aligned([1.0, 1.0, 2.0], [0.0; 3]);
    let data = (0..dims[0] * dims[1] * dims[2])
        .map(|i| hu(i % dims[0], (i / dims[0]) % dims[1], i / (dims[0] * dims[1])))
        .collect();
    medprint_volume::Volume::from_vec(dims, data, geometry).expect("volume")
}

/// A round body of soft tissue (40 HU ± 20, deterministic) in air, with a bone disc (1000 HU)
/// in its middle when `bone` is set.
fn body(dims: [usize; 3], bone: bool) -> medprint_volume::Volume<i16> {
    let (cx, cy) = (dims[0] as f64 / 2.0, dims[1] as f64 / 2.0);
    synthetic_scan(dims, |x, y, z| {
        let r = ((x as f64 - cx).powi(2) + (y as f64 - cy).powi(2)).sqrt();
        let jitter = ((x * 31 + y * 17 + z * 7) % 41) as i16 - 20;
        if bone && r < cx * 0.25 {
            1000 + jitter
        } else if r < cx * 0.8 {
            40 + jitter
        } else {
            -1000 + jitter / 4
        }
    })
}

/// Pure noise: a deterministic linear congruential sequence over −1024..3071 HU.
fn noise(dims: [usize; 3]) -> medprint_volume::Volume<i16> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let values: Vec<i16> = (0..dims[0] * dims[1] * dims[2])
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) % 4096) as i16 - 1024
        })
        .collect();
    synthetic_scan(dims, |x, y, z| values[x + dims[0] * (y + dims[1] * z)])
}

/// Runs `convert` on `input` and checks the degenerate-scan contract: the `expected` exit code
/// (3 input unusable, 4 no bone; never 5), a first line in plain language holding `reason`
/// (no path, no debug text), no panic and no model written.
fn assert_refused(input: &Path, expected: i32, reason: &str) {
    let out = tempfile::tempdir().expect("tempdir");
    let result = medprint()
        .arg("convert")
        .arg(input)
        .arg("--out")
        .arg(out.path())
        .args(["--no-preview", "--print-ready"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&result.stderr);
    let name = input.display();
    assert_eq!(result.status.code(), Some(expected), "{name}: {stderr}");
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    let first = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{name}: no error line in {stderr}"));
    assert!(first.contains(reason), "{name}: {first:?} lacks {reason:?}");
    assert!(
        !first.contains('/') && !first.contains('{'),
        "{name}: not plain: {first:?}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("detail: ") && l.contains(&*input.to_string_lossy())),
        "{name}: the detail line names the input: {stderr}"
    );
    assert!(!out.path().join("model.3mf").exists(), "{name}: a model was written");
}

#[test]
fn degenerate_nifti_scans_exit_3_or_4_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, volume: &medprint_volume::Volume<i16>| {
        let path = dir.path().join(name);
        medprint_volume::nifti::write_nifti(&path, volume).expect("write NIfTI");
        path
    };
    assert_refused(
        &write("one-slice.nii.gz", &body([64, 64, 1], true)),
        3,
        "too few slices",
    );
    assert_refused(
        &write("two-slices.nii.gz", &body([64, 64, 2], true)),
        3,
        "too few slices",
    );
    assert_refused(
        &write("uniform.nii.gz", &synthetic_scan([32, 32, 12], |_, _, _| 0)),
        3,
        "blank",
    );
    assert_refused(
        &write("soft-tissue.nii.gz", &body([64, 64, 12], false)),
        4,
        "No bone was found",
    );
    assert_refused(&write("noise.nii.gz", &noise([48, 48, 12])), 3, "pure noise");
}

#[test]
fn degenerate_dicom_series_exit_3_or_4_with_a_reason() {
    use medprint_volume::dicom::write::{write_dicom_series, WriteSeriesOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, volume: &medprint_volume::Volume<i16>| {
        let folder = dir.path().join(name);
        write_dicom_series(&folder, volume, &WriteSeriesOptions::default()).expect("write DICOM");
        folder
    };
    assert_refused(&write("one-slice", &body([64, 64, 1], true)), 3, "too few slices");
    assert_refused(
        &write("soft-tissue", &body([64, 64, 12], false)),
        4,
        "No bone was found",
    );
}
