//! The API's request and response bodies (camelCase JSON). They are the serialization boundary:
//! store records and engine types convert into them here, never leak as they are.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use baton_store::{HistoryEntry, Millis, RunSummary, WorkflowRecord};

/// Unix milliseconds as RFC 3339 (UTC, millisecond precision).
pub fn rfc3339(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(at) => format!("{at:.3}"),
        Err(_) => ms.to_string(),
    }
}

/// A deployed workflow version.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowInfo {
    pub namespace: String,
    pub name: String,
    pub version: String,
    /// Most runs active at once; absent when unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// RFC 3339.
    pub created_at: String,
}

impl From<&WorkflowRecord> for WorkflowInfo {
    fn from(record: &WorkflowRecord) -> WorkflowInfo {
        WorkflowInfo {
            namespace: record.namespace.clone(),
            name: record.name.clone(),
            version: record.version.clone(),
            max_concurrency: record.max_concurrency,
            created_at: rfc3339(record.created_at),
        }
    }
}

/// A deployed workflow version with its definition text.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowDetail {
    #[serde(flatten)]
    pub info: WorkflowInfo,
    /// The definition exactly as deployed (YAML or JSON text).
    pub definition: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowList {
    pub items: Vec<WorkflowInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeployQuery {
    /// Most runs of this version active at once, 1 to 2147483647; further runs wait `pending`,
    /// in order.
    #[param(minimum = 1, maximum = 2147483647)]
    pub concurrency: Option<u32>,
}

/// Which workflow a run belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRef {
    #[schema(min_length = 1)]
    pub namespace: String,
    #[schema(min_length = 1)]
    pub name: String,
    /// A version, or `latest` (the default).
    #[serde(default = "latest")]
    #[schema(min_length = 1)]
    pub version: String,
}

fn latest() -> String {
    "latest".into()
}

/// Body of `POST /api/v1/runs`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {
    pub workflow: WorkflowRef,
    /// The workflow input: a JSON object (default `{}`). Anything but an object is refused
    /// (`400` `/problems/invalid-request`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub input: Value,
    /// The run's metadata: a JSON object (default `{}`), shown with the run; the engine adds
    /// keys to it (`reason: "approval_timeout"` when a human-input wait expires) and keeps the
    /// others. Anything but an object is refused (`400` `/problems/invalid-request`).
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub metadata: Value,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StartMode {
    /// Wait until the run settles (or `wait_ms` passes).
    #[default]
    Sync,
    /// Answer `202` at once.
    Background,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartRunQuery {
    /// `sync` (default) or `background`.
    #[param(inline)]
    pub mode: Option<StartMode>,
    /// Longest wait of a `sync` request in ms (default 30000, at most 600000).
    pub wait_ms: Option<u64>,
    /// Comma-separated task references (JSON pointers) whose outputs the `sync` response
    /// includes under `tasks`.
    pub include_tasks: Option<String>,
}

/// Where a run stands (`POST /api/v1/runs`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub id: String,
    /// pending, running, waiting, suspended, cancelled, faulted or completed.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    /// RFC 7807 problem details of a faulted run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Sequence number of the run's last history entry (pass as `after` to follow it).
    pub history_cursor: i64,
    /// Output of each requested task that has completed, by task reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Map<String, Value>>,
}

/// A run's id and status (background start, signals).
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStatusBody {
    pub id: String,
    pub status: String,
}

