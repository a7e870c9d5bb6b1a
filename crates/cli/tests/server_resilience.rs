//! The order server under attack and failure, as a real process on loopback: the role
//! matrix and organisation isolation, hostile input, and SIGKILL of the server and of a
//! worker mid-job with nothing lost or duplicated.

mod server_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use medprint_store::Engine;
use serde_json::{json, Value};
use server_support::*;

/// The workflow actions each role may take (the rest must be refused with 403).
fn allowed(role: &str) -> &'static [&'static str] {
    match role {
        "surgeon" => &[
            "submit",
            "approve_model",
            "request_changes",
            "rerun",
            "confirm_delivery",
            "cancel_order",
        ],
        "radiologist" => &["submit", "verify_segmentation", "request_changes", "rerun"],
        "clinical_director" => &["sign_off", "decline", "cancel_order"],
        "biomedical_engineer" => &["request_changes", "rerun", "approve_print_plan"],
        "print_technician" => &["start_printing", "finish_printing", "record_qc", "ship"],
        "org_admin" => &["cancel_order"],
        _ => &[],
    }
}

const ACTIONS: [&str; 14] = [
    "submit",
    "approve_model",
    "verify_segmentation",
    "request_changes",
    "rerun",
    "sign_off",
    "decline",
    "approve_print_plan",
    "start_printing",
    "finish_printing",
    "record_qc",
    "ship",
    "confirm_delivery",
    "cancel_order",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn role_matrix_and_organisation_isolation() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(Engine::Sqlite, dir.path()).await;
    let server = Server::start(&dir.path().join("data"), &db.url, &["--workers", "0"]);
    let a = team(&server.base, "Hospital A").await;
    let b = team(&server.base, "Hospital B").await;
    let order = a.surgeon.create_order(&prescription(), &key()).await.unwrap();
    let id = order["id"].as_str().unwrap().to_string();

    // Every role × every workflow action: refused (403) exactly where the matrix says so; an
    // allowed action may still be refused for the order's state (409), never for the role.
    for role in ROLES {
        let client = a.by_role(role);
        for action in ACTIONS {
            let status = client
                .action(&id, action, &json!({}))
                .await
                .err()
                .and_then(|e| e.status());
            let may = allowed(role).contains(&action);
            if may {
                assert_ne!(status, Some(403), "{role} must be allowed to {action}");
            } else {
                assert_eq!(status, Some(403), "{role} must not {action}");
            }
        }
        // Creating orders and reading them.
        let created = client.create_order(&prescription(), &key()).await;
        assert_eq!(
            created.is_ok(),
            matches!(role, "surgeon" | "radiologist"),
            "{role} create order"
        );
        let read = client.get(&format!("/api/orders/{id}")).await;
        assert_eq!(read.is_ok(), role != "system_admin", "{role} read order");
        let audit = client.get(&format!("/api/orders/{id}/audit")).await;
        assert_eq!(
            audit.is_ok(),
            matches!(role, "org_admin" | "clinical_director"),
            "{role} audit"
        );
        let users = client.get("/api/users").await;
        assert_eq!(
            users.is_ok(),
            matches!(role, "org_admin" | "system_admin"),
            "{role} users"
        );
    }

    // Another organisation sees nothing of A: every route answers "not found" for A's ids.
    for role in ROLES {
        let client = b.by_role(role);
        if role == "system_admin" {
            continue;
        }
        for path in [
            format!("/api/orders/{id}"),
            format!("/api/orders/{id}/files"),
            format!("/api/orders/{id}/audit"),
        ] {
            let status = client.get(&path).await.unwrap_err().status();
            assert!(matches!(status, Some(404) | Some(403)), "{role} {path}: {status:?}");
            if role != "org_admin" && role != "clinical_director" && path.ends_with("audit") {
                continue;
            }
        }
        for action in allowed(role) {
            assert_eq!(
                client.action(&id, action, &json!({})).await.unwrap_err().status(),
                Some(404),
                "{role} {action} on A's order"
            );
        }
    }
    assert!(b
        .surgeon
        .get("/api/orders")
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        b.surgeon
            .post(
                &format!("/api/orders/{id}/files"),
                &json!({"name": "x.dcm", "size": 10, "sha256": "ab".repeat(32)})
            )
            .await
            .unwrap_err()
            .status(),
        Some(404)
    );
    // An organisation administrator cannot make users elsewhere or make system administrators.
    let e = a
        .org_admin
        .post(
            "/api/users",
            &json!({"email": "x@b.org", "name": "x", "role": "surgeon", "password": USER_PASSWORD, "org_id": b.org_id}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = a
        .org_admin
        .post(
            "/api/users",
            &json!({"email": "root@a.org", "name": "x", "role": "system_admin", "password": USER_PASSWORD}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    drop(server);
    db.drop_now().await.unwrap();
}

async fn raw(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut rb = reqwest::Client::new()
        .request(method, format!("{base}{path}"))
        .body(body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        rb = rb.header("content-type", ct);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(Engine::Sqlite, dir.path()).await;
    let server = Server::start(&dir.path().join("data"), &db.url, &["--workers", "0"]);
    let a = team(&server.base, "Hospital H").await;
    let token = a.surgeon.create_token("raw").await.unwrap();
    let base = server.base.as_str();
    use reqwest::Method;

    // Malformed JSON, wrong content types, oversized bodies, unknown fields, unknown routes.
    let (s, v) = raw(
        base,
        Method::POST,
        "/api/orders",
        Some(&token),
        Some("application/json"),
        b"{\"prescription\": {".to_vec(),
    )
    .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("bad_request")), "{v}");
    let (s, _) = raw(
        base,
        Method::POST,
        "/api/orders",
        Some(&token),
        Some("text/plain"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(s, 415);
    let (s, v) = raw(
        base,
        Method::POST,
        "/api/orders",
        Some(&token),
        Some("application/json"),
        vec![b' '; 2 << 20],
    )
    .await;
    assert_eq!(s, 413, "{v}");
    let body = json!({"prescription": {"anatomy": ["x"], "patient_name": "DOE"}, "patient_key": key()}).to_string();
    let (s, v) = raw(
        base,
        Method::POST,
        "/api/orders",
        Some(&token),
        Some("application/json"),
        body.into_bytes(),
    )
    .await;
    assert_eq!(s, 400, "unknown fields are refused: {v}");
    let body = json!({"prescription": {"patient_age": 400}, "patient_key": key()}).to_string();
    assert_eq!(
        raw(
            base,
            Method::POST,
            "/api/orders",
            Some(&token),
            Some("application/json"),
            body.into_bytes()
        )
        .await
        .0,
        400
    );
    let body = json!({"prescription": {}, "patient_key": "Jane Doe"}).to_string();
    assert_eq!(
        raw(
            base,
            Method::POST,
            "/api/orders",
            Some(&token),
            Some("application/json"),
            body.into_bytes()
        )
        .await
        .0,
        400
    );
    assert_eq!(
        raw(base, Method::GET, "/api/nothing/here", Some(&token), None, vec![])
            .await
            .0,
        404
    );
    assert_eq!(raw(base, Method::GET, "/api/orders", None, None, vec![]).await.0, 401);
    assert_eq!(
        raw(base, Method::GET, "/api/orders", Some("mpt_forged"), None, vec![])
            .await
            .0,
        401
    );
    let long_id = "x".repeat(10_000);
    assert_eq!(
        raw(
            base,
            Method::GET,
            &format!("/api/orders/{long_id}"),
            Some(&token),
            None,
            vec![]
        )
        .await
        .0,
        404
    );
    let (s, _) = raw(
        base,
        Method::POST,
        "/api/login",
        None,
        Some("application/json"),
        br#"{"email":"admin@localhost","password":"wrong"}"#.to_vec(),
    )
    .await;
    assert_eq!(s, 401);

    let order = a.surgeon.create_order(&prescription(), &key()).await.unwrap();
    let id = order["id"].as_str().unwrap().to_string();

    // Uploads: truncated DICOM → refused and recorded; wrong chunk offset → 409; bytes that
    // do not match the announced hash → 422 and the upload starts over; chunk content type.
    let real = std::fs::read(shared_data("dicom-samples/CT_small.dcm"))
        .or_else(|_| std::fs::read(shared_data("dicom-transfer-syntaxes/In/1.dcm")))
        .unwrap();
    let cut = &real[..real.len() / 2];
    let path = dir.path().join("cut.dcm");
    std::fs::write(&path, cut).unwrap();
    let e = a.surgeon.upload_file(&id, &path, "dicom").await.unwrap_err();
    assert_eq!(e.status(), Some(422), "{e}");
    let files = a.surgeon.get(&format!("/api/orders/{id}/files")).await.unwrap();
    assert_eq!(files[0]["state"], "rejected");
    assert!(!files[0]["error"].as_str().unwrap().is_empty());

    let announced = a
        .surgeon
        .post(
            &format!("/api/orders/{id}/files"),
            &json!({"name": "../../etc/passwd", "size": real.len(), "sha256": medprint_audit::sha256_hex(&real)}),
        )
        .await
        .unwrap();
    assert_eq!(
        announced["upload"]["name"], "passwd",
        "client paths are reduced to a name"
    );
    let upload = announced["upload"]["id"].as_str().unwrap().to_string();
    let chunk = |offset: usize, bytes: Vec<u8>, ct: &'static str| {
        let token = token.clone();
        let url = format!("{base}/api/uploads/{upload}");
        async move {
            let r = reqwest::Client::new()
                .patch(url)
                .bearer_auth(token)
                .header("content-type", ct)
                .header("upload-offset", offset.to_string())
                .body(bytes)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    assert_eq!(chunk(0, real[..100].to_vec(), "application/json").await, 415);
    assert_eq!(
        chunk(5, real[..100].to_vec(), "application/offset+octet-stream").await,
        409
    );
    assert_eq!(
        chunk(0, real[..100].to_vec(), "application/offset+octet-stream").await,
        202
    );
    assert_eq!(
        chunk(100, vec![0u8; real.len()], "application/offset+octet-stream").await,
        413,
        "past the announced size"
    );
    let mut forged = real[100..].to_vec();
    forged[0] ^= 0xff;
    assert_eq!(chunk(100, forged, "application/offset+octet-stream").await, 422);
    let status = a.surgeon.get(&format!("/api/uploads/{upload}")).await.unwrap();
    assert_eq!(status["received"], 0, "a mismatched upload starts over");
    assert_eq!(chunk(0, real.clone(), "application/offset+octet-stream").await, 200);
    assert_eq!(
        a.surgeon.get(&format!("/api/uploads/{upload}")).await.unwrap()["state"],
        "stored"
    );

    // A zip with a path-traversal name, a non-DICOM member and a real file.
    let zip_path = dir.path().join("hostile.zip");
    {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("../../../../tmp/evil.dcm", opts).unwrap();
        zip.write_all(&real).unwrap();
        zip.start_file("notes.txt", opts).unwrap();
        zip.write_all(b"not a scan").unwrap();
        zip.start_file("series/2.dcm", opts).unwrap();
        let other = std::fs::read(shared_data("dicom-transfer-syntaxes/In/2.dcm")).unwrap();
        zip.write_all(&other).unwrap();
        zip.finish().unwrap();
    }
    let uploaded = a.surgeon.upload_file(&id, &zip_path, "zip").await.unwrap().unwrap();
    assert_eq!(uploaded["state"], "expanded");
    let summary: Value = serde_json::from_str(uploaded["deid_report"].as_str().unwrap()).unwrap();
    assert_eq!(summary["members_stored"], 1, "{summary}");
    let skipped = summary["skipped"].to_string();
    assert!(skipped.contains("evil") && skipped.contains("notes.txt"), "{skipped}");
    assert!(!std::path::Path::new("/tmp/evil.dcm").exists());
    // Not a zip at all.
    let fake_zip = dir.path().join("fake.zip");
    std::fs::write(&fake_zip, b"PK\x03\x04 this is not really a zip").unwrap();
    assert_eq!(
        a.surgeon.upload_file(&id, &fake_zip, "zip").await.unwrap_err().status(),
        Some(422)
    );

    // Oversized announcements.
    let e = a
        .surgeon
        .post(
            &format!("/api/orders/{id}/files"),
            &json!({"name": "big.dcm", "size": 1u64 << 40, "sha256": "ab".repeat(32)}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(413));

    // The OpenAPI document lists every route, and each documented route exists.
    let doc = a.surgeon.get("/api/openapi.json").await.unwrap();
    for op in medprint_server::openapi::OPERATIONS {
        assert!(
            doc["paths"][op.path][op.method].is_object(),
            "{} {}",
            op.method,
            op.path
        );
        let path = op
            .path
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{version}", "1")
            .replace("{name}", "model.stl")
            .replace("{action}", "submit");
        let method = reqwest::Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
        let (s, v) = raw(base, method, &path, Some(&token), None, vec![]).await;
        assert!(
            !(s == 404 && v["message"].as_str().unwrap_or("").starts_with("route")),
            "{} {} is not routed",
            op.method,
            op.path
        );
    }
    // Every other path is the web app (HTML with security headers); /api/… never is.
    let page = reqwest::get(format!("{base}/orders/123/review")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(
        raw(base, Method::GET, "/api/no/such/route", Some(&token), None, vec![])
            .await
            .1["error"],
        "not_found"
    );

    // The server is still healthy after all this.
    assert_eq!(raw(base, Method::GET, "/api/health", None, None, vec![]).await.0, 200);
    drop(server);
    db.drop_now().await.unwrap();
}

/// Parameters that make a job long enough (about 10 s on the torso CT) to be killed mid-way.
fn slow_params() -> Value {
    json!({"params": {"previews": false, "print_ready": true, "separate_bones": true, "alternatives_hu": [-100, -50, 50, 100]}})
}

/// Submits the torso CT and returns the order id once its job is running.
async fn submit_and_wait_running(team: &Team, series: &std::path::Path) -> String {
    let order = team.surgeon.create_order(&prescription(), &key()).await.unwrap();
    let id = order["id"].as_str().unwrap().to_string();
    team.surgeon.upload_dir(&id, series, 4, |_, _| {}).await.unwrap();
    team.surgeon.action(&id, "submit", &slow_params()).await.unwrap();
    wait_until(&team.surgeon, &id, Duration::from_secs(120), "a running job", |d| {
        d["jobs"]
            .as_array()
            .and_then(|j| j.last())
            .is_some_and(|j| j["state"] == "running" && j["progress_permille"].as_i64() > Some(0))
    })
    .await;
    id
}

fn assert_one_clean_version(d: &Value, min_attempts: i64) {
    assert_eq!(d["order"]["state"], "review", "{d:#}");
    let jobs = d["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["state"], "done");
    assert!(jobs[0]["attempts"].as_i64().unwrap() >= min_attempts, "{d:#}");
    assert_eq!(d["versions"].as_array().unwrap().len(), 1, "exactly one version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_of_server_and_worker_mid_job_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(Engine::Postgres, dir.path()).await;
    let data = dir.path().join("data");
    let series = dir.path().join("series");
    torso_series(&series);

    // 1. The server (with its in-process worker) is killed mid-job and restarted.
    let mut server = Server::start(&data, &db.url, &[]);
    let t = team(&server.base, "Crash Hospital").await;
    let id = submit_and_wait_running(&t, &series).await;
    let port = server.port;
    server.kill();
    let server = Server::start_on(port, &data, &db.url, &[]);
    let d = wait_until(&t.surgeon, &id, Duration::from_secs(600), "review after restart", |d| {
        d["order"]["state"] == "review"
    })
    .await;
    assert_one_clean_version(&d, 2);

    // 2. A separate worker process is killed mid-job; another worker finishes it.
    drop(server);
    let server = Server::start_on(port, &data, &db.url, &["--workers", "0"]);
    let worker = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_medprint"))
            .args(["worker", "--data-dir"])
            .arg(dir.path().join(name))
            .args(["--database", &db.url, "--storage"])
            .arg(data.join("objects"))
            .args(["--lease-secs", "2", "--id", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut first = worker("worker-a");
    let order = t.surgeon.create_order(&prescription(), &key()).await.unwrap();
    let id2 = order["id"].as_str().unwrap().to_string();
    t.surgeon.upload_dir(&id2, &series, 4, |_, _| {}).await.unwrap();
    t.surgeon.action(&id2, "submit", &slow_params()).await.unwrap();
    wait_until(&t.surgeon, &id2, Duration::from_secs(120), "worker-a running", |d| {
        d["jobs"][0]["state"] == "running" && d["jobs"][0]["progress_permille"].as_i64() > Some(0)
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let mut second = worker("worker-b");
    let d = wait_until(&t.surgeon, &id2, Duration::from_secs(600), "review by worker-b", |d| {
        d["order"]["state"] == "review"
    })
    .await;
    second.kill().unwrap();
    let _ = second.wait();
    assert_one_clean_version(&d, 2);
    let audit = t.org_admin.get(&format!("/api/orders/{id2}/audit")).await.unwrap();
    assert_eq!(audit["intact"], true);
    let finishers: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "job.finish")
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(finishers, ["worker:worker-b"]);

    // Cancellation of a running job: the order goes back to uploaded, no version is made.
    let mut third = worker("worker-c");
    let id3 = submit_and_wait_running(&t, &series).await;
    let job = t.surgeon.get(&format!("/api/orders/{id3}")).await.unwrap()["jobs"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    t.surgeon
        .post(&format!("/api/jobs/{job}/cancel"), &json!({}))
        .await
        .unwrap();
    let d = wait_until(&t.surgeon, &id3, Duration::from_secs(120), "cancelled", |d| {
        d["jobs"][0]["state"] == "cancelled"
    })
    .await;
    assert_eq!(d["order"]["state"], "uploaded");
    assert!(d["versions"].as_array().unwrap().is_empty());
    third.kill().unwrap();
    let _ = third.wait();
    drop(server);
    db.drop_now().await.unwrap();
}
