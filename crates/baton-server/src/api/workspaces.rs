//! `/api/v1/workspaces`: a server admin creates workspaces (each with its first admin and key);
//! every caller lists the workspaces it can see.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use baton_store::{AuthStore, MemberRecord, StoreError, WorkspaceRecord};

use crate::api::AppState;
use crate::api::error::{ApiError, Problem};
use crate::api::extract::ApiJson;
use crate::api::identity_dto::{NewWorkspaceRequest, WorkspaceCreated, WorkspaceInfo, WorkspaceList};
use crate::auth::access::{ServerAdmin, Viewer};
use crate::auth::{Role, bootstrap, keys};
use crate::clock::now_ms;

/// Longest workspace slug.
const MAX_SLUG_LEN: usize = 63;

/// Whether `slug` is 1 to 63 of `a-z 0-9 -`, starting with a letter or digit.
fn valid_slug(slug: &str) -> bool {
    let mut chars = slug.chars();
    slug.len() <= MAX_SLUG_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Create a workspace
///
/// Creates the workspace, its first admin member and that member's admin key, which the answer
/// shows this once.
#[utoipa::path(
    post,
    path = "/api/v1/workspaces",
    tag = "identity",
    request_body = NewWorkspaceRequest,
    responses(
        (status = 201, description = "Created", body = WorkspaceCreated),
        (status = 400, description = "`invalid-request` or `malformed-json`", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs a server admin", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`workspace-conflict`: the slug is taken", body = Problem,
            content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn create_workspace(
    State(state): State<AppState>,
    ServerAdmin(caller): ServerAdmin,
    ApiJson(request): ApiJson<NewWorkspaceRequest>,
) -> Result<Response, ApiError> {
    if !valid_slug(&request.slug) {
        return Err(ApiError::InvalidRequest(format!(
            "slug must be 1 to {MAX_SLUG_LEN} lowercase letters, digits and '-', starting with a letter or digit"
        )));
    }
    let name = request.name.trim();
    if name.is_empty() {
        return Err(ApiError::InvalidRequest("name must not be empty".into()));
    }
    let now = now_ms();
    let workspace = WorkspaceRecord {
        id: uuid::Uuid::new_v4().to_string(),
        slug: request.slug.clone(),
        name: name.to_owned(),
        state: "active".into(),
        created_at: now,
    };
    let (admin_name, admin_email) = match request.admin {
        Some(admin) => (admin.name, admin.email),
        None => ("admin".to_owned(), None),
    };
    let admin = MemberRecord {
        id: uuid::Uuid::new_v4().to_string(),
        workspace: workspace.id.clone(),
        name: admin_name,
        email: admin_email,
        role: Role::Admin.as_str().into(),
        server_admin: false,
        created_at: now,
    };
    let key = keys::generate_key().map_err(|err| ApiError::Internal(format!("random source failed: {err}")))?;
    let new = bootstrap::new_workspace(
        workspace.clone(),
        admin.clone(),
        &key,
        uuid::Uuid::new_v4().to_string(),
        Some(caller.member_id.clone()),
    );
    match state.auth.store().create_workspace(new).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::WorkspaceConflict(format!("the slug {:?} is taken", request.slug)));
        }
        Err(err) => return Err(err.into()),
    }
    tracing::info!(workspace = %workspace.id, slug = %workspace.slug, by = %caller.member_id, "workspace created");
    let body = WorkspaceCreated { workspace: workspace.into(), admin: admin.into(), admin_key: key };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// List workspaces
///
/// A server admin sees every workspace; any other caller its own.
#[utoipa::path(
    get,
    path = "/api/v1/workspaces",
    tag = "identity",
    responses(
        (status = 200, description = "The workspaces", body = WorkspaceList),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_workspaces(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
) -> Result<Json<WorkspaceList>, ApiError> {
    let store = state.auth.store();
    let records = match caller.server_admin {
        true => store.workspaces().await?,
        false => store.workspace(caller.workspace.as_str()).await?.into_iter().collect(),
    };
    Ok(Json(WorkspaceList { items: records.into_iter().map(WorkspaceInfo::from).collect() }))
}

#[cfg(test)]
mod tests {
    use super::valid_slug;

    #[test]
    fn slugs() {
        for good in ["a", "acme", "team-2", "0day"] {
            assert!(valid_slug(good), "{good}");
        }
        for bad in ["", "-a", "Acme", "a_b", "a b", "é", &"a".repeat(64)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
