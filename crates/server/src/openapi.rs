//! The OpenAPI 3.1 document served at `/api/openapi.json`, built from one table of
//! operations ([`OPERATIONS`]) that a test checks against the router.

use axum::Json;
use serde_json::{json, Map, Value};

use crate::workflow::{Action, OrderState, Role};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template with `{name}` parameters.
    pub path: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Request body media type and schema name, if any.
    pub body: Option<(&'static str, &'static str)>,
    /// Success status.
    pub ok: u16,
    /// Needs a session cookie or token.
    pub auth: bool,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<(&'static str, &'static str)>,
    ok: u16,
    auth: bool,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        body,
        ok,
        auth,
    }
}

const JSON: &str = "application/json";

/// Every operation of the API.
pub const OPERATIONS: &[Operation] = &[
    op("get", "/api/health", "Liveness and database check", None, 200, false),
    op("get", "/api/openapi.json", "This document", None, 200, false),
    op(
        "post",
        "/api/login",
        "Password sign-in; sets the session cookie",
        Some((JSON, "Login")),
        200,
        false,
    ),
    op("post", "/api/logout", "Ends the session", None, 204, true),
    op(
        "get",
        "/api/me",
        "The signed-in user, organisation and allowed actions",
        None,
        200,
        true,
    ),
    op(
        "post",
        "/api/tokens",
        "Creates an API token for the CLI (shown once)",
        Some((JSON, "TokenRequest")),
        200,
        true,
    ),
    op(
        "post",
        "/api/orgs",
        "Creates an organisation (system administrator)",
        Some((JSON, "OrgRequest")),
        201,
        true,
    ),
    op(
        "get",
        "/api/orgs",
        "Lists organisations (system administrator)",
        None,
        200,
        true,
    ),
    op(
        "post",
        "/api/users",
        "Creates a user",
        Some((JSON, "UserRequest")),
        201,
        true,
    ),
    op(
        "get",
        "/api/users",
        "Lists the users of the caller's organisation",
        None,
        200,
        true,
    ),
    op(
        "post",
        "/api/orders",
        "Creates an order with a prescription and a keyed patient hash",
        Some((JSON, "OrderRequest")),
        201,
        true,
    ),
    op(
        "get",
        "/api/orders",
        "Lists the organisation's orders, newest first",
        None,
        200,
        true,
    ),
    op(
        "get",
        "/api/orders/{id}",
        "An order with its files, jobs, versions, gates and allowed actions",
        None,
        200,
        true,
    ),
    op(
        "post",
        "/api/orders/{id}/files",
        "Announces a DICOM file or zip to upload (skips content already held, by SHA-256 only; 422 with the reason for content refused before)",
        Some((JSON, "Announce")),
        201,
        true,
    ),
    op(
        "get",
        "/api/orders/{id}/files",
        "Files of an order with their de-identification records",
        None,
        200,
        true,
    ),
    op(
        "post",
        "/api/orders/{id}/actions/{action}",
        "A workflow action (see the Action schema)",
        Some((JSON, "ActionRequest")),
        200,
        true,
    ),
    op(
        "post",
        "/api/orders/{id}/annotations",
        "Annotates the current version",
        Some((JSON, "Annotation")),
        201,
        true,
    ),
    op(
        "get",
        "/api/orders/{id}/events",
        "Server-sent events: state, progress, stage and ETA",
        None,
        200,
        true,
    ),
    op(
        "get",
        "/api/orders/{id}/audit",
        "The order's hash-chained audit trail and whether it verifies",
        None,
        200,
        true,
    ),
    op(
        "get",
        "/api/orders/{id}/versions/{version}/files/{name}",
        "Downloads an output (STL, 3MF, GLB, labels, report, previews)",
        None,
        200,
        true,
    ),
    op(
        "post",
        "/api/jobs/{id}/cancel",
        "Cancels a queued or running job",
        None,
        200,
        true,
    ),
    op("get", "/api/uploads/{id}", "An upload's state", None, 200, true),
    op(
        "head",
        "/api/uploads/{id}",
        "The offset to resume an upload from (Upload-Offset header)",
        None,
        204,
        true,
    ),
    op(
        "patch",
        "/api/uploads/{id}",
        "Appends a chunk at Upload-Offset",
        Some(("application/offset+octet-stream", "Chunk")),
        202,
        true,
    ),
];

