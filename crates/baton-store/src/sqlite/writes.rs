//! The write operations, each run by the writer task inside its own savepoint of a group
//! transaction. They assume an open transaction and never commit themselves.

use sqlx::SqliteConnection;

use crate::error::{ConflictKind, StoreError};
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::records::{
    Checkpoint, Millis, NewHistoryEntry, NewRun, PutOutcome, StoredEvent, SubscriptionRecord, WorkflowRecord,
};
use crate::sql::statement;
use crate::status::terminal_sql_list;

crate::sql::runs::runs!(sqlx::Sqlite);
use crate::rows::{check_subscriptions, type_keys, types_json};
use crate::sqlite::codec::{encode_json, encode_optional_json};

pub(crate) async fn put_workflow(
    conn: &mut SqliteConnection,
    record: &WorkflowRecord,
) -> Result<PutOutcome, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO workflows (workspace, namespace, name, version, definition, created_at, \
         max_concurrency) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (workspace, namespace, name, version) DO NOTHING",
    )
    .bind(record.workspace.as_str())
    .bind(&record.namespace)
    .bind(&record.name)
    .bind(&record.version)
    .bind(&record.definition)
    .bind(record.created_at)
    .bind(record.max_concurrency.map(i64::from))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(PutOutcome::Created);
    }
    let stored: (String, Option<i64>) = sqlx::query_as(
        "SELECT definition, max_concurrency FROM workflows \
         WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4",
    )
    .bind(record.workspace.as_str())
    .bind(&record.namespace)
    .bind(&record.name)
    .bind(&record.version)
    .fetch_one(&mut *conn)
    .await?;
    if stored == (record.definition.clone(), record.max_concurrency.map(i64::from)) {
        Ok(PutOutcome::Unchanged)
    } else {
        Err(StoreError::Conflict(ConflictKind::WorkflowRedefined {
            workspace: record.workspace.to_string(),
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            version: record.version.clone(),
        }))
    }
}

pub(crate) async fn create_run(conn: &mut SqliteConnection, run: &NewRun) -> Result<(), StoreError> {
    // No conflict target: a taken run id and a taken idempotency key (the partial unique
    // index `runs_idempotency_key`) both end up as "nothing inserted".
    let inserted = sqlx::query(
        "INSERT INTO runs (id, workspace, namespace, name, version, status, input, output, \
         error, state, state_version, last_seq, parent_run_id, parent_effect_id, created_at, \
         updated_at, idempotency_key, owner) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, $8, 1, $12, $9, $10, $11, $11, $13, $14) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&run.id)
    .bind(run.workspace.as_str())
    .bind(&run.namespace)
    .bind(&run.name)
    .bind(&run.version)
    .bind(run.status.as_str())
    .bind(encode_json(&run.input)?)
    .bind(encode_json(&run.state)?)
    .bind(run.parent.as_ref().map(|parent| parent.run_id.as_str()))
    .bind(run.parent.as_ref().map(|parent| parent.effect_id.as_str()))
    .bind(run.created_at)
    .bind(run.history.len() as i64)
    .bind(run.idempotency_key.as_deref())
    .bind(run.owner.as_deref())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(creation_conflict(&mut *conn, run).await?);
    }
    append_history(conn, &run.id, 1, &run.history).await
}

