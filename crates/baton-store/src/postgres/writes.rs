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

use crate::error::StoreError;
use crate::postgres::codec::{encode_json, encode_optional_json};
use crate::records::{Checkpoint, NewHistoryEntry, NewRun, PutOutcome, StoredEvent, WorkflowRecord};

pub(crate) async fn put_workflow(pool: &PgPool, record: &WorkflowRecord) -> Result<PutOutcome, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO workflows (workspace, namespace, name, version, definition, created_at, \
         max_concurrency) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (workspace, namespace, name, version) DO NOTHING",
    )
    .bind(&record.workspace)
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
    .bind(&record.workspace)
    .bind(&record.namespace)
    .bind(&record.name)
    .bind(&record.version)
    .fetch_one(pool)
    .await?;
    if stored == (record.definition.clone(), record.max_concurrency.map(i64::from)) {
        Ok(PutOutcome::Unchanged)
    } else {
        Err(StoreError::Conflict(format!(
            "workflow {}/{}:{} in workspace {} is already deployed with another definition or concurrency limit",
            record.namespace, record.name, record.version, record.workspace
        )))
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

pub(crate) async fn create_run(pool: &PgPool, run: &NewRun, history: &[NewHistoryEntry]) -> Result<(), StoreError> {
    let entries = HistoryColumns::new(history)?;
    // No conflict target: a taken run id and a taken idempotency key (the partial unique index
    // `runs_idempotency_key`) both end up as "nothing inserted", and then no history either.
    let inserted: i64 = sqlx::query_scalar(
        "WITH new_run AS ( \
           INSERT INTO runs (id, workspace, namespace, name, version, status, input, output, \
             error, state, state_version, last_seq, parent_run_id, parent_effect_id, created_at, \
             updated_at, idempotency_key) \
           VALUES ($1, $2, $3, $4, $5, $6, $7::json, NULL, NULL, $8::json, 1, \
             cardinality($13::bigint[]), $9, $10, $11, $11, $12) \
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
    .bind(&run.workspace)
    .bind(&run.namespace)
    .bind(&run.name)
    .bind(&run.version)
    .bind(&run.status)
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
    .fetch_one(pool)
    .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(match &run.idempotency_key {
            Some(key) => format!("run {} or a run with idempotency key {key:?} already exists", run.id),
            None => format!("run {} already exists", run.id),
        }));
    }
    Ok(())
}

/// Applies a checkpoint; see [`crate::Store::commit`]. Returns the new state version.
pub(crate) async fn commit(pool: &PgPool, checkpoint: &Checkpoint) -> Result<i64, StoreError> {
    let run_id = &checkpoint.run_id;
    let entries = HistoryColumns::new(&checkpoint.history)?;
    let timers = TimerChanges::new(checkpoint);
    let events = EventColumns::new(&checkpoint.events)?;
    // Every sub-statement after `run` reads from it: when the version check fails, `run` is
    // empty and nothing else is written. Statements of one query see one snapshot, so timer
    // deletions and upserts must not touch the same row (`TimerChanges` sees to that).
    let new_version: Option<i64> = sqlx::query_scalar(
        "WITH run AS ( \
           UPDATE runs SET status = $3, state = $4::json, output = $5::json, error = $6::json, \
             state_version = state_version + 1, updated_at = $7, \
             last_seq = last_seq + cardinality($8::bigint[]) \
           WHERE id = $1 AND state_version = $2 \
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
           INSERT INTO events (workspace, source, id, type, time, event) \
           SELECT run.workspace, event.source, event.id, event.type, event.time, \
             event.event::json \
           FROM run, UNNEST($15::text[], $16::text[], $17::text[], $18::bigint[], $19::text[]) \
             AS event (source, id, type, time, event) \
           ON CONFLICT (source, id) DO NOTHING \
         ) \
         SELECT state_version FROM run",
    )
    .bind(run_id)
    .bind(checkpoint.expected_version)
    .bind(&checkpoint.status)
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
    .fetch_optional(pool)
    .await?;
    if let Some(new_version) = new_version {
        return Ok(new_version);
    }
    let stored: Option<i64> =
        sqlx::query_scalar("SELECT state_version FROM runs WHERE id = $1").bind(run_id).fetch_optional(pool).await?;
    Err(match stored {
        None => StoreError::NotFound(format!("run {run_id}")),
        Some(stored_version) => StoreError::Conflict(format!(
            "run {run_id} is at state version {stored_version}, expected {}",
            checkpoint.expected_version
        )),
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
        })
    }
}
