//! Result rows of either backend turned into records: the column accessors differ per backend
//! ([`RecordRow`]), the mapping from columns to record fields is written once here.

use serde_json::Value;

use crate::error::StoreError;
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::records::{
    Checkpoint, HistoryEntry, InboxItem, Lease, NewRun, ParentLink, RunInput, RunRecord, RunRef, RunSummary,
    StoredEvent, SubscriptionRecord, TimerRecord, WorkflowRecord,
};
use crate::status::RunStatus;

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
        workspace: WorkspaceId::new(row.text("workspace")?),
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
        workspace: WorkspaceId::new(row.text("workspace")?),
        namespace: row.text("namespace")?,
        name: row.text("name")?,
        version: row.text("version")?,
        status: RunStatus::parse(&row.text("status")?)?,
        input: row.json("input")?,
        output: row.optional_json("output")?,
        error: row.optional_json("error")?,
        state: row.json("state")?,
        state_version: row.int("state_version")?,
        last_seq: row.int("last_seq")?,
        parent,
        owner: row.optional_text("owner")?,
        owner_epoch: OwnerEpoch(row.int("owner_epoch")?),
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
    })
}

/// Columns: id, run_id, input, created_at.
pub(crate) fn run_input(row: &impl RecordRow) -> Result<RunInput, StoreError> {
    Ok(RunInput {
        id: row.int("id")?,
        run_id: row.text("run_id")?,
        input: row.json("input")?,
        created_at: row.int("created_at")?,
    })
}

/// Columns: name, holder, epoch, expires_at.
pub(crate) fn named_lease(row: &impl RecordRow) -> Result<(String, Lease), StoreError> {
    let lease = Lease { holder: row.text("holder")?, epoch: row.int("epoch")?, expires_at: row.int("expires_at")? };
    Ok((row.text("name")?, lease))
}

/// Columns: id, workspace, namespace, name, version, status, created_at, updated_at.
pub(crate) fn summary(row: &impl RecordRow) -> Result<RunSummary, StoreError> {
    Ok(RunSummary {
        id: row.text("id")?,
        workspace: WorkspaceId::new(row.text("workspace")?),
        namespace: row.text("namespace")?,
        name: row.text("name")?,
        version: row.text("version")?,
        status: RunStatus::parse(&row.text("status")?)?,
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

/// Columns: run_id, workspace, timer_id, due_at.
pub(crate) fn timer(row: &impl RecordRow) -> Result<TimerRecord, StoreError> {
    Ok(TimerRecord {
        run_id: row.text("run_id")?,
        workspace: WorkspaceId::new(row.text("workspace")?),
        timer_id: row.text("timer_id")?,
        due_at: row.int("due_at")?,
    })
}

/// Columns: id, workspace.
pub(crate) fn run_ref(row: &impl RecordRow) -> Result<RunRef, StoreError> {
    Ok(RunRef { id: row.text("id")?, workspace: WorkspaceId::new(row.text("workspace")?) })
}

/// The record [`crate::RunStore::create_run`] writes for `run`, without reading it back.
pub(crate) fn created_run(run: NewRun) -> RunRecord {
    RunRecord {
        id: run.id,
        workspace: run.workspace,
        namespace: run.namespace,
        name: run.name,
        version: run.version,
        status: run.status,
        input: run.input,
        output: None,
        error: None,
        state: run.state,
        state_version: 1,
        last_seq: run.history.len() as i64,
        parent: run.parent,
        owner: run.owner,
        owner_epoch: OwnerEpoch::INITIAL,
        created_at: run.created_at,
        updated_at: run.created_at,
    }
}

/// A JSON document as the text both backends bind (PostgreSQL casts it to `json`).
pub(crate) fn encode_json(value: &Value) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|err| StoreError::Encoding(format!("cannot encode JSON: {err}")))
}

/// [`encode_json`] of an optional document.
pub(crate) fn encode_optional_json(value: Option<&Value>) -> Result<Option<String>, StoreError> {
    value.map(encode_json).transpose()
}

/// Columns: id, source, type, time, event, received_at.
pub(crate) fn event(row: &impl RecordRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        id: row.text("id")?,
        source: row.text("source")?,
        kind: row.text("type")?,
        time: row.int("time")?,
        event: row.json("event")?,
        received_at: row.int("received_at")?,
    })
}

/// Columns: run_id, subscription_id, workspace, types, subscription, inbox, deadline_at,
/// created_at.
pub(crate) fn subscription(row: &impl RecordRow) -> Result<SubscriptionRecord, StoreError> {
    let types = match row.optional_json("types")? {
        None => None,
        Some(types) => Some(
            serde_json::from_value(types)
                .map_err(|err| StoreError::Encoding(format!("column types is not an array of strings: {err}")))?,
        ),
    };
    Ok(SubscriptionRecord {
        run_id: row.text("run_id")?,
        subscription_id: row.text("subscription_id")?,
        workspace: WorkspaceId::new(row.text("workspace")?),
        types,
        subscription: row.json("subscription")?,
        inbox: row.optional_json("inbox")?,
        deadline_at: row.optional_int("deadline_at")?,
        created_at: row.int("created_at")?,
    })
}

/// Columns: run_id, workspace, subscription_id, namespace, name, version, inbox (not null),
/// deadline_at, created_at, subscription.
pub(crate) fn inbox_item(row: &impl RecordRow) -> Result<InboxItem, StoreError> {
    Ok(InboxItem {
        run_id: row.text("run_id")?,
        workspace: WorkspaceId::new(row.text("workspace")?),
        subscription_id: row.text("subscription_id")?,
        namespace: row.text("namespace")?,
        name: row.text("name")?,
        version: row.text("version")?,
        inbox: row.json("inbox")?,
        deadline_at: row.optional_int("deadline_at")?,
        created_at: row.int("created_at")?,
        subscription: row.json("subscription")?,
    })
}

/// The `subscription_types` rows of a subscription: its types, or [`ANY_TYPE`] for any.
pub(crate) fn type_keys(types: Option<&[String]>) -> Vec<String> {
    match types {
        None => vec![ANY_TYPE.to_owned()],
        Some(types) => {
            let mut keys = types.to_vec();
            keys.sort();
            keys.dedup();
            keys
        }
    }
}

/// `subscription_types.type` of a subscription that matches any type. CloudEvents require a
/// non-empty `type`, so no real type collides with it.
pub(crate) const ANY_TYPE: &str = "";

/// The `types` column: a JSON array of strings, or NULL for any type.
pub(crate) fn types_json(types: Option<&[String]>) -> Option<Value> {
    types.map(|types| Value::from(types.to_vec()))
}

/// Refuses a checkpoint setting a subscription of another run (a caller bug), before anything
/// is written.
pub(crate) fn check_subscriptions(checkpoint: &Checkpoint) -> Result<(), StoreError> {
    match checkpoint.subscriptions_set.iter().find(|it| it.run_id != checkpoint.run_id) {
        None => Ok(()),
        Some(it) => Err(StoreError::Encoding(format!(
            "subscription {} belongs to run {}, not to the checkpoint's run {}",
            it.subscription_id, it.run_id, checkpoint.run_id
        ))),
    }
}
