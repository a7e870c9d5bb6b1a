//! The HTTP API. Every handler checks the caller's role ([`crate::workflow::Role::may`]) and
//! that the order belongs to the caller's organisation (another organisation's order is "not
//! found", so ids cannot be probed), and records what it changed in the audit trail.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use medprint_audit::{sha256_hex, verify_chain, AuditRecord};
use medprint_pipeline::RunParams;
use medprint_store::{now_ms, GateRow, NewJob, OrderRow, Store, Transition};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{hash_password, new_secret, verify_password, Caller, SESSION_COOKIE, SESSION_MS, TOKEN_MS};
use crate::error::{ApiError, ApiJson};
use crate::workflow::{missing_gates, Action, OrderState, Role, GATES_BEFORE_PRINTING, QC_GATE};
use crate::AppState;

/// Attempts a pipeline job gets before it fails for good.
pub const JOB_MAX_ATTEMPTS: i64 = 3;

/// The whole API router (and the web app when built).
pub fn router(state: AppState) -> Router {
    let json_limit = state.config.max_json_bytes;
    let chunk_limit = state.config.max_chunk_bytes;
    let api = Router::new()
        .route("/api/health", get(health))
        .route("/api/openapi.json", get(crate::openapi::openapi_json))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/tokens", post(create_token))
        .route("/api/orgs", post(create_org).get(list_orgs))
        .route("/api/users", post(create_user).get(list_users))
        .route("/api/orders", post(create_order).get(list_orders))
        .route("/api/orders/{id}", get(order_detail))
        .route(
            "/api/orders/{id}/files",
            post(crate::uploads::announce).get(crate::uploads::list_files),
        )
        .route("/api/orders/{id}/actions/{action}", post(order_action))
        .route("/api/orders/{id}/annotations", post(annotate))
        .route("/api/orders/{id}/events", get(order_events))
        .route("/api/orders/{id}/audit", get(order_audit))
        .route("/api/orders/{id}/versions/{version}/files/{name}", get(download))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route("/api/materials", get(materials))
        .route("/api/quote", get(quote_for_anatomy))
        .route("/api/orders/{id}/quote", get(quote_for_order))
        .layer(DefaultBodyLimit::max(json_limit))
        .merge(
            Router::new()
                .route(
                    "/api/uploads/{id}",
                    get(crate::uploads::upload_status)
                        .head(crate::uploads::upload_offset)
                        .patch(crate::uploads::upload_chunk),
                )
                .layer(DefaultBodyLimit::max(chunk_limit)),
        )
        .fallback(web_or_not_found);
    api.with_state(state)
}

/// Unknown `/api/…` routes are JSON 404s; every other path is the web app.
async fn web_or_not_found(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let path = request.uri().path().to_string();
    if path == "/api" || path.starts_with("/api/") {
        return ApiError::NotFound("route".into()).into_response();
    }
    match &state.config.web_dir {
        Some(dir) => {
            use tower::ServiceExt;
            let service = tower_http::services::ServeDir::new(dir)
                .fallback(tower_http::services::ServeFile::new(dir.join("index.html")));
            match service.oneshot(request).await {
                Ok(r) => {
                    let mut r = r.map(Body::new);
                    crate::web::harden(&mut r);
                    r
                }
                Err(e) => ApiError::Internal(e.to_string()).into_response(),
            }
        }
        None => crate::web::embedded(&path),
    }
}

async fn health(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    state.store.user_count().await?;
    Ok(Json(json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})))
}

/// An audit record of `caller` doing `action` on `order_id` (empty for none).
pub(crate) fn audit_of(caller: &Caller, action: &str, order_id: &str, input: &[u8], details: Value) -> AuditRecord {
    AuditRecord {
        at_ms: now_ms(),
        actor: caller.user.id.clone(),
        org_id: caller.user.org_id.clone(),
        action: action.to_string(),
        order_id: order_id.to_string(),
        input_hash: if input.is_empty() {
            String::new()
        } else {
            sha256_hex(input)
        },
        output_hash: String::new(),
        details: details.to_string(),
    }
}

