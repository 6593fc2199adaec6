//! Run ownership on SQLite (see [`crate::Store::claim_run`]); writes run in the writer task.
//! One process drives a SQLite database, so these matter for the shared store suite and for
//! databases moved between processes; the writer task serializes them.

use serde_json::Value;
use sqlx::{SqliteConnection, SqlitePool};

use crate::error::StoreError;
use crate::ownership::{CLAIM_ORPHANS_SQLITE, CLAIM_RUN, INPUTS_OF_NODE, LEASES_WITH_PREFIX};
use crate::records::{Lease, Millis, RunInput, TERMINAL_STATUSES};
use crate::rows as record;
use crate::sqlite::codec::encode_json;

pub(crate) async fn claim_run(
    conn: &mut SqliteConnection,
    run_id: &str,
    node: &str,
    now: Millis,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(CLAIM_RUN).bind(run_id).bind(node).bind(now).fetch_optional(&mut *conn).await?)
}

pub(crate) async fn claim_orphan_runs(
    conn: &mut SqliteConnection,
    node: &str,
    now: Millis,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(CLAIM_ORPHANS_SQLITE)
        .bind(node)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?)
}

pub(crate) async fn put_run_input(
    conn: &mut SqliteConnection,
    run_id: &str,
    input: &Value,
    now: Millis,
) -> Result<Option<String>, StoreError> {
    let run: Option<(Option<String>, String)> =
        sqlx::query_as("SELECT owner, status FROM runs WHERE id = $1").bind(run_id).fetch_optional(&mut *conn).await?;
    let Some((owner, status)) = run else { return Err(StoreError::NotFound(format!("run {run_id}"))) };
    if TERMINAL_STATUSES.contains(&status.as_str()) {
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

pub(crate) async fn inputs_for_node(pool: &SqlitePool, node: &str, limit: u32) -> Result<Vec<RunInput>, StoreError> {
    let rows = sqlx::query(INPUTS_OF_NODE).bind(node).bind(i64::from(limit)).fetch_all(pool).await?;
    rows.iter().map(record::run_input).collect()
}

pub(crate) async fn leases_with_prefix(pool: &SqlitePool, prefix: &str) -> Result<Vec<(String, Lease)>, StoreError> {
    let rows = sqlx::query(LEASES_WITH_PREFIX).bind(prefix).fetch_all(pool).await?;
    rows.iter().map(record::named_lease).collect()
}
