//! [`SecretStore`] on PostgreSQL: one statement per call.

use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::postgres::PgStore;
use crate::secrets::{
    DELETE, GET_ALL, LIST, PUT, SecretRecord, SecretRow, SecretStore, SecretSummary, select, summary,
};

impl SecretStore for PgStore {
    async fn put_secret(&self, record: SecretRecord) -> Result<bool, StoreError> {
        let put = async {
            let created_at: i64 = sqlx::query_scalar(PUT)
                .bind(&record.workspace)
                .bind(&record.name)
                .bind(&record.sealed)
                .bind(record.updated_at)
                .fetch_one(&self.pool)
                .await?;
            Ok(created_at == record.updated_at)
        };
        self.call(put).await
    }

    async fn delete_secret(&self, workspace: &WorkspaceId, name: &str) -> Result<bool, StoreError> {
        let delete = async {
            let deleted = sqlx::query(DELETE).bind(workspace.as_str()).bind(name).execute(&self.pool).await?;
            Ok(deleted.rows_affected() > 0)
        };
        self.call(delete).await
    }

    async fn list_secrets(&self, workspace: &WorkspaceId) -> Result<Vec<SecretSummary>, StoreError> {
        let list = async {
            let rows: Vec<(String, i64, i64)> =
                sqlx::query_as(LIST).bind(workspace.as_str()).fetch_all(&self.pool).await?;
            Ok(rows.into_iter().map(summary).collect())
        };
        self.call(list).await
    }

    async fn get_secrets(&self, workspace: &WorkspaceId, names: &[String]) -> Result<Vec<SecretRecord>, StoreError> {
        let get = async {
            let rows: Vec<SecretRow> = sqlx::query_as(GET_ALL).bind(workspace.as_str()).fetch_all(&self.pool).await?;
            Ok(select(rows, names))
        };
        self.call(get).await
    }
}