/// The order `id` if it belongs to the caller's organisation, else "not found".
pub(crate) async fn order_of_caller(store: &Store, caller: &Caller, id: &str) -> Result<OrderRow, ApiError> {
    if id.len() > 64 {
        return Err(ApiError::NotFound("order".into()));
    }
    match store.order(id).await {
        Ok(o) if o.org_id == caller.user.org_id => Ok(o),
        Ok(_) => Err(ApiError::NotFound("order".into())),
        Err(e) => Err(e.into()),
    }
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::BadRequest(format!("{field} is longer than {max} characters")));
    }
    Ok(())
}

// ---- quotes ----

async fn materials(_caller: Caller) -> Json<Value> {
    Json(json!(crate::quote::MATERIALS))
}

fn parse_deadline(text: Option<&str>) -> Result<Option<chrono::NaiveDate>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
                ApiError::BadRequest(format!(
                    "deadline {:?}: expected YYYY-MM-DD",
                    t.chars().take(20).collect::<String>()
                ))
            })
        })
        .transpose()
}

fn material_or_default(name: Option<&str>) -> Result<crate::quote::Material, ApiError> {
    let name = name.filter(|n| !n.is_empty()).unwrap_or("PLA");
    crate::quote::material(name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown material {:?}",
            name.chars().take(40).collect::<String>()
        ))
    })
}

/// `GET /api/quote?anatomy=pelvis,femur&material=PLA&deadline=YYYY-MM-DD`: a quote before
/// processing, from typical volumes of the anatomy asked for.
async fn quote_for_anatomy(
    _caller: Caller,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let anatomy: Vec<&str> = q
        .get("anatomy")
        .map(|a| a.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if anatomy.len() > 50 {
        return Err(ApiError::BadRequest("at most 50 anatomy names".into()));
    }
    let volume: f64 = if anatomy.is_empty() {
        crate::quote::typical_volume_cm3("")
    } else {
        anatomy.iter().map(|a| crate::quote::typical_volume_cm3(a)).sum()
    };
    let material = material_or_default(q.get("material").map(String::as_str))?;
    let deadline = parse_deadline(q.get("deadline").map(String::as_str))?;
    Ok(Json(json!(crate::quote::quote(
        volume,
        false,
        material,
        chrono::Utc::now().date_naive(),
        deadline
    ))))
}

/// `GET /api/orders/{id}/quote?material=…`: the quote of an order, from its model's measured
/// volume once processed, its prescription's materials and deadline.
async fn quote_for_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ViewOrder)?;
    let order = order_of_caller(&state.store, &caller, &id).await?;
    let prescription: Prescription = serde_json::from_str(&order.prescription).unwrap_or_default();
    let versions = state.store.versions(&id).await?;
    let measured = versions
        .iter()
        .find(|v| v.version == order.current_version)
        .and_then(|v| serde_json::from_str::<Value>(&v.summary).ok())
        .and_then(|s| s["segmentation"]["bone_volume_mm3"].as_f64())
        .map(|mm3| mm3 / 1000.0);
    let volume = measured.unwrap_or_else(|| {
        prescription
            .anatomy
            .iter()
            .map(|a| crate::quote::typical_volume_cm3(a))
            .sum::<f64>()
            .max(1.0)
    });
    let preferred = prescription
        .material_preferences
        .iter()
        .find(|m| crate::quote::material(m).is_some())
        .map(String::as_str);
    let material = material_or_default(q.get("material").map(String::as_str).or(preferred))?;
    let deadline = parse_deadline(prescription.deadline.as_deref())?;
    let today = chrono::DateTime::from_timestamp_millis(order.created_ms)
        .map(|d| d.date_naive())
        .unwrap_or_else(|| chrono::Utc::now().date_naive());
    Ok(Json(json!(crate::quote::quote(
        volume,
        measured.is_some(),
        material,
        today,
        deadline
    ))))
}

// ---- sign-in, tokens, organisations, users ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    email: String,
    password: String,
}