fn schemas() -> Value {
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let states: Vec<&str> = OrderState::ALL.iter().map(|s| s.as_str()).collect();
    let actions: Vec<&str> = Action::WORKFLOW.iter().map(|a| a.as_str()).collect();
    json!({
        "Error": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Login": {"type": "object", "required": ["email", "password"],
                  "properties": {"email": {"type": "string"}, "password": {"type": "string"}}},
        "TokenRequest": {"type": "object", "required": ["label"], "properties": {"label": {"type": "string"}}},
        "OrgRequest": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "Role": {"type": "string", "enum": roles},
        "OrderState": {"type": "string", "enum": states},
        "Action": {"type": "string", "enum": actions},
        "UserRequest": {"type": "object", "required": ["email", "name", "role", "password"],
            "properties": {"email": {"type": "string"}, "name": {"type": "string"},
                           "role": {"$ref": "#/components/schemas/Role"},
                           "password": {"type": "string", "minLength": 12},
                           "org_id": {"type": "string"}}},
        "Prescription": {"type": "object", "properties": {
            "anatomy": {"type": "array", "items": {"type": "string"}},
            "scan_type": {"enum": ["ct", "mr"]}, "bone_type": {"enum": ["hard", "soft"]},
            "patient_age": {"type": "number", "minimum": 0, "maximum": 130},
            "sex": {"enum": ["female", "male", "unknown"]},
            "weight_kg": {"type": "number", "minimum": 0.5, "maximum": 500},
            "deadline": {"type": "string", "format": "date"},
            "delivery_address": {"type": "string"},
            "material_preferences": {"type": "array", "items": {"type": "string"}},
            "notes": {"type": "string"}}},
        "OrderRequest": {"type": "object", "required": ["prescription", "patient_key"], "properties": {
            "prescription": {"$ref": "#/components/schemas/Prescription"},
            "patient_key": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$",
                            "description": "keyed hash (HMAC-SHA256) of the patient identity made by the ordering organisation"}}},
        "Announce": {"type": "object", "required": ["name", "size", "sha256"], "properties": {
            "name": {"type": "string"}, "size": {"type": "integer"}, "sha256": {"type": "string"},
            "kind": {"enum": ["dicom", "zip"]}, "sop_instance_uid": {"type": "string"}}},
        "ActionRequest": {"type": "object", "properties": {
            "comment": {"type": "string"},
            "params": {"type": "object", "description": "pipeline parameters (RunParams)"},
            "measurements": {"type": "array", "items": {"type": "object", "required": ["feature", "model_mm", "measured_mm"],
                "properties": {"feature": {"type": "string"}, "model_mm": {"type": "number"}, "measured_mm": {"type": "number"}}}},
            "tolerance_mm": {"type": "number"},
            "data": {"type": "object", "description": "choices recorded with the action: parts and material at approval, printer at start_printing"}}},
        "Annotation": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}, "position": {}}},
        "Chunk": {"type": "string", "format": "binary"},
    })
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let params: Vec<Value> = o
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut operation = json!({
            "summary": o.summary,
            "parameters": params,
            "responses": {
                o.ok.to_string(): {"description": "success"},
                "default": {"description": "error", "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        if let Some((media, schema)) = o.body {
            operation["requestBody"] = json!({"required": true, "content": {media: {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
        }
        if o.auth {
            operation["security"] = json!([{"session": []}, {"token": []}]);
        }
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "medprint order server", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Orders of 1:1 print-ready anatomical models: upload, processing, review, sign-off, printing, QC, delivery."},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": crate::auth::SESSION_COOKIE},
                "token": {"type": "http", "scheme": "bearer"},
            },
        },
    })
}

pub(crate) async fn openapi_json() -> Json<Value> {
    Json(document())
}
