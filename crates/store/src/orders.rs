//! Orders, their state transitions, quality gates, versions and annotations.

use medprint_audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::{append, GLOBAL_CHAIN};
use crate::db::{new_id, now_ms, Store, StoreError};
use crate::jobs::{insert_job, NewJob};

/// An order. `prescription` is JSON text; `patient_key` is the ordering organisation's keyed
/// hash of the patient identity (the identity itself never reaches the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    /// Id.
    pub id: String,
    /// Ordering organisation.
    pub org_id: String,
    /// Ordering user.
    pub created_by: String,
    /// Workflow state name.
    pub state: String,
    /// Prescription, JSON text.
    pub prescription: String,
    /// Keyed hash of the patient identity (hex).
    pub patient_key: String,
    /// Latest model version (0: none yet).
    pub current_version: i64,
    /// Creation time.
    pub created_ms: i64,
    /// Last change.
    pub updated_ms: i64,
}

/// A quality gate passed (or declined) on one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateRow {
    /// Order.
    pub order_id: String,
    /// Model version the gate applies to.
    pub version: i64,
    /// Gate name.
    pub gate: String,
    /// Who passed it.
    pub user_id: String,
    /// Their role at the time.
    pub role: String,
    /// Their comment.
    pub comment: String,
    /// Structured data (QC measurements…), JSON text.
    pub data: String,
    /// When.
    pub at_ms: i64,
}

/// One model version made by a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionRow {
    /// Order.
    pub order_id: String,
    /// Version number, from 1.
    pub version: i64,
    /// The job that made it.
    pub job_id: String,
    /// Parameters it was made with, JSON text.
    pub params: String,
    /// Output files `{name: {key, sha256, size}}`, JSON text.
    pub manifest: String,
    /// Summary of the run report, JSON text.
    pub summary: String,
    /// When.
    pub created_ms: i64,
}

/// A reviewer's note on a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnnotationRow {
    /// Id.
    pub id: String,
    /// Order.
    pub order_id: String,
    /// Version annotated.
    pub version: i64,
    /// Author.
    pub user_id: String,
    /// Text.
    pub text: String,
    /// Where (JSON: a point in patient mm, a slice…).
    pub position: String,
    /// When.
    pub created_ms: i64,
}

/// A change of an order's state, applied atomically with its gate, job and audit entry.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The order.
    pub order_id: String,
    /// The state the order must be in (else [`StoreError::Conflict`]).
    pub from: String,
    /// The state it moves to (may equal `from` for actions that only record a gate).
    pub to: String,
    /// A gate to record (replaces an earlier decision on the same gate and version).
    pub gate: Option<GateRow>,
    /// A job to enqueue; the order's `current_version` becomes the job's version.
    pub enqueue: Option<NewJob>,
    /// The audit record of the action.
    pub audit: AuditRecord,
}

const ORDER_COLUMNS: &str =
    "id, org_id, created_by, state, prescription, patient_key, current_version, created_ms, updated_ms";

fn order_from_row(r: &AnyRow) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        created_by: r.try_get("created_by")?,
        state: r.try_get("state")?,
        prescription: r.try_get("prescription")?,
        patient_key: r.try_get("patient_key")?,
        current_version: r.try_get("current_version")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

pub(crate) fn version_from_row(r: &AnyRow) -> Result<VersionRow, sqlx::Error> {
    Ok(VersionRow {
        order_id: r.try_get("order_id")?,
        version: r.try_get("version")?,
        job_id: r.try_get("job_id")?,
        params: r.try_get("params")?,
        manifest: r.try_get("manifest")?,
        summary: r.try_get("summary")?,
        created_ms: r.try_get("created_ms")?,
    })
}