async fn login(State(state): State<AppState>, ApiJson(req): ApiJson<LoginRequest>) -> Result<Response, ApiError> {
    bounded("email", &req.email, 254)?;
    bounded("password", &req.password, 1024)?;
    let user = state.store.user_by_email(&req.email.to_lowercase()).await?;
    let phc = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_default();
    let password = req.password.clone();
    // Verify even for unknown users so that timing does not reveal which e-mails exist.
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let user = match user {
        Some(u) if ok && !u.disabled => u,
        _ => return Err(ApiError::BadLogin),
    };
    let secret = new_secret("mps_");
    state
        .store
        .add_credential(
            &sha256_hex(secret.as_bytes()),
            &user.id,
            medprint_store::CredentialKind::Session,
            "browser",
            now_ms() + SESSION_MS,
        )
        .await?;
    state
        .store
        .audit(AuditRecord {
            at_ms: now_ms(),
            actor: user.id.clone(),
            org_id: user.org_id.clone(),
            action: "user.login".into(),
            order_id: String::new(),
            input_hash: String::new(),
            output_hash: String::new(),
            details: "{}".into(),
        })
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        SESSION_MS / 1000
    );
    let mut response = Json(json!({"user": user})).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.to_string()))?,
    );
    Ok(response)
}

async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    state.store.revoke_credential(&caller.credential_hash).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static("medprint_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

async fn me(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let org = state.store.org(&caller.user.org_id).await?;
    let permissions: Vec<&str> = Action::WORKFLOW
        .into_iter()
        .chain([
            Action::CreateOrder,
            Action::Upload,
            Action::Annotate,
            Action::CancelJob,
            Action::ViewAudit,
        ])
        .filter(|a| caller.role.may(*a))
        .map(Action::as_str)
        .collect();
    Ok(Json(
        json!({"user": caller.user, "org": org, "permissions": permissions}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    label: String,
}

async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::CreateToken)?;
    bounded("label", &req.label, 200)?;
    let secret = new_secret("mpt_");
    let expires = now_ms() + TOKEN_MS;
    state
        .store
        .add_credential(
            &sha256_hex(secret.as_bytes()),
            &caller.user.id,
            medprint_store::CredentialKind::ApiToken,
            &req.label,
            expires,
        )
        .await?;
    state
        .store
        .audit(audit_of(&caller, "token.create", "", &[], json!({"label": req.label})))
        .await?;
    Ok(Json(json!({"token": secret, "expires_ms": expires})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgRequest {
    name: String,
}

async fn create_org(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<OrgRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Action::CreateOrg)?;
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::BadRequest("organisation name is empty".into()));
    }
    bounded("name", name, 200)?;
    let org = state.store.create_org(name).await?;
    state
        .store
        .audit(audit_of(&caller, "org.create", "", &[], json!({"org": org.id})))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(org))))
}

async fn list_orgs(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ListOrgs)?;
    Ok(Json(json!(state.store.list_orgs().await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRequest {
    email: String,
    name: String,
    role: Role,
    password: String,
    /// Only a system administrator names another organisation.
    org_id: Option<String>,
}

async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<UserRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Action::CreateUser)?;
    let org_id = match (caller.role, &req.org_id) {
        (Role::SystemAdmin, Some(org)) => org.clone(),
        (_, None) => caller.user.org_id.clone(),
        (_, Some(org)) if *org == caller.user.org_id => org.clone(),
        _ => {
            return Err(ApiError::Forbidden(
                "an organisation administrator manages only their own organisation".into(),
            ))
        }
    };
    // Organisation admins make the clinical roles; system admins make organisation admins.
    let allowed = match caller.role {
        Role::SystemAdmin => matches!(req.role, Role::OrgAdmin | Role::SystemAdmin),
        _ => !matches!(req.role, Role::SystemAdmin),
    };
    if !allowed {
        return Err(ApiError::Forbidden(format!(
            "a {} may not create a {}",
            caller.role.as_str(),
            req.role.as_str()
        )));
    }
    let email = req.email.trim().to_lowercase();
    if !email.contains('@') || email.len() > 254 {
        return Err(ApiError::BadRequest("email is not an e-mail address".into()));
    }
    bounded("name", &req.name, 200)?;
    if req.password.chars().count() < 12 || req.password.len() > 1024 {
        return Err(ApiError::BadRequest("password must have 12 to 1024 characters".into()));
    }
    state.store.org(&org_id).await?;
    let password = req.password.clone();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let user = state
        .store
        .create_user(&org_id, &email, req.name.trim(), req.role.as_str(), &hash)
        .await?;
    state
        .store
        .audit(audit_of(
            &caller,
            "user.create",
            "",
            &[],
            json!({"user": user.id, "role": user.role, "org": org_id}),
        ))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

async fn list_users(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ListUsers)?;
    Ok(Json(json!(state.store.users_of_org(&caller.user.org_id).await?)))
}

// ---- orders ----

/// A prescription: free text plus structured fields.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Prescription {
    /// Anatomy wanted, e.g. `["pelvis", "L4"]`.
    #[serde(default)]
    pub anatomy: Vec<String>,
    /// `ct` or `mr`.
    #[serde(default)]
    pub scan_type: Option<String>,
    /// `hard` or `soft`.
    #[serde(default)]
    pub bone_type: Option<String>,
    /// Years.
    #[serde(default)]
    pub patient_age: Option<f32>,
    /// `female`, `male` or `unknown`.
    #[serde(default)]
    pub sex: Option<String>,
    /// kg.
    #[serde(default)]
    pub weight_kg: Option<f32>,
    /// ISO date (YYYY-MM-DD) the model is needed by.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Where to deliver.
    #[serde(default)]
    pub delivery_address: Option<String>,
    /// Preferred materials, most preferred first.
    #[serde(default)]
    pub material_preferences: Vec<String>,
    /// Free text for the team.
    #[serde(default)]
    pub notes: String,
}

