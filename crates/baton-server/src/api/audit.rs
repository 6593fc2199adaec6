//! `/api/v1/audit`: the workspace's append-only audit log, newest first, one page at a time.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use baton_store::{AuthStore, NewAuditEntry};

use crate::api::AppState;
use crate::api::error::{ApiError, Problem};
use crate::api::extract::ApiQuery;
use crate::api::identity_dto::{AuditItem, AuditPage, AuditQuery};
use crate::auth::Caller;
use crate::auth::access::Admin;

const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

/// The entry recording that `caller` did `action` to `target` at `now`.
pub(crate) fn entry(caller: &Caller, action: &str, target: &str, detail: Value, now: i64) -> NewAuditEntry {
    NewAuditEntry {
        workspace: caller.workspace.to_string(),
        at: now,
        actor: Some(caller.member_id.clone()),
        action: action.into(),
        target: Some(target.into()),
        detail,
    }
}

/// Read the audit log
///
/// Keys created and revoked, members added and their roles changed, inbox items answered.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "identity",
    params(AuditQuery),
    responses(
        (status = 200, description = "One page, newest first", body = AuditPage),
        (status = 400, description = "`invalid-request` (bad limit or cursor)", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: needs `admin`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    Admin(caller): Admin,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let before = match query.cursor.as_deref() {
        None => None,
        // The document's pattern: 1 to 18 digits (always an `i64`, never signed).
        Some(cursor) if (1..=18).contains(&cursor.len()) && cursor.bytes().all(|byte| byte.is_ascii_digit()) => {
            cursor.parse::<i64>().ok()
        }
        Some(_) => return Err(ApiError::InvalidRequest("unknown cursor".into())),
    };
    // One more than asked: tells whether a next page exists.
    let mut entries = state.auth.store().audit(caller.workspace.as_str(), before, limit + 1).await?;
    let next_cursor = match entries.len() > limit as usize {
        true => {
            entries.truncate(limit as usize);
            entries.last().map(|entry| entry.seq.to_string())
        }
        false => None,
    };
    Ok(Json(AuditPage { items: entries.into_iter().map(AuditItem::from).collect(), next_cursor }))
}
