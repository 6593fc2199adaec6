//! `/api/v1/secrets`: the workspace's secrets, written and deleted by name and listed by name
//! and time. No answer ever carries a value: values go in sealed and come out only as
//! `$secrets` inside the runs of workflows that declare them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use baton_store::{SecretStore, SecretSummary};

use crate::api::AppState;
use crate::api::dto::rfc3339;
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiJsonValue, ApiPath};
use crate::auth::access::Admin;
use crate::clock::now_ms;
use crate::secrets::{VaultError, list_secrets as list_stored, put_secret as put_stored};

/// A secret, without its value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretInfo {
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339: when the value was last replaced.
    pub updated_at: String,
}

impl From<SecretSummary> for SecretInfo {
    fn from(secret: SecretSummary) -> SecretInfo {
        SecretInfo { name: secret.name, created_at: rfc3339(secret.created_at), updated_at: rfc3339(secret.updated_at) }
    }
}

/// The secrets of the workspace, by name.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretList {
    pub items: Vec<SecretInfo>,
}

/// What a PUT answers: the name and when it was stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretWritten {
    pub name: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl From<VaultError> for ApiError {
    fn from(err: VaultError) -> ApiError {
        match err {
            VaultError::InvalidName(_) | VaultError::TooLarge(_) => ApiError::InvalidRequest(err.to_string()),
            VaultError::Store(err) => err.into(),
            VaultError::Key(err) => ApiError::Internal(err.to_string()),
        }
    }
}

/// Store a secret
///
/// The body is the secret's value, any JSON (`"s3cr3t"`, `{"token": "…"}`), at most 64 KiB.
/// It is encrypted with the server key before it is stored and is never shown again.
#[utoipa::path(
    put,
    path = "/api/v1/secrets/{name}",
    tag = "secrets",
    params(("name" = String, Path, pattern = "^[A-Za-z_][A-Za-z0-9_-]*$", max_length = 128,
        description = "Secret name: letters, digits, `_` and `-`, starting with a letter or `_`, at most 128")),
    request_body(description = "The value (JSON)", content(("application/json"))),
    responses(
        (status = 201, description = "Created", body = SecretWritten),
        (status = 200, description = "Replaced", body = SecretWritten),
        (status = 400, description = "`malformed-json` or `invalid-request` (name or size)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn put_secret(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(name): ApiPath<String>,
    ApiJsonValue(value): ApiJsonValue,
) -> Result<Response, ApiError> {
    let workspace = caller.workspace;
    let engine = &state.engine;
    let now = now_ms();
    let created = put_stored(engine.store(), engine.secret_key(), &workspace, &name, &value, now).await?;
    tracing::info!(workspace = %workspace, name = %name, created, "secret stored");
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(SecretWritten { name, updated_at: rfc3339(now) })).into_response())
}

/// List the secrets
///
/// Names and times only: no API returns a secret's value.
#[utoipa::path(
    get,
    path = "/api/v1/secrets",
    tag = "secrets",
    responses((status = 200, description = "The workspace's secrets by name", body = SecretList))
)]
pub(crate) async fn list_secrets(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<SecretList>, ApiError> {
    let secrets = list_stored(state.engine.store(), &caller.workspace).await?;
    Ok(Json(SecretList { items: secrets.into_iter().map(SecretInfo::from).collect() }))
}

/// Delete a secret
///
/// Runs that read it afterwards find `$secrets.NAME` absent.
#[utoipa::path(
    delete,
    path = "/api/v1/secrets/{name}",
    tag = "secrets",
    params(("name" = String, Path, pattern = "^[A-Za-z_][A-Za-z0-9_-]*$", max_length = 128, description = "Secret name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`secret-not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn delete_secret(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    if !state.engine.store().delete_secret(&caller.workspace, &name).await? {
        return Err(ApiError::SecretNotFound(name));
    }
    tracing::info!(workspace = %caller.workspace, name = %name, "secret deleted");
    Ok(StatusCode::NO_CONTENT)
}