impl Prescription {
    /// Checks ranges and lengths.
    pub fn validate(&self) -> Result<(), ApiError> {
        let bad = |m: String| Err(ApiError::BadRequest(m));
        if self.anatomy.len() > 50 || self.anatomy.iter().any(|a| a.is_empty() || a.len() > 100) {
            return bad("anatomy: at most 50 names of 1 to 100 characters".into());
        }
        if let Some(s) = &self.scan_type {
            if !matches!(s.as_str(), "ct" | "mr") {
                return bad(format!("scan_type {s:?}: expected ct or mr"));
            }
        }
        if let Some(b) = &self.bone_type {
            if !matches!(b.as_str(), "hard" | "soft") {
                return bad(format!("bone_type {b:?}: expected hard or soft"));
            }
        }
        if let Some(a) = self.patient_age {
            if !a.is_finite() || !(0.0..=130.0).contains(&a) {
                return bad(format!("patient_age {a}: expected 0 to 130 years"));
            }
        }
        if let Some(s) = &self.sex {
            if !matches!(s.as_str(), "female" | "male" | "unknown") {
                return bad(format!("sex {s:?}: expected female, male or unknown"));
            }
        }
        if let Some(w) = self.weight_kg {
            if !w.is_finite() || !(0.5..=500.0).contains(&w) {
                return bad(format!("weight_kg {w}: expected 0.5 to 500 kg"));
            }
        }
        if let Some(d) = &self.deadline {
            let ok = d.len() == 10
                && d.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !ok {
                return bad(format!("deadline {d:?}: expected YYYY-MM-DD"));
            }
        }
        if self.delivery_address.as_ref().is_some_and(|a| a.len() > 1000)
            || self.material_preferences.len() > 20
            || self.material_preferences.iter().any(|m| m.len() > 100)
            || self.notes.len() > 10_000
        {
            return bad("prescription text fields are too long".into());
        }
        Ok(())
    }

    /// Pipeline parameters implied by the prescription (print-ready by default).
    pub fn run_params(&self) -> RunParams {
        use medprint_pipeline::params::{BoneKind, ModalityKind, SexKind};
        RunParams {
            modality: self
                .scan_type
                .as_deref()
                .map(|s| if s == "mr" { ModalityKind::Mr } else { ModalityKind::Ct }),
            bone: if self.bone_type.as_deref() == Some("soft") {
                BoneKind::Soft
            } else {
                BoneKind::Hard
            },
            age_years: self.patient_age,
            sex: self.sex.as_deref().map(|s| match s {
                "female" => SexKind::Female,
                "male" => SexKind::Male,
                _ => SexKind::Unknown,
            }),
            weight_kg: self.weight_kg,
            print_ready: true,
            ..RunParams::default()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderRequest {
    prescription: Prescription,
    /// Keyed hash (e.g. HMAC-SHA256, hex) of the patient identity, made by the ordering
    /// organisation; the identity itself never reaches the server.
    patient_key: String,
}

async fn create_order(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<OrderRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Action::CreateOrder)?;
    req.prescription.validate()?;
    if req.patient_key.len() != 64 || !req.patient_key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::BadRequest(
            "patient_key must be a keyed hash of the patient identity: 64 hexadecimal digits".into(),
        ));
    }
    let prescription = serde_json::to_string(&req.prescription).map_err(|e| ApiError::Internal(e.to_string()))?;
    let audit = audit_of(&caller, "order.create", "", prescription.as_bytes(), json!({}));
    let order = state
        .store
        .create_order(
            &caller.user.org_id,
            &caller.user.id,
            OrderState::Draft.as_str(),
            &prescription,
            &req.patient_key.to_lowercase(),
            audit,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(order_json(&order))))
}