/// Namespace, name and version of a run's workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowId {
    pub namespace: String,
    pub name: String,
    pub version: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunListItem {
    pub id: String,
    pub workflow: WorkflowId,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<RunSummary> for RunListItem {
    fn from(run: RunSummary) -> RunListItem {
        RunListItem {
            id: run.id,
            workflow: WorkflowId { namespace: run.namespace, name: run.name, version: run.version },
            status: run.status.to_string(),
            created_at: rfc3339(run.created_at),
            updated_at: rfc3339(run.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunList {
    pub items: Vec<RunListItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListRunsQuery {
    /// pending, running, waiting, suspended, cancelled, faulted or completed.
    #[param(schema_with = crate::api::schema::run_status)]
    pub status: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    /// RFC 3339; runs created at or after this time.
    #[param(format = DateTime)]
    pub created_after: Option<String>,
    /// RFC 3339; runs created before this time.
    #[param(format = DateTime)]
    pub created_before: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// One run.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunDetail {
    pub id: String,
    pub workflow: WorkflowId,
    pub status: String,
    pub input: Value,
    /// The run's metadata (an object; `{}` when none was given).
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Reference (JSON pointer) of the most recently started task still active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_task: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub history_cursor: i64,
}

/// One history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    /// Position in the run's history, from 1.
    pub seq: i64,
    /// RFC 3339.
    pub at: String,
    /// Lifecycle event type, e.g. `io.serverlessworkflow.task.completed.v1`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Task reference, for task events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    pub data: Value,
}

impl From<HistoryEntry> for HistoryItem {
    fn from(entry: HistoryEntry) -> HistoryItem {
        HistoryItem { seq: entry.seq, at: rfc3339(entry.at), kind: entry.kind, task: entry.task, data: entry.data }
    }
}

/// One history entry of any run (`GET /api/v1/events/runs`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunHistoryItem {
    pub run_id: String,
    #[serde(flatten)]
    pub entry: HistoryItem,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub items: Vec<HistoryItem>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only entries with a greater `seq` (default 0). `Last-Event-ID` takes precedence.
    pub after: Option<i64>,
    /// Page size, 1 to 1000 (default 100); JSON only.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// `{"status": ...}` of the probes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStatus {
    pub status: String,
}

/// A CloudEvent 1.0 in the JSON format (structured mode). Extension attributes (lowercase
/// letters and digits, scalar values) are allowed besides these; a `null` attribute counts as
/// absent. Checked by `baton_core::events::validate_cloud_event`; the extension attributes, the
/// `dataschema` format and the `data`/`data_base64` exclusion are added to this schema by `api::schema`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CloudEventDoc {
    /// Must be `1.0`.
    #[schema(schema_with = crate::api::schema::spec_version, example = "1.0")]
    pub specversion: String,
    /// With `source`, the idempotency key: an event with an already received pair is ignored.
    #[schema(min_length = 1)]
    pub id: String,
    #[schema(min_length = 1)]
    pub source: String,
    #[serde(rename = "type")]
    #[schema(min_length = 1)]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    /// The schema `data` adheres to: an absolute URI (RFC 3986).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1)]
    pub dataschema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Binary data, base64 with padding (not together with `data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$")]
    pub data_base64: Option<String>,
}

/// What `POST /api/v1/events` did.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsAccepted {
    /// Events stored and delivered to the runs waiting for them.
    pub accepted: u64,
    /// Events whose `source` + `id` was already received: acknowledged and ignored.
    pub duplicates: u64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only items of this workflow: `NAMESPACE/NAME`.
    #[param(pattern = "^[^/]+/[^/]+$")]
    pub workflow: Option<String>,
    /// Only items whose `assignees` include this value.
    pub assignee: Option<String>,
    /// `true`: only items past their deadline.
    pub overdue: Option<bool>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// An open human-input item: a run waiting in a `listen` task with `metadata.inbox`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxItemInfo {
    /// `{runId}~{subscriptionId}`; URL-safe as it is.
    #[schema(example = "01965c3e-8f3a-7b21-9d4e-2a6f0c1b5e77~s4")]
    pub id: String,
    pub run_id: String,
    pub workflow: WorkflowId,
    /// Reference (JSON pointer) of the waiting `listen` task.
    pub task: String,
    /// `metadata.inbox.title` as evaluated when the task started waiting; the task's name
    /// when absent.
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema the response's `data` must match; absent: any data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<Value>,
    pub assignees: Vec<String>,
    /// RFC 3339: when the task started waiting.
    pub created_at: String,
    /// RFC 3339: when the wait times out (its `timeout`, else the server's default approval
    /// deadline); absent: never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxPage {
    /// Oldest first.
    pub items: Vec<InboxItemInfo>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Body of `POST /api/v1/inbox/{item}/respond`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondRequest {
    /// The response; must match the item's `form`. It becomes the `data` of the CloudEvent that
    /// resumes the run.
    pub data: Value,
}

/// A response taken (`202`) or already taken (`200`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RespondResult {
    pub item: String,
    pub run_id: String,
    /// `id` of the CloudEvent built from the response (deterministic: the same response to the
    /// same item has the same id).
    pub event_id: String,
    /// `true`: taken by this request; `false`: the same response was already taken, nothing
    /// changed.
    pub accepted: bool,
    /// Who answered (this request's caller); absent on a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responded_by: Option<crate::api::identity_dto::Responder>,
}
