//! Read queries, each one statement on the pool. The SQL is the SQLite backend's
//! (`sqlite/reads.rs`), which both dialects accept; keep the two in step.

use sqlx::{PgPool, Postgres, QueryBuilder};

use crate::error::StoreError;
use crate::records::{
    HistoryEntry, InboxFilter, InboxItem, Millis, RunFilter, RunRecord, RunSummary, StoredEvent, SubscriptionRecord,
    TimerRecord, WorkflowRecord,
};
use crate::rows::{self as record, ANY_TYPE, RecordRow};
use crate::version;

pub(crate) async fn get_workflow(
    pool: &PgPool,
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

pub(crate) async fn list_workflows(pool: &PgPool, workspace: &str) -> Result<Vec<WorkflowRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT workspace, namespace, name, version, definition, max_concurrency, created_at FROM workflows \
         WHERE workspace = $1 ORDER BY namespace, name, created_at, version",
    )
    .bind(workspace)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::workflow).collect()
}

pub(crate) async fn get_run(pool: &PgPool, id: &str) -> Result<Option<RunRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, workspace, namespace, name, version, status, input, output, error, state, \
         state_version, last_seq, parent_run_id, parent_effect_id, owner, owner_epoch, created_at, \
         updated_at \
         FROM runs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(record::run).transpose()
}

pub(crate) async fn run_by_idempotency_key(
    pool: &PgPool,
    workspace: &str,
    idempotency_key: &str,
) -> Result<Option<RunRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT id, workspace, namespace, name, version, status, input, output, error, state, \
         state_version, last_seq, parent_run_id, parent_effect_id, owner, owner_epoch, created_at, \
         updated_at \
         FROM runs WHERE workspace = $1 AND idempotency_key = $2",
    )
    .bind(workspace)
    .bind(idempotency_key)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(record::run).transpose()
}

pub(crate) async fn count_runs_by_status(pool: &PgPool) -> Result<Vec<(String, u64)>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status").fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(status, count)| (status, u64::try_from(count).unwrap_or(0))).collect())
}

pub(crate) async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub(crate) async fn list_runs(pool: &PgPool, filter: RunFilter) -> Result<Vec<RunSummary>, StoreError> {
    let mut query = QueryBuilder::<Postgres>::new(
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
    pool: &PgPool,
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

pub(crate) async fn unfinished_runs(pool: &PgPool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        // Keep in sync with `TERMINAL_STATUSES`.
        "SELECT id FROM runs WHERE status NOT IN ('completed', 'faulted', 'cancelled') \
         ORDER BY created_at, id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| row.text("id")).collect()
}

pub(crate) async fn child_runs(pool: &PgPool, parent_run_id: &str) -> Result<Vec<RunSummary>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, workspace, namespace, name, version, status, created_at, updated_at \
         FROM runs WHERE parent_run_id = $1 ORDER BY created_at, id",
    )
    .bind(parent_run_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::summary).collect()
}

pub(crate) async fn due_timers(pool: &PgPool, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError> {
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

pub(crate) async fn timers_of_run(pool: &PgPool, run_id: &str) -> Result<Vec<TimerRecord>, StoreError> {
    let rows = sqlx::query("SELECT run_id, timer_id, due_at FROM timers WHERE run_id = $1 ORDER BY due_at, timer_id")
        .bind(run_id)
        .fetch_all(pool)
        .await?;
    rows.iter().map(record::timer).collect()
}

pub(crate) async fn get_event(pool: &PgPool, source: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    let row =
        sqlx::query("SELECT id, source, type, time, event, received_at FROM events WHERE source = $1 AND id = $2")
            .bind(source)
            .bind(id)
            .fetch_optional(pool)
            .await?;
    row.as_ref().map(record::event).transpose()
}

const SUBSCRIPTION_COLUMNS: &str =
    "s.run_id, s.subscription_id, s.workspace, s.types, s.subscription, s.inbox, s.deadline_at, s.created_at";

const INBOX_COLUMNS: &str = "s.run_id, s.subscription_id, r.namespace, r.name, r.version, s.inbox, s.deadline_at, \
     s.created_at, s.subscription";

pub(crate) async fn subscriptions_for_type(
    pool: &PgPool,
    workspace: &str,
    kind: &str,
) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s \
         WHERE (s.run_id, s.subscription_id) IN (SELECT run_id, subscription_id FROM subscription_types \
           WHERE workspace = $1 AND type IN ($2, $3)) \
         ORDER BY s.created_at, s.run_id, s.subscription_id"
    )))
    .bind(workspace)
    .bind(kind)
    .bind(ANY_TYPE)
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::subscription).collect()
}