/// Applies a checkpoint; see [`crate::RunStore::commit`]. Returns the new state version.
pub(crate) async fn commit(conn: &mut SqliteConnection, checkpoint: &Checkpoint) -> Result<i64, StoreError> {
    let run_id = &checkpoint.run_id;
    check_subscriptions(checkpoint)?;
    let stored: Option<(i64, i64, String, i64)> =
        sqlx::query_as("SELECT state_version, last_seq, workspace, owner_epoch FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((stored_version, last_seq, workspace, stored_epoch)) = stored else {
        return Err(StoreError::NotFound(format!("run {run_id}")));
    };
    if OwnerEpoch(stored_epoch) != checkpoint.expected_epoch {
        return Err(StoreError::Conflict(ConflictKind::Fenced {
            run_id: run_id.clone(),
            stored: OwnerEpoch(stored_epoch),
            expected: checkpoint.expected_epoch,
        }));
    }
    if stored_version != checkpoint.expected_version {
        return Err(StoreError::Conflict(ConflictKind::StaleVersion {
            run_id: run_id.clone(),
            stored: stored_version,
            expected: checkpoint.expected_version,
        }));
    }
    let new_version = stored_version + 1;
    sqlx::query(
        "UPDATE runs SET status = $2, state = $3, output = $4, error = $5, state_version = $6, \
         updated_at = $7, last_seq = $8 WHERE id = $1",
    )
    .bind(run_id)
    .bind(checkpoint.status.as_str())
    .bind(encode_json(&checkpoint.state)?)
    .bind(encode_optional_json(checkpoint.output.as_ref())?)
    .bind(encode_optional_json(checkpoint.error.as_ref())?)
    .bind(new_version)
    .bind(checkpoint.updated_at)
    .bind(last_seq + checkpoint.history.len() as i64)
    .execute(&mut *conn)
    .await?;
    append_history(conn, run_id, last_seq + 1, &checkpoint.history).await?;
    for timer_id in &checkpoint.timers_cleared {
        sqlx::query("DELETE FROM timers WHERE run_id = $1 AND timer_id = $2")
            .bind(run_id)
            .bind(timer_id)
            .execute(&mut *conn)
            .await?;
    }
    for (timer_id, due_at) in &checkpoint.timers_set {
        sqlx::query(
            "INSERT INTO timers (run_id, timer_id, due_at) VALUES ($1, $2, $3) \
             ON CONFLICT (run_id, timer_id) DO UPDATE SET due_at = excluded.due_at",
        )
        .bind(run_id)
        .bind(timer_id)
        .bind(due_at)
        .execute(&mut *conn)
        .await?;
    }
    for event in &checkpoint.events {
        insert_event(conn, &WorkspaceId::new(workspace.clone()), event, None).await?;
    }
    for subscription_id in &checkpoint.subscriptions_cleared {
        // Its `subscription_types` rows go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM subscriptions WHERE run_id = $1 AND subscription_id = $2")
            .bind(run_id)
            .bind(subscription_id)
            .execute(&mut *conn)
            .await?;
    }
    for subscription in &checkpoint.subscriptions_set {
        set_subscription(conn, subscription).await?;
    }
    for (source, id) in &checkpoint.events_consumed {
        sqlx::query(
            "INSERT INTO event_consumptions (source, id, run_id) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(source)
        .bind(id)
        .bind(run_id)
        .execute(&mut *conn)
        .await?;
    }
    for (target, input) in &checkpoint.inputs_sent {
        sqlx::query(statement!(
            "INSERT INTO run_inputs (run_id, input, created_at) SELECT id, $2, $3 FROM runs \
             WHERE id = $1 AND status NOT IN ({})",
            terminal_sql_list()
        ))
        .bind(target)
        .bind(encode_json(input)?)
        .bind(checkpoint.updated_at)
        .execute(&mut *conn)
        .await?;
    }
    if checkpoint.status.is_terminal() {
        sqlx::query("DELETE FROM run_inputs WHERE run_id = $1").bind(run_id).execute(&mut *conn).await?;
    } else {
        for input_id in &checkpoint.inputs_consumed {
            sqlx::query("DELETE FROM run_inputs WHERE id = $1 AND run_id = $2")
                .bind(input_id)
                .bind(run_id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(new_version)
}

/// Inserts an event unless its (`source`, `id`) is stored; returns whether it was inserted.
async fn insert_event(
    conn: &mut SqliteConnection,
    workspace: &WorkspaceId,
    event: &StoredEvent,
    target_run_id: Option<&str>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO events (workspace, source, id, type, time, event, received_at, target_run_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (source, id) DO NOTHING",
    )
    .bind(workspace.as_str())
    .bind(&event.source)
    .bind(&event.id)
    .bind(&event.kind)
    .bind(event.time)
    .bind(encode_json(&event.event)?)
    .bind(event.received_at)
    .bind(target_run_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Creates or replaces a subscription and its `subscription_types` rows.
async fn set_subscription(conn: &mut SqliteConnection, record: &SubscriptionRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO subscriptions (run_id, subscription_id, workspace, types, subscription, inbox, \
         deadline_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (run_id, subscription_id) DO UPDATE SET workspace = excluded.workspace, \
         types = excluded.types, subscription = excluded.subscription, inbox = excluded.inbox, \
         deadline_at = excluded.deadline_at, created_at = excluded.created_at",
    )
    .bind(&record.run_id)
    .bind(&record.subscription_id)
    .bind(record.workspace.as_str())
    .bind(encode_optional_json(types_json(record.types.as_deref()).as_ref())?)
    .bind(encode_json(&record.subscription)?)
    .bind(encode_optional_json(record.inbox.as_ref())?)
    .bind(record.deadline_at)
    .bind(record.created_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM subscription_types WHERE run_id = $1 AND subscription_id = $2")
        .bind(&record.run_id)
        .bind(&record.subscription_id)
        .execute(&mut *conn)
        .await?;
    for kind in type_keys(record.types.as_deref()) {
        sqlx::query(
            "INSERT INTO subscription_types (workspace, type, run_id, subscription_id) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(record.workspace.as_str())
        .bind(kind)
        .bind(&record.run_id)
        .bind(&record.subscription_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// See [`crate::EventStore::put_event`].
pub(crate) async fn put_event(
    conn: &mut SqliteConnection,
    workspace: &WorkspaceId,
    event: &StoredEvent,
    target_run_id: Option<&str>,
) -> Result<bool, StoreError> {
    insert_event(conn, workspace, event, target_run_id).await
}

/// See [`crate::EventStore::delete_events_before`].
pub(crate) async fn delete_events_before(
    conn: &mut SqliteConnection,
    received_before: Millis,
) -> Result<u64, StoreError> {
    sqlx::query(
        "DELETE FROM event_consumptions WHERE (source, id) IN \
         (SELECT source, id FROM events WHERE received_at < $1)",
    )
    .bind(received_before)
    .execute(&mut *conn)
    .await?;
    let deleted =
        sqlx::query("DELETE FROM events WHERE received_at < $1").bind(received_before).execute(&mut *conn).await?;
    Ok(deleted.rows_affected())
}

/// Inserts `entries` numbered `first_seq`, `first_seq + 1`, ...
async fn append_history(
    conn: &mut SqliteConnection,
    run_id: &str,
    first_seq: i64,
    entries: &[NewHistoryEntry],
) -> Result<(), StoreError> {
    for (seq, entry) in (first_seq..).zip(entries) {
        sqlx::query(
            "INSERT INTO history (run_id, seq, at, kind, task, data) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(run_id)
        .bind(seq)
        .bind(entry.at)
        .bind(&entry.kind)
        .bind(entry.task.as_deref())
        .bind(encode_json(&entry.data)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
