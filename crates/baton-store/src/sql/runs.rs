//! Statements about runs that both backends run inside their own writes.

/// Expands the shared run statements for database `$db`.
macro_rules! runs {
    ($db:ty) => {
        /// Tells why creating `run` inserted nothing: its id is taken, or its idempotency key
        /// (and by which run). One statement, so it runs on the caller's transaction.
        pub(crate) async fn creation_conflict<'e>(
            exec: impl sqlx::Executor<'e, Database = $db>,
            run: &crate::records::NewRun,
        ) -> Result<crate::error::StoreError, crate::error::StoreError> {
            use crate::error::{ConflictKind, StoreError};
            let (by_id, by_key): (Option<String>, Option<String>) = sqlx::query_as(
                "SELECT (SELECT id FROM runs WHERE id = $1), \
                 (SELECT id FROM runs WHERE workspace = $2 AND idempotency_key = $3)",
            )
            .bind(&run.id)
            .bind(run.workspace.as_str())
            .bind(run.idempotency_key.as_deref())
            .fetch_one(exec)
            .await?;
            Ok(StoreError::Conflict(match (by_id, by_key, &run.idempotency_key) {
                (None, Some(existing_run_id), Some(key)) => {
                    ConflictKind::IdempotencyKeyTaken { key: key.clone(), existing_run_id }
                }
                _ => ConflictKind::RunExists { run_id: run.id.clone() },
            }))
        }
    };
}
pub(crate) use runs;
