//! Resumable uploads of DICOM files and zips, with de-identification before storage.
//!
//! 1. `POST /api/orders/{id}/files` announces a file (name, size, SHA-256, kind, SOP Instance
//!    UID). A file whose content the order already holds is not sent again (`held: true`);
//!    content refused before is refused again with its reason (422). The SHA-256 of the bytes
//!    is a file's only identity: the SOP Instance UID is recorded, never used to skip a file,
//!    so files without UIDs, files sharing a UID with other content and files of equal names
//!    (from different folders) are all stored.
//! 2. `PATCH /api/uploads/{upload}` with `Upload-Offset: N` and
//!    `Content-Type: application/offset+octet-stream` appends one chunk; `HEAD` returns the
//!    offset to resume from after a broken connection or a server restart.
//! 3. When the last byte arrives the content hash is checked, each DICOM file is
//!    de-identified (PS3.15 basic profile, what was removed is recorded) and stored; a zip is
//!    expanded within limits (unsafe names and non-DICOM members are skipped and reported).
//!
//! Staged bytes live in `DATA_DIR/staging/<upload>.part`; the database's `received` count is
//! the truth, so bytes written after the last recorded offset (a crash mid-chunk) are cut off.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use medprint_audit::sha256_hex;
use medprint_deid::{deidentify_bytes, DeidPolicy, DeidReport};
use medprint_store::{FileRow, NewFile};
use medprint_volume::archive::{read_zip, ArchiveLimits};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::{audit_of, order_of_caller};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson};
use crate::workflow::{Action, OrderState};
use crate::AppState;

/// Header carrying the byte offset of a chunk (and the offset to resume from).
pub const UPLOAD_OFFSET: &str = "upload-offset";
/// Media type of an upload chunk.
pub const CHUNK_CONTENT_TYPE: &str = "application/offset+octet-stream";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnnounceRequest {
    name: String,
    size: i64,
    sha256: String,
    #[serde(default = "default_kind")]
    kind: String,
    #[serde(default)]
    sop_instance_uid: String,
}

fn default_kind() -> String {
    "dicom".into()
}

fn staging_path(state: &AppState, upload_id: &str) -> PathBuf {
    state.config.data_dir.join("staging").join(format!("{upload_id}.part"))
}

/// The salt of an order's replacement UIDs: the ordering organisation's keyed patient hash
/// (secret to outsiders) and the order id, so UIDs stay consistent within an order.
fn uid_salt(order_id: &str, patient_key: &str) -> Vec<u8> {
    format!("medprint-uid:{patient_key}:{order_id}").into_bytes()
}

/// Checks that the caller may upload to this order now.
async fn uploadable_order(
    state: &AppState,
    caller: &Caller,
    order_id: &str,
) -> Result<medprint_store::OrderRow, ApiError> {
    caller.require(Action::Upload)?;
    let order = order_of_caller(&state.store, caller, order_id).await?;
    if OrderState::parse(&order.state) != Some(OrderState::Draft) {
        return Err(ApiError::Conflict(format!(
            "files can be added only while the order is a draft (it is {})",
            order.state
        )));
    }
    Ok(order)
}

pub(crate) async fn announce(
    State(state): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
    ApiJson(req): ApiJson<AnnounceRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    uploadable_order(&state, &caller, &order_id).await?;
    if !matches!(req.kind.as_str(), "dicom" | "zip") {
        return Err(ApiError::BadRequest(format!(
            "kind {:?}: expected dicom or zip",
            req.kind
        )));
    }
    if req.size <= 0 || req.size > state.config.max_upload_bytes {
        return Err(ApiError::TooLarge(format!(
            "file size {} is outside 1…{} bytes",
            req.size, state.config.max_upload_bytes
        )));
    }
    if req.sha256.len() != 64 || !req.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest("sha256 must be 64 hexadecimal digits".into()));
    }
    if req.sop_instance_uid.len() > 64 || !req.sop_instance_uid.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(ApiError::BadRequest(
            "sop_instance_uid must be a DICOM UID (digits and dots, ≤ 64)".into(),
        ));
    }
    // Keep only the last path component of the client's name, never used as a path here.
    let name: String = req
        .name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .take(255)
        .collect();
    let files = state.store.files_of_order(&order_id).await?;
    if files.len() >= state.config.max_files_per_order {
        return Err(ApiError::TooLarge(format!(
            "an order holds at most {} files",
            state.config.max_files_per_order
        )));
    }
    let (row, held) = state
        .store
        .announce_file(&NewFile {
            order_id: order_id.clone(),
            kind: req.kind.clone(),
            name,
            sop_uid: req.sop_instance_uid.clone(),
            original_sha256: req.sha256.to_lowercase(),
            size: req.size,
        })
        .await?;
    if held && row.state == "rejected" {
        return Err(ApiError::Unprocessable(format!("{}: {}", row.name, row.error)));
    }
    let status = if held { StatusCode::OK } else { StatusCode::CREATED };
    Ok((
        status,
        Json(json!({"upload": row, "held": held && row.state != "receiving", "offset": row.received})),
    ))
}

