//! Job workers: claim a job, fetch the order's de-identified scan, run the pipeline with live
//! progress and an estimated time to completion, store the outputs under the attempt's own
//! prefix and record the version, all-or-nothing.
//!
//! Crash safety: the lease is renewed every third of its length (at most every 0.5 s); a worker killed mid-job
//! stops renewing, the lease expires and another worker (or the restarted one) claims the job
//! again. Outputs of the dead attempt sit under `attempt-<n>/` and are never referenced, so
//! there are no duplicated or half-written versions.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use medprint_pipeline::{convert_path, PipelineError, Progress, RunParams, Stage};
use medprint_store::{ClaimedJob, JobUpdate, LeaseStatus, Store};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::storage::Storage;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Worker id (appears in leases and the audit trail).
    pub id: String,
    /// Lease length, ms.
    pub lease_ms: i64,
    /// Pause between polls of an empty queue, ms.
    pub poll_ms: u64,
    /// First retry delay, ms (doubles each attempt).
    pub retry_backoff_ms: i64,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: format!("{}-{}", hostname(), std::process::id()),
            lease_ms: 30_000,
            poll_ms: 500,
            retry_backoff_ms: 5_000,
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker".into())
}

/// Progress of a running pipeline, shared with the heartbeat.
#[derive(Debug)]
struct SharedProgress {
    planned: Vec<Stage>,
    state: Mutex<(usize, f32, String)>,
    started: Instant,
}

impl SharedProgress {
    fn snapshot(&self) -> JobUpdate {
        let (index, fraction, label) = self.state.lock().map(|s| s.clone()).unwrap_or_default();
        let n = self.planned.len().max(1) as f64;
        let overall = ((index as f64 + fraction as f64) / n).clamp(0.0, 1.0);
        let elapsed = self.started.elapsed().as_millis() as f64;
        let eta_ms = if overall > 0.02 {
            (elapsed * (1.0 - overall) / overall) as i64
        } else {
            -1
        };
        JobUpdate {
            progress_permille: (overall * 1000.0) as i64,
            stage: label,
            eta_ms,
        }
    }
}

impl Progress for SharedProgress {
    fn start(&self, stage: Stage) {
        let index = self.planned.iter().position(|s| *s == stage).unwrap_or(0);
        if let Ok(mut s) = self.state.lock() {
            *s = (index, 0.0, stage.label().to_string());
        }
    }
    fn advance(&self, stage: Stage, fraction: f32, step: &str) {
        let index = self.planned.iter().position(|s| *s == stage).unwrap_or(0);
        if let Ok(mut s) = self.state.lock() {
            *s = (index, fraction.clamp(0.0, 1.0), format!("{}: {step}", stage.label()));
        }
    }
    fn finish(&self, stage: Stage, _millis: f64) {
        let index = self.planned.iter().position(|s| *s == stage).unwrap_or(0);
        if let Ok(mut s) = self.state.lock() {
            *s = (index + 1, 0.0, stage.label().to_string());
        }
    }
}

/// Works the queue until `stop` turns true.
pub async fn run_worker(
    store: Store,
    storage: Storage,
    data_dir: PathBuf,
    config: WorkerConfig,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!(worker = %config.id, "worker started");
    loop {
        if *stop.borrow() {
            break;
        }
        match store.claim_job(&config.id, config.lease_ms).await {
            Ok(Some(job)) => {
                let id = job.job.id.clone();
                if let Err(e) = run_job(&store, &storage, &data_dir, &config, job).await {
                    tracing::error!(job = %id, error = %e, "job bookkeeping failed");
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(config.poll_ms)) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a job failed; retrying");
                tokio::time::sleep(Duration::from_millis(config.poll_ms.max(1000))).await;
            }
        }
    }
    tracing::info!(worker = %config.id, "worker stopped");
}

