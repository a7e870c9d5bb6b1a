//! The durable job queue: lease-based claiming, heartbeats with progress, retries with
//! exponential backoff, cancellation, and completion that stores the version atomically.
//!
//! Invariants: a job is `queued`, `running`, `done`, `failed` or `cancelled`; only the worker
//! named in `lease_owner` may change a running job, and only while its lease has not been
//! taken over; a version row exists only for a `done` job, written in the same transaction.

use medprint_audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::audit::append;
use crate::db::{new_id, now_ms, Store, StoreError};

/// State of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for a worker (possibly until `run_after_ms`).
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished; its version is stored.
    Done,
    /// Failed on every attempt.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl JobState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Id (make it with [`crate::new_id`]).
    pub id: String,
    /// The order.
    pub order_id: String,
    /// The version the job will produce.
    pub version: i64,
    /// Pipeline parameters, JSON text.
    pub params: String,
    /// Attempts before the job fails for good.
    pub max_attempts: i64,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobRow {
    /// Id.
    pub id: String,
    /// Order.
    pub order_id: String,
    /// Version it produces.
    pub version: i64,
    /// Parameters, JSON text.
    pub params: String,
    /// State name.
    pub state: String,
    /// Attempts started.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Not claimed before this time (backoff).
    pub run_after_ms: i64,
    /// Worker holding the lease.
    pub lease_owner: String,
    /// Lease end.
    pub lease_until_ms: i64,
    /// A user asked to cancel it.
    pub cancel_requested: bool,
    /// Progress of the running attempt, 0..=1000.
    pub progress_permille: i64,
    /// Stage now running.
    pub stage: String,
    /// Estimated milliseconds to completion (−1: unknown).
    pub eta_ms: i64,
    /// Last error.
    pub error: String,
    /// Creation time.
    pub created_ms: i64,
    /// Start of the current or last attempt.
    pub started_ms: i64,
    /// End time.
    pub finished_ms: i64,
}

/// A job claimed by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job as claimed.
    pub job: JobRow,
    /// The order's organisation (for audit records).
    pub org_id: String,
}

/// Progress reported with a heartbeat.
#[derive(Debug, Clone, Default)]
pub struct JobUpdate {
    /// 0..=1000.
    pub progress_permille: i64,
    /// Stage label.
    pub stage: String,
    /// Estimated ms to completion (−1 unknown).
    pub eta_ms: i64,
}

const JOB_COLUMNS: &str = "id, order_id, version, params, state, attempts, max_attempts, run_after_ms, lease_owner, \
     lease_until_ms, cancel_requested, progress_permille, stage, eta_ms, error, created_ms, started_ms, finished_ms";

fn job_from_row(r: &AnyRow) -> Result<JobRow, sqlx::Error> {
    Ok(JobRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        version: r.try_get("version")?,
        params: r.try_get("params")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        run_after_ms: r.try_get("run_after_ms")?,
        lease_owner: r.try_get("lease_owner")?,
        lease_until_ms: r.try_get("lease_until_ms")?,
        cancel_requested: r.try_get::<i64, _>("cancel_requested")? != 0,
        progress_permille: r.try_get("progress_permille")?,
        stage: r.try_get("stage")?,
        eta_ms: r.try_get("eta_ms")?,
        error: r.try_get("error")?,
        created_ms: r.try_get("created_ms")?,
        started_ms: r.try_get("started_ms")?,
        finished_ms: r.try_get("finished_ms")?,
    })
}

pub(crate) async fn insert_job(conn: &mut AnyConnection, job: &NewJob) -> Result<(), StoreError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, order_id, version, params, state, attempts, max_attempts, run_after_ms, created_ms) \
         VALUES ($1, $2, $3, $4, 'queued', 0, $5, $6, $6)",
    )
    .bind(&job.id)
    .bind(&job.order_id)
    .bind(job.version)
    .bind(&job.params)
    .bind(job.max_attempts)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves an order that is `processing` to `to` (other states are left alone) and returns its
/// organisation.
async fn leave_processing(conn: &mut AnyConnection, order_id: &str, to: &str, now: i64) -> Result<String, StoreError> {
    Ok(sqlx::query(
        "UPDATE orders SET state = CASE WHEN state = 'processing' THEN $1 ELSE state END, updated_ms = $2 \
         WHERE id = $3 RETURNING org_id",
    )
    .bind(to)
    .bind(now)
    .bind(order_id)
    .fetch_one(&mut *conn)
    .await?
    .try_get("org_id")?)
}

fn worker_audit(worker: &str, org_id: &str, order_id: &str, action: &str, details: String) -> AuditRecord {
    AuditRecord {
        at_ms: now_ms(),
        actor: format!("worker:{worker}"),
        org_id: org_id.to_string(),
        action: action.to_string(),
        order_id: order_id.to_string(),
        input_hash: String::new(),
        output_hash: String::new(),
        details,
    }
}