pub(crate) async fn list_files(
    State(state): State<AppState>,
    caller: Caller,
    Path(order_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ViewOrder)?;
    order_of_caller(&state.store, &caller, &order_id).await?;
    Ok(Json(json!(state.store.files_of_order(&order_id).await?)))
}

/// The upload if it belongs to an order of the caller's organisation.
async fn upload_of_caller(state: &AppState, caller: &Caller, upload_id: &str) -> Result<FileRow, ApiError> {
    if upload_id.len() > 64 {
        return Err(ApiError::NotFound("upload".into()));
    }
    let file = state
        .store
        .file(upload_id)
        .await
        .map_err(|_| ApiError::NotFound("upload".into()))?;
    order_of_caller(&state.store, caller, &file.order_id)
        .await
        .map_err(|_| ApiError::NotFound("upload".into()))?;
    Ok(file)
}

pub(crate) async fn upload_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(upload_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ViewOrder)?;
    Ok(Json(json!(upload_of_caller(&state, &caller, &upload_id).await?)))
}

pub(crate) async fn upload_offset(
    State(state): State<AppState>,
    caller: Caller,
    Path(upload_id): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(Action::ViewOrder)?;
    let file = upload_of_caller(&state, &caller, &upload_id).await?;
    let mut headers = HeaderMap::new();
    headers.insert(UPLOAD_OFFSET, HeaderValue::from(file.received));
    headers.insert("upload-length", HeaderValue::from(file.size));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}

pub(crate) async fn upload_chunk(
    State(state): State<AppState>,
    caller: Caller,
    Path(upload_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type != CHUNK_CONTENT_TYPE {
        return Err(ApiError::UnsupportedMediaType(format!(
            "upload chunks must be sent as {CHUNK_CONTENT_TYPE}"
        )));
    }
    let offset: i64 = headers
        .get(UPLOAD_OFFSET)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .filter(|o: &i64| *o >= 0)
        .ok_or_else(|| ApiError::BadRequest("Upload-Offset header missing or not a byte offset".into()))?;
    let file = upload_of_caller(&state, &caller, &upload_id).await?;
    let order = uploadable_order(&state, &caller, &file.order_id).await?;
    if file.state != "receiving" {
        return Err(ApiError::Conflict(format!(
            "upload {upload_id} is already complete ({})",
            file.state
        )));
    }
    if offset != file.received {
        return Err(ApiError::Conflict(format!(
            "upload {upload_id} continues at offset {}, not {offset}",
            file.received
        )));
    }
    let end = offset + body.len() as i64;
    if end > file.size {
        return Err(ApiError::TooLarge(format!(
            "chunk ends at {end}, past the announced size {}",
            file.size
        )));
    }
    if body.is_empty() && end != file.size {
        return Err(ApiError::BadRequest("empty chunk".into()));
    }
    let path = staging_path(&state, &upload_id);
    let chunk = body.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)?;
        f.set_len(offset as u64)?;
        f.seek(SeekFrom::Start(offset as u64))?;
        f.write_all(&chunk)?;
        f.sync_data()
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(format!("staging upload {upload_id}: {e}")))?;
    state.store.advance_file(&upload_id, offset, end).await?;
    if end < file.size {
        let mut h = HeaderMap::new();
        h.insert(UPLOAD_OFFSET, HeaderValue::from(end));
        return Ok((
            StatusCode::ACCEPTED,
            h,
            Json(json!({"offset": end, "state": "receiving"})),
        )
            .into_response());
    }
    let settled = finish_upload(&state, &caller, &order, file).await?;
    Ok((
        StatusCode::OK,
        Json(json!({"offset": end, "state": settled.state, "upload": settled})),
    )
        .into_response())
}

/// The last byte arrived: check the hash, de-identify and store (or expand a zip).
async fn finish_upload(
    state: &AppState,
    caller: &Caller,
    order: &medprint_store::OrderRow,
    file: FileRow,
) -> Result<FileRow, ApiError> {
    let path = staging_path(state, &file.id);
    let staged = path.clone();
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(&staged))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("reading staged upload: {e}")))?;
    if sha256_hex(&bytes) != file.original_sha256 || bytes.len() as i64 != file.size {
        // Start over: the bytes do not match what was announced.
        state.store.advance_file(&file.id, file.size, 0).await?;
        let _ = tokio::fs::remove_file(&path).await;
        return Err(ApiError::Unprocessable(
            "the uploaded bytes do not match the announced SHA-256; send the file again from offset 0".into(),
        ));
    }
    let policy = DeidPolicy {
        keep_dates: false,
        uid_salt: uid_salt(&order.id, &order.patient_key),
    };
    let result = if file.kind == "zip" {
        expand_zip(state, caller, order, &file, &path, policy).await
    } else {
        store_dicom(state, caller, order, &file, bytes, policy).await
    };
    let _ = tokio::fs::remove_file(&path).await;
    result
}

