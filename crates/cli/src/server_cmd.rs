//! `medprint serve`, `worker`, `verify`, `submit`, `status` and `download`: thin wrappers over
//! `medprint-server` (the server, its workers, the audit check and the HTTP client).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use medprint_server::client::{patient_key, Client};
use medprint_server::worker::run_worker;
use medprint_server::{ServerConfig, Storage};
use serde_json::{json, Value};

/// Where the server keeps its state.
#[derive(clap::Args)]
pub struct BackendArgs {
    /// Data directory: SQLite database, local object storage, upload staging and worker scratch.
    #[arg(long, default_value = "medprint-data")]
    pub data_dir: PathBuf,
    /// Database URL (default: sqlite://DATA_DIR/medprint.db); postgres://user@host/db to scale out.
    #[arg(long, env = "MEDPRINT_DATABASE")]
    pub database: Option<String>,
    /// Object storage: a folder, file:///path or s3://bucket[/prefix] (AWS_* variables) (default: DATA_DIR/objects).
    #[arg(long, env = "MEDPRINT_STORAGE")]
    pub storage: Option<String>,
    /// Lease of a job in seconds: a worker that stops renewing it (killed) loses the job after this long.
    #[arg(long, default_value_t = 30.0)]
    pub lease_secs: f64,
    /// First retry delay of a failed job in seconds (doubles each attempt).
    #[arg(long, default_value_t = 5.0)]
    pub retry_secs: f64,
}

impl BackendArgs {
    fn config(&self, bind: SocketAddr) -> ServerConfig {
        let mut c = ServerConfig::local(self.data_dir.clone(), bind);
        if let Some(db) = &self.database {
            c.database_url = db.clone();
        }
        if let Some(s) = &self.storage {
            c.storage_url = s.clone();
        }
        c.worker.lease_ms = (self.lease_secs.clamp(0.2, 3600.0) * 1000.0) as i64;
        c.worker.retry_backoff_ms = (self.retry_secs.clamp(0.0, 3600.0) * 1000.0) as i64;
        c
    }
}

/// `medprint serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub backend: BackendArgs,
    /// In-process workers (0: only separate `medprint worker` processes run jobs).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Serve the web app from this folder (development of web/) instead of the copy built into the binary.
    #[arg(long)]
    pub web: Option<PathBuf>,
    /// Password of the first administrator (admin@localhost) on an empty database (default: random, written to DATA_DIR/initial-admin-password.txt).
    #[arg(long, env = "MEDPRINT_ADMIN_PASSWORD")]
    pub admin_password: Option<String>,
    /// Create a demo organisation with one user per role (<role>@demo.hospital) and a demo order on an empty
    /// database (admin password defaults to "medprint demo password").
    #[arg(long)]
    pub demo: bool,
}

/// `medprint worker`.
#[derive(clap::Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Worker id in leases and the audit trail (default: host-pid).
    #[arg(long)]
    pub id: Option<String>,
}

/// `medprint verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Check an order's audit trail downloaded as JSON (GET /api/orders/ID/audit) instead of a database.
    #[arg(long)]
    pub audit_file: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Server connection of the client commands.
#[derive(clap::Args)]
pub struct ServerConn {
    /// Server URL.
    #[arg(long, env = "MEDPRINT_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API token (create one in the web app or with POST /api/tokens).
    #[arg(long, env = "MEDPRINT_TOKEN")]
    pub token: String,
}

/// `medprint submit`.
#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Folder of DICOM files (any nesting), zips, or one file.
    pub input: PathBuf,
    #[command(flatten)]
    pub conn: ServerConn,
    /// Prescription as JSON (a file path or inline JSON): anatomy, scan_type, bone_type, patient_age, sex, weight_kg, deadline, delivery_address, material_preferences, notes.
    #[arg(long)]
    pub prescription: Option<String>,
    /// Patient identity to hash (HMAC-SHA256 with --patient-key-secret); never sent.
    #[arg(long)]
    pub patient_id: String,
    /// The ordering organisation's secret for the patient hash.
    #[arg(long, env = "MEDPRINT_PATIENT_KEY_SECRET")]
    pub patient_key_secret: String,
    /// Pipeline parameters as JSON (default: from the prescription, print-ready).
    #[arg(long)]
    pub params: Option<String>,
    /// Files uploaded at once.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// Upload only; do not submit for processing.
    #[arg(long)]
    pub no_submit: bool,
    /// Wait until the model is ready for review, showing progress.
    #[arg(long)]
    pub wait: bool,
}

/// `medprint status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// Order id (omit to list orders).
    pub order: Option<String>,
    #[command(flatten)]
    pub conn: ServerConn,
    /// Follow progress until the order leaves processing.
    #[arg(long)]
    pub watch: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `medprint download`.
