//! [`AuthStore`] for [`AnyStore`]: every call goes to the backend it holds.

use crate::any::AnyStore;
use crate::auth::{
    AuditEntry, AuthStore, KeyGrant, KeyRecord, MemberRecord, MemberUpdate, NewAuditEntry, NewWorkspace,
    WorkspaceRecord,
};
use crate::error::StoreError;
use crate::records::Millis;

/// Runs `$call` on the backend `$self` holds, bound as `$store`.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl AuthStore for AnyStore {
    async fn create_workspace(&self, new: NewWorkspace) -> Result<(), StoreError> {
        dispatch!(self, store => store.create_workspace(new).await)
    }

    async fn workspaces(&self) -> Result<Vec<WorkspaceRecord>, StoreError> {
        dispatch!(self, store => store.workspaces().await)
    }

    async fn workspace(&self, id: &str) -> Result<Option<WorkspaceRecord>, StoreError> {
        dispatch!(self, store => store.workspace(id).await)
    }

    async fn members(&self, workspace: &str) -> Result<Vec<MemberRecord>, StoreError> {
        dispatch!(self, store => store.members(workspace).await)
    }

    async fn member(&self, workspace: &str, id: &str) -> Result<Option<MemberRecord>, StoreError> {
        dispatch!(self, store => store.member(workspace, id).await)
    }

    async fn add_member(&self, member: MemberRecord, audit: NewAuditEntry) -> Result<(), StoreError> {
        dispatch!(self, store => store.add_member(member, audit).await)
    }

    async fn update_member(&self, update: MemberUpdate) -> Result<Option<MemberRecord>, StoreError> {
        dispatch!(self, store => store.update_member(update).await)
    }

    async fn create_key(&self, key: KeyRecord, audit: NewAuditEntry) -> Result<(), StoreError> {
        dispatch!(self, store => store.create_key(key, audit).await)
    }

    async fn keys(&self, workspace: &str) -> Result<Vec<KeyRecord>, StoreError> {
        dispatch!(self, store => store.keys(workspace).await)
    }

    async fn revoke_key(&self, workspace: &str, id: &str, audit: NewAuditEntry) -> Result<bool, StoreError> {
        dispatch!(self, store => store.revoke_key(workspace, id, audit).await)
    }

    async fn key_grant(&self, hash: &str) -> Result<Option<KeyGrant>, StoreError> {
        dispatch!(self, store => store.key_grant(hash).await)
    }

    async fn touch_key(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        dispatch!(self, store => store.touch_key(id, now).await)
    }

    async fn append_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        dispatch!(self, store => store.append_audit(entry).await)
    }

    async fn audit(&self, workspace: &str, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        dispatch!(self, store => store.audit(workspace, before, limit).await)
    }
}
