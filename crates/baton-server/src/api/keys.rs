//! `/api/v1/keys`: the workspace's API keys. A key is shown once, when created; listings show
//! its prefix. Revoking writes the store and forgets the key on this node at once; other nodes
//! stop accepting it within the key cache's lifetime (1 s).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use baton_store::{AuthStore, KeyRecord};

use crate::api::AppState;
use crate::api::audit;
use crate::api::dto::rfc3339;
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiJson, ApiPath};
use crate::api::identity_dto::{KeyCreated, KeyInfo, KeyList, NewKeyRequest};
use crate::api::members::parse_role;
use crate::auth::access::Admin;
use crate::auth::{Role, keys};
use crate::clock::now_ms;

/// Create an API key
///
/// For the caller or another member of the workspace (`memberId`), with the member's role or a
/// lower one. The answer is the only time the key is shown.
#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "identity",
    request_body = NewKeyRequest,
    responses(
        (status = 201, description = "Created", body = KeyCreated),
        (status = 400, description = "`invalid-request` (role above the member's, bad time) or `malformed-json`",
            body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`member-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(request): ApiJson<NewKeyRequest>,
) -> Result<Response, ApiError> {
    let store = state.auth.store();
    let member_id = request.member_id.unwrap_or_else(|| caller.member_id.clone());
    let Some(member) = store.member(caller.workspace.as_str(), &member_id).await? else {
        return Err(ApiError::MemberNotFound(member_id));
    };
    let member_role = Role::parse(&member.role).unwrap_or(Role::Viewer);
    let role = match request.role.as_deref() {
        Some(text) => parse_role(text)?,
        None => member_role,
    };
    if role > member_role {
        return Err(ApiError::InvalidRequest(format!(
            "role {} is above the member's role {}",
            role.as_str(),
            member_role.as_str()
        )));
    }
    let name = request.name.trim();
    if name.is_empty() {
        return Err(ApiError::InvalidRequest("name must not be empty".into()));
    }
    let now = now_ms();
    let expires_at = match request.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at: jiff::Timestamp = text
                .parse()
                .map_err(|err| ApiError::InvalidRequest(format!("expiresAt is not an RFC 3339 time: {err}")))?;
            Some(at.as_millisecond())
        }
    };
    let key = keys::generate_key().map_err(|err| ApiError::Internal(format!("random source failed: {err}")))?;
    let record = KeyRecord {
        id: uuid::Uuid::new_v4().to_string(),
        workspace: caller.workspace.to_string(),
        member_id: member.id.clone(),
        name: name.to_owned(),
        prefix: keys::shown_prefix(&key),
        hash: keys::hash_key(&key),
        role: role.as_str().into(),
        created_at: now,
        expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    let detail =
        json!({"name": record.name, "prefix": record.prefix, "role": record.role, "memberId": record.member_id});
    store.create_key(record.clone(), audit::entry(&caller, "key.created", &record.id, detail, now)).await?;
    tracing::info!(workspace = %caller.workspace, key_id = %record.id, prefix = %record.prefix, by = %caller.member_id, "key created");
    let body = KeyCreated {
        key,
        id: record.id,
        prefix: record.prefix,
        role: record.role,
        name: record.name,
        member_id: record.member_id,
        expires_at: record.expires_at.map(rfc3339),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// List the workspace's API keys
///
/// Prefix, name, role, member, creation, last use (to the minute), expiry and revocation;
/// never the key.
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "identity",
    responses(
        (status = 200, description = "The keys, newest first", body = KeyList),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_keys(State(state): State<AppState>, Admin(caller): Admin) -> Result<Json<KeyList>, ApiError> {
    let keys = state.auth.store().keys(caller.workspace.as_str()).await?;
    Ok(Json(KeyList { items: keys.into_iter().map(KeyInfo::from).collect() }))
}

/// Revoke an API key
///
/// Every node refuses the key within 2 s (this one at once). Revoking it again changes nothing.
#[utoipa::path(
    delete,
    path = "/api/v1/keys/{id}",
    tag = "identity",
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`key-not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(key_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let entry = audit::entry(&caller, "key.revoked", &key_id, json!({}), now);
    if !state.auth.store().revoke_key(caller.workspace.as_str(), &key_id, entry).await? {
        return Err(ApiError::KeyNotFound(key_id));
    }
    state.auth.forget_key(&key_id);
    tracing::info!(workspace = %caller.workspace, key_id = %key_id, by = %caller.member_id, "key revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}
