//! Appending to and reading the hash-chained audit trail.

use medprint_audit::{chain_next, verify_chain, AuditEntry, AuditRecord, GENESIS_HASH};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Store, StoreError};

/// The chain of actions that belong to no order (logins, users, organisations).
pub const GLOBAL_CHAIN: &str = "global";

/// The result of checking every chain of a database.
#[derive(Debug, Clone, Serialize)]
pub struct AuditChainReport {
    /// Chains checked.
    pub chains: usize,
    /// Entries checked.
    pub entries: usize,
    /// Chains that are broken, with the first break of each.
    pub broken: Vec<(String, String)>,
}

impl AuditChainReport {
    /// True when every chain is intact.
    pub fn is_intact(&self) -> bool {
        self.broken.is_empty()
    }
}

fn entry_from_row(r: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        seq: r.try_get("seq")?,
        record: AuditRecord {
            at_ms: r.try_get("at_ms")?,
            actor: r.try_get("actor")?,
            org_id: r.try_get("org_id")?,
            action: r.try_get("action")?,
            order_id: r.try_get("order_id")?,
            input_hash: r.try_get("input_hash")?,
            output_hash: r.try_get("output_hash")?,
            details: r.try_get("details")?,
        },
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

/// Appends `record` to `chain` on `conn` (call inside the transaction of the action itself, so
/// that the action and its entry are stored together or not at all).
pub(crate) async fn append(
    conn: &mut AnyConnection,
    chain: &str,
    record: AuditRecord,
) -> Result<AuditEntry, StoreError> {
    sqlx::query("INSERT INTO audit_heads (chain, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (chain) DO NOTHING")
        .bind(chain)
        .bind(GENESIS_HASH)
        .execute(&mut *conn)
        .await?;
    // The update takes the row lock before the head is read (PostgreSQL re-reads the row
    // after waiting for a concurrent appender).
    let head = sqlx::query("UPDATE audit_heads SET seq = seq + 1 WHERE chain = $1 RETURNING seq, hash")
        .bind(chain)
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev_hash: String = head.try_get("hash")?;
    let previous = (seq > 1).then(|| AuditEntry {
        seq: seq - 1,
        record: record.clone(),
        prev_hash: String::new(),
        hash: prev_hash.clone(),
    });
    let entry = chain_next(previous.as_ref(), record);
    sqlx::query("UPDATE audit_heads SET hash = $1 WHERE chain = $2")
        .bind(&entry.hash)
        .bind(chain)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO audit (chain, seq, at_ms, actor, org_id, action, order_id, input_hash, output_hash, details, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(chain)
    .bind(entry.seq)
    .bind(entry.record.at_ms)
    .bind(&entry.record.actor)
    .bind(&entry.record.org_id)
    .bind(&entry.record.action)
    .bind(&entry.record.order_id)
    .bind(&entry.record.input_hash)
    .bind(&entry.record.output_hash)
    .bind(&entry.record.details)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(&mut *conn)
    .await?;
    Ok(entry)
}

/// The chain an order's actions go to.
pub(crate) fn chain_of(record: &AuditRecord) -> &str {
    if record.order_id.is_empty() {
        GLOBAL_CHAIN
    } else {
        &record.order_id
    }
}

impl Store {
    /// Records an action on its own (orders' chain when it names an order, else global).
    pub async fn audit(&self, record: AuditRecord) -> Result<AuditEntry, StoreError> {
        let mut tx = self.pool.begin().await?;
        let chain = chain_of(&record).to_string();
        let entry = append(&mut tx, &chain, record).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Every entry of one chain, in order.
    pub async fn audit_chain(&self, chain: &str) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, at_ms, actor, org_id, action, order_id, input_hash, output_hash, details, prev_hash, hash \
             FROM audit WHERE chain = $1 ORDER BY seq",
        )
        .bind(chain)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }

    /// Checks every chain: each must verify, its head must match `audit_heads`, every order
    /// must have a chain and the global chain must record each order's creation.
    pub async fn verify_audit(&self) -> Result<AuditChainReport, StoreError> {
        let heads = sqlx::query("SELECT chain, seq, hash FROM audit_heads ORDER BY chain")
            .fetch_all(&self.pool)
            .await?;
        let mut report = AuditChainReport {
            chains: 0,
            entries: 0,
            broken: Vec::new(),
        };
        let mut chains = std::collections::BTreeSet::new();
        for h in &heads {
            let chain: String = h.try_get("chain")?;
            let head_seq: i64 = h.try_get("seq")?;
            let head_hash: String = h.try_get("hash")?;
            let entries = self.audit_chain(&chain).await?;
            report.chains += 1;
            report.entries += entries.len();
            match verify_chain(&entries) {
                Ok(summary) if summary.entries as i64 == head_seq && summary.head_hash == head_hash => {}
                Ok(_) => report.broken.push((
                    chain.clone(),
                    "the last entries were removed or the head was changed".into(),
                )),
                Err(e) => report.broken.push((chain.clone(), e.to_string())),
            }
            chains.insert(chain);
        }
        let orphan_chains = sqlx::query("SELECT DISTINCT chain FROM audit")
            .fetch_all(&self.pool)
            .await?;
        for r in &orphan_chains {
            let chain: String = r.try_get("chain")?;
            if !chains.contains(&chain) {
                report.broken.push((chain, "entries of a chain without a head".into()));
            }
        }
        let orders = sqlx::query("SELECT id FROM orders").fetch_all(&self.pool).await?;
        let global = self.audit_chain(crate::GLOBAL_CHAIN).await?;
        for r in &orders {
            let id: String = r.try_get("id")?;
            if !chains.contains(&id) {
                report.broken.push((id.clone(), "order without an audit chain".into()));
            }
            if !global
                .iter()
                .any(|e| e.record.action == "order.create" && e.record.order_id == id)
            {
                report
                    .broken
                    .push((id, "order creation missing from the global chain".into()));
            }
        }
        Ok(report)
    }
}
