//! No uploaded file is lost, and a failed job explains itself in plain words: a real
//! `medprint serve` process on loopback with SQLite, the `medprint submit` client, and the real
//! abdominal CT written as a DICOM series whose files carry no Study, Series or SOP Instance
//! UID (as some real exports do), with equal file names in two folders and two different
//! slices that claim the same SOP Instance UID. The first run asks for a threshold above
//! every voxel and fails; the failure must read in plain words and the order be re-run.

mod server_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use dicom_dictionary_std::tags;
use medprint_store::Engine;
use serde_json::{json, Value};
use server_support::*;

/// A SOP Instance UID that two different slices claim.
const SHARED_SOP_UID: &str = "1.2.826.0.1.3680043.8.498.777";

/// A DICOM element's text, trimmed of padding (`None` when absent or empty).
fn text_of(obj: &dicom_object::DefaultDicomObject, tag: dicom_core::Tag) -> Option<String> {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .filter(|s| !s.is_empty())
}

/// Writes the abdominal CT (30 slices, JPEG-LS) under `dir` as slices without UIDs: slice k goes
/// to `a/` or `b/` (k even/odd) as `IM<k/2>.dcm`, so every name occurs in both folders; slices 4
/// and 5 both get [`SHARED_SOP_UID`]; `c/copy.dcm` is a byte-identical copy of `a/IM0000.dcm`.
/// Returns the number of distinct slices.
fn uidless_series(dir: &Path) -> usize {
    let written = abdomen_series(&dir.join("written"));
    for (k, path) in written.iter().enumerate() {
        let mut obj = medprint_deid::parse(&std::fs::read(path).unwrap()).unwrap();
        for tag in [
            tags::SOP_INSTANCE_UID,
            tags::SERIES_INSTANCE_UID,
            tags::STUDY_INSTANCE_UID,
            tags::FRAME_OF_REFERENCE_UID,
        ] {
            obj.remove_element(tag);
        }
        let sop = if k == 4 || k == 5 { SHARED_SOP_UID } else { "" };
        if !sop.is_empty() {
            obj.put(dicom_core::DataElement::new(
                tags::SOP_INSTANCE_UID,
                dicom_core::VR::UI,
                dicom_core::value::PrimitiveValue::from(sop),
            ));
        }
        obj.meta_mut().media_storage_sop_instance_uid = sop.to_string();
        obj.meta_mut().update_information_group_length();
        let folder = dir.join(if k % 2 == 0 { "a" } else { "b" });
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join(format!("IM{:04}.dcm", k / 2)),
            medprint_deid::write(&obj).unwrap(),
        )
        .unwrap();
    }
    std::fs::remove_dir_all(dir.join("written")).unwrap();
    std::fs::create_dir_all(dir.join("c")).unwrap();
    std::fs::copy(dir.join("a/IM0000.dcm"), dir.join("c/copy.dcm")).unwrap();
    written.len()
}

/// The DICOM files stored for `order` in the server's object folder.
fn stored_inputs(data_dir: &Path, order: &str) -> Vec<PathBuf> {
    let dir = data_dir.join("objects/orders").join(order).join("inputs");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    out.sort();
    out
}

fn last_job(detail: &Value) -> &Value {
    detail["jobs"].as_array().and_then(|j| j.last()).expect("a job")
}

