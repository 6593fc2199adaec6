//! `/api/v1/members`: the workspace's members and their roles. At least one admin always
//! remains; only a server admin makes or unmakes server admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use baton_store::{AuthStore, MemberRecord, MemberUpdate, StoreError};

use crate::api::AppState;
use crate::api::audit;
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiJson, ApiPath};
use crate::api::identity_dto::{MemberChange, MemberInfo, MemberList, NewMemberRequest};
use crate::auth::Role;
use crate::auth::access::{Admin, Viewer};
use crate::clock::now_ms;

/// A role text from a request, checked.
pub(crate) fn parse_role(text: &str) -> Result<Role, ApiError> {
    Role::parse(text)
        .ok_or_else(|| ApiError::InvalidRequest(format!("unknown role {text:?}: expected admin, member or viewer")))
}

/// List the workspace's members
#[utoipa::path(
    get,
    path = "/api/v1/members",
    tag = "identity",
    responses(
        (status = 200, description = "The members", body = MemberList),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
) -> Result<Json<MemberList>, ApiError> {
    let members = state.auth.store().members(caller.workspace.as_str()).await?;
    Ok(Json(MemberList { items: members.into_iter().map(MemberInfo::from).collect() }))
}

/// Add a member
///
/// The member gets access through a key an admin creates for it (`POST /api/v1/keys` with
/// `memberId`).
#[utoipa::path(
    post,
    path = "/api/v1/members",
    tag = "identity",
    request_body = NewMemberRequest,
    responses(
        (status = 201, description = "Added", body = MemberInfo),
        (status = 400, description = "`invalid-request` or `malformed-json`", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `admin` (a server admin for `serverAdmin: true`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`member-conflict`: the email is taken", body = Problem,
            content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn add_member(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiJson(request): ApiJson<NewMemberRequest>,
) -> Result<Response, ApiError> {
    let role = parse_role(&request.role)?;
    if request.server_admin && !caller.server_admin {
        return Err(ApiError::Forbidden("making a server admin needs a server admin"));
    }
    let name = request.name.trim();
    if name.is_empty() {
        return Err(ApiError::InvalidRequest("name must not be empty".into()));
    }
    let email = request.email.map(|email| email.trim().to_owned()).filter(|email| !email.is_empty());
    let now = now_ms();
    let member = MemberRecord {
        id: uuid::Uuid::new_v4().to_string(),
        workspace: caller.workspace.to_string(),
        name: name.to_owned(),
        email,
        role: role.as_str().into(),
        server_admin: request.server_admin,
        created_at: now,
    };
    let detail =
        json!({"name": member.name, "email": member.email, "role": member.role, "serverAdmin": member.server_admin});
    let entry = audit::entry(&caller, "member.added", &member.id, detail, now);
    match state.auth.store().add_member(member.clone(), entry).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::MemberConflict("a member with this email exists in the workspace".into()));
        }
        Err(err) => return Err(err.into()),
    }
    tracing::info!(workspace = %caller.workspace, member = %member.id, by = %caller.member_id, "member added");
    Ok((StatusCode::CREATED, Json(MemberInfo::from(member))).into_response())
}

/// Change a member's role
///
/// `role` and/or `serverAdmin` (a server admin only). Demoting the workspace's last admin is
/// refused.
#[utoipa::path(
    patch,
    path = "/api/v1/members/{id}",
    tag = "identity",
    params(("id" = String, Path, description = "Member id")),
    request_body = MemberChange,
    responses(
        (status = 200, description = "The member as changed", body = MemberInfo),
        (status = 400, description = "`invalid-request` or `malformed-json`", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `admin` (a server admin for `serverAdmin`)",
            body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`member-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last-admin`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported-media-type`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn update_member(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiPath(member_id): ApiPath<String>,
    ApiJson(change): ApiJson<MemberChange>,
) -> Result<Json<MemberInfo>, ApiError> {
    let role = change.role.as_deref().map(parse_role).transpose()?;
    if change.server_admin.is_some() && !caller.server_admin {
        return Err(ApiError::Forbidden("changing a server admin needs a server admin"));
    }
    let store = state.auth.store();
    let Some(before) = store.member(caller.workspace.as_str(), &member_id).await? else {
        return Err(ApiError::MemberNotFound(member_id));
    };
    let action = match role {
        Some(_) => "member.role-changed",
        None => "member.server-admin-changed",
    };
    let detail = json!({
        "from": {"role": before.role, "serverAdmin": before.server_admin},
        "to": {"role": role.map(Role::as_str).unwrap_or(&before.role), "serverAdmin": change.server_admin.unwrap_or(before.server_admin)},
    });
    let now = now_ms();
    let update = MemberUpdate {
        workspace: caller.workspace.to_string(),
        member_id: member_id.clone(),
        role: role.map(|role| role.as_str().to_owned()),
        server_admin: change.server_admin,
        audit: audit::entry(&caller, action, &member_id, detail, now),
    };
    let changed = match store.update_member(update).await {
        Ok(Some(changed)) => changed,
        Ok(None) => return Err(ApiError::MemberNotFound(member_id)),
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::LastAdmin(format!("member {member_id} is the workspace's last admin")));
        }
        Err(err) => return Err(err.into()),
    };
    // The member's keys act with the new role at once on this node.
    state.auth.forget_all();
    tracing::info!(workspace = %caller.workspace, member = %member_id, role = %changed.role, by = %caller.member_id, "member changed");
    Ok(Json(MemberInfo::from(changed)))
}
