//! Schedule rows and `schedule.on.all` matches of both backends turned into records (the
//! statements are in `sql/schedules.rs`).

use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::records::{ScheduleKey, ScheduleMatch, ScheduleRecord};

/// `(workspace, namespace, name, version, kind, spec, next_due_at, last_fired_at, last_run_id,
/// created_at)` as selected by both backends.
pub(crate) type ScheduleRow =
    (String, String, String, String, String, String, Option<i64>, Option<i64>, Option<String>, i64);

pub(crate) fn decode_schedule(row: ScheduleRow) -> Result<ScheduleRecord, StoreError> {
    let (workspace, namespace, name, version, kind, spec, next_due_at, last_fired_at, last_run_id, created_at) = row;
    let spec = serde_json::from_str(&spec)
        .map_err(|err| StoreError::Encoding(format!("schedule {namespace}/{name}:{version}: spec: {err}")))?;
    Ok(ScheduleRecord {
        workspace: WorkspaceId::new(workspace),
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

/// `(group_key, filter_index, event_key, event, received_at)` of a `schedule_matches` row, the
/// event as JSON text.
pub(crate) type MatchRow = (String, i64, String, String, i64);

pub(crate) fn decode_match(schedule: &ScheduleKey, row: MatchRow) -> Result<ScheduleMatch, StoreError> {
    let (group_key, filter_index, event_key, event, received_at) = row;
    let event = serde_json::from_str(&event)
        .map_err(|err| StoreError::Encoding(format!("schedule match {event_key:?}: event: {err}")))?;
    Ok(ScheduleMatch { schedule: schedule.clone(), group_key, filter_index, event_key, event, received_at })
}
