//! The order database: organisations, users, credentials, orders, uploaded files, the durable
//! job queue, model versions, quality gates, annotations and the hash-chained audit trail.
//!
//! One set of migrations serves SQLite (the embedded default) and PostgreSQL (scaled out):
//! the schema uses only `TEXT` and `BIGINT` columns, statements use `$N` placeholders (both
//! engines accept them) and `RETURNING`. Times are milliseconds since the Unix epoch (UTC).
//!
//! The job queue is a table here rather than a separate queue library: claiming a job,
//! moving its order to the next state and chaining the audit entry must happen in the same
//! transaction of the same database, on both engines, and the queue must carry progress, an
//! estimated time to completion and cancellation, which the SQL back ends of the queue
//! libraries we looked at (apalis-sql) do not expose uniformly. Leases make it crash-safe:
//! a worker killed mid-job stops renewing its lease and the job is claimed again.

mod audit;
mod db;
mod files;
mod jobs;
mod orders;
pub mod scratch;
mod users;

pub use audit::{AuditChainReport, GLOBAL_CHAIN};
pub use db::{new_id, now_ms, Engine, Store, StoreError};
pub use files::{FileRow, NewFile};
pub use jobs::{ClaimedJob, JobRow, JobState, JobUpdate, LeaseStatus, NewJob};
pub use orders::{AnnotationRow, GateRow, OrderRow, Transition, VersionRow};
pub use users::{CredentialKind, OrgRow, UserRow};
