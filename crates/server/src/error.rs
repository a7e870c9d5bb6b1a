//! API errors: each becomes a status code and a JSON body `{"error": code, "message": text}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use medprint_store::StoreError;
use serde::de::DeserializeOwned;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid session cookie or API token.
    #[error("sign in first (session cookie or Authorization: Bearer token)")]
    Unauthenticated,
    /// Wrong e-mail or password.
    #[error("wrong e-mail or password")]
    BadLogin,
    /// The caller's role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Not found, or belongs to another organisation (indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(String),
    /// The request is malformed or its values are out of range.
    #[error("{0}")]
    BadRequest(String),
    /// The body is not of the expected media type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request conflicts with the current state (order moved on, stale upload offset).
    #[error("{0}")]
    Conflict(String),
    /// The body or upload is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// The content is well-formed but unusable (not DICOM, hash mismatch, hostile archive).
    #[error("{0}")]
    Unprocessable(String),
    /// Something failed on the server; details are logged, not sent.
    #[error("internal error (logged on the server)")]
    Internal(String),
}

impl ApiError {
    /// HTTP status and stable error code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::BadLogin => (StatusCode::UNAUTHORIZED, "bad_login"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        (
            status,
            axum::Json(serde_json::json!({"error": code, "message": self.to_string()})),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, .. } => ApiError::NotFound(what.to_string()),
            StoreError::Conflict(what) => ApiError::Conflict(format!("conflict with {what}")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<object_store::Error> for ApiError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => ApiError::NotFound("stored file".into()),
            other => ApiError::Internal(format!("storage: {other}")),
        }
    }
}

/// A JSON body whose rejections are [`ApiError`]s (JSON error bodies, 415 for a wrong content
/// type, 413 for an oversized body) instead of axum's plain-text ones.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            )),
            Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::TooLarge("request body is larger than allowed".into()))
            }
            Err(other) => Err(ApiError::BadRequest(format!(
                "invalid JSON body: {}",
                other.body_text()
            ))),
        }
    }
}
