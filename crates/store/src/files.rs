//! Uploaded files of an order: resumable receipt, de-duplication, stored de-identified copies.

use medprint_audit::AuditRecord;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::audit::append;
use crate::db::{new_id, now_ms, Store, StoreError};

/// A file the client announces before sending it.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// The order.
    pub order_id: String,
    /// `dicom` or `zip`.
    pub kind: String,
    /// The client's file name (display only, never a path on the server).
    pub name: String,
    /// SOP Instance UID of a DICOM file (empty for zips).
    pub sop_uid: String,
    /// SHA-256 (hex) of the bytes the client sends.
    pub original_sha256: String,
    /// Size in bytes.
    pub size: i64,
}

/// A file of an order. `state`: `receiving`, `stored` (de-identified copy in storage),
/// `expanded` (a zip whose members were stored), `rejected`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRow {
    /// Id (the upload id).
    pub id: String,
    /// Order.
    pub order_id: String,
    /// `dicom` or `zip`.
    pub kind: String,
    /// Client's name.
    pub name: String,
    /// SOP Instance UID as sent.
    pub sop_uid: String,
    /// Hash of the bytes sent.
    pub original_sha256: String,
    /// Size in bytes.
    pub size: i64,
    /// Bytes received so far.
    pub received: i64,
    /// State.
    pub state: String,
    /// Storage key of the de-identified copy.
    #[serde(skip)]
    pub stored_key: String,
    /// Hash of the stored copy.
    pub stored_sha256: String,
    /// What de-identification removed, JSON text.
    pub deid_report: String,
    /// Why it was rejected.
    pub error: String,
    /// Creation time.
    pub created_ms: i64,
}

const FILE_COLUMNS: &str = "id, order_id, kind, name, sop_uid, original_sha256, size, received, state, stored_key, \
     stored_sha256, deid_report, error, created_ms";

fn file_from_row(r: &AnyRow) -> Result<FileRow, sqlx::Error> {
    Ok(FileRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        sop_uid: r.try_get("sop_uid")?,
        original_sha256: r.try_get("original_sha256")?,
        size: r.try_get("size")?,
        received: r.try_get("received")?,
        state: r.try_get("state")?,
        stored_key: r.try_get("stored_key")?,
        stored_sha256: r.try_get("stored_sha256")?,
        deid_report: r.try_get("deid_report")?,
        error: r.try_get("error")?,
        created_ms: r.try_get("created_ms")?,
    })
}

impl Store {
    /// Registers a file, or returns the one already registered with the same content hash in
    /// this order (`true` in the second place: nothing new was created).
    pub async fn announce_file(&self, f: &NewFile) -> Result<(FileRow, bool), StoreError> {
        if let Some(existing) = self.file_by_hash(&f.order_id, &f.original_sha256).await? {
            return Ok((existing, true));
        }
        let now = now_ms();
        let id = new_id();
        let inserted = sqlx::query(
            "INSERT INTO order_files (id, order_id, kind, name, sop_uid, original_sha256, size, received, state, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 'receiving', $8, $8)",
        )
        .bind(&id)
        .bind(&f.order_id)
        .bind(&f.kind)
        .bind(&f.name)
        .bind(&f.sop_uid)
        .bind(&f.original_sha256)
        .bind(f.size)
        .bind(now)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => Ok((self.file(&id).await?, false)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                // A concurrent announcement of the same content won.
                let existing = self
                    .file_by_hash(&f.order_id, &f.original_sha256)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("file vanished after a unique violation".into()))?;
                Ok((existing, true))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn file_by_hash(&self, order_id: &str, sha256: &str) -> Result<Option<FileRow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM order_files WHERE order_id = $1 AND original_sha256 = $2"
        ))
        .bind(order_id)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(file_from_row).transpose()?)
    }

    /// The file `id`.
    pub async fn file(&self, id: &str) -> Result<FileRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {FILE_COLUMNS} FROM order_files WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "upload",
                id: id.to_string(),
            })?;
        Ok(file_from_row(&row)?)
    }

    /// Files of an order, oldest first.
    pub async fn files_of_order(&self, order_id: &str) -> Result<Vec<FileRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {FILE_COLUMNS} FROM order_files WHERE order_id = $1 ORDER BY created_ms, id"
        ))
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(file_from_row).collect::<Result<_, _>>()?)
    }

    /// Moves the received count from `from` to `to` bytes; fails with a conflict when another
    /// request already moved it (the client must ask for the offset again).
    pub async fn advance_file(&self, id: &str, from: i64, to: i64) -> Result<(), StoreError> {
        let r = sqlx::query(
            "UPDATE order_files SET received = $1, updated_ms = $2 WHERE id = $3 AND received = $4 AND state = 'receiving'",
        )
        .bind(to)
        .bind(now_ms())
        .bind(id)
        .bind(from)
        .execute(&self.pool)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("upload {id} at offset {from}")));
        }
        Ok(())
    }

    /// Marks a file `state` (`stored`, `expanded` or `rejected`) with where its de-identified
    /// copy is, and records the audit entry, at once.
    #[allow(clippy::too_many_arguments)]
    pub async fn settle_file(
        &self,
        id: &str,
        state: &str,
        stored_key: &str,
        stored_sha256: &str,
        deid_report: &str,
        error: &str,
        audit: AuditRecord,
    ) -> Result<FileRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query(
            "UPDATE order_files SET state = $1, stored_key = $2, stored_sha256 = $3, deid_report = $4, error = $5, updated_ms = $6 \
             WHERE id = $7 AND state = 'receiving'",
        )
        .bind(state)
        .bind(stored_key)
        .bind(stored_sha256)
        .bind(deid_report)
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("upload {id} was already settled")));
        }
        let order_id = audit.order_id.clone();
        append(&mut tx, &order_id, audit).await?;
        tx.commit().await?;
        self.file(id).await
    }

    /// Adds a file that arrived inside a zip, already stored de-identified. Returns `None`
    /// when the order already holds the same content.
    pub async fn add_stored_member(
        &self,
        f: &NewFile,
        stored_key: &str,
        stored_sha256: &str,
        deid_report: &str,
    ) -> Result<Option<FileRow>, StoreError> {
        let now = now_ms();
        let id = new_id();
        let r = sqlx::query(
            "INSERT INTO order_files (id, order_id, kind, name, sop_uid, original_sha256, size, received, state, \
             stored_key, stored_sha256, deid_report, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 'stored', $8, $9, $10, $11, $11)",
        )
        .bind(&id)
        .bind(&f.order_id)
        .bind(&f.kind)
        .bind(&f.name)
        .bind(&f.sop_uid)
        .bind(&f.original_sha256)
        .bind(f.size)
        .bind(stored_key)
        .bind(stored_sha256)
        .bind(deid_report)
        .bind(now)
        .execute(&self.pool)
        .await;
        match r {
            Ok(_) => Ok(Some(self.file(&id).await?)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
