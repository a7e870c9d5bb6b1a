//! Organisations, users and their credentials (browser sessions and API tokens).

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::{new_id, now_ms, Store, StoreError};

/// An organisation (a hospital, a printing service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgRow {
    /// Id.
    pub id: String,
    /// Unique display name.
    pub name: String,
    /// Creation time, ms since epoch.
    pub created_ms: i64,
}

/// A user; `role` is one of the server's role names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    /// Id.
    pub id: String,
    /// Organisation.
    pub org_id: String,
    /// Login e-mail, unique.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role name.
    pub role: String,
    /// PHC string of the argon2 password hash (never sent to clients).
    #[serde(skip)]
    pub password_hash: String,
    /// Disabled users cannot log in or use tokens.
    pub disabled: bool,
    /// Creation time.
    pub created_ms: i64,
}

/// What a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A browser session cookie.
    Session,
    /// A long-lived API token for the CLI.
    ApiToken,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ApiToken => "token",
        }
    }
}

fn user_from_row(r: &AnyRow) -> Result<UserRow, sqlx::Error> {
    Ok(UserRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_ms: r.try_get("created_ms")?,
    })
}

const USER_COLUMNS: &str = "id, org_id, email, name, role, password_hash, disabled, created_ms";

impl Store {
    /// Creates an organisation; its name must be unique.
    pub async fn create_org(&self, name: &str) -> Result<OrgRow, StoreError> {
        let org = OrgRow {
            id: new_id(),
            name: name.to_string(),
            created_ms: now_ms(),
        };
        sqlx::query("INSERT INTO orgs (id, name, created_ms) VALUES ($1, $2, $3)")
            .bind(&org.id)
            .bind(&org.name)
            .bind(org.created_ms)
            .execute(&self.pool)
            .await
            .map_err(|e| unique_to_conflict(e, format!("organisation {name:?}")))?;
        Ok(org)
    }

    /// Every organisation, by name.
    pub async fn list_orgs(&self) -> Result<Vec<OrgRow>, StoreError> {
        let rows = sqlx::query("SELECT id, name, created_ms FROM orgs ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OrgRow {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    created_ms: r.try_get("created_ms")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The organisation `id`.
    pub async fn org(&self, id: &str) -> Result<OrgRow, StoreError> {
        let r = sqlx::query("SELECT id, name, created_ms FROM orgs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "organisation",
                id: id.to_string(),
            })?;
        Ok(OrgRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            created_ms: r.try_get("created_ms")?,
        })
    }

    /// Creates a user; the e-mail must be unique.
    pub async fn create_user(
        &self,
        org_id: &str,
        email: &str,
        name: &str,
        role: &str,
        password_hash: &str,
    ) -> Result<UserRow, StoreError> {
        let user = UserRow {
            id: new_id(),
            org_id: org_id.to_string(),
            email: email.to_string(),
            name: name.to_string(),
            role: role.to_string(),
            password_hash: password_hash.to_string(),
            disabled: false,
            created_ms: now_ms(),
        };
        sqlx::query(
            "INSERT INTO users (id, org_id, email, name, role, password_hash, disabled, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(&user.id)
        .bind(&user.org_id)
        .bind(&user.email)
        .bind(&user.name)
        .bind(&user.role)
        .bind(&user.password_hash)
        .bind(user.created_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| unique_to_conflict(e, format!("user {email:?}")))?;
        Ok(user)
    }

    /// The user with this e-mail, if any.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// The user `id`.
    pub async fn user(&self, id: &str) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "user",
                id: id.to_string(),
            })?;
        Ok(user_from_row(&row)?)
    }

    /// Users of one organisation, by e-mail.
    pub async fn users_of_org(&self, org_id: &str) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY email"
        ))
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    /// Number of users (0 on a fresh database: the server then creates the first admin).
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?
            .try_get::<i64, _>("n")?)
    }

    /// Stores a credential whose secret hashes to `secret_hash`, valid until `expires_ms`.
    pub async fn add_credential(
        &self,
        secret_hash: &str,
        user_id: &str,
        kind: CredentialKind,
        label: &str,
        expires_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO credentials (secret_hash, user_id, kind, label, created_ms, expires_ms, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, 0)",
        )
        .bind(secret_hash)
        .bind(user_id)
        .bind(kind.as_str())
        .bind(label)
        .bind(now_ms())
        .bind(expires_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The enabled user owning an unexpired, unrevoked credential of `kind` with this hash.
    pub async fn user_by_credential(
        &self,
        secret_hash: &str,
        kind: CredentialKind,
    ) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.org_id, u.email, u.name, u.role, u.password_hash, u.disabled, u.created_ms \
             FROM credentials c JOIN users u ON u.id = c.user_id \
             WHERE c.secret_hash = $1 AND c.kind = $2 AND c.revoked = 0 AND c.expires_ms > $3 AND u.disabled = 0",
        )
        .bind(secret_hash)
        .bind(kind.as_str())
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Revokes a credential (logout).
    pub async fn revoke_credential(&self, secret_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE credentials SET revoked = 1 WHERE secret_hash = $1")
            .bind(secret_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn unique_to_conflict(e: sqlx::Error, what: String) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}
