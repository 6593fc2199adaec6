//! [`SecretStore`] on SQLite: writes go through the writer task, reads use the pool.

use sqlx::SqliteConnection;

use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::secrets::{
    DELETE, GET_ALL, LIST, PUT, SecretRecord, SecretRow, SecretStore, SecretSummary, select, summary,
};
use crate::sqlite::SqliteStore;
use crate::sqlite::writer::Request;

pub(crate) async fn put(conn: &mut SqliteConnection, record: &SecretRecord) -> Result<bool, StoreError> {
    let created_at: i64 = sqlx::query_scalar(PUT)
        .bind(&record.workspace)
        .bind(&record.name)
        .bind(&record.sealed)
        .bind(record.updated_at)
        .fetch_one(&mut *conn)
        .await?;
    Ok(created_at == record.updated_at)
}

pub(crate) async fn delete(conn: &mut SqliteConnection, workspace: &str, name: &str) -> Result<bool, StoreError> {
    let deleted = sqlx::query(DELETE).bind(workspace).bind(name).execute(&mut *conn).await?;
    Ok(deleted.rows_affected() > 0)
}

impl SecretStore for SqliteStore {
    async fn put_secret(&self, record: SecretRecord) -> Result<bool, StoreError> {
        self.write(record, Request::PutSecret).await
    }

    async fn delete_secret(&self, workspace: &WorkspaceId, name: &str) -> Result<bool, StoreError> {
        self.write((workspace.as_str().to_owned(), name.to_owned()), Request::DeleteSecret).await
    }

    async fn list_secrets(&self, workspace: &WorkspaceId) -> Result<Vec<SecretSummary>, StoreError> {
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as(LIST).bind(workspace.as_str()).fetch_all(&self.inner.pool).await?;
        Ok(rows.into_iter().map(summary).collect())
    }

    async fn get_secrets(&self, workspace: &WorkspaceId, names: &[String]) -> Result<Vec<SecretRecord>, StoreError> {
        let rows: Vec<SecretRow> = sqlx::query_as(GET_ALL).bind(workspace.as_str()).fetch_all(&self.inner.pool).await?;
        Ok(select(rows, names))
    }
}