async fn wait_review_or_failure(client: &medprint_server::client::Client, order: &str) -> Value {
    wait_until(client, order, Duration::from_secs(600), "review or a failed job", |d| {
        d["order"]["state"] == "review"
            || d["jobs"]
                .as_array()
                .and_then(|j| j.last())
                .is_some_and(|j| j["state"] == "failed")
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn uidless_series_is_stored_whole_and_failures_are_plain() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(Engine::Sqlite, dir.path()).await;
    let server = Server::start(&dir.path().join("data"), &db.url, &[]);
    let team = team(&server.base, "Uid Less Hospital").await;
    let series_dir = dir.path().join("series");
    let slices = uidless_series(&series_dir);
    assert_eq!(slices, 30);

    // The surgeon submits the folder with the CLI; a first run fails on purpose (a threshold
    // above every voxel finds no bone) to show how a failure reads.
    let token = team.surgeon.create_token("cli").await.unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_medprint"))
        .arg("submit")
        .arg(&series_dir)
        .args(["--server", &server.base, "--token", &token])
        .args(["--patient-id", "MRN-0042-SECRET", "--patient-key-secret", "org secret"])
        .args(["--prescription", &prescription().to_string()])
        .args(["--params", &json!({"threshold_hu": 3000}).to_string()])
        .output()
        .expect("run medprint submit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "submit failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 31 files chosen: 30 slices and one byte-identical copy (held once), none refused.
    assert!(stdout.contains("31 of 31 files stored, 0 refused"), "{stdout}");
    let order = stdout
        .lines()
        .find_map(|l| l.strip_prefix("order "))
        .expect("order id printed")
        .trim()
        .to_string();

    // Every distinct file is stored: no UID, equal names and a shared SOP UID lose nothing.
    let files = team.surgeon.get(&format!("/api/orders/{order}/files")).await.unwrap();
    let files = files.as_array().unwrap();
    assert_eq!(files.len(), slices, "{files:#?}");
    assert!(files.iter().all(|f| f["state"] == "stored"), "{files:#?}");
    let twice = files.iter().filter(|f| f["name"] == "IM0003.dcm").count();
    assert_eq!(twice, 2, "equal names from two folders are two files");
    let sharing = files.iter().filter(|f| f["sop_uid"] == SHARED_SOP_UID).count();
    assert_eq!(sharing, 2, "a SOP UID shared by different content keeps both files");

    // De-identification on arrival gives no file a UID it did not have, and maps the shared
    // one consistently: the 28 UID-less files are not collapsed onto one new UID.
    let stored = stored_inputs(&server.data_dir, &order);
    assert_eq!(stored.len(), slices);
    let mut sops = Vec::new();
    let mut series = std::collections::BTreeSet::new();
    for path in &stored {
        let obj = medprint_deid::parse(&std::fs::read(path).unwrap()).unwrap();
        sops.extend(text_of(&obj, tags::SOP_INSTANCE_UID));
        series.extend(text_of(&obj, tags::SERIES_INSTANCE_UID));
    }
    assert_eq!(
        sops.len(),
        2,
        "only the two files that had a SOP UID have one: {sops:?}"
    );
    assert_eq!(sops[0], sops[1]);
    assert_ne!(sops[0], SHARED_SOP_UID, "the UID is replaced");
    assert!(series.len() <= 1, "one series at most: {series:?}");

    // The failure reads in plain words: no server path, no debug text.
    let failed = wait_review_or_failure(&team.surgeon, &order).await;
    let job = last_job(&failed);
    assert_eq!(job["state"], "failed", "{failed:#}");
    assert_eq!(
        job["attempts"], 1,
        "a failure of the scan itself is not retried: {job:#}"
    );
    assert_eq!(failed["order"]["state"], "uploaded");
    let error = job["error"].as_str().unwrap();
    // The pipeline's plain reason for a threshold that leaves no bone.
    assert!(error.starts_with("No bone was found"), "{error}");
    let data_dir = server.data_dir.display().to_string();
    for leak in [data_dir.as_str(), "/work/", "job-", ".dcm", "{", "Error", "\\n"] {
        assert!(!error.contains(leak), "the failure shows {leak:?}: {error}");
    }
    for path in [format!("/api/orders/{order}"), format!("/api/orders/{order}/audit")] {
        let body = team.org_admin.get(&path).await.unwrap().to_string();
        assert!(!body.contains(&data_dir), "{path} shows a server path: {body}");
    }
    let log = std::fs::read_to_string(&server.log).unwrap();
    assert!(
        log.contains("job attempt failed"),
        "the full error is in the server log"
    );

    // The surgeon re-runs the failed order with other parameters: it reaches review with the
    // whole series loaded as one volume.
    team.surgeon
        .action(
            &order,
            "rerun",
            &json!({"comment": "estimate the threshold", "params": {"threshold_hu": null, "print_ready": false}}),
        )
        .await
        .unwrap();
    let done = wait_review_or_failure(&team.surgeon, &order).await;
    assert_eq!(done["order"]["state"], "review", "{done:#}");
    assert_eq!(done["order"]["current_version"], 2);
    let report = team
        .surgeon
        .get(&format!("/api/orders/{order}/versions/2/files/report.json"))
        .await
        .unwrap();
    assert_eq!(
        report["input"]["dims"],
        json!([122, 101, slices]),
        "{:#}",
        report["input"]
    );
    assert_eq!(report["input"]["series"].as_array().unwrap().len(), 1);
    assert_eq!(report["input"]["series"][0]["files"], slices);
    assert!(report["segmentation"]["bone_voxels"].as_u64().unwrap() > 1000);
    // The downloadable report names the upload, never the worker's scratch folder.
    let text = report.to_string();
    assert!(
        !text.contains(&data_dir) && !text.contains("job-"),
        "report.json shows a server path: {text}"
    );
    assert_eq!(report["input"]["path"], "upload");
    drop(server);
    db.drop_now().await.unwrap();
}
