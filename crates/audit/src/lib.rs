//! A hash-chained audit trail.
//!
//! Every action (who, what, when, input and output hashes) becomes an [`AuditEntry`] whose
//! `hash` is SHA-256 over a canonical encoding of its fields *and* the previous entry's hash.
//! Changing, removing, reordering or inserting any entry therefore breaks the chain from that
//! point on, which [`verify_chain`] reports with the sequence number where it first breaks.
//!
//! Invariants of a valid chain: `seq` runs 1, 2, 3… without gaps; entry 1's `prev_hash` is
//! [`GENESIS_HASH`]; every other entry's `prev_hash` equals the previous entry's `hash`; every
//! `hash` equals [`entry_hash`] of the entry's own fields.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What is recorded of one action before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Milliseconds since the Unix epoch (UTC) at which the action happened.
    pub at_ms: i64,
    /// Who acted: a user id, `worker:<id>` or `system`.
    pub actor: String,
    /// The actor's organisation id (empty for system actions).
    pub org_id: String,
    /// What was done, e.g. `order.create`, `upload.file`, `job.finish`, `order.approve`.
    pub action: String,
    /// The order acted on (empty when none).
    pub order_id: String,
    /// SHA-256 (hex) of the action's input (request body, uploaded file…), empty when none.
    pub input_hash: String,
    /// SHA-256 (hex) of the action's result (stored file, output manifest…), empty when none.
    pub output_hash: String,
    /// Free, non-identifying details as JSON text (never patient identity).
    pub details: String,
}

/// One chained entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The recorded action.
    #[serde(flatten)]
    pub record: AuditRecord,
    /// Hash of the previous entry ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of this entry's fields and `prev_hash`.
    pub hash: String,
}

/// Where and why a chain is not intact.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// An entry's sequence number is not the one expected (gap, duplicate or reorder).
    #[error("audit entry {found}: expected sequence number {expected} (an entry is missing, duplicated or moved)")]
    Sequence {
        /// The number the chain expected.
        expected: i64,
        /// The number found.
        found: i64,
    },
    /// An entry does not point at the previous entry's hash.
    #[error("audit entry {seq}: its link to the previous entry is broken (an earlier entry was changed or removed)")]
    BrokenLink {
        /// The entry whose `prev_hash` is wrong.
        seq: i64,
    },
    /// An entry's own fields no longer match its hash.
    #[error("audit entry {seq}: its content was changed after it was written")]
    Tampered {
        /// The changed entry.
        seq: i64,
    },
}

/// The result of checking a whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainSummary {
    /// Entries checked.
    pub entries: usize,
    /// Hash of the last entry ([`GENESIS_HASH`] for an empty chain): publish it to anchor the
    /// chain, any later change to earlier entries changes it.
    pub head_hash: String,
}

/// Lower-case hexadecimal SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// Lower-case hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The hash of an entry: SHA-256 over `prev_hash` and every field, each preceded by its
/// byte length so that no two different entries encode to the same bytes.
pub fn entry_hash(seq: i64, record: &AuditRecord, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    let fields: [&[u8]; 9] = [
        prev_hash.as_bytes(),
        record.actor.as_bytes(),
        record.org_id.as_bytes(),
        record.action.as_bytes(),
        record.order_id.as_bytes(),
        record.input_hash.as_bytes(),
        record.output_hash.as_bytes(),
        record.details.as_bytes(),
        b"medprint-audit-v1",
    ];
    h.update(seq.to_le_bytes());
    h.update(record.at_ms.to_le_bytes());
    for f in fields {
        h.update((f.len() as u64).to_le_bytes());
        h.update(f);
    }
    to_hex(&h.finalize())
}

/// Chains `record` after `previous` (`None` for the first entry).
pub fn chain_next(previous: Option<&AuditEntry>, record: AuditRecord) -> AuditEntry {
    let (seq, prev_hash) = match previous {
        Some(p) => (p.seq + 1, p.hash.clone()),
        None => (1, GENESIS_HASH.to_string()),
    };
    let hash = entry_hash(seq, &record, &prev_hash);
    AuditEntry {
        seq,
        record,
        prev_hash,
        hash,
    }
}

/// Checks a whole chain, in order from entry 1; stops at the first break.
pub fn verify_chain<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> Result<ChainSummary, ChainError> {
    let mut expected_prev = GENESIS_HASH.to_string();
    let mut count = 0usize;
    for (i, e) in entries.into_iter().enumerate() {
        let expected = i as i64 + 1;
        if e.seq != expected {
            return Err(ChainError::Sequence { expected, found: e.seq });
        }
        if e.prev_hash != expected_prev {
            return Err(ChainError::BrokenLink { seq: e.seq });
        }
        if entry_hash(e.seq, &e.record, &e.prev_hash) != e.hash {
            return Err(ChainError::Tampered { seq: e.seq });
        }
        expected_prev = e.hash.clone();
        count += 1;
    }
    Ok(ChainSummary {
        entries: count,
        head_hash: expected_prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: i64) -> AuditRecord {
        AuditRecord {
            at_ms: 1_700_000_000_000 + i,
            actor: format!("user-{i}"),
            org_id: "org-1".into(),
            action: "order.create".into(),
            order_id: format!("order-{i}"),
            input_hash: sha256_hex(format!("in {i}").as_bytes()),
            output_hash: String::new(),
            details: "{}".into(),
        }
    }

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let next = chain_next(out.last(), record(i));
            out.push(next);
        }
        out
    }

    #[test]
    fn intact_chain_verifies_and_head_is_last_hash() {
        let c = chain(5);
        let s = verify_chain(&c).unwrap();
        assert_eq!(s.entries, 5);
        assert_eq!(s.head_hash, c[4].hash);
        assert_eq!(verify_chain(&[]).unwrap().head_hash, GENESIS_HASH);
    }

    #[test]
    fn every_field_change_is_detected() {
        let base = chain(4);
        type Edit = Box<dyn Fn(&mut AuditEntry)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.record.at_ms += 1),
            Box::new(|e| e.record.actor.push('x')),
            Box::new(|e| e.record.org_id.push('x')),
            Box::new(|e| e.record.action.push('x')),
            Box::new(|e| e.record.order_id.push('x')),
            Box::new(|e| e.record.input_hash.push('0')),
            Box::new(|e| e.record.output_hash.push('0')),
            Box::new(|e| e.record.details.push(' ')),
        ];
        for edit in edits {
            let mut c = base.clone();
            edit(&mut c[2]);
            assert_eq!(verify_chain(&c), Err(ChainError::Tampered { seq: 3 }));
        }
    }

    #[test]
    fn rehashing_a_changed_entry_breaks_the_next_link() {
        let mut c = chain(4);
        c[1].record.actor = "mallory".into();
        c[1].hash = entry_hash(c[1].seq, &c[1].record, &c[1].prev_hash);
        assert_eq!(verify_chain(&c), Err(ChainError::BrokenLink { seq: 3 }));
    }

    #[test]
    fn removal_and_reorder_are_detected() {
        let mut c = chain(4);
        c.remove(1);
        assert_eq!(verify_chain(&c), Err(ChainError::Sequence { expected: 2, found: 3 }));
        let mut c = chain(4);
        c.swap(1, 2);
        assert!(matches!(verify_chain(&c), Err(ChainError::Sequence { .. })));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let mut a = record(1);
        let mut b = record(1);
        a.actor = "ab".into();
        a.org_id = "c".into();
        b.actor = "a".into();
        b.org_id = "bc".into();
        assert_ne!(entry_hash(1, &a, GENESIS_HASH), entry_hash(1, &b, GENESIS_HASH));
    }
}
