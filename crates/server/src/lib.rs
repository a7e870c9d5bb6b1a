//! The medprint order server: HTTP API (axum), roles and permissions, resumable uploads with
//! de-identification, a durable job queue worked by in-process or remote workers, object
//! storage for scans and models, and the hash-chained audit trail.
//!
//! `medprint serve` runs everything on one machine (SQLite file and a local folder under the
//! data directory, workers in-process); `medprint serve --database postgres://… --storage
//! s3://…` plus any number of `medprint worker` processes scale it out.

pub mod api;
pub mod auth;
pub mod client;
pub mod demo;
pub mod error;
pub mod openapi;
pub mod quote;
pub mod storage;
pub mod uploads;
pub mod web;
pub mod worker;
pub mod workflow;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use medprint_audit::AuditRecord;
use medprint_store::{now_ms, Store};

pub use error::ApiError;
pub use storage::Storage;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Object storage.
    pub storage: Storage,
    /// Limits and folders.
    pub config: Arc<ServerConfig>,
}

/// How the server runs. Sizes are bytes, times milliseconds.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// A folder, `file:///…` or `s3://bucket`.
    pub storage_url: String,
    /// Holds upload staging files and worker scratch space.
    pub data_dir: PathBuf,
    /// In-process workers (0: only remote `medprint worker`s process jobs).
    pub workers: usize,
    /// Worker settings.
    pub worker: worker::WorkerConfig,
    /// Largest file or zip accepted.
    pub max_upload_bytes: i64,
    /// Largest upload chunk (one PATCH body).
    pub max_chunk_bytes: usize,
    /// Largest JSON body.
    pub max_json_bytes: usize,
    /// Files per order.
    pub max_files_per_order: usize,
    /// Serve the web app from this folder instead of the copy built into the binary
    /// (development of `web/`).
    pub web_dir: Option<PathBuf>,
    /// Password of the first system administrator (`admin@localhost`) on an empty database;
    /// a random one is made and written to `DATA_DIR/initial-admin-password.txt` when `None`.
    pub admin_password: Option<String>,
    /// Create the demo organisation, users and order on start ([`demo::seed_demo`]).
    pub demo: bool,
}

impl ServerConfig {
    /// Defaults for one machine: SQLite and a local folder under `data_dir`.
    pub fn local(data_dir: PathBuf, bind: SocketAddr) -> Self {
        Self {
            bind,
            database_url: format!("sqlite://{}", data_dir.join("medprint.db").display()),
            storage_url: data_dir.join("objects").display().to_string(),
            data_dir,
            workers: 1,
            worker: worker::WorkerConfig::default(),
            max_upload_bytes: 4 << 30,
            max_chunk_bytes: 16 << 20,
            max_json_bytes: 256 << 10,
            max_files_per_order: 20_000,
            web_dir: None,
            admin_password: None,
            demo: false,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Database.
    #[error(transparent)]
    Store(#[from] medprint_store::StoreError),
    /// Storage.
    #[error(transparent)]
    Storage(#[from] storage::StorageError),
    /// Sockets, folders.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// The e-mail of the first system administrator.
pub const FIRST_ADMIN_EMAIL: &str = "admin@localhost";

/// Opens the database and storage and creates the first system administrator on an empty
/// database.
pub async fn open_state(config: ServerConfig) -> Result<AppState, ServeError> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = Store::connect(&config.database_url).await?;
    let storage = Storage::open(&config.storage_url)?;
    if store.user_count().await? == 0 {
        let password = match &config.admin_password {
            Some(p) => p.clone(),
            None => {
                let p = auth::new_secret("")[..24].to_string();
                let path = config.data_dir.join("initial-admin-password.txt");
                std::fs::write(&path, format!("{FIRST_ADMIN_EMAIL}\n{p}\n"))?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                }
                tracing::warn!(
                    "first administrator {FIRST_ADMIN_EMAIL}: password written to {}",
                    path.display()
                );
                p
            }
        };
        let hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|e| ServeError::Other(e.to_string()))?
            .map_err(|e| ServeError::Other(e.to_string()))?;
        let org = match store.create_org("medprint system").await {
            Ok(o) => o,
            Err(e) if e.is_unique_violation() => {
                return Err(ServeError::Other(
                    "database has the system organisation but no users".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        let admin = store
            .create_user(
                &org.id,
                FIRST_ADMIN_EMAIL,
                "System administrator",
                "system_admin",
                &hash,
            )
            .await?;
        store
            .audit(AuditRecord {
                at_ms: now_ms(),
                actor: "system".into(),
                org_id: org.id.clone(),
                action: "user.create".into(),
                order_id: String::new(),
                input_hash: String::new(),
                output_hash: String::new(),
                details: serde_json::json!({"user": admin.id, "role": "system_admin"}).to_string(),
            })
            .await?;
    }
    Ok(AppState {
        store,
        storage,
        config: Arc::new(config),
    })
}

/// Runs the server until Ctrl-C / SIGTERM: API, web app and in-process workers.
pub async fn serve(config: ServerConfig) -> Result<(), ServeError> {
    let state = open_state(config).await?;
    let listener = tokio::net::TcpListener::bind(state.config.bind).await?;
    let address = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for i in 0..state.config.workers {
        let mut wc = state.config.worker.clone();
        wc.id = format!("{}-{i}", wc.id);
        workers.push(tokio::spawn(worker::run_worker(
            state.store.clone(),
            state.storage.clone(),
            state.config.data_dir.clone(),
            wc,
            stop_rx.clone(),
        )));
    }
    tracing::info!(%address, storage = %state.storage.location, "medprint server listening");
    println!("medprint server listening on http://{address}");
    if state.config.demo {
        let password = state.config.admin_password.clone().unwrap_or_default();
        let scratch = state.config.data_dir.join("work");
        let base = format!("http://{address}");
        tokio::spawn(async move {
            match demo::seed_demo(&base, &password, &scratch).await {
                Ok(Some(order)) => println!(
                    "demo: organisation \"{}\", users <role>@demo.hospital (password \"{}\"), order {order} processing",
                    demo::DEMO_ORG,
                    demo::DEMO_PASSWORD
                ),
                Ok(None) => println!(
                    "demo: users <role>@demo.hospital (password \"{}\")",
                    demo::DEMO_PASSWORD
                ),
                Err(e) => eprintln!("demo: could not create the demo order: {e}"),
            }
        });
    }
    let app = api::router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    let _ = stop_tx.send(true);
    for w in workers {
        let _ = w.await;
    }
    state.store.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