impl Store {
    /// Creates an order in state `state`, recording its creation in the global chain and
    /// opening the order's own chain.
    pub async fn create_order(
        &self,
        org_id: &str,
        user_id: &str,
        state: &str,
        prescription: &str,
        patient_key: &str,
        mut audit: AuditRecord,
    ) -> Result<OrderRow, StoreError> {
        let now = now_ms();
        let order = OrderRow {
            id: new_id(),
            org_id: org_id.to_string(),
            created_by: user_id.to_string(),
            state: state.to_string(),
            prescription: prescription.to_string(),
            patient_key: patient_key.to_string(),
            current_version: 0,
            created_ms: now,
            updated_ms: now,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "INSERT INTO orders ({ORDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)"
        ))
        .bind(&order.id)
        .bind(&order.org_id)
        .bind(&order.created_by)
        .bind(&order.state)
        .bind(&order.prescription)
        .bind(&order.patient_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit.order_id = order.id.clone();
        audit.action = "order.create".into();
        append(&mut tx, GLOBAL_CHAIN, audit.clone()).await?;
        append(&mut tx, &order.id, audit).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// The order `id` (any organisation: callers check access).
    pub async fn order(&self, id: &str) -> Result<OrderRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "order",
                id: id.to_string(),
            })?;
        Ok(order_from_row(&row)?)
    }

    /// Orders of one organisation, newest first, at most `limit`.
    pub async fn orders_of_org(&self, org_id: &str, limit: i64) -> Result<Vec<OrderRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE org_id = $1 ORDER BY created_ms DESC, id LIMIT $2"
        ))
        .bind(org_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(order_from_row).collect::<Result<_, _>>()?)
    }

    /// Applies a state transition atomically; fails with [`StoreError::Conflict`] when the
    /// order is no longer in `t.from` (another user acted first).
    pub async fn apply_transition(&self, t: Transition) -> Result<OrderRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let version_change = t.enqueue.as_ref().map(|j| j.version);
        let updated = sqlx::query(
            "UPDATE orders SET state = $1, updated_ms = $2, current_version = COALESCE($3, current_version) \
             WHERE id = $4 AND state = $5",
        )
        .bind(&t.to)
        .bind(now)
        .bind(version_change)
        .bind(&t.order_id)
        .bind(&t.from)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "a change to order {} (it is no longer {})",
                t.order_id, t.from
            )));
        }
        if let Some(g) = &t.gate {
            sqlx::query("DELETE FROM gates WHERE order_id = $1 AND version = $2 AND gate = $3")
                .bind(&g.order_id)
                .bind(g.version)
                .bind(&g.gate)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO gates (order_id, version, gate, user_id, role, comment, data, at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&g.order_id)
            .bind(g.version)
            .bind(&g.gate)
            .bind(&g.user_id)
            .bind(&g.role)
            .bind(&g.comment)
            .bind(&g.data)
            .bind(g.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(job) = &t.enqueue {
            insert_job(&mut tx, job).await?;
        }
        append(&mut tx, &t.order_id, t.audit).await?;
        tx.commit().await?;
        self.order(&t.order_id).await
    }

    /// Gates recorded on one version of an order.
    pub async fn gates(&self, order_id: &str, version: i64) -> Result<Vec<GateRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT order_id, version, gate, user_id, role, comment, data, at_ms FROM gates \
             WHERE order_id = $1 AND version = $2 ORDER BY at_ms, gate",
        )
        .bind(order_id)
        .bind(version)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GateRow {
                    order_id: r.try_get("order_id")?,
                    version: r.try_get("version")?,
                    gate: r.try_get("gate")?,
                    user_id: r.try_get("user_id")?,
                    role: r.try_get("role")?,
                    comment: r.try_get("comment")?,
                    data: r.try_get("data")?,
                    at_ms: r.try_get("at_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Every version of an order, oldest first.
    pub async fn versions(&self, order_id: &str) -> Result<Vec<VersionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT order_id, version, job_id, params, manifest, summary, created_ms FROM versions \
             WHERE order_id = $1 ORDER BY version",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_from_row).collect::<Result<_, _>>()?)
    }

    /// The highest version number used by any job of the order (0 when none).
    pub async fn last_job_version(&self, order_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM jobs WHERE order_id = $1")
            .bind(order_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("v")?)
    }

    /// Adds an annotation and its audit entry.
    pub async fn add_annotation(
        &self,
        order_id: &str,
        version: i64,
        user_id: &str,
        text: &str,
        position: &str,
        audit: AuditRecord,
    ) -> Result<AnnotationRow, StoreError> {
        let a = AnnotationRow {
            id: new_id(),
            order_id: order_id.to_string(),
            version,
            user_id: user_id.to_string(),
            text: text.to_string(),
            position: position.to_string(),
            created_ms: now_ms(),
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO annotations (id, order_id, version, user_id, text, position, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.id)
        .bind(&a.order_id)
        .bind(a.version)
        .bind(&a.user_id)
        .bind(&a.text)
        .bind(&a.position)
        .bind(a.created_ms)
        .execute(&mut *tx)
        .await?;
        append(&mut tx, order_id, audit).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// Annotations of an order, oldest first.
    pub async fn annotations(&self, order_id: &str) -> Result<Vec<AnnotationRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, order_id, version, user_id, text, position, created_ms FROM annotations \
             WHERE order_id = $1 ORDER BY created_ms, id",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AnnotationRow {
                    id: r.try_get("id")?,
                    order_id: r.try_get("order_id")?,
                    version: r.try_get("version")?,
                    user_id: r.try_get("user_id")?,
                    text: r.try_get("text")?,
                    position: r.try_get("position")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