#[derive(clap::Args)]
pub struct DownloadArgs {
    /// Order id.
    pub order: String,
    #[command(flatten)]
    pub conn: ServerConn,
    /// Version (default: the order's current version).
    #[arg(long)]
    pub version: Option<i64>,
    /// Files to fetch (default: model.stl, model.3mf, model.glb, labels.nii.gz, report.json and the audit trail).
    #[arg(long, value_delimiter = ',')]
    pub files: Vec<String>,
    /// Output folder.
    #[arg(long, short, default_value = ".")]
    pub out: PathBuf,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs `medprint serve`.
pub fn serve(args: ServeArgs) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let mut config = args.backend.config(args.bind);
            config.workers = args.workers;
            config.demo = args.demo;
            config.admin_password = match (args.admin_password, args.demo) {
                (Some(p), _) => Some(p),
                (None, true) => Some(medprint_server::demo::DEMO_PASSWORD.to_string()),
                (None, false) => None,
            };
            config.web_dir = args.web;
            medprint_server::serve(config).await.context("server")
        })
    }))
}

/// Runs `medprint worker`.
pub fn worker(args: WorkerArgs) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let config = args.backend.config(SocketAddr::from(([127, 0, 0, 1], 0)));
            std::fs::create_dir_all(&config.data_dir).context("data directory")?;
            let store = medprint_store::Store::connect(&config.database_url)
                .await
                .context("database")?;
            let storage = Storage::open(&config.storage_url).context("storage")?;
            let mut wc = config.worker.clone();
            if let Some(id) = args.id {
                wc.id = id;
            }
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let handle = tokio::spawn(run_worker(store, storage, config.data_dir.clone(), wc, stop_rx));
            medprint_server::shutdown_signal().await;
            let _ = stop_tx.send(true);
            let _ = handle.await;
            Ok(())
        })
    }))
}

/// Runs `medprint verify`; exit code 7 when the trail was changed.
pub fn verify(args: VerifyArgs) -> ExitCode {
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            if let Some(file) = &args.audit_file {
                let text = std::fs::read_to_string(file).with_context(|| file.display().to_string())?;
                let v: Value = serde_json::from_str(&text).with_context(|| format!("{}: not JSON", file.display()))?;
                let entries: Vec<medprint_audit::AuditEntry> = serde_json::from_value(v["entries"].clone())
                    .with_context(|| format!("{}: no audit entries", file.display()))?;
                return Ok(match medprint_audit::verify_chain(&entries) {
                    Ok(s) => (
                        json!({"intact": true, "entries": s.entries, "head_hash": s.head_hash}),
                        true,
                    ),
                    Err(e) => (json!({"intact": false, "problem": e.to_string()}), false),
                });
            }
            let config = args.backend.config(SocketAddr::from(([127, 0, 0, 1], 0)));
            let store = medprint_store::Store::connect(&config.database_url)
                .await
                .context("database")?;
            let report = store.verify_audit().await.context("reading the audit trail")?;
            let intact = report.is_intact();
            Ok((json!(report), intact))
        })
    });
    match result {
        Ok((report, intact)) => {
            if args.json {
                println!("{report}");
            } else if intact {
                println!("audit trail intact: {}", report);
            } else {
                eprintln!("AUDIT TRAIL CHANGED: {report}");
            }
            if intact {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(7)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// JSON given inline or as a file path.
fn json_arg(text: &str, what: &str) -> anyhow::Result<Value> {
    let body = if text.trim_start().starts_with('{') {
        text.to_string()
    } else {
        std::fs::read_to_string(text).with_context(|| format!("{what}: {text}"))?
    };
    serde_json::from_str(&body).with_context(|| format!("{what}: not valid JSON"))
}

fn bar(len: u64, template: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    b
}

async fn watch_progress(client: &Client, order: &str) -> anyhow::Result<Value> {
    let b = bar(1000, "{prefix:>10} [{bar:30.cyan/blue}] {percent:>3}% {msg}");
    b.set_prefix("processing");
    loop {
        let detail = client.get(&format!("/api/orders/{order}")).await?;
        let state = detail["order"]["state"].as_str().unwrap_or("").to_string();
        if let Some(job) = detail["jobs"].as_array().and_then(|j| j.last()) {
            b.set_position(job["progress_permille"].as_u64().unwrap_or(0));
            let eta = job["eta_ms"]
                .as_i64()
                .filter(|e| *e >= 0)
                .map(|e| format!(", about {} s left", e / 1000))
                .unwrap_or_default();
            b.set_message(format!(
                "{} {}{eta}",
                job["state"].as_str().unwrap_or(""),
                job["stage"].as_str().unwrap_or("")
            ));
            if job["state"] == "failed" {
                b.abandon();
                bail!("the job failed: {}", job["error"].as_str().unwrap_or(""));
            }
        }
        if !matches!(state.as_str(), "uploaded" | "processing") {
            b.finish_with_message(state);
            return Ok(detail);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `medprint submit`.
pub fn submit(args: SubmitArgs) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = Client::with_token(&args.conn.server, &args.conn.token)?;
            let prescription = match &args.prescription {
                Some(p) => json_arg(p, "--prescription")?,
                None => json!({}),
            };
            let key = patient_key(args.patient_key_secret.as_bytes(), &args.patient_id);
            let order = client.create_order(&prescription, &key).await?;
            let order_id = order["id"].as_str().context("no order id in answer")?.to_string();
            println!("order {order_id}");
            let files =
                medprint_server::client::list_files(&args.input).with_context(|| args.input.display().to_string())?;
            let b = bar(
                files.len() as u64,
                "{prefix:>10} [{bar:30.cyan/blue}] {pos}/{len} files ({eta})",
            );
            b.set_prefix("uploading");
            let summary = client
                .upload_dir(&order_id, &args.input, args.parallel, |done, _| {
                    b.set_position(done as u64)
                })
                .await?;
            b.finish();
            println!(
                "uploaded {} files ({:.1} MB), {} already held, {} refused",
                summary.sent,
                summary.bytes_sent as f64 / 1e6,
                summary.held,
                summary.rejected.len()
            );
            // Every file is accounted for: stored (sent now or already held) or refused.
            println!(
                "{} of {} files stored, {} refused",
                summary.sent + summary.held,
                files.len(),
                summary.rejected.len()
            );
            for (file, why) in &summary.rejected {
                eprintln!("refused {file}: {why}");
            }
            if args.no_submit {
                return Ok(());
            }
            let body = match &args.params {
                Some(p) => json!({"params": json_arg(p, "--params")?}),
                None => json!({}),
            };
            client.action(&order_id, "submit", &body).await?;
            println!("submitted; follow with: medprint status {order_id} --watch");
            if args.wait {
                let detail = watch_progress(&client, &order_id).await?;
                println!(
                    "order {order_id} is {}",
                    detail["order"]["state"].as_str().unwrap_or("")
                );
            }
            Ok(())
        })
    }))
}

