//! Schedule rows, shared by both backends (the SQL differs only in the null-safe comparison).

use crate::error::StoreError;
use crate::records::ScheduleRecord;

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