pub(crate) async fn retained_events(
    pool: &PgPool,
    workspace: &str,
    run_id: &str,
    since: Millis,
    types: Option<&[String]>,
    limit: u32,
) -> Result<Vec<StoredEvent>, StoreError> {
    if types.is_some_and(<[String]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT e.id, e.source, e.type, e.time, e.event, e.received_at FROM events e WHERE e.workspace = ",
    );
    query.push_bind(workspace).push(" AND e.received_at >= ").push_bind(since);
    if let Some(types) = types {
        query.push(" AND e.type = ANY(").push_bind(types.to_vec()).push(")");
    }
    query
        .push(
            " AND NOT EXISTS (SELECT 1 FROM event_consumptions c \
             WHERE c.source = e.source AND c.id = e.id AND c.run_id = ",
        )
        .push_bind(run_id)
        .push(") AND (e.target_run_id IS NULL OR e.target_run_id = ")
        .push_bind(run_id)
        .push(") ORDER BY e.received_at, e.seq LIMIT ")
        .push_bind(i64::from(limit));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(record::event).collect()
}

pub(crate) async fn subscription(
    pool: &PgPool,
    run_id: &str,
    subscription_id: &str,
) -> Result<Option<SubscriptionRecord>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s WHERE s.run_id = $1 AND s.subscription_id = $2"
    )))
    .bind(run_id)
    .bind(subscription_id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(record::subscription).transpose()
}

pub(crate) async fn list_inbox(pool: &PgPool, filter: InboxFilter) -> Result<Vec<InboxItem>, StoreError> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {INBOX_COLUMNS} FROM subscriptions s JOIN runs r ON r.id = s.run_id \
         WHERE s.inbox IS NOT NULL AND s.workspace = "
    ));
    query.push_bind(filter.workspace);
    if let Some(assignee) = filter.assignee {
        // Only string items of an `assignees` array (json_array_elements fails on a non-array).
        query
            .push(
                " AND EXISTS (SELECT 1 FROM json_array_elements(CASE \
                 WHEN json_typeof(s.inbox -> 'assignees') = 'array' THEN s.inbox -> 'assignees' \
                 ELSE '[]'::json END) a WHERE json_typeof(a) = 'string' AND a #>> '{}' = ",
            )
            .push_bind(assignee)
            .push(")");
    }
    if let Some(namespace) = filter.namespace {
        query.push(" AND r.namespace = ").push_bind(namespace);
    }
    if let Some(name) = filter.name {
        query.push(" AND r.name = ").push_bind(name);
    }
    if let Some(overdue_at) = filter.overdue_at {
        query.push(" AND s.deadline_at <= ").push_bind(overdue_at);
    }
    if let Some((created_at, run_id, subscription_id)) = filter.after {
        query
            .push(" AND (s.created_at, s.run_id, s.subscription_id) > (")
            .push_bind(created_at)
            .push(", ")
            .push_bind(run_id)
            .push(", ")
            .push_bind(subscription_id)
            .push(")");
    }
    query.push(" ORDER BY s.created_at, s.run_id, s.subscription_id LIMIT ").push_bind(i64::from(filter.limit));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(record::inbox_item).collect()
}

pub(crate) async fn overdue_inbox(pool: &PgPool, now: Millis, limit: u32) -> Result<Vec<InboxItem>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {INBOX_COLUMNS} FROM subscriptions s JOIN runs r ON r.id = s.run_id \
         WHERE s.inbox IS NOT NULL AND s.deadline_at IS NOT NULL AND s.deadline_at <= $1 \
         ORDER BY s.deadline_at, s.run_id, s.subscription_id LIMIT $2"
    )))
    .bind(now)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(record::inbox_item).collect()
}