fn order_json(o: &OrderRow) -> Value {
    let prescription: Value = serde_json::from_str(&o.prescription).unwrap_or(Value::Null);
    json!({
        "id": o.id, "org_id": o.org_id, "created_by": o.created_by, "state": o.state,
        "prescription": prescription, "patient_key": o.patient_key,
        "current_version": o.current_version, "created_ms": o.created_ms, "updated_ms": o.updated_ms,
    })
}

async fn list_orders(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ListOrders)?;
    let orders = state.store.orders_of_org(&caller.user.org_id, 500).await?;
    Ok(Json(Value::Array(orders.iter().map(order_json).collect())))
}

async fn order_detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ViewOrder)?;
    let order = order_of_caller(&state.store, &caller, &id).await?;
    let (files, jobs, versions, annotations, gates, trail) = tokio::try_join!(
        state.store.files_of_order(&id),
        state.store.jobs_of_order(&id),
        state.store.versions(&id),
        state.store.annotations(&id),
        state.store.gates(&id, order.current_version),
        state.store.audit_chain(&id),
    )?;
    // The printer recorded when printing last started (every role that sees the order may see
    // it; the trail itself is for the roles that audit).
    let printing = trail
        .iter()
        .rev()
        .find(|e| e.record.action == "order.start_printing")
        .map(|e| {
            let details: Value = serde_json::from_str(&e.record.details).unwrap_or(Value::Null);
            json!({"at_ms": e.record.at_ms, "by": e.record.actor, "printer": details["data"]["printer"]})
        });
    let missing = missing_gates(gates.iter().map(|g| (g.gate.as_str(), g.role.as_str())));
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            let manifest: Value = serde_json::from_str(&v.manifest).unwrap_or(Value::Null);
            let files: Vec<&String> = manifest.as_object().map(|m| m.keys().collect()).unwrap_or_default();
            json!({
                "version": v.version, "job_id": v.job_id, "created_ms": v.created_ms,
                "params": serde_json::from_str::<Value>(&v.params).unwrap_or(Value::Null),
                "summary": serde_json::from_str::<Value>(&v.summary).unwrap_or(Value::Null),
                "files": files,
            })
        })
        .collect();
    let file_counts = json!({
        "stored": files.iter().filter(|f| f.state == "stored").count(),
        "receiving": files.iter().filter(|f| f.state == "receiving").count(),
        "rejected": files.iter().filter(|f| f.state == "rejected").count(),
    });
    let allowed: Vec<&str> = OrderState::parse(&order.state)
        .map(|s| {
            Action::WORKFLOW
                .into_iter()
                .filter(|a| caller.role.may(*a) && a.allowed_in().contains(&s))
                .map(Action::as_str)
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({
        "order": order_json(&order),
        "files": file_counts,
        "jobs": jobs,
        "versions": versions,
        "annotations": annotations,
        "gates": gates,
        "missing_gates": missing,
        "actions": allowed,
        "printing": printing,
    })))
}

/// Body of `POST /api/orders/{id}/actions/{action}`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActionRequest {
    #[serde(default)]
    comment: String,
    /// New pipeline parameters (submit, request_changes, rerun).
    #[serde(default)]
    params: Option<RunParams>,
    /// Quality control: measured dimensions against the model.
    #[serde(default)]
    measurements: Vec<Measurement>,
    /// Quality control tolerance in mm (default 0.5 mm).
    #[serde(default)]
    tolerance_mm: Option<f64>,
    /// Structured choices recorded with the action (parts and material chosen at approval,
    /// the printer assigned when printing starts…), at most 8 KB of JSON.
    #[serde(default)]
    data: Option<Value>,
}

