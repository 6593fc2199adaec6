//! The identity area on PostgreSQL ([`crate::AuthStore`]): the shared statements over
//! PostgreSQL's types; each write runs in a transaction of its own.

use sqlx::postgres::PgRow;
use sqlx::{Connection as _, PgConnection, PgPool};

use crate::auth::AuthStore;
use crate::auth::sql::auth_statements;
use crate::postgres::PgStore;

auth_statements!(PgConnection, PgPool, PgRow, "FOR UPDATE");

impl PgStore {
    /// Runs `write` in one transaction on a pooled connection: committed when it succeeds,
    /// rolled back when it fails.
    async fn in_transaction<T>(
        &self,
        write: impl for<'c> FnOnce(
            &'c mut PgConnection,
        ) -> std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>
        + Send,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let written = write(&mut tx).await?;
        tx.commit().await?;
        Ok(written)
    }
}

impl AuthStore for PgStore {
    async fn create_workspace(&self, new: NewWorkspace) -> Result<(), StoreError> {
        self.in_transaction(|conn| Box::pin(async move { create_workspace(conn, &new).await })).await
    }

    async fn workspaces(&self) -> Result<Vec<WorkspaceRecord>, StoreError> {
        workspaces(&self.pool).await
    }

    async fn workspace(&self, id: &str) -> Result<Option<WorkspaceRecord>, StoreError> {
        workspace(&self.pool, id).await
    }

    async fn members(&self, workspace: &str) -> Result<Vec<MemberRecord>, StoreError> {
        members(&self.pool, workspace).await
    }

    async fn member(&self, workspace: &str, id: &str) -> Result<Option<MemberRecord>, StoreError> {
        member(&self.pool, workspace, id).await
    }

    async fn add_member(&self, member: MemberRecord, audit: NewAuditEntry) -> Result<(), StoreError> {
        self.in_transaction(|conn| Box::pin(async move { add_member(conn, &member, &audit).await })).await
    }

    async fn update_member(&self, update: MemberUpdate) -> Result<Option<MemberRecord>, StoreError> {
        self.in_transaction(|conn| Box::pin(async move { update_member(conn, &update).await })).await
    }

    async fn create_key(&self, key: KeyRecord, audit: NewAuditEntry) -> Result<(), StoreError> {
        self.in_transaction(|conn| Box::pin(async move { create_key(conn, &key, &audit).await })).await
    }

    async fn keys(&self, workspace: &str) -> Result<Vec<KeyRecord>, StoreError> {
        keys(&self.pool, workspace).await
    }

    async fn revoke_key(&self, workspace: &str, id: &str, audit: NewAuditEntry) -> Result<bool, StoreError> {
        let (workspace, id) = (workspace.to_owned(), id.to_owned());
        self.in_transaction(|conn| Box::pin(async move { revoke_key(conn, &workspace, &id, &audit).await })).await
    }

    async fn key_grant(&self, hash: &str) -> Result<Option<KeyGrant>, StoreError> {
        key_grant(&self.pool, hash).await
    }

    async fn touch_key(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        touch_key(&mut conn, id, now).await
    }

    async fn append_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        append_audit(&mut conn, &entry).await
    }

    async fn audit(&self, workspace: &str, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        audit(&self.pool, workspace, before, limit).await
    }
}
