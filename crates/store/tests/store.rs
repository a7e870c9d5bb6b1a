//! The store on both engines: queue leases, retries, cancellation, versions, uploads and the
//! audit chain (including tampering with stored bytes).

use medprint_audit::AuditRecord;
use medprint_store::scratch::ScratchDatabase;
use medprint_store::{now_ms, Engine, JobUpdate, LeaseStatus, NewFile, NewJob, Store, Transition};
use sqlx::{Connection, Executor};

fn record(actor: &str, org: &str, action: &str) -> AuditRecord {
    AuditRecord {
        at_ms: now_ms(),
        actor: actor.into(),
        org_id: org.into(),
        action: action.into(),
        order_id: String::new(),
        input_hash: String::new(),
        output_hash: String::new(),
        details: "{}".into(),
    }
}

async fn scratch(engine: Engine, dir: &tempfile::TempDir) -> (ScratchDatabase, Store) {
    let db = ScratchDatabase::new(engine, dir.path())
        .await
        .expect("scratch database");
    let store = Store::connect(&db.url).await.expect("connect and migrate");
    (db, store)
}

/// An organisation, a user and an order in state `uploaded` with one job queued.
async fn order_with_job(store: &Store, max_attempts: i64) -> (String, String, String) {
    let org = store
        .create_org(&format!("Hospital {}", medprint_store::new_id()))
        .await
        .unwrap();
    let user = store
        .create_user(
            &org.id,
            &format!("{}@h.org", medprint_store::new_id()),
            "S",
            "surgeon",
            "x",
        )
        .await
        .unwrap();
    let order = store
        .create_order(
            &org.id,
            &user.id,
            "draft",
            "{}",
            "k",
            record(&user.id, &org.id, "order.create"),
        )
        .await
        .unwrap();
    let job_id = medprint_store::new_id();
    let mut audit = record(&user.id, &org.id, "order.submit");
    audit.order_id = order.id.clone();
    store
        .apply_transition(Transition {
            order_id: order.id.clone(),
            from: "draft".into(),
            to: "uploaded".into(),
            gate: None,
            enqueue: Some(NewJob {
                id: job_id.clone(),
                order_id: order.id.clone(),
                version: 1,
                params: "{}".into(),
                max_attempts,
            }),
            audit,
        })
        .await
        .unwrap();
    (org.id, order.id, job_id)
}

async fn queue_lifecycle(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = scratch(engine, &dir).await;
    let (_org, order, job) = order_with_job(&store, 3).await;

    let claimed = store.claim_job("w1", 60_000).await.unwrap().expect("a job to claim");
    assert_eq!(claimed.job.id, job);
    assert_eq!(claimed.job.attempts, 1);
    assert_eq!(store.order(&order).await.unwrap().state, "processing");
    assert!(
        store.claim_job("w2", 60_000).await.unwrap().is_none(),
        "a leased job is not claimed twice"
    );

    let update = JobUpdate {
        progress_permille: 400,
        stage: "segment".into(),
        eta_ms: 1234,
    };
    assert_eq!(
        store.heartbeat(&job, "w1", 60_000, &update).await.unwrap(),
        LeaseStatus::Held
    );
    assert_eq!(
        store.heartbeat(&job, "w2", 60_000, &update).await.unwrap(),
        LeaseStatus::Lost
    );
    let row = store.job(&job).await.unwrap();
    assert_eq!(
        (row.progress_permille, row.stage.as_str(), row.eta_ms),
        (400, "segment", 1234)
    );

    // A failure queues it again with backoff; it is not claimable until the backoff passed.
    let failed = store.fail_job(&job, "w1", "decoder crashed", Some(200)).await.unwrap();
    assert_eq!(failed.state, "queued");
    assert!(failed.run_after_ms >= now_ms() + 100);
    assert!(store.claim_job("w2", 60_000).await.unwrap().is_none());
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let second = store
        .claim_job("w2", 60_000)
        .await
        .unwrap()
        .expect("claimable after backoff");
    assert_eq!(second.job.attempts, 2);

    // w2 dies (lease of 1 ms); w3 takes over; w2's late completion is refused.
    assert_eq!(
        store.heartbeat(&job, "w2", 1, &update).await.unwrap(),
        LeaseStatus::Held
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let third = store
        .claim_job("w3", 60_000)
        .await
        .unwrap()
        .expect("expired lease is reclaimed");
    assert_eq!(third.job.attempts, 3);
    assert!(!store.complete_job(&job, "w2", "{}", "{}", "h").await.unwrap());
    assert!(store.versions(&order).await.unwrap().is_empty());
    assert!(store
        .complete_job(&job, "w3", "{\"model.stl\":{}}", "{}", "h")
        .await
        .unwrap());
    let versions = store.versions(&order).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].job_id, job);
    assert_eq!(store.order(&order).await.unwrap().state, "review");
    assert_eq!(store.job(&job).await.unwrap().state, "done");
    let actions: Vec<String> = store
        .audit_chain(&order)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.record.action)
        .collect();
    assert_eq!(
        actions,
        [
            "order.create",
            "order.submit",
            "job.start",
            "job.retry",
            "job.start",
            "job.start",
            "job.finish"
        ]
    );
    assert!(store.verify_audit().await.unwrap().is_intact());
    store.close().await;
    db.drop_now().await.unwrap();
}