/// What a stored DICOM file's record says about its de-identification.
fn deid_summary(report: &DeidReport) -> Value {
    json!({
        "removed": report.removed.len(),
        "private_removed": report.private_removed,
        "uids_replaced": report.uids_replaced,
        "burned_in_annotation": report.burned_in_annotation,
    })
}

async fn store_dicom(
    state: &AppState,
    caller: &Caller,
    order: &medprint_store::OrderRow,
    file: &FileRow,
    bytes: Vec<u8>,
    policy: DeidPolicy,
) -> Result<FileRow, ApiError> {
    let outcome = tokio::task::spawn_blocking(move || deidentify_bytes(&bytes, &policy))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match outcome {
        Ok((clean, report)) => {
            let key = format!("orders/{}/inputs/{}.dcm", order.id, file.id);
            let stored_sha = sha256_hex(&clean);
            state
                .storage
                .put(&key, clean)
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let report_json = serde_json::to_string(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
            let mut audit = audit_of(
                caller,
                "upload.store",
                &order.id,
                &[],
                json!({"upload": file.id, "deid": deid_summary(&report)}),
            );
            audit.input_hash = file.original_sha256.clone();
            audit.output_hash = stored_sha.clone();
            Ok(state
                .store
                .settle_file(&file.id, "stored", &key, &stored_sha, &report_json, "", audit)
                .await?)
        }
        Err(e) => {
            let mut audit = audit_of(
                caller,
                "upload.reject",
                &order.id,
                &[],
                json!({"upload": file.id, "error": e.to_string()}),
            );
            audit.input_hash = file.original_sha256.clone();
            state
                .store
                .settle_file(&file.id, "rejected", "", "", "", &e.to_string(), audit)
                .await?;
            Err(ApiError::Unprocessable(format!("{}: {e}", file.name)))
        }
    }
}

async fn expand_zip(
    state: &AppState,
    caller: &Caller,
    order: &medprint_store::OrderRow,
    file: &FileRow,
    path: &std::path::Path,
    policy: DeidPolicy,
) -> Result<FileRow, ApiError> {
    let limits = ArchiveLimits {
        max_bytes: (state.config.max_upload_bytes as u64).saturating_mul(2),
        max_entries: state.config.max_files_per_order,
    };
    let zip_path = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || read_zip(&zip_path, limits))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let (entries, skipped) = match read {
        Ok(r) => r,
        Err(e) => {
            // The message names the staging path; give the client the problem only.
            let problem = e.to_string().replace(&path.display().to_string(), &file.name);
            let audit = audit_of(
                caller,
                "upload.reject",
                &order.id,
                &[],
                json!({"upload": file.id, "error": problem}),
            );
            state
                .store
                .settle_file(&file.id, "rejected", "", "", "", &problem, audit)
                .await?;
            return Err(ApiError::Unprocessable(problem));
        }
    };
    let mut skipped: Vec<Value> = skipped
        .into_iter()
        .map(|s| json!({"name": s.name.rsplit('!').next().unwrap_or(""), "problem": s.problem}))
        .collect();
    let (mut stored, mut duplicates) = (0usize, 0usize);
    for entry in entries {
        let member_name = entry.name.rsplit('!').next().unwrap_or("").to_string();
        let original_sha = sha256_hex(&entry.bytes);
        let policy = policy.clone();
        let bytes = entry.bytes.clone();
        let outcome = tokio::task::spawn_blocking(move || deidentify_bytes(&bytes, &policy))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let (clean, report) = match outcome {
            Ok(r) => r,
            Err(e) => {
                skipped.push(json!({"name": member_name, "problem": e.to_string()}));
                continue;
            }
        };
        let key = format!("orders/{}/inputs/{}.dcm", order.id, medprint_store::new_id());
        let stored_sha = sha256_hex(&clean);
        let size = entry.bytes.len() as i64;
        state
            .storage
            .put(&key, clean)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let report_json = serde_json::to_string(&report).map_err(|e| ApiError::Internal(e.to_string()))?;
        let member = NewFile {
            order_id: order.id.clone(),
            kind: "dicom".into(),
            name: member_name.chars().take(255).collect(),
            sop_uid: String::new(),
            original_sha256: original_sha,
            size,
        };
        match state
            .store
            .add_stored_member(&member, &key, &stored_sha, &report_json)
            .await?
        {
            Some(_) => stored += 1,
            None => duplicates += 1,
        }
    }
    let summary = json!({"members_stored": stored, "duplicates": duplicates, "skipped": skipped});
    let mut audit = audit_of(
        caller,
        "upload.expand",
        &order.id,
        &[],
        json!({"upload": file.id, "zip": summary}),
    );
    audit.input_hash = file.original_sha256.clone();
    let state_name = if stored > 0 || duplicates > 0 {
        "expanded"
    } else {
        "rejected"
    };
    let error = if state_name == "rejected" {
        "the zip holds no DICOM file that could be read"
    } else {
        ""
    };
    let row = state
        .store
        .settle_file(&file.id, state_name, "", "", &summary.to_string(), error, audit)
        .await?;
    if state_name == "rejected" {
        return Err(ApiError::Unprocessable(format!("{}: {error}", file.name)));
    }
    Ok(row)
}