/// Why a job attempt failed. `Display` is the full text for the log (it may name server
/// paths); [`AttemptError::user_message`] is what the job records and users see.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("job parameters: {0}")]
    Params(String),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("pipeline crashed: {0}")]
    Crashed(String),
    #[error("storage: {0}")]
    Storage(String),
    #[error("database: {0}")]
    Store(#[from] medprint_store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl AttemptError {
    /// Whether another attempt may succeed (storage, database, a crash); a pipeline failure on
    /// the same scan and parameters fails the same way again, except a write error (disk full).
    fn is_transient(&self) -> bool {
        match self {
            AttemptError::Pipeline(e) => matches!(e, PipelineError::Output { .. }),
            AttemptError::Params(_) => false,
            AttemptError::Crashed(_) | AttemptError::Storage(_) | AttemptError::Store(_) | AttemptError::Io(_) => true,
        }
    }

    /// The reason in plain language, with what to do: no server path, no debug text.
    fn user_message(&self) -> String {
        match self {
            AttemptError::Pipeline(e) => e.user_message(),
            AttemptError::Params(_) => "The run's parameters could not be read. \
                Re-run the order with new parameters."
                .into(),
            AttemptError::Crashed(_) => "The processing stopped unexpectedly. \
                Re-run the order; if it fails again, ask your administrator (the details are in the server log)."
                .into(),
            AttemptError::Storage(_) | AttemptError::Store(_) | AttemptError::Io(_) => {
                "The server could not read or store the order's files. \
                 Re-run the order; if it fails again, ask your administrator (the details are in the server log)."
                    .into()
            }
        }
    }
}

/// Replaces the worker's scratch input folder in the report (input path, skipped files,
/// warnings) by `upload`, in memory and in `report.json`: users download and see the report, and
/// server paths must never reach them.
fn hide_scratch_paths(
    report: &mut medprint_pipeline::Report,
    output_dir: &Path,
    input_dir: &Path,
) -> Result<(), AttemptError> {
    let scratch = input_dir.display().to_string();
    let hide = |text: &str| text.replace(&scratch, "upload");
    report.input.path = hide(&report.input.path);
    for skipped in &mut report.input.skipped_files {
        skipped.path = hide(&skipped.path);
        skipped.problem = hide(&skipped.problem);
    }
    for warning in &mut report.warnings {
        *warning = hide(warning);
    }
    medprint_pipeline::write_report(output_dir, report).map_err(|e| AttemptError::Crashed(e.to_string()))
}

/// Runs one claimed job to its end (done, retry, failed, cancelled or lease lost).
async fn run_job(
    store: &Store,
    storage: &Storage,
    data_dir: &Path,
    config: &WorkerConfig,
    claimed: ClaimedJob,
) -> Result<(), medprint_store::StoreError> {
    let job = claimed.job;
    tracing::info!(job = %job.id, order = %job.order_id, attempt = job.attempts, "job started");
    let work_root = data_dir.join("work");
    let outcome = async {
        std::fs::create_dir_all(&work_root)?;
        let scratch = tempfile::Builder::new().prefix("job-").tempdir_in(&work_root)?;
        attempt(store, storage, config, &job, scratch.path()).await
    }
    .await;
    match outcome {
        Ok(AttemptEnd::Done) => tracing::info!(job = %job.id, "job done"),
        Ok(AttemptEnd::Cancelled) => {
            store.finish_cancel(&job.id, &config.id).await?;
            tracing::info!(job = %job.id, "job cancelled");
        }
        Ok(AttemptEnd::LeaseLost) => tracing::warn!(job = %job.id, "lease lost; outputs of this attempt discarded"),
        Err(e) => {
            // The full text (paths included) goes to the log only; the job records the plain reason.
            let retry = e.is_transient().then_some(config.retry_backoff_ms);
            let row = store.fail_job(&job.id, &config.id, &e.user_message(), retry).await;
            match row {
                Ok(r) => tracing::warn!(job = %job.id, error = %e, state = %r.state, "job attempt failed"),
                Err(medprint_store::StoreError::Conflict(_)) => {}
                Err(other) => return Err(other),
            }
        }
    }
    Ok(())
}

enum AttemptEnd {
    Done,
    Cancelled,
    LeaseLost,
}

