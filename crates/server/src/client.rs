//! A client of the order server for the CLI (`medprint submit`, `status`, `download`) and the
//! tests: token or session authentication, resumable chunked uploads that skip files the
//! order already holds, downloads, and waiting for a state.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::uploads::{CHUNK_CONTENT_TYPE, UPLOAD_OFFSET};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{status}: {message} ({code})")]
    Http {
        /// HTTP status.
        status: u16,
        /// Stable error code from the body.
        code: String,
        /// Message from the body.
        message: String,
    },
    /// The server could not be reached or the answer was not readable.
    #[error("server {0}")]
    Transport(String),
    /// Local files.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Error.
        source: std::io::Error,
    },
    /// Waiting for a state timed out.
    #[error("{0}")]
    Timeout(String),
}

impl ClientError {
    /// The HTTP status of a server error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Keyed hash of a patient identity: HMAC-SHA256 with the ordering organisation's secret, hex.
/// The server receives only this, so the organisation can later prove which patient a model
/// belongs to without ever sending the identity.
pub fn patient_key(org_secret: &[u8], patient_identity: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(org_secret).expect("HMAC accepts keys of any length");
    mac.update(patient_identity.trim().as_bytes());
    medprint_audit::to_hex(&mac.finalize().into_bytes())
}

#[derive(Debug, Clone)]
enum Credential {
    Token(String),
    Session(String),
}

/// A signed-in connection to a server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    credential: Credential,
    /// Upload chunk size in bytes.
    pub chunk_bytes: usize,
}

/// What uploading a folder did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UploadSummary {
    /// Files sent.
    pub sent: usize,
    /// Files the order already held (not sent again).
    pub held: usize,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Files the server refused, with its reason.
    pub rejected: Vec<(String, String)>,
}

fn transport(e: reqwest::Error) -> ClientError {
    ClientError::Transport(e.to_string())
}

async fn parse_response(response: reqwest::Response) -> Result<Value, ClientError> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(transport)?;
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    if status.is_success() {
        return Ok(body);
    }
    Err(ClientError::Http {
        status: status.as_u16(),
        code: body["error"].as_str().unwrap_or("").to_string(),
        message: body["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect()),
    })
}