/// One QC measurement: a named dimension on the model and on the print, mm.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Measurement {
    feature: String,
    model_mm: f64,
    measured_mm: f64,
}

async fn order_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action_name)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let action = Action::parse_workflow(&action_name)
        .ok_or_else(|| ApiError::NotFound(format!("action {:?}", action_name.chars().take(40).collect::<String>())))?;
    // The body is optional (an empty body is an action without comment or parameters).
    let req: ActionRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        ActionRequest::default()
    } else {
        let json_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?
    };
    bounded("comment", &req.comment, 10_000)?;
    caller.require(action)?;
    let order = order_of_caller(&state.store, &caller, &id).await?;
    let from = OrderState::parse(&order.state)
        .ok_or_else(|| ApiError::Internal(format!("order {id} has unknown state {:?}", order.state)))?;
    if !action.allowed_in().contains(&from) {
        return Err(ApiError::Conflict(format!(
            "cannot {} an order that is {}",
            action.as_str().replace('_', " "),
            from.as_str().replace('_', " ")
        )));
    }
    let store = &state.store;
    let mut to = action.next_state(from);
    let mut details = json!({"from": from.as_str(), "comment": req.comment});
    if let Some(data) = &req.data {
        if data.to_string().len() > 8192 {
            return Err(ApiError::BadRequest("data is larger than 8 KB".into()));
        }
        details["data"] = data.clone();
    }
    let mut enqueue = None;
    let mut gate = None;
    match action {
        Action::Submit | Action::RequestChanges | Action::Rerun => {
            let files = store.files_of_order(&id).await?;
            if !files.iter().any(|f| f.state == "stored") {
                return Err(ApiError::Conflict(
                    "no scan file has been uploaded to this order".into(),
                ));
            }
            if let Some(f) = files.iter().find(|f| f.state == "receiving") {
                return Err(ApiError::Conflict(format!(
                    "upload {} ({}) is not complete",
                    f.id, f.name
                )));
            }
            if store
                .jobs_of_order(&id)
                .await?
                .iter()
                .any(|j| j.state == "queued" || j.state == "running")
            {
                return Err(ApiError::Conflict(
                    "a job of this order is already queued or running".into(),
                ));
            }
            let prescription: crate::api::Prescription = serde_json::from_str(&order.prescription).unwrap_or_default();
            let params = req.params.clone().unwrap_or_else(|| prescription.run_params());
            params
                .to_options()
                .map_err(|e| ApiError::BadRequest(e.user_message()))?;
            let params_text = serde_json::to_string(&params).map_err(|e| ApiError::Internal(e.to_string()))?;
            let version = store.last_job_version(&id).await? + 1;
            details["version"] = json!(version);
            enqueue = Some(NewJob {
                id: medprint_store::new_id(),
                order_id: id.clone(),
                version,
                params: params_text,
                max_attempts: JOB_MAX_ATTEMPTS,
            });
        }
        Action::StartPrinting => {
            let gates = store.gates(&id, order.current_version).await?;
            let missing = missing_gates(gates.iter().map(|g| (g.gate.as_str(), g.role.as_str())));
            if !missing.is_empty() {
                return Err(ApiError::Conflict(format!(
                    "printing cannot start before every quality gate is passed; missing: {}",
                    missing.join(", ")
                )));
            }
        }
        Action::Ship => {
            let gates = store.gates(&id, order.current_version).await?;
            let passed = gates.iter().any(|g| {
                g.gate == QC_GATE
                    && serde_json::from_str::<Value>(&g.data)
                        .ok()
                        .and_then(|d| d["passed"].as_bool())
                        == Some(true)
            });
            if !passed {
                return Err(ApiError::Conflict("quality control has not passed".into()));
            }
        }
        Action::RecordQc => {
            if req.measurements.is_empty() || req.measurements.len() > 200 {
                return Err(ApiError::BadRequest(
                    "quality control needs 1 to 200 measurements".into(),
                ));
            }
            let tolerance = req.tolerance_mm.unwrap_or(0.5);
            if !tolerance.is_finite() || tolerance <= 0.0 || tolerance > 10.0 {
                return Err(ApiError::BadRequest("tolerance_mm must be in (0, 10]".into()));
            }
            let mut worst: f64 = 0.0;
            for m in &req.measurements {
                if !m.model_mm.is_finite() || !m.measured_mm.is_finite() || m.model_mm <= 0.0 || m.feature.len() > 200 {
                    return Err(ApiError::BadRequest(format!(
                        "measurement {:?} is not a positive length",
                        m.feature
                    )));
                }
                worst = worst.max((m.measured_mm - m.model_mm).abs());
            }
            let passed = worst <= tolerance;
            if !passed {
                to = OrderState::Printing;
            }
            details["qc"] = json!({"passed": passed, "worst_deviation_mm": worst, "tolerance_mm": tolerance});
        }
        _ => {}
    }
    if let Some(name) = action.gate() {
        let data = details.get("qc").cloned().unwrap_or(json!({}));
        let data = if action == Action::RecordQc {
            json!({"passed": data["passed"], "worst_deviation_mm": data["worst_deviation_mm"],
                   "tolerance_mm": data["tolerance_mm"], "measurements": req.measurements})
        } else {
            req.data.clone().unwrap_or(data)
        };
        gate = Some(GateRow {
            order_id: id.clone(),
            version: order.current_version,
            gate: name.to_string(),
            user_id: caller.user.id.clone(),
            role: caller.role.as_str().to_string(),
            comment: req.comment.clone(),
            data: data.to_string(),
            at_ms: now_ms(),
        });
    }
    let body_bytes =
        serde_json::to_vec(&json!({"comment": req.comment, "params": req.params, "measurements": req.measurements}))
            .unwrap_or_default();
    let audit = audit_of(
        &caller,
        &format!("order.{}", action.as_str()),
        &id,
        &body_bytes,
        details,
    );
    let mut updated = store
        .apply_transition(Transition {
            order_id: id.clone(),
            from: from.as_str().into(),
            to: to.as_str().into(),
            gate,
            enqueue,
            audit,
        })
        .await?;
    if action == Action::CancelOrder {
        for job in store.jobs_of_order(&id).await? {
            if job.state == "queued" || job.state == "running" {
                let _ = store
                    .cancel_job(
                        &job.id,
                        audit_of(&caller, "job.cancel", &id, &[], json!({"job": job.id})),
                    )
                    .await;
            }
        }
        updated = store.order(&id).await?;
    }
    // Review ends when both the clinician and the radiologist have passed their gates.
    if matches!(action, Action::ApproveModel | Action::VerifySegmentation) {
        let gates = store.gates(&id, updated.current_version).await?;
        let review_done = GATES_BEFORE_PRINTING[..2]
            .iter()
            .all(|g| gates.iter().any(|p| p.gate == g.name && p.role == g.role.as_str()));
        if review_done {
            let audit = audit_of(
                &caller,
                "order.review_complete",
                &id,
                &[],
                json!({"version": updated.current_version}),
            );
            match store
                .apply_transition(Transition {
                    order_id: id.clone(),
                    from: OrderState::Review.as_str().into(),
                    to: OrderState::SignOff.as_str().into(),
                    gate: None,
                    enqueue: None,
                    audit,
                })
                .await
            {
                Ok(o) => updated = o,
                Err(e) if e.is_unique_violation() => updated = store.order(&id).await?,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(Json(order_json(&updated)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnotationRequest {
    text: String,
    #[serde(default)]
    position: Value,
}

async fn annotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AnnotationRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Action::Annotate)?;
    let order = order_of_caller(&state.store, &caller, &id).await?;
    let in_state = OrderState::parse(&order.state).is_some_and(|s| Action::Annotate.allowed_in().contains(&s));
    if !in_state {
        return Err(ApiError::Conflict(format!(
            "cannot annotate an order that is {}",
            order.state
        )));
    }
    if req.text.trim().is_empty() {
        return Err(ApiError::BadRequest("annotation text is empty".into()));
    }
    bounded("text", &req.text, 10_000)?;
    let position = req.position.to_string();
    bounded("position", &position, 2_000)?;
    let audit = audit_of(
        &caller,
        "order.annotate",
        &id,
        req.text.as_bytes(),
        json!({"version": order.current_version}),
    );
    let a = state
        .store
        .add_annotation(
            &id,
            order.current_version,
            &caller.user.id,
            req.text.trim(),
            &position,
            audit,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(a))))
}

async fn cancel_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::CancelJob)?;
    let job = state
        .store
        .job(&job_id)
        .await
        .map_err(|_| ApiError::NotFound("job".into()))?;
    order_of_caller(&state.store, &caller, &job.order_id).await?;
    let audit = audit_of(&caller, "job.cancel", &job.order_id, &[], json!({"job": job.id}));
    Ok(Json(json!(state.store.cancel_job(&job_id, audit).await?)))
}

