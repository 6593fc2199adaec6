//! Read queries; they run on the read pool, concurrently with the writer (WAL).

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use crate::error::StoreError;
use crate::records::{
    HistoryEntry, Millis, RunFilter, RunRecord, RunSummary, StoredEvent, TimerRecord, WorkflowRecord,
};
use crate::rows::{self as record, RecordRow};
use crate::version;

pub(crate) async fn get_workflow(
    pool: &SqlitePool,
    workspace: &str,
    namespace: &str,
    name: &str,
    version: &str,
) -> Result<Option<WorkflowRecord>, StoreError> {
    if version == version::LATEST {
        let rows = sqlx::query(
            "SELECT workspace, namespace, name, version, definition, max_concurrency, created_at FROM workflows \
             WHERE workspace = $1 AND namespace = $2 AND name = $3",
        )
        .bind(workspace)
        .bind(namespace)
        .bind(name)
        .fetch_all(pool)
        .await?;
        let records = rows.iter().map(record::workflow).collect::<Result<Vec<_>, _>>()?;
        return Ok(version::latest(records));
    }
    let row = sqlx::query(
        "SELECT workspace, namespace, name, version, definition, max_concurrency, created_at FROM workflows \
         WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4",
    )
    .bind(workspace)
    .bind(namespace)
    .bind(name)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(record::workflow).transpose()
}

pub(crate) async fn list_workflows(pool: &SqlitePool, workspace: &str) -> Result<Vec<WorkflowRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT workspace, namespace, name, version, definition, max_concurrency, created_at FROM workflows \
         WHERE workspace = $1 ORDER BY namespace, name, created_at, version",
    )
    .bind(workspace)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::workflow).collect()
}

pub(crate) async fn get_run(pool: &SqlitePool, id: &str) -> Result<Option<RunRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, workspace, namespace, name, version, status, input, output, error, state, \
         state_version, last_seq, parent_run_id, parent_effect_id, created_at, updated_at \
         FROM runs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(record::run).transpose()
}

pub(crate) async fn run_by_idempotency_key(
    pool: &SqlitePool,
    workspace: &str,
    idempotency_key: &str,
) -> Result<Option<RunRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, workspace, namespace, name, version, status, input, output, error, state, \
         state_version, last_seq, parent_run_id, parent_effect_id, created_at, updated_at \
         FROM runs WHERE workspace = $1 AND idempotency_key = $2",
    )
    .bind(workspace)
    .bind(idempotency_key)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(record::run).transpose()
}

pub(crate) async fn count_runs_by_status(pool: &SqlitePool) -> Result<Vec<(String, u64)>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(status, count)| (status, u64::try_from(count).unwrap_or(0))).collect())
}

pub(crate) async fn ping(pool: &SqlitePool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub(crate) async fn list_runs(pool: &SqlitePool, filter: RunFilter) -> Result<Vec<RunSummary>, StoreError> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "SELECT id, workspace, namespace, name, version, status, created_at, updated_at \
         FROM runs WHERE 1 = 1",
    );
    if let Some(workspace) = filter.workspace {
        query.push(" AND workspace = ").push_bind(workspace);
    }
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status);
    }
    if let Some(namespace) = filter.namespace {
        query.push(" AND namespace = ").push_bind(namespace);
    }
    if let Some(name) = filter.name {
        query.push(" AND name = ").push_bind(name);
    }
    if let Some(version) = filter.version {
        query.push(" AND version = ").push_bind(version);
    }
    if let Some(created_after) = filter.created_after {
        query.push(" AND created_at >= ").push_bind(created_after);
    }
    if let Some(created_before) = filter.created_before {
        query.push(" AND created_at < ").push_bind(created_before);
    }
    if let Some(before) = filter.before {
        let cursor_created_at: Option<Millis> =
            sqlx::query_scalar("SELECT created_at FROM runs WHERE id = $1").bind(&before).fetch_optional(pool).await?;
        let Some(cursor_created_at) = cursor_created_at else {
            return Err(StoreError::NotFound(format!("cursor run {before:?}")));
        };
        query
            .push(" AND (created_at < ")
            .push_bind(cursor_created_at)
            .push(" OR (created_at = ")
            .push_bind(cursor_created_at)
            .push(" AND id < ")
            .push_bind(before)
            .push("))");
    }
    query.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(i64::from(filter.limit));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(record::summary).collect()
}

pub(crate) async fn history(
    pool: &SqlitePool,
    run_id: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let rows = sqlx::query(
        "SELECT seq, at, kind, task, data FROM history \
         WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(run_id)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::history_entry).collect()
}

pub(crate) async fn unfinished_runs(pool: &SqlitePool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        // Keep in sync with `TERMINAL_STATUSES`.
        "SELECT id FROM runs WHERE status NOT IN ('completed', 'faulted', 'cancelled') \
         ORDER BY created_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| row.text("id")).collect()
}

pub(crate) async fn child_runs(pool: &SqlitePool, parent_run_id: &str) -> Result<Vec<RunSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, workspace, namespace, name, version, status, created_at, updated_at \
         FROM runs WHERE parent_run_id = $1 ORDER BY created_at, id",
    )
    .bind(parent_run_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::summary).collect()
}

pub(crate) async fn due_timers(pool: &SqlitePool, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT run_id, timer_id, due_at FROM timers WHERE due_at <= $1 \
         ORDER BY due_at, run_id, timer_id LIMIT $2",
    )
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::timer).collect()
}

pub(crate) async fn timers_of_run(pool: &SqlitePool, run_id: &str) -> Result<Vec<TimerRecord>, StoreError> {
    let rows = sqlx::query("SELECT run_id, timer_id, due_at FROM timers WHERE run_id = $1 ORDER BY due_at, timer_id")
        .bind(run_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(record::timer).collect()
}

pub(crate) async fn get_event(pool: &SqlitePool, source: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    let row = sqlx::query("SELECT id, source, type, time, event FROM events WHERE source = $1 AND id = $2")
        .bind(source)
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(record::event).transpose()
}
