//! Throw-away databases for tests and benchmarks: a SQLite file in a temporary folder, or a
//! fresh schema in a PostgreSQL database (`MEDPRINT_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`), so that runs in parallel never share tables.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::{Connection, Executor};

use crate::db::{Engine, StoreError};

/// The PostgreSQL server scratch schemas are made in.
pub fn postgres_base_url() -> String {
    std::env::var("MEDPRINT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A scratch database; [`ScratchDatabase::drop_now`] removes a PostgreSQL schema (a SQLite
/// file goes with its folder).
#[derive(Debug)]
pub struct ScratchDatabase {
    /// URL to pass to [`crate::Store::connect`] or `medprint serve --database`.
    pub url: String,
    schema: Option<String>,
    _dir: Option<std::path::PathBuf>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl ScratchDatabase {
    /// Makes a new empty database of `engine`; SQLite files go into `dir`.
    pub async fn new(engine: Engine, dir: &std::path::Path) -> Result<Self, StoreError> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        match engine {
            Engine::Sqlite => {
                let path = dir.join(format!("scratch-{n}.db"));
                Ok(Self {
                    url: format!("sqlite://{}", path.display()),
                    schema: None,
                    _dir: Some(dir.to_path_buf()),
                })
            }
            Engine::Postgres => {
                sqlx::any::install_default_drivers();
                let schema = format!(
                    "mp_{}_{}_{}",
                    std::process::id(),
                    n,
                    crate::db::now_ms() % 1_000_000_000
                );
                let base = postgres_base_url();
                let mut conn = sqlx::AnyConnection::connect(&base).await?;
                conn.execute(format!("CREATE SCHEMA {schema}").as_str()).await?;
                conn.close().await?;
                let sep = if base.contains('?') { '&' } else { '?' };
                Ok(Self {
                    url: format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    schema: Some(schema),
                    _dir: None,
                })
            }
        }
    }

    /// Removes the PostgreSQL schema and everything in it.
    pub async fn drop_now(self) -> Result<(), StoreError> {
        if let Some(schema) = &self.schema {
            let mut conn = sqlx::AnyConnection::connect(&postgres_base_url()).await?;
            conn.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await?;
            conn.close().await?;
        }
        Ok(())
    }
}
