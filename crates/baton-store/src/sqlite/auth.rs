//! The identity area on SQLite ([`crate::AuthStore`]): the shared statements over SQLite's
//! types; writes run in the writer task (each in its savepoint of a group commit).

use sqlx::SqliteConnection;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;

use crate::auth::AuthStore;
use crate::auth::sql::auth_statements;
use crate::sqlite::SqliteStore;
use crate::sqlite::writer::Request;

auth_statements!(SqliteConnection, SqlitePool, SqliteRow, "");

/// One identity write queued for the writer task.
pub(crate) enum AuthWrite {
    CreateWorkspace(Box<NewWorkspace>),
    AddMember(MemberRecord, NewAuditEntry),
    UpdateMember(MemberUpdate),
    CreateKey(KeyRecord, NewAuditEntry),
    RevokeKey { workspace: String, id: String, audit: NewAuditEntry },
    TouchKey { id: String, now: Millis },
    AppendAudit(NewAuditEntry),
}

/// What an [`AuthWrite`] answers.
pub(crate) enum AuthWritten {
    Done,
    Found(bool),
    Member(Option<MemberRecord>),
}

/// Runs an identity write on the writer's connection, inside the batch's transaction.
pub(crate) async fn apply(conn: &mut SqliteConnection, write: &AuthWrite) -> Result<AuthWritten, StoreError> {
    match write {
        AuthWrite::CreateWorkspace(new) => create_workspace(conn, new).await.map(|()| AuthWritten::Done),
        AuthWrite::AddMember(member, audit) => add_member(conn, member, audit).await.map(|()| AuthWritten::Done),
        AuthWrite::UpdateMember(update) => update_member(conn, update).await.map(AuthWritten::Member),
        AuthWrite::CreateKey(key, audit) => create_key(conn, key, audit).await.map(|()| AuthWritten::Done),
        AuthWrite::RevokeKey { workspace, id, audit } => {
            revoke_key(conn, workspace, id, audit).await.map(AuthWritten::Found)
        }
        AuthWrite::TouchKey { id, now } => touch_key(conn, id, *now).await.map(|()| AuthWritten::Done),
        AuthWrite::AppendAudit(entry) => append_audit(conn, entry).await.map(|()| AuthWritten::Done),
    }
}

impl SqliteStore {
    async fn auth_write(&self, write: AuthWrite) -> Result<AuthWritten, StoreError> {
        self.write(write, |job| Request::Auth(Box::new(job))).await
    }
}

/// The writer answered a write with the outcome of another kind: a bug in this file.
fn mismatch() -> StoreError {
    StoreError::Encoding("identity write answered with another outcome".into())
}

impl AuthStore for SqliteStore {
    async fn create_workspace(&self, new: NewWorkspace) -> Result<(), StoreError> {
        self.auth_write(AuthWrite::CreateWorkspace(Box::new(new))).await.map(|_| ())
    }

    async fn workspaces(&self) -> Result<Vec<WorkspaceRecord>, StoreError> {
        workspaces(&self.inner.pool).await
    }

    async fn workspace(&self, id: &str) -> Result<Option<WorkspaceRecord>, StoreError> {
        workspace(&self.inner.pool, id).await
    }

    async fn members(&self, workspace: &str) -> Result<Vec<MemberRecord>, StoreError> {
        members(&self.inner.pool, workspace).await
    }

    async fn member(&self, workspace: &str, id: &str) -> Result<Option<MemberRecord>, StoreError> {
        member(&self.inner.pool, workspace, id).await
    }

    async fn add_member(&self, member: MemberRecord, audit: NewAuditEntry) -> Result<(), StoreError> {
        self.auth_write(AuthWrite::AddMember(member, audit)).await.map(|_| ())
    }

    async fn update_member(&self, update: MemberUpdate) -> Result<Option<MemberRecord>, StoreError> {
        match self.auth_write(AuthWrite::UpdateMember(update)).await? {
            AuthWritten::Member(member) => Ok(member),
            _ => Err(mismatch()),
        }
    }

    async fn create_key(&self, key: KeyRecord, audit: NewAuditEntry) -> Result<(), StoreError> {
        self.auth_write(AuthWrite::CreateKey(key, audit)).await.map(|_| ())
    }

    async fn keys(&self, workspace: &str) -> Result<Vec<KeyRecord>, StoreError> {
        keys(&self.inner.pool, workspace).await
    }

    async fn revoke_key(&self, workspace: &str, id: &str, audit: NewAuditEntry) -> Result<bool, StoreError> {
        let write = AuthWrite::RevokeKey { workspace: workspace.to_owned(), id: id.to_owned(), audit };
        match self.auth_write(write).await? {
            AuthWritten::Found(found) => Ok(found),
            _ => Err(mismatch()),
        }
    }

    async fn key_grant(&self, hash: &str) -> Result<Option<KeyGrant>, StoreError> {
        key_grant(&self.inner.pool, hash).await
    }

    async fn touch_key(&self, id: &str, now: Millis) -> Result<(), StoreError> {
        self.auth_write(AuthWrite::TouchKey { id: id.to_owned(), now }).await.map(|_| ())
    }

    async fn append_audit(&self, entry: NewAuditEntry) -> Result<(), StoreError> {
        self.auth_write(AuthWrite::AppendAudit(entry)).await.map(|_| ())
    }

    async fn audit(&self, workspace: &str, before: Option<i64>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        audit(&self.inner.pool, workspace, before, limit).await
    }
}