impl Client {
    fn http() -> Result<reqwest::Client, ClientError> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(transport)
    }

    /// A client using an API token.
    pub fn with_token(base: &str, token: &str) -> Result<Self, ClientError> {
        Ok(Self {
            http: Self::http()?,
            base: base.trim_end_matches('/').to_string(),
            credential: Credential::Token(token.to_string()),
            chunk_bytes: 4 << 20,
        })
    }

    /// Signs in with e-mail and password (session cookie).
    pub async fn login(base: &str, email: &str, password: &str) -> Result<Self, ClientError> {
        let http = Self::http()?;
        let base = base.trim_end_matches('/').to_string();
        let response = http
            .post(format!("{base}/api/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .map_err(transport)?;
        let cookie = response
            .headers()
            .get(SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string);
        parse_response(response).await?;
        let cookie = cookie.ok_or_else(|| ClientError::Transport("no session cookie in the login answer".into()))?;
        Ok(Self {
            http,
            base,
            credential: Credential::Session(cookie),
            chunk_bytes: 4 << 20,
        })
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let rb = self.http.request(method, format!("{}{path}", self.base));
        match &self.credential {
            Credential::Token(t) => rb.header(AUTHORIZATION, format!("Bearer {t}")),
            Credential::Session(c) => rb.header(COOKIE, c.clone()),
        }
    }

    /// GET a JSON resource.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        parse_response(self.request(Method::GET, path).send().await.map_err(transport)?).await
    }

    /// POST a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        parse_response(
            self.request(Method::POST, path)
                .json(body)
                .send()
                .await
                .map_err(transport)?,
        )
        .await
    }

    /// Creates an API token for this user.
    pub async fn create_token(&self, label: &str) -> Result<String, ClientError> {
        let v = self.post("/api/tokens", &json!({"label": label})).await?;
        v["token"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ClientError::Transport("no token in answer".into()))
    }

    /// Creates an order.
    pub async fn create_order(&self, prescription: &Value, patient_key: &str) -> Result<Value, ClientError> {
        self.post(
            "/api/orders",
            &json!({"prescription": prescription, "patient_key": patient_key}),
        )
        .await
    }

    /// A workflow action on an order.
    pub async fn action(&self, order_id: &str, action: &str, body: &Value) -> Result<Value, ClientError> {
        self.post(&format!("/api/orders/{order_id}/actions/{action}"), body)
            .await
    }

    /// Uploads one file (kind `dicom` or `zip`), resuming from the server's offset after
    /// transport errors (up to 5 tries per chunk). Returns the final upload record, or `None`
    /// when the order already held the file (the same bytes: names and UIDs do not count).
    /// Content the server refuses is a 422 [`ClientError::Http`] with its reason.
    pub async fn upload_file(&self, order_id: &str, path: &Path, kind: &str) -> Result<Option<Value>, ClientError> {
        let io = |source| ClientError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = tokio::fs::read(path).await.map_err(io)?;
        let sop_instance_uid = if kind == "dicom" {
            sop_instance_uid(&bytes)
        } else {
            String::new()
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let announced = self
            .post(
                &format!("/api/orders/{order_id}/files"),
                &json!({"name": name, "size": bytes.len(), "sha256": medprint_audit::sha256_hex(&bytes),
                        "kind": kind, "sop_instance_uid": sop_instance_uid}),
            )
            .await?;
        if announced["held"].as_bool() == Some(true) {
            return Ok(None);
        }
        let upload_id = announced["upload"]["id"]
            .as_str()
            .ok_or_else(|| ClientError::Transport("no upload id in answer".into()))?
            .to_string();
        let mut offset = announced["offset"].as_u64().unwrap_or(0) as usize;
        let mut failures = 0;
        loop {
            let end = (offset + self.chunk_bytes).min(bytes.len());
            let sent = self
                .request(Method::PATCH, &format!("/api/uploads/{upload_id}"))
                .header(CONTENT_TYPE, CHUNK_CONTENT_TYPE)
                .header(UPLOAD_OFFSET, offset.to_string())
                .body(bytes[offset..end].to_vec())
                .send()
                .await;
            match sent {
                Ok(response) if response.status() == StatusCode::CONFLICT || response.status().is_server_error() => {
                    failures += 1;
                    if failures > 5 {
                        return parse_response(response).await.map(Some);
                    }
                    offset = self.resume_offset(&upload_id).await?;
                    if offset >= bytes.len() {
                        // An identical copy sent at the same time finished this upload.
                        return self.settled_upload(&upload_id).await.map(Some);
                    }
                }
                Ok(response) => {
                    let v = parse_response(response).await?;
                    failures = 0;
                    if v["state"].as_str() != Some("receiving") {
                        return Ok(Some(v["upload"].clone()));
                    }
                    offset = v["offset"].as_u64().unwrap_or(end as u64) as usize;
                }
                Err(e) => {
                    failures += 1;
                    if failures > 5 {
                        return Err(transport(e));
                    }
                    tokio::time::sleep(Duration::from_millis(200 * failures)).await;
                    offset = self.resume_offset(&upload_id).await?;
                }
            }
        }
    }

    /// The record of a complete upload; a refused one is an error with the server's reason.
    async fn settled_upload(&self, upload_id: &str) -> Result<Value, ClientError> {
        let upload = self.get(&format!("/api/uploads/{upload_id}")).await?;
        match upload["state"].as_str() {
            Some("rejected") => Err(ClientError::Http {
                status: 422,
                code: "unprocessable".into(),
                message: format!(
                    "{}: {}",
                    upload["name"].as_str().unwrap_or(""),
                    upload["error"].as_str().unwrap_or("")
                ),
            }),
            Some("receiving") => Err(ClientError::Transport(format!("upload {upload_id} is not complete"))),
            _ => Ok(upload),
        }
    }

    async fn resume_offset(&self, upload_id: &str) -> Result<usize, ClientError> {
        let response = self
            .request(Method::HEAD, &format!("/api/uploads/{upload_id}"))
            .send()
            .await
            .map_err(transport)?;
        response
            .headers()
            .get(UPLOAD_OFFSET)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::Transport(format!("no Upload-Offset for upload {upload_id}")))
    }

    /// Uploads every file under `dir` (zips as zips, everything else as DICOM), `parallel` at
    /// a time; `progress(done, total)` is called after each file.
    pub async fn upload_dir(
        &self,
        order_id: &str,
        dir: &Path,
        parallel: usize,
        progress: impl Fn(usize, usize),
    ) -> Result<UploadSummary, ClientError> {
        use futures::StreamExt;
        let files = list_files(dir).map_err(|source| ClientError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let total = files.len();
        let mut summary = UploadSummary::default();
        let mut results = futures::stream::iter(files.into_iter().map(|path| async move {
            let kind = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
                "zip"
            } else {
                "dicom"
            };
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            (path.clone(), size, self.upload_file(order_id, &path, kind).await)
        }))
        .buffer_unordered(parallel.max(1));
        let mut done = 0;
        while let Some((path, size, result)) = results.next().await {
            done += 1;
            match result {
                Ok(Some(_)) => {
                    summary.sent += 1;
                    summary.bytes_sent += size;
                }
                Ok(None) => summary.held += 1,
                Err(ClientError::Http {
                    status: 422, message, ..
                }) => summary.rejected.push((path.display().to_string(), message)),
                Err(e) => return Err(e),
            }
            progress(done, total);
        }
        Ok(summary)
    }

    /// Polls the order until its state is one of `states`; fails after `timeout`.
    pub async fn wait_for_state(
        &self,
        order_id: &str,
        states: &[&str],
        timeout: Duration,
    ) -> Result<Value, ClientError> {
        let started = Instant::now();
        loop {
            let detail = self.get(&format!("/api/orders/{order_id}")).await?;
            let state = detail["order"]["state"].as_str().unwrap_or("");
            if states.contains(&state) {
                return Ok(detail);
            }
            if started.elapsed() > timeout {
                return Err(ClientError::Timeout(format!(
                    "order {order_id} is still {state} after {:.0} s (waiting for {})",
                    timeout.as_secs_f64(),
                    states.join(" or ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Downloads one output of a version into `dest`; returns its size.
    pub async fn download(&self, order_id: &str, version: i64, name: &str, dest: &Path) -> Result<u64, ClientError> {
        let response = self
            .request(
                Method::GET,
                &format!("/api/orders/{order_id}/versions/{version}/files/{name}"),
            )
            .send()
            .await
            .map_err(transport)?;
        if !response.status().is_success() {
            return Err(parse_response(response)
                .await
                .err()
                .unwrap_or(ClientError::Transport("download failed".into())));
        }
        let bytes = response.bytes().await.map_err(transport)?;
        let io = |source| ClientError::Io {
            path: dest.display().to_string(),
            source,
        };
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io)?;
        }
        let partial = dest.with_extension("partial");
        tokio::fs::write(&partial, &bytes).await.map_err(io)?;
        tokio::fs::rename(&partial, dest).await.map_err(io)?;
        Ok(bytes.len() as u64)
    }
}

/// SOP Instance UID of a DICOM file's bytes ("" when unreadable: the server decides).
fn sop_instance_uid(bytes: &[u8]) -> String {
    medprint_deid::parse(bytes)
        .ok()
        .and_then(|obj| {
            obj.element(dicom_dictionary_std::tags::SOP_INSTANCE_UID)
                .ok()
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        })
        .filter(|s| s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .unwrap_or_default()
}

/// Regular files under `dir` (or `dir` itself when it is a file), sorted, hidden ones skipped.
pub fn list_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    if dir.is_file() {
        return Ok(vec![dir.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::patient_key;

    #[test]
    fn patient_key_is_rfc4231_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            patient_key(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
