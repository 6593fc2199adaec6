//! What the identity area stores: workspaces, their members, API keys (hashed) and the audit log.
//!
//! Roles and workspace states are stored as text and interpreted by the server; the store only
//! knows the one rule it must enforce atomically: a workspace always keeps an admin
//! ([`ADMIN_ROLE`]).

use serde_json::Value;

use crate::records::Millis;

/// The role text that administers a workspace; the store refuses to demote its last holder.
pub const ADMIN_ROLE: &str = "admin";

/// A workspace: the tenant every run, workflow, event and key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRecord {
    /// Stable id (`default` for the workspace created on the first start).
    pub id: String,
    /// Unique, URL-safe short name.
    pub slug: String,
    pub name: String,
    /// `active` (later also `paused`, `deleted`).
    pub state: String,
    pub created_at: Millis,
}

/// A member of one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    pub id: String,
    pub workspace: String,
    pub name: String,
    /// Unique within the workspace when present.
    pub email: Option<String>,
    /// `admin`, `member` or `viewer`.
    pub role: String,
    /// May create workspaces and promote server admins.
    pub server_admin: bool,
    pub created_at: Millis,
}

/// An API key as stored: never the key itself, only its SHA-256 (`hash`, lowercase hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: String,
    pub workspace: String,
    /// The member the key acts for.
    pub member_id: String,
    pub name: String,
    /// The first characters of the key, shown in listings to recognise it.
    pub prefix: String,
    pub hash: String,
    /// The role the key acts with: the member's role or a lower one chosen at creation.
    pub role: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
    /// Updated at most about once a minute per key (see the server's key cache).
    pub last_used_at: Option<Millis>,
}

/// What a presented key resolves to: the key, its member and its workspace, read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGrant {
    pub key: KeyRecord,
    pub member: MemberRecord,
    pub workspace: WorkspaceRecord,
}

/// A new workspace with its first admin member and that member's key, created together.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub workspace: WorkspaceRecord,
    pub admin: MemberRecord,
    pub key: KeyRecord,
    pub audit: NewAuditEntry,
}

/// A change to a member: the fields to set (`None`: unchanged).
#[derive(Debug, Clone)]
pub struct MemberUpdate {
    pub workspace: String,
    pub member_id: String,
    pub role: Option<String>,
    pub server_admin: Option<bool>,
    pub audit: NewAuditEntry,
}

/// An audit entry to append, in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub workspace: String,
    pub at: Millis,
    /// Member id of whoever made the change (`None`: the server itself, e.g. the first start).
    pub actor: Option<String>,
    /// What happened, e.g. `key.created`, `member.role-changed`, `inbox.answered`.
    pub action: String,
    /// The id of what it happened to (key, member, inbox item).
    pub target: Option<String>,
    /// More about it (never a key or a secret value).
    pub detail: Value,
}

/// A stored audit entry; `seq` grows with every entry of the database.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub seq: i64,
    pub entry: NewAuditEntry,
}
