//! Passwords (argon2id), session cookies and API tokens, and the [`Caller`] extractor.
//!
//! Secrets are 32 random bytes shown once (`mps_…` sessions, `mpt_…` tokens); the database
//! keeps only their SHA-256. The session cookie is `HttpOnly; SameSite=Strict; Secure`
//! (browsers treat `http://localhost` as secure) so other sites cannot send it.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use medprint_audit::{sha256_hex, to_hex};
use medprint_store::{CredentialKind, UserRow};

use crate::error::ApiError;
use crate::workflow::{Action, Role};
use crate::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "medprint_session";
/// Session lifetime: 12 hours.
pub const SESSION_MS: i64 = 12 * 3600 * 1000;
/// API token lifetime: 365 days.
pub const TOKEN_MS: i64 = 365 * 24 * 3600 * 1000;

/// Hashes a password with argon2id and a random salt (PHC string). Slow on purpose: call
/// from a blocking thread.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt =
        SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| ApiError::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
}

/// Checks a password against a PHC string; a malformed stored hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A new secret with a readable prefix.
pub fn new_secret(prefix: &str) -> String {
    format!("{prefix}{}", to_hex(&rand::random::<[u8; 32]>()))
}

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: UserRow,
    /// Their role.
    pub role: Role,
    /// Hash of the credential used (to log out a session).
    pub credential_hash: String,
}

impl Caller {
    /// Fails with 403 unless the caller's role may do `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if self.role.may(action) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} may not {}",
                self.role.as_str().replace('_', " "),
                action.as_str().replace('_', " ")
            )))
        }
    }
}

/// The session secret in a `Cookie` header, if any.
fn session_from_cookies(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| (t.trim().to_string(), CredentialKind::ApiToken));
        let (secret, kind) = bearer
            .or_else(|| session_from_cookies(parts).map(|s| (s, CredentialKind::Session)))
            .ok_or(ApiError::Unauthenticated)?;
        if secret.is_empty() || secret.len() > 200 {
            return Err(ApiError::Unauthenticated);
        }
        let credential_hash = sha256_hex(secret.as_bytes());
        let user = state
            .store
            .user_by_credential(&credential_hash, kind)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        let role = Role::parse(&user.role)
            .ok_or_else(|| ApiError::Internal(format!("user {} has unknown role {:?}", user.id, user.role)))?;
        Ok(Caller {
            user,
            role,
            credential_hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn secrets_are_unique_and_prefixed() {
        let a = new_secret("mpt_");
        assert!(a.starts_with("mpt_") && a.len() == 68);
        assert_ne!(a, new_secret("mpt_"));
    }
}
