//! The write operations. Each is ONE statement (data-modifying CTEs, arrays bound as
//! parameters and expanded with `UNNEST`), so it is atomic on its own and costs one round trip;
//! only a refused write takes a second query, to report why.
//!
//! Concurrency: PostgreSQL runs these from many connections (and nodes) at once. `commit`'s
//! `UPDATE … WHERE state_version = $2` takes the run's row lock first; a concurrent commit of the
//! same run waits for it, re-checks the version and updates nothing (a conflict). Everything else
//! a commit writes hangs off the run (history, timers) except events, which are deduplicated and
//! inserted in key order so two commits sharing events cannot deadlock.

use std::collections::HashSet;

use sqlx::PgPool;

use crate::error::{ConflictKind, StoreError};
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::postgres::codec::{encode_json, encode_optional_json};
use crate::records::{
    Checkpoint, Millis, NewHistoryEntry, NewRun, PutOutcome, RunRecord, StoredEvent, SubscriptionRecord, WorkflowRecord,
};
use crate::rows::{check_subscriptions, created_run, type_keys, types_json};
use crate::sql::statement;
use crate::status::terminal_sql_list;

crate::sql::runs::runs!(sqlx::Postgres);

pub(crate) async fn put_workflow(pool: &PgPool, record: &WorkflowRecord) -> Result<PutOutcome, StoreError> {
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
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(PutOutcome::Created);
    }
    // A stored version never changes, so reading it outside a transaction is safe.
    let stored: (String, Option<i64>) = sqlx::query_as(
        "SELECT definition, max_concurrency FROM workflows \
         WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4",
    )
    .bind(record.workspace.as_str())
    .bind(&record.namespace)
    .bind(&record.name)
    .bind(&record.version)
    .fetch_one(pool)
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

/// History entries as parallel arrays, for `UNNEST(...) WITH ORDINALITY`.
struct HistoryColumns {
    at: Vec<i64>,
    kind: Vec<String>,
    task: Vec<Option<String>>,
    data: Vec<String>,
}

impl HistoryColumns {
    fn new(entries: &[NewHistoryEntry]) -> Result<HistoryColumns, StoreError> {
        Ok(HistoryColumns {
            at: entries.iter().map(|entry| entry.at).collect(),
            kind: entries.iter().map(|entry| entry.kind.clone()).collect(),
            task: entries.iter().map(|entry| entry.task.clone()).collect(),
            data: entries.iter().map(|entry| encode_json(&entry.data)).collect::<Result<_, _>>()?,
        })
    }
}