/// One snapshot of an order's processing, sent as a server-sent event.
async fn progress_snapshot(store: &Store, id: &str) -> Result<Value, ApiError> {
    let order = store.order(id).await?;
    let jobs = store.jobs_of_order(id).await?;
    let job = jobs.last().map(|j| {
        json!({"id": j.id, "state": j.state, "version": j.version, "attempts": j.attempts,
               "progress": j.progress_permille as f64 / 1000.0, "stage": j.stage,
               "eta_ms": j.eta_ms, "error": j.error})
    });
    Ok(json!({"order_id": id, "state": order.state, "current_version": order.current_version, "job": job}))
}

async fn order_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(Action::ViewOrder)?;
    order_of_caller(&state.store, &caller, &id).await?;
    let store = state.store.clone();
    let stream = futures::stream::unfold(
        (store, id, String::new(), true),
        |(store, id, last, first)| async move {
            loop {
                if !first {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                let snapshot = match progress_snapshot(&store, &id).await {
                    Ok(s) => s.to_string(),
                    Err(e) => {
                        // The event carries the plain message; an internal detail goes to the log.
                        if let ApiError::Internal(detail) = &e {
                            tracing::error!(%detail, order = %id, "progress snapshot failed");
                        }
                        json!({"error": e.to_string()}).to_string()
                    }
                };
                if snapshot != last {
                    let event = Event::default().event("progress").data(snapshot.clone());
                    return Some((Ok(event), (store, id, snapshot, false)));
                }
                // Unchanged: poll again (keep-alive comments keep the connection open).
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        },
    );
    Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))))
}

