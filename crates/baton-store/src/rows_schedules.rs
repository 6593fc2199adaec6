//! Schedule rows and `schedule.on.all` matches, shared by both backends (the SQL differs only in
//! null-safe comparisons, casts and how a list is bound).

use crate::error::StoreError;
use crate::records::{ScheduleKey, ScheduleMatch, ScheduleRecord};

/// `(workspace, namespace, name, version, kind, spec, next_due_at, last_fired_at, last_run_id,
/// created_at)` as selected by both backends.
pub(crate) type ScheduleRow =
    (String, String, String, String, String, String, Option<i64>, Option<i64>, Option<String>, i64);

/// Selects the schedules, of kind `$1` unless it is NULL (PostgreSQL needs `$1` typed).
pub(crate) const SELECT_SCHEDULES_SQLITE: &str = "SELECT workspace, namespace, name, version, kind, spec, next_due_at, \
     last_fired_at, last_run_id, created_at FROM schedules WHERE ($1 IS NULL OR kind = $1) \
     ORDER BY next_due_at IS NULL, next_due_at, namespace, name, version";
pub(crate) const SELECT_SCHEDULES_PG: &str = "SELECT workspace, namespace, name, version, kind, spec, next_due_at, \
     last_fired_at, last_run_id, created_at FROM schedules WHERE ($1::text IS NULL OR kind = $1::text) \
     ORDER BY next_due_at IS NULL, next_due_at, namespace, name, version";

pub(crate) const INSERT_SCHEDULE: &str = "INSERT INTO schedules (workspace, namespace, name, version, kind, spec, \
     next_due_at, last_fired_at, last_run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (workspace, namespace, name, version) DO NOTHING";

pub(crate) fn decode_schedule(row: ScheduleRow) -> Result<ScheduleRecord, StoreError> {
    let (workspace, namespace, name, version, kind, spec, next_due_at, last_fired_at, last_run_id, created_at) = row;
    let spec = serde_json::from_str(&spec)
        .map_err(|err| StoreError::Encoding(format!("schedule {namespace}/{name}:{version}: spec: {err}")))?;
    Ok(ScheduleRecord {
        workspace,
        namespace,
        name,
        version,
        kind,
        spec,
        next_due_at,
        last_fired_at,
        last_run_id,
        created_at,
    })
}

/// The compare-and-set of [`crate::Store::claim_schedule`], with each backend's null-safe
/// equality (`IS` on SQLite, `IS NOT DISTINCT FROM` on PostgreSQL).
pub(crate) const CLAIM_SCHEDULE_SQLITE: &str = "UPDATE schedules SET next_due_at = $6, \
     last_fired_at = COALESCE($7, last_fired_at), last_run_id = COALESCE($8, last_run_id) \
     WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 AND next_due_at IS $5";
pub(crate) const CLAIM_SCHEDULE_PG: &str = "UPDATE schedules SET next_due_at = $6, \
     last_fired_at = COALESCE($7, last_fired_at), last_run_id = COALESCE($8, last_run_id) \
     WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 \
     AND next_due_at IS NOT DISTINCT FROM $5::bigint";

/// `(group_key, filter_index, event_key, event, received_at)` of a `schedule_matches` row, the
/// event as JSON text.
pub(crate) type MatchRow = (String, i64, String, String, i64);

pub(crate) const INSERT_MATCH_SQLITE: &str = "INSERT INTO schedule_matches (workspace, namespace, name, version, \
     group_key, filter_index, event_key, event, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT DO NOTHING";
pub(crate) const INSERT_MATCH_PG: &str = "INSERT INTO schedule_matches (workspace, namespace, name, version, \
     group_key, filter_index, event_key, event, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::json, $9) \
     ON CONFLICT DO NOTHING";

/// The pending matches of one version (of group `$5` unless it is NULL), by group, then in
/// arrival order.
pub(crate) const SELECT_MATCHES_SQLITE: &str = "SELECT group_key, filter_index, event_key, event, received_at \
     FROM schedule_matches WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 \
     AND ($5 IS NULL OR group_key = $5) ORDER BY group_key, seq";
pub(crate) const SELECT_MATCHES_PG: &str = "SELECT group_key, filter_index, event_key, event::text, received_at \
     FROM schedule_matches WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 \
     AND ($5::text IS NULL OR group_key = $5::text) ORDER BY group_key, seq";

/// Deletes the listed events (`$6`: a JSON array of event keys on SQLite, a text array on
/// PostgreSQL) of one group. On PostgreSQL the rows are locked in arrival order first, so
/// concurrent deletions of one group never deadlock and exactly one of them deletes the rows.
pub(crate) const DELETE_MATCHES_SQLITE: &str = "DELETE FROM schedule_matches WHERE workspace = $1 \
     AND namespace = $2 AND name = $3 AND version = $4 AND group_key = $5 \
     AND event_key IN (SELECT value FROM json_each($6))";
pub(crate) const DELETE_MATCHES_PG: &str = "DELETE FROM schedule_matches WHERE seq IN (SELECT seq \
     FROM schedule_matches WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 \
     AND group_key = $5 AND event_key = ANY($6::text[]) ORDER BY seq FOR UPDATE)";

pub(crate) fn decode_match(schedule: &ScheduleKey, row: MatchRow) -> Result<ScheduleMatch, StoreError> {
    let (group_key, filter_index, event_key, event, received_at) = row;
    let event = serde_json::from_str(&event)
        .map_err(|err| StoreError::Encoding(format!("schedule match {event_key:?}: event: {err}")))?;
    Ok(ScheduleMatch { schedule: schedule.clone(), group_key, filter_index, event_key, event, received_at })
}
