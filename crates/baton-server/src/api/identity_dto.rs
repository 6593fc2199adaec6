//! Request and response bodies of the identity endpoints (workspaces, members, keys, audit).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use baton_store::{AuditEntry, KeyRecord, MemberRecord, WorkspaceRecord};

use crate::api::dto::rfc3339;

/// Who answered an inbox item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Responder {
    /// Member id.
    pub id: String,
    pub name: String,
}

/// A workspace.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// `active`.
    pub state: String,
    /// RFC 3339.
    pub created_at: String,
}

impl From<WorkspaceRecord> for WorkspaceInfo {
    fn from(record: WorkspaceRecord) -> WorkspaceInfo {
        WorkspaceInfo {
            id: record.id,
            slug: record.slug,
            name: record.name,
            state: record.state,
            created_at: rfc3339(record.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceList {
    pub items: Vec<WorkspaceInfo>,
}

/// The first admin of a new workspace.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstAdmin {
    pub name: String,
    pub email: Option<String>,
}

/// `POST /api/v1/workspaces`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspaceRequest {
    /// Not blank.
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// 1 to 63 lowercase letters, digits and `-`, starting with a letter or digit; unique.
    #[schema(min_length = 1, max_length = 63, pattern = "^[a-z0-9][a-z0-9-]{0,62}$")]
    pub slug: String,
    /// The first admin member (default: named `admin`, no email).
    pub admin: Option<FirstAdmin>,
}

/// A workspace just created, with its first admin and that admin's key (shown this once).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceCreated {
    pub workspace: WorkspaceInfo,
    pub admin: MemberInfo,
    pub admin_key: String,
}

/// A member of the workspace.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberInfo {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    pub server_admin: bool,
    /// RFC 3339.
    pub created_at: String,
}

impl From<MemberRecord> for MemberInfo {
    fn from(record: MemberRecord) -> MemberInfo {
        MemberInfo {
            id: record.id,
            name: record.name,
            email: record.email,
            role: record.role,
            server_admin: record.server_admin,
            created_at: rfc3339(record.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub items: Vec<MemberInfo>,
}

/// `POST /api/v1/members`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewMemberRequest {
    /// Not blank.
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// Unique in the workspace; inbox `assignees` may name a member by it.
    pub email: Option<String>,
    /// `admin`, `member` or `viewer`.
    #[schema(schema_with = crate::api::schema::role)]
    pub role: String,
    /// Only a server admin may make one.
    #[serde(default)]
    pub server_admin: bool,
}

/// `PATCH /api/v1/members/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MemberChange {
    /// `admin`, `member` or `viewer`; absent or `null`: unchanged.
    #[schema(schema_with = crate::api::schema::optional_role)]
    pub role: Option<String>,
    /// Only a server admin may change it.
    pub server_admin: Option<bool>,
}

/// `POST /api/v1/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewKeyRequest {
    /// Not blank.
    #[schema(min_length = 1, pattern = "\\S")]
    pub name: String,
    /// `admin`, `member` or `viewer`, at most the member's role (default: the member's role).
    #[schema(schema_with = crate::api::schema::optional_role)]
    pub role: Option<String>,
    /// The member the key acts for (default: the caller).
    pub member_id: Option<String>,
    /// RFC 3339; the key is refused from then on (default: never). A time already past makes a
    /// key that is refused at once (the document cannot state "in the future").
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// A key just created: `key` is shown this once and never stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyCreated {
    pub key: String,
    pub id: String,
    pub prefix: String,
    pub role: String,
    pub name: String,
    pub member_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// A key as listed: never the key itself.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: String,
    pub prefix: String,
    pub name: String,
    pub role: String,
    pub member_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, to the minute; absent when never used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl From<KeyRecord> for KeyInfo {
    fn from(record: KeyRecord) -> KeyInfo {
        KeyInfo {
            id: record.id,
            prefix: record.prefix,
            name: record.name,
            role: record.role,
            member_id: record.member_id,
            created_at: rfc3339(record.created_at),
            last_used_at: record.last_used_at.map(rfc3339),
            expires_at: record.expires_at.map(rfc3339),
            revoked_at: record.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    pub seq: i64,
    /// RFC 3339.
    pub at: String,
    /// Member id of who made the change; absent for the server itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// `workspace.created`, `key.created`, `key.revoked`, `member.added`, `member.role-changed`,
    /// `member.server-admin-changed`, `inbox.answered`.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub detail: Value,
}

impl From<AuditEntry> for AuditItem {
    fn from(entry: AuditEntry) -> AuditItem {
        let AuditEntry { seq, entry } = entry;
        AuditItem {
            seq,
            at: rfc3339(entry.at),
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            detail: entry.detail,
        }
    }
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