async fn attempt(
    store: &Store,
    storage: &Storage,
    config: &WorkerConfig,
    job: &medprint_store::JobRow,
    scratch: &Path,
) -> Result<AttemptEnd, AttemptError> {
    let params: RunParams = serde_json::from_str(&job.params).map_err(|e| AttemptError::Params(e.to_string()))?;
    let mut options = params.to_options()?;
    // The review screen shows slices of the (de-identified) scan under the labels.
    options.write_scan = true;
    let input_dir = scratch.join("input");
    let output_dir = scratch.join("output");
    std::fs::create_dir_all(&input_dir)?;
    for f in store.files_of_order(&job.order_id).await? {
        if f.state == "stored" && f.kind == "dicom" {
            let bytes = storage
                .get(&f.stored_key)
                .await
                .map_err(|e| AttemptError::Storage(e.to_string()))?;
            tokio::fs::write(input_dir.join(format!("{}.dcm", f.id)), &bytes).await?;
        }
    }
    let progress = Arc::new(SharedProgress {
        planned: Stage::planned(&options),
        state: Mutex::new((0, 0.0, "starting".into())),
        started: Instant::now(),
    });
    let pipeline = {
        let progress = progress.clone();
        let (input, output) = (input_dir.clone(), output_dir.clone());
        tokio::task::spawn_blocking(move || convert_path(&input, &output, &options, progress.as_ref()))
    };
    tokio::pin!(pipeline);
    // Renew the lease at a third of its length, and report progress at least twice a second.
    let beat = Duration::from_millis((config.lease_ms / 3).clamp(50, 500) as u64);
    let report = loop {
        tokio::select! {
            result = &mut pipeline => break result.map_err(|e| AttemptError::Crashed(e.to_string()))?,
            _ = tokio::time::sleep(beat) => {
                match store.heartbeat(&job.id, &config.id, config.lease_ms, &progress.snapshot()).await? {
                    LeaseStatus::Held => {}
                    // The pipeline cannot be interrupted mid-stage; its results are dropped.
                    LeaseStatus::CancelRequested => return Ok(AttemptEnd::Cancelled),
                    LeaseStatus::Lost => return Ok(AttemptEnd::LeaseLost),
                }
            }
        }
    };
    let mut report = report?;
    hide_scratch_paths(&mut report, &output_dir, &input_dir)?;
    match store
        .heartbeat(
            &job.id,
            &config.id,
            config.lease_ms,
            &JobUpdate {
                progress_permille: 990,
                stage: "storing outputs".into(),
                eta_ms: 1_000,
            },
        )
        .await?
    {
        LeaseStatus::Held => {}
        LeaseStatus::CancelRequested => return Ok(AttemptEnd::Cancelled),
        LeaseStatus::Lost => return Ok(AttemptEnd::LeaseLost),
    }
    let prefix = format!("orders/{}/jobs/{}/attempt-{}", job.order_id, job.id, job.attempts);
    let mut manifest = serde_json::Map::new();
    // Hidden files are the partial files of atomic writes: never outputs.
    for path in crate::client::list_files(&output_dir)? {
        let relative = path
            .strip_prefix(&output_dir)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let key = format!("{prefix}/{relative}");
        let bytes = tokio::fs::read(&path).await?;
        let sha = medprint_audit::sha256_hex(&bytes);
        let size = bytes.len();
        drop(bytes);
        storage
            .put_file(&key, &path)
            .await
            .map_err(|e| AttemptError::Storage(e.to_string()))?;
        manifest.insert(relative, json!({"key": key, "sha256": sha, "size": size}));
    }
    let manifest = Value::Object(manifest).to_string();
    let report_value = serde_json::to_value(&report).unwrap_or(Value::Null);
    let summary = json!({
        "warnings": report_value["warnings"],
        "segmentation": report_value["segmentation"],
        "total_ms": report_value["total_ms"],
    })
    .to_string();
    let manifest_sha = medprint_audit::sha256_hex(manifest.as_bytes());
    if store
        .complete_job(&job.id, &config.id, &manifest, &summary, &manifest_sha)
        .await?
    {
        Ok(AttemptEnd::Done)
    } else {
        let j = store.job(&job.id).await?;
        Ok(if j.cancel_requested {
            AttemptEnd::Cancelled
        } else {
            AttemptEnd::LeaseLost
        })
    }
}