async fn attempts_run_out_and_cancel(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = scratch(engine, &dir).await;
    let (org, order, job) = order_with_job(&store, 1).await;
    store.claim_job("w1", 1).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    // The only attempt was lost: the next claim fails the job instead of running it again.
    assert!(store.claim_job("w2", 60_000).await.unwrap().is_none());
    let row = store.job(&job).await.unwrap();
    assert_eq!(row.state, "failed");
    assert!(row.error.contains("did not finish"), "{}", row.error);
    assert_eq!(store.order(&order).await.unwrap().state, "uploaded");

    // Cancelling: queued → cancelled at once; running → requested, seen at the heartbeat.
    let queued = medprint_store::new_id();
    store
        .enqueue(&NewJob {
            id: queued.clone(),
            order_id: order.clone(),
            version: 2,
            params: "{}".into(),
            max_attempts: 2,
        })
        .await
        .unwrap();
    let mut audit = record("u", &org, "job.cancel");
    audit.order_id = order.clone();
    assert_eq!(
        store.cancel_job(&queued, audit.clone()).await.unwrap().state,
        "cancelled"
    );
    assert!(
        store.cancel_job(&queued, audit.clone()).await.is_err(),
        "cancelling twice is refused"
    );
    let running = medprint_store::new_id();
    store
        .enqueue(&NewJob {
            id: running.clone(),
            order_id: order.clone(),
            version: 3,
            params: "{}".into(),
            max_attempts: 2,
        })
        .await
        .unwrap();
    store.claim_job("w1", 60_000).await.unwrap().unwrap();
    store.cancel_job(&running, audit).await.unwrap();
    let status = store
        .heartbeat(&running, "w1", 60_000, &JobUpdate::default())
        .await
        .unwrap();
    assert_eq!(status, LeaseStatus::CancelRequested);
    assert!(
        !store.complete_job(&running, "w1", "{}", "{}", "h").await.unwrap(),
        "a cancelled job stores no version"
    );
    store.finish_cancel(&running, "w1").await.unwrap();
    assert_eq!(store.job(&running).await.unwrap().state, "cancelled");
    store.close().await;
    db.drop_now().await.unwrap();
}

async fn permanent_failure_is_not_retried(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = scratch(engine, &dir).await;
    let (_org, order, job) = order_with_job(&store, 3).await;
    store.claim_job("w1", 60_000).await.unwrap().unwrap();
    let failed = store.fail_job(&job, "w1", "No bone was found.", None).await.unwrap();
    assert_eq!((failed.state.as_str(), failed.attempts), ("failed", 1));
    assert_eq!(failed.error, "No bone was found.");
    assert!(store.claim_job("w2", 60_000).await.unwrap().is_none());
    assert_eq!(store.order(&order).await.unwrap().state, "uploaded");
    store.close().await;
    db.drop_now().await.unwrap();
}