/// Why a worker may no longer touch a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseStatus {
    /// The lease is held and renewed.
    Held,
    /// The lease is held but a user asked to cancel.
    CancelRequested,
    /// Another worker took the job over (our lease expired) or it was cancelled.
    Lost,
}

impl Store {
    /// The job `id`.
    pub async fn job(&self, id: &str) -> Result<JobRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "job",
                id: id.to_string(),
            })?;
        Ok(job_from_row(&row)?)
    }

    /// Jobs of an order, oldest first.
    pub async fn jobs_of_order(&self, order_id: &str) -> Result<Vec<JobRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE order_id = $1 ORDER BY created_ms, id"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(job_from_row).collect::<Result<_, _>>()?)
    }

    /// Claims the oldest runnable job for `worker` with a lease of `lease_ms`: a queued job
    /// whose backoff has passed, or a running job whose lease expired (its worker died). A job
    /// that has used all its attempts is failed instead. The order moves to `processing`.
    pub async fn claim_job(&self, worker: &str, lease_ms: i64) -> Result<Option<ClaimedJob>, StoreError> {
        loop {
            let now = now_ms();
            let mut tx = self.pool.begin().await?;
            let claimed = sqlx::query(&format!(
                "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until_ms = $2, attempts = attempts + 1, \
                 started_ms = $3, progress_permille = 0, stage = '', eta_ms = -1 \
                 WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_after_ms <= $3) \
                             OR (state = 'running' AND lease_until_ms < $3) ORDER BY created_ms, id LIMIT 1) \
                 AND ((state = 'queued' AND run_after_ms <= $3) OR (state = 'running' AND lease_until_ms < $3)) \
                 RETURNING {JOB_COLUMNS}"
            ))
            .bind(worker)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = claimed else {
                tx.commit().await?;
                // Either nothing is runnable or another worker won the race: look once more
                // only if something runnable is left.
                let left = sqlx::query(
                    "SELECT COUNT(*) AS n FROM jobs WHERE (state = 'queued' AND run_after_ms <= $1) \
                     OR (state = 'running' AND lease_until_ms < $1)",
                )
                .bind(now_ms())
                .fetch_one(&self.pool)
                .await?
                .try_get::<i64, _>("n")?;
                if left == 0 {
                    return Ok(None);
                }
                continue;
            };
            let job = job_from_row(&row)?;
            let org_id: String = sqlx::query("SELECT org_id FROM orders WHERE id = $1")
                .bind(&job.order_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get("org_id")?;
            if job.attempts > job.max_attempts {
                // Shown to users: plain words (the previous error is already plain).
                let error = format!(
                    "Processing did not finish in {} attempts (the server restarted or a worker was lost). \
                     Re-run the order; if it fails again, ask your administrator.{}",
                    job.max_attempts,
                    if job.error.is_empty() {
                        String::new()
                    } else {
                        format!(" Last problem: {}", job.error)
                    }
                );
                sqlx::query(
                    "UPDATE jobs SET state = 'failed', lease_owner = '', error = $1, finished_ms = $2 WHERE id = $3",
                )
                .bind(&error)
                .bind(now)
                .bind(&job.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE orders SET state = 'uploaded', updated_ms = $1 WHERE id = $2 AND state = 'processing'",
                )
                .bind(now)
                .bind(&job.order_id)
                .execute(&mut *tx)
                .await?;
                let details = serde_json::json!({"job": job.id, "error": error}).to_string();
                append(
                    &mut tx,
                    &job.order_id,
                    worker_audit(worker, &org_id, &job.order_id, "job.fail", details),
                )
                .await?;
                tx.commit().await?;
                continue;
            }
            sqlx::query("UPDATE orders SET state = 'processing', updated_ms = $1 WHERE id = $2 AND state = 'uploaded'")
                .bind(now)
                .bind(&job.order_id)
                .execute(&mut *tx)
                .await?;
            let details =
                serde_json::json!({"job": job.id, "attempt": job.attempts, "version": job.version}).to_string();
            append(
                &mut tx,
                &job.order_id,
                worker_audit(worker, &org_id, &job.order_id, "job.start", details),
            )
            .await?;
            tx.commit().await?;
            return Ok(Some(ClaimedJob { job, org_id }));
        }
    }

    /// Renews the lease and records progress; tells whether the worker may go on.
    pub async fn heartbeat(
        &self,
        job_id: &str,
        worker: &str,
        lease_ms: i64,
        update: &JobUpdate,
    ) -> Result<LeaseStatus, StoreError> {
        let row = sqlx::query(
            "UPDATE jobs SET lease_until_ms = $1, progress_permille = $2, stage = $3, eta_ms = $4 \
             WHERE id = $5 AND lease_owner = $6 AND state = 'running' RETURNING cancel_requested",
        )
        .bind(now_ms() + lease_ms)
        .bind(update.progress_permille.clamp(0, 1000))
        .bind(&update.stage)
        .bind(update.eta_ms)
        .bind(job_id)
        .bind(worker)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => LeaseStatus::Lost,
            Some(r) if r.try_get::<i64, _>("cancel_requested")? != 0 => LeaseStatus::CancelRequested,
            Some(_) => LeaseStatus::Held,
        })
    }

    /// Marks a job done, stores its version and moves the order to `review`, all at once.
    /// Returns `false` (and changes nothing) when the worker lost its lease: another worker's
    /// attempt owns the job, and this attempt's outputs must be discarded.
    #[allow(clippy::too_many_arguments)]
    pub async fn complete_job(
        &self,
        job_id: &str,
        worker: &str,
        manifest: &str,
        summary: &str,
        manifest_sha256: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE jobs SET state = 'done', progress_permille = 1000, eta_ms = 0, finished_ms = $1, error = '' \
             WHERE id = $2 AND lease_owner = $3 AND state = 'running' AND cancel_requested = 0 RETURNING {JOB_COLUMNS}"
        ))
        .bind(now)
        .bind(job_id)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return Ok(false);
        };
        let job = job_from_row(&row)?;
        sqlx::query(
            "INSERT INTO versions (order_id, version, job_id, params, manifest, summary, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&job.order_id)
        .bind(job.version)
        .bind(&job.id)
        .bind(&job.params)
        .bind(manifest)
        .bind(summary)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let org_id = leave_processing(&mut tx, &job.order_id, "review", now).await?;
        let mut audit = worker_audit(
            worker,
            &org_id,
            &job.order_id,
            "job.finish",
            serde_json::json!({"job": job.id, "version": job.version, "attempt": job.attempts}).to_string(),
        );
        audit.input_hash = medprint_audit::sha256_hex(job.params.as_bytes());
        audit.output_hash = manifest_sha256.to_string();
        append(&mut tx, &job.order_id, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records a failed attempt. With `retry_backoff_ms` (a transient failure: storage, a lost
    /// connection) the job is queued again after `backoff × 2^(attempts−1)` ms while attempts
    /// are left; without it (the same input would fail the same way) or when none are left it
    /// fails for good and the order goes back to `uploaded`, where it can be re-run.
    /// `error` is shown to users: plain language, no server paths.
    pub async fn fail_job(
        &self,
        job_id: &str,
        worker: &str,
        error: &str,
        retry_backoff_ms: Option<i64>,
    ) -> Result<JobRow, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND lease_owner = $2 AND state = 'running'"
        ))
        .bind(job_id)
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("job {job_id} is no longer leased by {worker}")))?;
        let job = job_from_row(&row)?;
        let retry = retry_backoff_ms.is_some() && job.attempts < job.max_attempts;
        let delay = retry_backoff_ms
            .unwrap_or(0)
            .saturating_mul(1 << (job.attempts - 1).clamp(0, 16));
        sqlx::query(
            "UPDATE jobs SET state = $1, lease_owner = '', error = $2, run_after_ms = $3, finished_ms = $4 WHERE id = $5",
        )
        .bind(if retry { "queued" } else { "failed" })
        .bind(error)
        .bind(now + delay)
        .bind(if retry { 0 } else { now })
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        let org_id = leave_processing(&mut tx, &job.order_id, "uploaded", now).await?;
        let details = serde_json::json!({"job": job.id, "attempt": job.attempts, "retry": retry, "retry_in_ms": delay, "error": error}).to_string();
        append(
            &mut tx,
            &job.order_id,
            worker_audit(
                worker,
                &org_id,
                &job.order_id,
                if retry { "job.retry" } else { "job.fail" },
                details,
            ),
        )
        .await?;
        tx.commit().await?;
        self.job(job_id).await
    }

    /// Cancels a job: a queued job at once, a running one when its worker next reports (the
    /// worker then calls [`Store::finish_cancel`]). The order goes back to `uploaded`.
    pub async fn cancel_job(&self, job_id: &str, audit: AuditRecord) -> Result<JobRow, StoreError> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE jobs SET cancel_requested = 1, \
             state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
             finished_ms = CASE WHEN state = 'queued' THEN $1 ELSE finished_ms END \
             WHERE id = $2 AND state IN ('queued', 'running') RETURNING {JOB_COLUMNS}"
        ))
        .bind(now)
        .bind(job_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("job {job_id} is not queued or running")))?;
        let job = job_from_row(&row)?;
        sqlx::query(
            "UPDATE orders SET state = 'uploaded', updated_ms = $1 WHERE id = $2 AND state IN ('processing', 'uploaded')",
        )
        .bind(now)
        .bind(&job.order_id)
        .execute(&mut *tx)
        .await?;
        append(&mut tx, &job.order_id, audit).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// The worker stops a job whose cancellation was requested.
    pub async fn finish_cancel(&self, job_id: &str, worker: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE jobs SET state = 'cancelled', lease_owner = '', finished_ms = $1 \
             WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(now_ms())
        .bind(job_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Enqueues a job on its own (tests, maintenance); orders normally enqueue through
    /// [`Store::apply_transition`].
    pub async fn enqueue(&self, job: &NewJob) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_job(&mut conn, job).await
    }

    /// A fresh job id.
    pub fn new_job_id() -> String {
        new_id()
    }
}
