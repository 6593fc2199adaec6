//! Run ownership on SQLite (see [`crate::ClusterStore::claim_run`]): the shared statements of
//! `sql/ownership.rs`; writes run in the writer task. One process drives a SQLite database, so
//! these matter for the shared store suite and for databases moved between processes; the
//! writer task serializes them.

use serde_json::Value;
use sqlx::SqliteConnection;

use crate::sqlite::codec::encode_json;
use crate::status::RunStatus;

crate::sql::ownership::ownership!(sqlx::Sqlite);

/// Stores an input for the owner of `run_id` unless the run ended; returns the owner.
pub(crate) async fn put_run_input(
    conn: &mut SqliteConnection,
    run_id: &str,
    input: &Value,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    let run: Option<(Option<String>, String)> =
        sqlx::query_as("SELECT owner, status FROM runs WHERE id = $1").bind(run_id).fetch_optional(&mut *conn).await?;
    let Some((owner, status)) = run else { return Err(StoreError::NotFound(format!("run {run_id}"))) };
    if RunStatus::parse(&status)?.is_terminal() {
        return Ok(None);
    }
    sqlx::query("INSERT INTO run_inputs (run_id, input, created_at) VALUES ($1, $2, $3)")
        .bind(run_id)
        .bind(encode_json(input)?)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(owner)
}