/// Creates the run and its first history in one statement and returns the record as written.
pub(crate) async fn create_run(pool: &PgPool, run: NewRun) -> Result<RunRecord, StoreError> {
    let entries = HistoryColumns::new(&run.history)?;
    // No conflict target: a taken run id and a taken idempotency key (the partial unique index
    // `runs_idempotency_key`) both end up as "nothing inserted", and then no history either.
    let inserted: i64 = sqlx::query_scalar(
        "WITH new_run AS ( \
           INSERT INTO runs (id, workspace, namespace, name, version, status, input, output, \
             error, state, state_version, last_seq, parent_run_id, parent_effect_id, created_at, \
             updated_at, idempotency_key, owner) \
           VALUES ($1, $2, $3, $4, $5, $6, $7::json, NULL, NULL, $8::json, 1, \
             cardinality($13::bigint[]), $9, $10, $11, $11, $12, $17) \
           ON CONFLICT DO NOTHING \
           RETURNING id \
         ), new_history AS ( \
           INSERT INTO history (run_id, seq, at, kind, task, data) \
           SELECT new_run.id, entry.seq, entry.at, entry.kind, entry.task, entry.data::json \
           FROM new_run, UNNEST($13::bigint[], $14::text[], $15::text[], $16::text[]) \
             WITH ORDINALITY AS entry (at, kind, task, data, seq) \
         ) \
         SELECT count(*) FROM new_run",
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
    .bind(run.idempotency_key.as_deref())
    .bind(&entries.at)
    .bind(&entries.kind)
    .bind(&entries.task)
    .bind(&entries.data)
    .bind(run.owner.as_deref())
    .fetch_one(pool)
    .await?;
    if inserted == 0 {
        return Err(creation_conflict(pool, &run).await?);
    }
    Ok(created_run(run))
}

/// Applies a checkpoint; see [`crate::RunStore::commit`]. Returns the new state version.
pub(crate) async fn commit(pool: &PgPool, checkpoint: &Checkpoint) -> Result<i64, StoreError> {
    let run_id = &checkpoint.run_id;
    check_subscriptions(checkpoint)?;
    let entries = HistoryColumns::new(&checkpoint.history)?;
    let timers = TimerChanges::new(checkpoint);
    let events = EventColumns::new(&checkpoint.events)?;
    let subscriptions = SubscriptionChanges::new(checkpoint)?;
    let mut consumed: Vec<&(String, String)> = checkpoint.events_consumed.iter().collect();
    consumed.sort();
    consumed.dedup();
    // Every sub-statement after `run` reads from it: when the version check fails, `run` is
    // empty and nothing else is written. Statements of one query see one snapshot, so
    // deletions and upserts must not touch the same row (`TimerChanges` and
    // `SubscriptionChanges` see to that). A cleared subscription's types go with it
    // (ON DELETE CASCADE); a set one keeps the type rows it still has, loses the others and
    // gains the new ones.
    let new_version: Option<i64> = sqlx::query_scalar(statement!(
        "WITH run AS ( \
           UPDATE runs SET status = $3, state = $4::json, output = $5::json, error = $6::json, \
             state_version = state_version + 1, updated_at = $7, \
             last_seq = last_seq + cardinality($8::bigint[]) \
           WHERE id = $1 AND state_version = $2 AND owner_epoch = $34 \
           RETURNING state_version, last_seq - cardinality($8::bigint[]) AS seq_before, workspace \
         ), new_history AS ( \
           INSERT INTO history (run_id, seq, at, kind, task, data) \
           SELECT $1, run.seq_before + entry.ord, entry.at, entry.kind, entry.task, \
             entry.data::json \
           FROM run, UNNEST($8::bigint[], $9::text[], $10::text[], $11::text[]) \
             WITH ORDINALITY AS entry (at, kind, task, data, ord) \
         ), cleared_timers AS ( \
           DELETE FROM timers \
           WHERE run_id = $1 AND timer_id = ANY($12::text[]) AND EXISTS (SELECT FROM run) \
         ), set_timers AS ( \
           INSERT INTO timers (run_id, timer_id, due_at) \
           SELECT $1, timer.timer_id, timer.due_at \
           FROM run, UNNEST($13::text[], $14::bigint[]) AS timer (timer_id, due_at) \
           ON CONFLICT (run_id, timer_id) DO UPDATE SET due_at = excluded.due_at \
         ), new_events AS ( \
           INSERT INTO events (workspace, source, id, type, time, event, received_at) \
           SELECT run.workspace, event.source, event.id, event.type, event.time, \
             event.event::json, event.received_at \
           FROM run, UNNEST($15::text[], $16::text[], $17::text[], $18::bigint[], $19::text[], \
             $20::bigint[]) AS event (source, id, type, time, event, received_at) \
           ON CONFLICT (source, id) DO NOTHING \
         ), cleared_subscriptions AS ( \
           DELETE FROM subscriptions \
           WHERE run_id = $1 AND subscription_id = ANY($21::text[]) AND EXISTS (SELECT FROM run) \
         ), set_subscriptions AS ( \
           INSERT INTO subscriptions (run_id, subscription_id, workspace, types, subscription, \
             inbox, deadline_at, created_at) \
           SELECT $1, sub.subscription_id, sub.workspace, sub.types::json, sub.subscription::json, \
             sub.inbox::json, sub.deadline_at, sub.created_at \
           FROM run, UNNEST($22::text[], $23::text[], $24::text[], $25::text[], $26::text[], \
             $27::bigint[], $28::bigint[]) \
             AS sub (subscription_id, workspace, types, subscription, inbox, deadline_at, created_at) \
           ON CONFLICT (run_id, subscription_id) DO UPDATE SET workspace = excluded.workspace, \
             types = excluded.types, subscription = excluded.subscription, inbox = excluded.inbox, \
             deadline_at = excluded.deadline_at, created_at = excluded.created_at \
         ), stale_types AS ( \
           DELETE FROM subscription_types \
           WHERE run_id = $1 AND subscription_id = ANY($22::text[]) \
             AND (subscription_id, workspace, type) NOT IN \
               (SELECT * FROM UNNEST($29::text[], $30::text[], $31::text[])) \
             AND EXISTS (SELECT FROM run) \
         ), new_types AS ( \
           INSERT INTO subscription_types (workspace, type, run_id, subscription_id) \
           SELECT st.workspace, st.type, $1, st.subscription_id \
           FROM run, UNNEST($29::text[], $30::text[], $31::text[]) AS st (subscription_id, workspace, type) \
           ON CONFLICT DO NOTHING \
         ), consumed AS ( \
           INSERT INTO event_consumptions (source, id, run_id) \
           SELECT consumed.source, consumed.id, $1 \
           FROM run, UNNEST($32::text[], $33::text[]) AS consumed (source, id) \
           ON CONFLICT DO NOTHING \
         ), consumed_inputs AS ( \
           DELETE FROM run_inputs \
           WHERE run_id = $1 AND (id = ANY($35::bigint[]) OR $3 IN ({terminal})) \
             AND EXISTS (SELECT FROM run) \
         ), sent_inputs AS ( \
           INSERT INTO run_inputs (run_id, input, created_at) \
           SELECT target.id, sent.input::json, $7 \
           FROM run, UNNEST($36::text[], $37::text[]) AS sent (run_id, input) \
             JOIN runs AS target ON target.id = sent.run_id \
           WHERE target.status NOT IN ({terminal}) \
           RETURNING run_id \
         ), notified AS ( \
           SELECT pg_notify('baton_inputs', COALESCE(target.owner, '')) \
           FROM sent_inputs JOIN runs AS target ON target.id = sent_inputs.run_id \
         ) \
         SELECT state_version FROM run WHERE (SELECT count(*) FROM notified) >= 0",
        terminal = terminal_sql_list()
    ))
    .bind(run_id)
    .bind(checkpoint.expected_version)
    .bind(checkpoint.status.as_str())
    .bind(encode_json(&checkpoint.state)?)
    .bind(encode_optional_json(checkpoint.output.as_ref())?)
    .bind(encode_optional_json(checkpoint.error.as_ref())?)
    .bind(checkpoint.updated_at)
    .bind(&entries.at)
    .bind(&entries.kind)
    .bind(&entries.task)
    .bind(&entries.data)
    .bind(&timers.cleared)
    .bind(&timers.set_ids)
    .bind(&timers.set_due_at)
    .bind(&events.source)
    .bind(&events.id)
    .bind(&events.kind)
    .bind(&events.time)
    .bind(&events.event)
    .bind(&events.received_at)
    .bind(&subscriptions.cleared)
    .bind(&subscriptions.ids)
    .bind(&subscriptions.workspace)
    .bind(&subscriptions.types)
    .bind(&subscriptions.subscription)
    .bind(&subscriptions.inbox)
    .bind(&subscriptions.deadline_at)
    .bind(&subscriptions.created_at)
    .bind(&subscriptions.type_ids)
    .bind(&subscriptions.type_workspace)
    .bind(&subscriptions.type_kind)
    .bind(consumed.iter().map(|(source, _)| source.as_str()).collect::<Vec<_>>())
    .bind(consumed.iter().map(|(_, id)| id.as_str()).collect::<Vec<_>>())
    .bind(checkpoint.expected_epoch.0)
    .bind(&checkpoint.inputs_consumed)
    .bind(checkpoint.inputs_sent.iter().map(|(target, _)| target.as_str()).collect::<Vec<_>>())
    .bind(checkpoint.inputs_sent.iter().map(|(_, input)| encode_json(input)).collect::<Result<Vec<_>, _>>()?)
    .fetch_optional(pool)
    .await?;
    if let Some(new_version) = new_version {
        return Ok(new_version);
    }
    let stored: Option<(i64, i64)> = sqlx::query_as("SELECT state_version, owner_epoch FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(pool)
        .await?;
    Err(match stored {
        None => StoreError::NotFound(format!("run {run_id}")),
        Some((_, stored_epoch)) if OwnerEpoch(stored_epoch) != checkpoint.expected_epoch => {
            StoreError::Conflict(ConflictKind::Fenced {
                run_id: run_id.clone(),
                stored: OwnerEpoch(stored_epoch),
                expected: checkpoint.expected_epoch,
            })
        }
        Some((stored_version, _)) => StoreError::Conflict(ConflictKind::StaleVersion {
            run_id: run_id.clone(),
            stored: stored_version,
            expected: checkpoint.expected_version,
        }),
    })
}

/// A checkpoint's timer changes with the effect of "clear, then set, in order" (the SQLite
/// backend's sequence of statements) but touching each timer row once: a set timer is not
/// also deleted, and of several sets of one id the last one wins.
struct TimerChanges {
    cleared: Vec<String>,
    set_ids: Vec<String>,
    set_due_at: Vec<i64>,
}

impl TimerChanges {
    fn new(checkpoint: &Checkpoint) -> TimerChanges {
        let mut set_ids: Vec<String> = Vec::with_capacity(checkpoint.timers_set.len());
        let mut set_due_at: Vec<i64> = Vec::with_capacity(checkpoint.timers_set.len());
        for (timer_id, due_at) in &checkpoint.timers_set {
            match set_ids.iter().position(|id| id == timer_id) {
                Some(idx) => set_due_at[idx] = *due_at,
                None => {
                    set_ids.push(timer_id.clone());
                    set_due_at.push(*due_at);
                }
            }
        }
        let set: HashSet<&str> = set_ids.iter().map(String::as_str).collect();
        let cleared = checkpoint.timers_cleared.iter().filter(|id| !set.contains(id.as_str())).cloned().collect();
        TimerChanges { cleared, set_ids, set_due_at }
    }
}

/// Events as parallel arrays: the first of several with one (`source`, `id`) kept, sorted by
/// that key so concurrent commits take the key locks in one order.
struct EventColumns {
    source: Vec<String>,
    id: Vec<String>,
    kind: Vec<String>,
    time: Vec<i64>,
    event: Vec<String>,
    received_at: Vec<i64>,
}

impl EventColumns {
    fn new(events: &[StoredEvent]) -> Result<EventColumns, StoreError> {
        let mut seen = HashSet::with_capacity(events.len());
        let mut unique: Vec<&StoredEvent> =
            events.iter().filter(|event| seen.insert((event.source.as_str(), event.id.as_str()))).collect();
        unique.sort_by(|a, b| (&a.source, &a.id).cmp(&(&b.source, &b.id)));
        Ok(EventColumns {
            source: unique.iter().map(|event| event.source.clone()).collect(),
            id: unique.iter().map(|event| event.id.clone()).collect(),
            kind: unique.iter().map(|event| event.kind.clone()).collect(),
            time: unique.iter().map(|event| event.time).collect(),
            event: unique.iter().map(|event| encode_json(&event.event)).collect::<Result<_, _>>()?,
            received_at: unique.iter().map(|event| event.received_at).collect(),
        })
    }
}

/// A checkpoint's subscription changes as parallel arrays, with the effect of "clear, then set,
/// in order" but touching each row once: a set subscription is not also deleted, and of several
/// sets of one id the last one wins. `type_*` are the `subscription_types` rows of the set ones.
struct SubscriptionChanges {
    cleared: Vec<String>,
    ids: Vec<String>,
    workspace: Vec<String>,
    types: Vec<Option<String>>,
    subscription: Vec<String>,
    inbox: Vec<Option<String>>,
    deadline_at: Vec<Option<i64>>,
    created_at: Vec<i64>,
    type_ids: Vec<String>,
    type_workspace: Vec<String>,
    type_kind: Vec<String>,
}

impl SubscriptionChanges {
    fn new(checkpoint: &Checkpoint) -> Result<SubscriptionChanges, StoreError> {
        let mut last: Vec<&SubscriptionRecord> = Vec::with_capacity(checkpoint.subscriptions_set.len());
        for record in &checkpoint.subscriptions_set {
            match last.iter().position(|it| it.subscription_id == record.subscription_id) {
                Some(idx) => last[idx] = record,
                None => last.push(record),
            }
        }
        let set: HashSet<&str> = last.iter().map(|it| it.subscription_id.as_str()).collect();
        let mut changes = SubscriptionChanges {
            cleared: checkpoint.subscriptions_cleared.iter().filter(|id| !set.contains(id.as_str())).cloned().collect(),
            ids: Vec::new(),
            workspace: Vec::new(),
            types: Vec::new(),
            subscription: Vec::new(),
            inbox: Vec::new(),
            deadline_at: Vec::new(),
            created_at: Vec::new(),
            type_ids: Vec::new(),
            type_workspace: Vec::new(),
            type_kind: Vec::new(),
        };
        for record in last {
            changes.ids.push(record.subscription_id.clone());
            changes.workspace.push(record.workspace.to_string());
            changes.types.push(encode_optional_json(types_json(record.types.as_deref()).as_ref())?);
            changes.subscription.push(encode_json(&record.subscription)?);
            changes.inbox.push(encode_optional_json(record.inbox.as_ref())?);
            changes.deadline_at.push(record.deadline_at);
            changes.created_at.push(record.created_at);
            for kind in type_keys(record.types.as_deref()) {
                changes.type_ids.push(record.subscription_id.clone());
                changes.type_workspace.push(record.workspace.to_string());
                changes.type_kind.push(kind);
            }
        }
        Ok(changes)
    }
}

/// See [`crate::EventStore::put_event`]: the unique key (`source`, `id`) decides between
/// concurrent duplicates.
pub(crate) async fn put_event(
    pool: &PgPool,
    workspace: &WorkspaceId,
    event: &StoredEvent,
    target_run_id: Option<&str>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO events (workspace, source, id, type, time, event, received_at, target_run_id) \
         VALUES ($1, $2, $3, $4, $5, $6::json, $7, $8) ON CONFLICT (source, id) DO NOTHING",
    )
    .bind(workspace.as_str())
    .bind(&event.source)
    .bind(&event.id)
    .bind(&event.kind)
    .bind(event.time)
    .bind(encode_json(&event.event)?)
    .bind(event.received_at)
    .bind(target_run_id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// See [`crate::EventStore::delete_events_before`].
pub(crate) async fn delete_events_before(pool: &PgPool, received_before: Millis) -> Result<u64, StoreError> {
    let deleted: i64 = sqlx::query_scalar(
        "WITH gone AS ( \
           DELETE FROM events WHERE received_at < $1 RETURNING source, id \
         ), gone_consumptions AS ( \
           DELETE FROM event_consumptions c USING gone WHERE c.source = gone.source AND c.id = gone.id \
         ) \
         SELECT count(*) FROM gone",
    )
    .bind(received_before)
    .fetch_one(pool)
    .await?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}
