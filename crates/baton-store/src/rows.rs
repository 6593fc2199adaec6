//! Result rows of either backend turned into records: the column accessors differ per backend
//! ([`RecordRow`]), the mapping from columns to record fields is written once here.

use serde_json::Value;

use crate::error::StoreError;
use crate::records::{HistoryEntry, ParentLink, RunRecord, RunSummary, StoredEvent, TimerRecord, WorkflowRecord};

/// Typed access to the columns of one result row. A missing column, a value of the wrong type
/// or a document that is not JSON is a [`StoreError::Encoding`].
pub(crate) trait RecordRow {
    fn text(&self, name: &str) -> Result<String, StoreError>;
    fn optional_text(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, name: &str) -> Result<i64, StoreError>;
    fn optional_int(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn json(&self, name: &str) -> Result<Value, StoreError>;
    fn optional_json(&self, name: &str) -> Result<Option<Value>, StoreError>;
}

/// Columns: workspace, namespace, name, version, definition, max_concurrency, created_at.
pub(crate) fn workflow(row: &impl RecordRow) -> Result<WorkflowRecord, StoreError> {
    Ok(WorkflowRecord {
        workspace: row.text("workspace")?,
        namespace: row.text("namespace")?,
        name: row.text("name")?,
        version: row.text("version")?,
        definition: row.text("definition")?,
        max_concurrency: row.optional_int("max_concurrency")?.and_then(|n| u32::try_from(n).ok()),
        created_at: row.int("created_at")?,
    })
}

/// Columns: every column of `runs` except `idempotency_key`.
pub(crate) fn run(row: &impl RecordRow) -> Result<RunRecord, StoreError> {
    let parent_run_id = row.optional_text("parent_run_id")?;
    let parent_effect_id = row.optional_text("parent_effect_id")?;
    let parent = match (parent_run_id, parent_effect_id) {
        (Some(run_id), Some(effect_id)) => Some(ParentLink { run_id, effect_id }),
        (None, None) => None,
        _ => {
            return Err(StoreError::Encoding(
                "parent_run_id and parent_effect_id must be both set or both null".to_owned(),
            ));
        }
    };
    Ok(RunRecord {
        id: row.text("id")?,
        workspace: row.text("workspace")?,
        namespace: row.text("namespace")?,
        name: row.text("name")?,
        version: row.text("version")?,
        status: row.text("status")?,
        input: row.json("input")?,
        output: row.optional_json("output")?,
        error: row.optional_json("error")?,
        state: row.json("state")?,
        state_version: row.int("state_version")?,
        last_seq: row.int("last_seq")?,
        parent,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// Columns: id, workspace, namespace, name, version, status, created_at, updated_at.
pub(crate) fn summary(row: &impl RecordRow) -> Result<RunSummary, StoreError> {
    Ok(RunSummary {
        id: row.text("id")?,
        workspace: row.text("workspace")?,
        namespace: row.text("namespace")?,
        name: row.text("name")?,
        version: row.text("version")?,
        status: row.text("status")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// Columns: seq, at, kind, task, data.
pub(crate) fn history_entry(row: &impl RecordRow) -> Result<HistoryEntry, StoreError> {
    Ok(HistoryEntry {
        seq: row.int("seq")?,
        at: row.int("at")?,
        kind: row.text("kind")?,
        task: row.optional_text("task")?,
        data: row.json("data")?,
    })
}

/// Columns: run_id, timer_id, due_at.
pub(crate) fn timer(row: &impl RecordRow) -> Result<TimerRecord, StoreError> {
    Ok(TimerRecord { run_id: row.text("run_id")?, timer_id: row.text("timer_id")?, due_at: row.int("due_at")? })
}

/// Columns: id, source, type, time, event.
pub(crate) fn event(row: &impl RecordRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        id: row.text("id")?,
        source: row.text("source")?,
        kind: row.text("type")?,
        time: row.int("time")?,
        event: row.json("event")?,
    })
}
