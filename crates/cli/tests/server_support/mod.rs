//! Shared helpers of the server tests: a real `medprint serve` process on loopback, users of
//! every role, and DICOM series written from the real abdominal CT.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use medprint_server::client::{patient_key, Client};
use medprint_store::scratch::ScratchDatabase;
use medprint_store::Engine;
use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const USER_PASSWORD: &str = "a long enough password";

pub fn shared_data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel)
}

/// A `medprint serve` child process.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub database: String,
    pub log: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    /// Starts a server; `extra` are more arguments (e.g. `--workers 0`).
    pub fn start(data_dir: &Path, database: &str, extra: &[&str]) -> Server {
        Self::start_on(free_port(), data_dir, database, extra)
    }

    pub fn start_on(port: u16, data_dir: &Path, database: &str, extra: &[&str]) -> Server {
        std::fs::create_dir_all(data_dir).unwrap();
        let log = data_dir.join(format!(
            "server-{}.log",
            Instant::now().elapsed().as_nanos() + port as u128
        ));
        let child = Command::new(env!("CARGO_BIN_EXE_medprint"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .args([
                "--database",
                database,
                "--admin-password",
                ADMIN_PASSWORD,
                "--lease-secs",
                "2",
                "--retry-secs",
                "0.2",
            ])
            .args(["--log", "info"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start medprint serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            data_dir: data_dir.to_path_buf(),
            database: database.to_string(),
            log,
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let started = Instant::now();
        loop {
            // Plain blocking HTTP: the tests call this from inside their async runtime.
            let ok = (|| -> std::io::Result<bool> {
                use std::io::{Read, Write};
                let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.write_all(b"GET /api/health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
                let mut answer = String::new();
                s.read_to_string(&mut answer)?;
                Ok(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"))
            })()
            .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "server did not start: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A scratch database of `engine`.
pub async fn database(engine: Engine, dir: &Path) -> ScratchDatabase {
    ScratchDatabase::new(engine, dir).await.expect("scratch database")
}

/// One organisation with one user of each role, each signed in with an API token.
pub struct Team {
    pub org_id: String,
    pub admin: Client,
    pub org_admin: Client,
    pub surgeon: Client,
    pub radiologist: Client,
    pub director: Client,
    pub engineer: Client,
    pub technician: Client,
}

impl Team {
    pub fn by_role(&self, role: &str) -> &Client {
        match role {
            "system_admin" => &self.admin,
            "org_admin" => &self.org_admin,
            "surgeon" => &self.surgeon,
            "radiologist" => &self.radiologist,
            "clinical_director" => &self.director,
            "biomedical_engineer" => &self.engineer,
            "print_technician" => &self.technician,
            other => panic!("no role {other}"),
        }
    }
}

pub const ROLES: [&str; 7] = [
    "surgeon",
    "radiologist",
    "clinical_director",
    "biomedical_engineer",
    "print_technician",
    "org_admin",
    "system_admin",
];

async fn token_client(base: &str, email: &str, password: &str) -> Client {
    let session = Client::login(base, email, password).await.expect("login");
    let token = session.create_token("tests").await.expect("token");
    Client::with_token(base, &token).unwrap()
}

/// Creates an organisation named `name` and its users through the API.
pub async fn team(base: &str, name: &str) -> Team {
    let admin = token_client(base, "admin@localhost", ADMIN_PASSWORD).await;
    let org = admin
        .post("/api/orgs", &json!({"name": name}))
        .await
        .expect("create org");
    let org_id = org["id"].as_str().unwrap().to_string();
    let slug: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase();
    let admin_email = format!("admin@{slug}.org");
    admin
        .post(
            "/api/users",
            &json!({"email": admin_email, "name": "Org Admin", "role": "org_admin", "password": USER_PASSWORD, "org_id": org_id}),
        )
        .await
        .expect("create org admin");
    let org_admin = token_client(base, &admin_email, USER_PASSWORD).await;
    let mut clients = Vec::new();
    for role in &ROLES[..5] {
        let email = format!("{role}@{slug}.org");
        org_admin
            .post(
                "/api/users",
                &json!({"email": email, "name": role, "role": role, "password": USER_PASSWORD}),
            )
            .await
            .expect("create user");
        clients.push(token_client(base, &email, USER_PASSWORD).await);
    }
    let mut it = clients.into_iter();
    Team {
        org_id,
        admin,
        org_admin,
        surgeon: it.next().unwrap(),
        radiologist: it.next().unwrap(),
        director: it.next().unwrap(),
        engineer: it.next().unwrap(),
        technician: it.next().unwrap(),
    }
}

/// The abdominal CT (30 slices) written as a DICOM series (JPEG-LS) carrying a patient's identity.
pub fn abdomen_series(dir: &Path) -> Vec<PathBuf> {
    series_of("ct-abdomen-3mm/ct.nii.gz", dir)
}

/// The torso CT (112 slices), the same way.
pub fn torso_series(dir: &Path) -> Vec<PathBuf> {
    series_of("ct-torso-3mm/ct.nii.gz", dir)
}

fn series_of(rel: &str, dir: &Path) -> Vec<PathBuf> {
    use medprint_volume::dicom::{write_dicom_series, WriteSeriesOptions, WriteTransferSyntax};
    let scan = medprint_volume::nifti::read_nifti_scan(&shared_data(rel))
        .expect("scan")
        .volume;
    let options = WriteSeriesOptions {
        transfer_syntax: WriteTransferSyntax::JpegLsLossless,
        patient_name: "DOE^JANE".into(),
        patient_id: "MRN-0042-SECRET".into(),
        patient_birth_date: "19580314".into(),
        ..Default::default()
    };
    write_dicom_series(dir, &scan, &options).expect("write series")
}

pub fn prescription() -> Value {
    json!({
        "anatomy": ["lumbar spine", "pelvis"], "scan_type": "ct", "bone_type": "hard",
        "patient_age": 66, "sex": "female", "weight_kg": 71, "deadline": "2026-12-15",
        "delivery_address": "Theatre 3, General Hospital", "material_preferences": ["PLA", "resin"],
        "notes": "pre-operative planning of a pelvic osteotomy"
    })
}

pub fn key() -> String {
    patient_key(b"org secret", "MRN-0042-SECRET")
}

/// Waits until `cond(order detail)` holds.
pub async fn wait_until(
    client: &Client,
    order: &str,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let d = client.get(&format!("/api/orders/{order}")).await.expect("order detail");
        if cond(&d) {
            return d;
        }
        assert!(started.elapsed() < timeout, "timed out waiting for {what}: {d:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