async fn uploads_and_dedup(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = scratch(engine, &dir).await;
    let (org, order, _job) = order_with_job(&store, 1).await;
    let f = NewFile {
        order_id: order.clone(),
        kind: "dicom".into(),
        name: "1.dcm".into(),
        sop_uid: "1.2.3".into(),
        original_sha256: "ab".repeat(32),
        size: 100,
    };
    let (row, held) = store.announce_file(&f).await.unwrap();
    assert!(!held);
    let (again, held) = store.announce_file(&f).await.unwrap();
    assert!(held);
    assert_eq!(again.id, row.id);
    // Only the content identifies a file: the same name and SOP Instance UID with other bytes,
    // and files without any UID, are all new files.
    let mut ids = vec![row.id.clone()];
    for (sop, hash) in [("1.2.3", "cd"), ("", "ef"), ("", "01")] {
        let other = NewFile {
            sop_uid: sop.into(),
            original_sha256: hash.repeat(32),
            ..f.clone()
        };
        let (r, held) = store.announce_file(&other).await.unwrap();
        assert!(!held, "{sop:?} {hash}");
        ids.push(r.id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert_eq!(store.files_of_order(&order).await.unwrap().len(), 4);
    store.advance_file(&row.id, 0, 60).await.unwrap();
    assert!(
        store.advance_file(&row.id, 0, 60).await.is_err(),
        "a stale offset is refused"
    );
    store.advance_file(&row.id, 60, 100).await.unwrap();
    let mut audit = record("u", &org, "upload.store");
    audit.order_id = order.clone();
    let settled = store
        .settle_file(&row.id, "stored", "k", "cd", "{}", "", audit.clone())
        .await
        .unwrap();
    assert_eq!((settled.state.as_str(), settled.received), ("stored", 100));
    assert!(store
        .settle_file(&row.id, "stored", "k", "cd", "{}", "", audit)
        .await
        .is_err());
    store.close().await;
    db.drop_now().await.unwrap();
}

async fn tampering_is_detected(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = scratch(engine, &dir).await;
    let (_org, order, _job) = order_with_job(&store, 1).await;
    assert!(store.verify_audit().await.unwrap().is_intact());
    store.close().await;
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    conn.execute(format!("UPDATE audit SET actor = 'mallory' WHERE chain = '{order}' AND seq = 2").as_str())
        .await
        .unwrap();
    conn.close().await.unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!(report.broken.len(), 1, "{:?}", report.broken);
    assert_eq!(report.broken[0].0, order);
    assert!(report.broken[0].1.contains("entry 2"), "{}", report.broken[0].1);

    // Removing the last entry of a chain is caught by its head.
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    conn.execute(
        "DELETE FROM audit WHERE chain = 'global' AND seq = (SELECT MAX(seq) FROM audit WHERE chain = 'global')",
    )
    .await
    .unwrap();
    conn.close().await.unwrap();
    let report = store.verify_audit().await.unwrap();
    assert!(report.broken.iter().any(|(c, _)| c == "global"), "{:?}", report.broken);
    store.close().await;
    db.drop_now().await.unwrap();
}

async fn concurrent_claims_take_each_job_once(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let (db, store) = scratch(engine, &dir).await;
    let mut jobs = Vec::new();
    for _ in 0..6 {
        jobs.push(order_with_job(&store, 2).await.2);
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(c) = store.claim_job(&format!("w{w}"), 60_000).await.unwrap() {
                got.push(c.job.id);
            }
            got
        }));
    }
    let mut claimed = Vec::new();
    for h in handles {
        claimed.extend(h.await.unwrap());
    }
    claimed.sort();
    jobs.sort();
    assert_eq!(claimed, jobs, "every job claimed exactly once");
    store.close().await;
    db.drop_now().await.unwrap();
}

macro_rules! on_both_engines {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(medprint_store::Engine::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(medprint_store::Engine::Postgres).await })*
        }
    };
}

on_both_engines!(
    queue_lifecycle,
    attempts_run_out_and_cancel,
    permanent_failure_is_not_retried,
    uploads_and_dedup,
    tampering_is_detected,
    concurrent_claims_take_each_job_once
);