/// Runs `medprint status`.
pub fn status(args: StatusArgs) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = Client::with_token(&args.conn.server, &args.conn.token)?;
            let Some(order) = &args.order else {
                let orders = client.get("/api/orders").await?;
                if args.json {
                    println!("{orders}");
                } else {
                    for o in orders.as_array().into_iter().flatten() {
                        println!(
                            "{}  {:<18} v{}",
                            o["id"].as_str().unwrap_or(""),
                            o["state"].as_str().unwrap_or(""),
                            o["current_version"]
                        );
                    }
                }
                return Ok(());
            };
            let detail = if args.watch {
                watch_progress(&client, order).await?
            } else {
                client.get(&format!("/api/orders/{order}")).await?
            };
            if args.json {
                println!("{detail}");
            } else {
                let o = &detail["order"];
                println!("order    {}", o["id"].as_str().unwrap_or(""));
                println!("state    {}", o["state"].as_str().unwrap_or(""));
                println!("version  {}", o["current_version"]);
                println!("files    {}", detail["files"]);
                if let Some(job) = detail["jobs"].as_array().and_then(|j| j.last()) {
                    println!(
                        "job      {} {:.0}% {} {}",
                        job["state"].as_str().unwrap_or(""),
                        job["progress_permille"].as_f64().unwrap_or(0.0) / 10.0,
                        job["stage"].as_str().unwrap_or(""),
                        job["error"].as_str().unwrap_or("")
                    );
                }
                println!("missing gates before printing: {}", detail["missing_gates"]);
                println!("your actions: {}", detail["actions"]);
            }
            Ok(())
        })
    }))
}

/// Runs `medprint download`.
pub fn download(args: DownloadArgs) -> ExitCode {
    finish(runtime().and_then(|rt| {
        rt.block_on(async {
            let client = Client::with_token(&args.conn.server, &args.conn.token)?;
            let detail = client.get(&format!("/api/orders/{}", args.order)).await?;
            let version = args
                .version
                .unwrap_or(detail["order"]["current_version"].as_i64().unwrap_or(0));
            if version < 1 {
                bail!("order {} has no model version yet", args.order);
            }
            let files = if args.files.is_empty() {
                ["model.stl", "model.3mf", "model.glb", "labels.nii.gz", "report.json"]
                    .map(String::from)
                    .to_vec()
            } else {
                args.files.clone()
            };
            for name in &files {
                if name.contains("..") || name.starts_with('/') {
                    bail!("{name}: not a file name of the version");
                }
                let dest = args.out.join(name);
                let size = client.download(&args.order, version, name, &dest).await?;
                println!("{} ({:.1} MB)", dest.display(), size as f64 / 1e6);
            }
            if args.files.is_empty() {
                match client.get(&format!("/api/orders/{}/audit", args.order)).await {
                    Ok(audit) => {
                        let dest = args.out.join("audit.json");
                        std::fs::write(&dest, serde_json::to_vec_pretty(&audit)?)
                            .with_context(|| dest.display().to_string())?;
                        println!(
                            "{} (check with: medprint verify --audit-file {})",
                            dest.display(),
                            dest.display()
                        );
                    }
                    Err(e) if e.status() == Some(403) => println!("audit trail: your role may not read it"),
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
    }))
}