async fn order_audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Action::ViewAudit)?;
    order_of_caller(&state.store, &caller, &id).await?;
    let entries = state.store.audit_chain(&id).await?;
    let verified = verify_chain(&entries);
    Ok(Json(json!({
        "order_id": id,
        "entries": entries,
        "intact": verified.is_ok(),
        "head_hash": verified.as_ref().map(|s| s.head_hash.clone()).unwrap_or_default(),
        "problem": verified.err().map(|e| e.to_string()),
    })))
}

/// Content type of a model or report file by its extension.
fn content_type_of(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "stl" => "model/stl",
        "3mf" => "model/3mf",
        "glb" => "model/gltf-binary",
        "json" => "application/json",
        "png" => "image/png",
        "gz" => "application/gzip",
        "obj" => "model/obj",
        _ => "application/octet-stream",
    }
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, version, name)): Path<(String, i64, String)>,
) -> Result<Response, ApiError> {
    caller.require(Action::Download)?;
    order_of_caller(&state.store, &caller, &id).await?;
    let versions = state.store.versions(&id).await?;
    let v = versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| ApiError::NotFound(format!("version {version}")))?;
    let manifest: Value = serde_json::from_str(&v.manifest).map_err(|e| ApiError::Internal(e.to_string()))?;
    // Names are looked up in the version's manifest: nothing outside it can be reached.
    let entry = manifest.get(&name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "file {:?} in version {version}",
            name.chars().take(80).collect::<String>()
        ))
    })?;
    let key = entry["key"]
        .as_str()
        .ok_or_else(|| ApiError::Internal("manifest entry without key".into()))?;
    let (size, stream) = state
        .storage
        .stream(key)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let file_name = name.rsplit('/').next().unwrap_or("file").replace('"', "");
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type_of(&name)));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    if let Some(sha) = entry["sha256"].as_str().and_then(|s| HeaderValue::from_str(s).ok()) {
        headers.insert("x-content-sha256", sha);
    }
    Ok((headers, Body::from_stream(stream)).into_response())
}
