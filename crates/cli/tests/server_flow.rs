//! The order server end to end, as a real `medprint serve` process on loopback, under SQLite
//! and PostgreSQL: the full flow on the real abdominal CT (upload → de-identification →
//! processing → review → sign-off → print preparation → printing → QC → shipped → delivered),
//! the audit trail and `medprint verify`, and 20 concurrent uploads.

mod server_support;

use std::process::Command;
use std::time::{Duration, Instant};

use medprint_store::Engine;
use serde_json::json;
use server_support::*;

async fn full_flow(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(engine, dir.path()).await;
    let server = Server::start(&dir.path().join("data"), &db.url, &[]);
    let team = team(&server.base, "General Hospital").await;
    let series_dir = dir.path().join("series");
    let files = abdomen_series(&series_dir);

    // The surgeon orders and uploads with the CLI client (a real `medprint submit` process).
    let token = team.surgeon.create_token("cli").await.unwrap();
    let upload_started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_medprint"))
        .args(["submit"])
        .arg(&series_dir)
        .args([
            "--server",
            &server.base,
            "--token",
            &token,
            "--patient-id",
            "MRN-0042-SECRET",
        ])
        .args([
            "--patient-key-secret",
            "org secret",
            "--prescription",
            &prescription().to_string(),
        ])
        .output()
        .expect("run medprint submit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "submit failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let order_id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("order "))
        .expect("order id printed")
        .trim()
        .to_string();
    assert!(stdout.contains(&format!("uploaded {} files", files.len())), "{stdout}");

    // Progress is streamed as server-sent events.
    let mut events = reqwest::Client::new()
        .get(format!("{}/api/orders/{order_id}/events", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let first = String::from_utf8_lossy(&events.chunk().await.unwrap().unwrap()).to_string();
    assert!(
        first.starts_with("event: progress") && first.contains(&order_id),
        "{first}"
    );
    drop(events);

    let detail = wait_until(&team.surgeon, &order_id, Duration::from_secs(600), "review", |d| {
        d["order"]["state"] == "review"
            || d["jobs"]
                .as_array()
                .and_then(|j| j.last())
                .is_some_and(|j| j["state"] == "failed")
    })
    .await;
    let upload_to_review = upload_started.elapsed();
    assert_eq!(detail["order"]["state"], "review", "{detail:#}");
    assert_eq!(detail["order"]["patient_key"], key());
    assert_eq!(detail["order"]["prescription"]["anatomy"][1], "pelvis");
    let version = &detail["versions"][0];
    assert_eq!(version["version"], 1);
    for name in [
        "model.stl",
        "model.3mf",
        "model.glb",
        "model-web.glb",
        "labels.nii.gz",
        "report.json",
    ] {
        assert!(
            version["files"].as_array().unwrap().iter().any(|f| f == name),
            "{name} missing: {version:#}"
        );
    }
    assert_eq!(detail["jobs"][0]["progress_permille"], 1000);

    // Nothing identifying was stored: the series carried a name, an ID and a birth date.
    let stored = team
        .surgeon
        .get(&format!("/api/orders/{order_id}/files"))
        .await
        .unwrap();
    let stored = stored.as_array().unwrap();
    assert_eq!(stored.len(), files.len());
    for f in stored {
        assert_eq!(f["state"], "stored");
        let report = f["deid_report"].as_str().unwrap();
        assert!(
            report.contains("PatientName") && report.contains("PatientID"),
            "{report}"
        );
        assert!(
            !report.contains("DOE") && !report.contains("MRN-0042"),
            "the record leaks identity: {report}"
        );
    }
    let mut inputs = 0;
    for entry in walk(&server.data_dir.join("objects")) {
        if entry.extension().is_some_and(|e| e == "dcm") {
            let bytes = std::fs::read(&entry).unwrap();
            assert!(!contains(&bytes, b"DOE^JANE") && !contains(&bytes, b"MRN-0042") && !contains(&bytes, b"19580314"));
            inputs += 1;
        }
    }
    assert_eq!(inputs, files.len());

    // Downloads: the STL is the model at 1:1 in mm.
    let stl = dir.path().join("dl/model.stl");
    let size = team.surgeon.download(&order_id, 1, "model.stl", &stl).await.unwrap();
    let mesh = medprint_mesh::export::read_stl(std::fs::File::open(&stl).unwrap()).unwrap();
    assert_eq!(size, 84 + 50 * mesh.triangle_count() as u64);
    assert!(mesh.triangle_count() > 1000);
    let bad = team
        .surgeon
        .download(&order_id, 1, "..%2F..%2Fmedprint.db", &dir.path().join("x"))
        .await;
    assert_eq!(bad.unwrap_err().status(), Some(404));

    // The quote uses the measured model volume once processed; before, typical volumes.
    let q = team
        .surgeon
        .get(&format!("/api/orders/{order_id}/quote"))
        .await
        .unwrap();
    assert_eq!(q["measured"], true);
    assert_eq!(q["material"]["name"], "PLA", "the prescription's first material");
    let bone_cm3 = detail["versions"][0]["summary"]["segmentation"]["bone_volume_mm3"]
        .as_f64()
        .unwrap()
        / 1000.0;
    assert!((q["volume_cm3"].as_f64().unwrap() - bone_cm3).abs() < 1e-6);
    let before = team
        .surgeon
        .get("/api/quote?anatomy=pelvis,femur&material=resin&deadline=2030-01-01")
        .await
        .unwrap();
    assert_eq!(
        (before["measured"].as_bool(), before["volume_cm3"].as_f64()),
        (Some(false), Some(780.0))
    );
    assert!(before["price_eur"].as_f64().unwrap() > q["price_eur"].as_f64().unwrap() * 0.5);
    assert_eq!(
        team.surgeon.get("/api/quote?material=gold").await.unwrap_err().status(),
        Some(400)
    );

    // Review: the clinician annotates and asks for soft bone; version 2 is made, v1 stays.
    team.surgeon
        .post(
            &format!("/api/orders/{order_id}/annotations"),
            &json!({"text": "include L5 fully", "position": {"mm": [0, 0, 0]}}),
        )
        .await
        .unwrap();
    team.surgeon
        .action(
            &order_id,
            "request_changes",
            &json!({"comment": "soft bone", "params": {"bone": "soft", "print_ready": true, "previews": false}}),
        )
        .await
        .unwrap();
    let detail = wait_until(&team.surgeon, &order_id, Duration::from_secs(600), "version 2", |d| {
        d["order"]["state"] == "review"
    })
    .await;
    assert_eq!(detail["order"]["current_version"], 2);
    assert_eq!(detail["versions"].as_array().unwrap().len(), 2);
    assert_eq!(detail["versions"][1]["params"]["bone"], "soft");
    team.surgeon
        .download(&order_id, 1, "report.json", &dir.path().join("dl/v1.json"))
        .await
        .unwrap();

    // Gates: printing cannot start until every gate is passed by the right role.
    assert_eq!(
        team.technician
            .action(&order_id, "start_printing", &json!({}))
            .await
            .unwrap_err()
            .status(),
        Some(409)
    );
    assert_eq!(
        team.surgeon
            .action(&order_id, "verify_segmentation", &json!({}))
            .await
            .unwrap_err()
            .status(),
        Some(403)
    );
    team.surgeon
        .action(&order_id, "approve_model", &json!({"comment": "good"}))
        .await
        .unwrap();
    let o = team
        .radiologist
        .action(&order_id, "verify_segmentation", &json!({}))
        .await
        .unwrap();
    assert_eq!(o["state"], "sign_off");
    let o = team
        .director
        .action(&order_id, "sign_off", &json!({"comment": "budget ok"}))
        .await
        .unwrap();
    assert_eq!(o["state"], "print_preparation");
    let e = team
        .technician
        .action(&order_id, "start_printing", &json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert!(e.to_string().contains("print_plan_approved"), "{e}");
    team.engineer
        .action(&order_id, "approve_print_plan", &json!({}))
        .await
        .unwrap();
    assert_eq!(
        team.technician
            .action(&order_id, "start_printing", &json!({}))
            .await
            .unwrap()["state"],
        "printing"
    );
    team.technician
        .action(&order_id, "finish_printing", &json!({}))
        .await
        .unwrap();
    assert_eq!(
        team.technician
            .action(&order_id, "ship", &json!({}))
            .await
            .unwrap_err()
            .status(),
        Some(409)
    );
    let failed_qc = json!({"measurements": [{"feature": "pelvic width", "model_mm": 250.0, "measured_mm": 251.2}], "tolerance_mm": 0.5});
    assert_eq!(
        team.technician
            .action(&order_id, "record_qc", &failed_qc)
            .await
            .unwrap()["state"],
        "printing"
    );
    team.technician
        .action(&order_id, "finish_printing", &json!({}))
        .await
        .unwrap();
    let passed_qc = json!({"measurements": [{"feature": "pelvic width", "model_mm": 250.0, "measured_mm": 250.3}]});
    assert_eq!(
        team.technician
            .action(&order_id, "record_qc", &passed_qc)
            .await
            .unwrap()["state"],
        "quality_control"
    );
    assert_eq!(
        team.technician.action(&order_id, "ship", &json!({})).await.unwrap()["state"],
        "shipped"
    );
    assert_eq!(
        team.surgeon
            .action(&order_id, "confirm_delivery", &json!({}))
            .await
            .unwrap()["state"],
        "delivered"
    );

    // The audit trail: every step, chained; the downloaded trail verifies with the CLI.
    let audit = team
        .org_admin
        .get(&format!("/api/orders/{order_id}/audit"))
        .await
        .unwrap();
    assert_eq!(audit["intact"], true);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "order.create",
        "upload.store",
        "order.submit",
        "job.start",
        "job.finish",
        "order.annotate",
        "order.request_changes",
        "order.approve_model",
        "order.verify_segmentation",
        "order.review_complete",
        "order.sign_off",
        "order.approve_print_plan",
        "order.start_printing",
        "order.record_qc",
        "order.ship",
        "order.confirm_delivery",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let audit_file = dir.path().join("audit.json");
    std::fs::write(&audit_file, audit.to_string()).unwrap();
    let verify = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_medprint"))
            .arg("verify")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(verify(&["--audit-file", audit_file.to_str().unwrap()]).status.success());
    let tampered = audit.to_string().replacen("\"order.sign_off\"", "\"order.decline\"", 1);
    std::fs::write(&audit_file, tampered).unwrap();
    assert_eq!(
        verify(&["--audit-file", audit_file.to_str().unwrap()]).status.code(),
        Some(7)
    );

    // Status polling throughput (a figure for the issue; printed, not asserted).
    let polls = 400;
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let c = team.surgeon.clone();
        let id = order_id.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..polls / 8 {
                c.get(&format!("/api/orders/{id}")).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let rps = polls as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "FIGURES {engine:?}: upload→review {:.1} s for {} slices; status polling {rps:.0} requests/s (8 clients)",
        upload_to_review.as_secs_f64(),
        files.len()
    );

    // The whole database verifies; changing one stored byte of the trail is detected.
    drop(server);
    assert!(verify(&["--database", &db.url]).status.success());
    {
        use sqlx::{Connection, Executor};
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        conn.execute(
            format!("UPDATE audit SET details = replace(details, 'budget ok', 'budget OK') WHERE chain = '{order_id}'")
                .as_str(),
        )
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let out = verify(&["--database", &db.url, "--json"]);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&order_id));
    db.drop_now().await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn concurrent_uploads(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(engine, dir.path()).await;
    let server = Server::start(&dir.path().join("data"), &db.url, &["--workers", "0"]);
    let team = team(&server.base, "Busy Hospital").await;
    let files = abdomen_series(&dir.path().join("series"));
    let started = Instant::now();
    let mut handles = Vec::new();
    for i in 0..20 {
        let client = team.surgeon.clone();
        let series = dir.path().join("series");
        handles.push(tokio::spawn(async move {
            let order = client.create_order(&prescription(), &key()).await.unwrap();
            let id = order["id"].as_str().unwrap().to_string();
            let summary = client.upload_dir(&id, &series, 1 + i % 3, |_, _| {}).await.unwrap();
            (id, summary)
        }));
    }
    let mut orders = Vec::new();
    for h in handles {
        let (id, summary) = h.await.unwrap();
        assert_eq!(summary.sent, files.len(), "{summary:?}");
        assert!(summary.rejected.is_empty());
        orders.push(id);
    }
    eprintln!(
        "FIGURES {engine:?}: 20 concurrent uploads of {} files each in {:.1} s",
        files.len(),
        started.elapsed().as_secs_f64()
    );
    for id in &orders {
        let f = team.surgeon.get(&format!("/api/orders/{id}/files")).await.unwrap();
        assert_eq!(
            f.as_array().unwrap().iter().filter(|f| f["state"] == "stored").count(),
            files.len()
        );
        // Sending the same series again sends nothing.
        let again = team
            .surgeon
            .upload_dir(id, &dir.path().join("series"), 4, |_, _| {})
            .await
            .unwrap();
        assert_eq!((again.sent, again.held), (0, files.len()));
    }
    let audit = team
        .org_admin
        .get(&format!("/api/orders/{}/audit", orders[0]))
        .await
        .unwrap();
    assert_eq!(audit["intact"], true);
    drop(server);
    db.drop_now().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_flow_on_real_ct_sqlite() {
    full_flow(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_flow_on_real_ct_postgres() {
    full_flow(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_uploads_sqlite() {
    concurrent_uploads(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_uploads_postgres() {
    concurrent_uploads(Engine::Postgres).await;
}

/// `medprint serve --demo` leaves a user able to try everything: users of every role and a
/// processed demo order whose identity was stripped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_server_is_ready_to_try() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = format!("sqlite://{}", data.join("medprint.db").display());
    std::fs::create_dir_all(&data).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_medprint"))
        .args([
            "serve",
            "--demo",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--database",
            &db,
            "--data-dir",
        ])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let surgeon = loop {
        match medprint_server::client::Client::login(
            &base,
            "surgeon@demo.hospital",
            medprint_server::demo::DEMO_PASSWORD,
        )
        .await
        {
            Ok(c) => break c,
            Err(e) => {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "demo users not created: {e}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let order_id = loop {
        let orders = surgeon.get("/api/orders").await.unwrap();
        if let Some(id) = orders[0]["id"].as_str() {
            break id.to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no demo order");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let d = wait_until(
        &surgeon,
        &order_id,
        Duration::from_secs(300),
        "demo order in review",
        |d| d["order"]["state"] == "review",
    )
    .await;
    assert_eq!(d["versions"].as_array().unwrap().len(), 1);
    for role in medprint_server::demo::DEMO_ROLES {
        medprint_server::client::Client::login(
            &base,
            &format!("{role}@demo.hospital"),
            medprint_server::demo::DEMO_PASSWORD,
        )
        .await
        .unwrap_or_else(|e| panic!("{role}: {e}"));
    }
    let files = surgeon.get(&format!("/api/orders/{order_id}/files")).await.unwrap();
    assert!(files
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["state"] == "stored" && f["deid_report"].as_str().unwrap().contains("PatientName")));
    let _ = child.kill();
    let _ = child.wait();
}
