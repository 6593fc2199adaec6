//! The identity area of the store: workspaces, members, API keys and the audit log
//! ([`AuthStore`]). The SQL lives once in [`sql`]; each backend instantiates it over its own
//! connection type (`sqlite/auth.rs` runs the writes in the writer task, `postgres/auth.rs` in a
//! transaction each).

mod any;
pub(crate) mod records;
pub(crate) mod sql;

use std::future::Future;

use crate::error::StoreError;
use crate::records::Millis;

pub use crate::auth::records::{
    ADMIN_ROLE, AuditEntry, KeyGrant, KeyRecord, MemberRecord, MemberUpdate, NewAuditEntry, NewWorkspace,
    WorkspaceRecord,
};

/// Durable identity: who may call the API, in which workspace, with which role, and what they
/// changed. Every change that the audit log records is written with its audit entry in one
/// transaction.
pub trait AuthStore: Send + Sync + 'static {
    /// Creates a workspace with its first admin member and that member's key.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the workspace id or slug is taken; nothing is written then.
    fn create_workspace(&self, new: NewWorkspace) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Every workspace, by creation time then id.
    fn workspaces(&self) -> impl Future<Output = Result<Vec<WorkspaceRecord>, StoreError>> + Send;

    /// One workspace.
    fn workspace(&self, id: &str) -> impl Future<Output = Result<Option<WorkspaceRecord>, StoreError>> + Send;

    /// The members of a workspace, by creation time then id.
    fn members(&self, workspace: &str) -> impl Future<Output = Result<Vec<MemberRecord>, StoreError>> + Send;

    /// One member of a workspace (`None` for a member of another workspace).
    fn member(
        &self,
        workspace: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<MemberRecord>, StoreError>> + Send;

    /// Adds a member.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the id is taken or the email is taken in the workspace.
    fn add_member(
        &self,
        member: MemberRecord,
        audit: NewAuditEntry,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Changes a member's role or server-admin flag and returns the member as changed (`None`:
    /// no such member in that workspace, nothing written).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the change would leave the workspace without an admin.
    fn update_member(
        &self,
        update: MemberUpdate,
    ) -> impl Future<Output = Result<Option<MemberRecord>, StoreError>> + Send;

    /// Stores a new key.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when its id or hash is taken.
    fn create_key(&self, key: KeyRecord, audit: NewAuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The keys of a workspace (revoked ones too), newest first.
    fn keys(&self, workspace: &str) -> impl Future<Output = Result<Vec<KeyRecord>, StoreError>> + Send;

    /// Revokes a key of `workspace` at `now`. Returns `false` when the workspace has no such key;
    /// revoking a revoked key again changes nothing and returns `true` (no second audit entry).
    fn revoke_key(
        &self,
        workspace: &str,
        id: &str,
        audit: NewAuditEntry,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The key whose hash is `hash`, with its member and workspace (revoked and expired keys too:
    /// the caller decides).
    fn key_grant(&self, hash: &str) -> impl Future<Output = Result<Option<KeyGrant>, StoreError>> + Send;

    /// Records that key `id` was used at `now`.
    fn touch_key(&self, id: &str, now: Millis) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Appends an audit entry that goes with no other change (an inbox item answered).
    fn append_audit(&self, entry: NewAuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Up to `limit` audit entries of a workspace with `seq < before` (all when `None`), newest
    /// first.
    fn audit(
        &self,
        workspace: &str,
        before: Option<i64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send;
}
