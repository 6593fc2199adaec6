//! Plain records exchanged with a [`crate::Store`]: what goes in and what comes out.

use serde_json::Value;

use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::status::RunStatus;

/// A point in time as unix milliseconds (UTC).
pub type Millis = i64;

/// One deployed version of a workflow definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowRecord {
    /// Tenant the workflow belongs to ([`WorkspaceId::DEFAULT`] without auth).
    pub workspace: WorkspaceId,
    /// `document.namespace` of the definition.
    pub namespace: String,
    /// `document.name` of the definition.
    pub name: String,
    /// `document.version` of the definition (semantic version by convention).
    pub version: String,
    /// The definition exactly as it was deployed (YAML or JSON text).
    pub definition: String,
    /// Most runs of this version active at once; further runs wait `pending`, in order.
    /// `None`: no limit.
    pub max_concurrency: Option<u32>,
    /// When the version was first stored.
    pub created_at: Millis,
}

/// What [`crate::WorkflowStore::put_workflow`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// The version was new and is now stored.
    Created,
    /// The same version with the same definition text was already stored; nothing changed.
    Unchanged,
}

/// A run that a parent run started as one of its effects (for example `run: workflow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    /// The parent run's id.
    pub run_id: String,
    /// The parent's effect that waits for this child.
    pub effect_id: String,
}

/// The one request to create a run ([`crate::RunStore::create_run`]), with its first history
/// entries.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    /// Unique run id chosen by the caller (a duplicate is [`crate::ConflictKind::RunExists`]).
    pub id: String,
    pub workspace: WorkspaceId,
    pub namespace: String,
    pub name: String,
    pub version: String,
    /// Initial status, for example `pending` or `running`.
    pub status: RunStatus,
    /// The run's input document.
    pub input: Value,
    /// Opaque interpreter state; the run starts at state version 1.
    pub state: Value,
    pub parent: Option<ParentLink>,
    /// Client-chosen key that makes creating this run idempotent: unique per workspace (a
    /// second run with the same key is [`crate::ConflictKind::IdempotencyKeyTaken`]). `None`: no key.
    pub idempotency_key: Option<String>,
    /// The node that runs it (its lease holder, see [`crate::ClusterStore::claim_run`]); `None`
    /// on a single-process database, where the database lease decides.
    pub owner: Option<String>,
    /// Creation time; also the first `updated_at`.
    pub created_at: Millis,
    /// The run's first history entries, numbered from 1.
    pub history: Vec<NewHistoryEntry>,
}

/// A stored run with its current state.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub workspace: WorkspaceId,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub status: RunStatus,
    pub input: Value,
    /// Set once the run completed (by the caller's checkpoint).
    pub output: Option<Value>,
    /// Set once the run faulted (an RFC 7807 problem document, by convention).
    pub error: Option<Value>,
    /// Opaque interpreter state.
    pub state: Value,
    /// Optimistic concurrency token: 1 after creation, +1 per [`crate::RunStore::commit`].
    pub state_version: i64,
    /// Sequence number of the run's last history entry (0 when it has none).
    pub last_seq: i64,
    pub parent: Option<ParentLink>,
    /// The node that runs it; `None`: unowned (single-process database, or never claimed).
    pub owner: Option<String>,
    /// Fencing token: [`OwnerEpoch::INITIAL`] at creation, +1 each time the run changes owner
    /// ([`crate::ClusterStore::claim_run`], [`crate::ClusterStore::claim_orphan_runs`]).
    pub owner_epoch: OwnerEpoch,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A history entry to append; the store numbers it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHistoryEntry {
    pub at: Millis,
    /// Entry type, for example `io.serverlessworkflow.task.started.v1`.
    pub kind: String,
    /// Task reference (JSON pointer such as `/do/0/greet`), if the entry is about a task.
    pub task: Option<String>,
    pub data: Value,
}

/// A stored history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Position in the run's history: 1-based and dense (no gaps) per run.
    pub seq: i64,
    pub at: Millis,
    pub kind: String,
    pub task: Option<String>,
    pub data: Value,
}

/// A pending timer of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerRecord {
    pub run_id: String,
    /// The run's workspace (node-level scans such as [`crate::RunStore::due_timers`] see every
    /// workspace).
    pub workspace: WorkspaceId,
    /// Caller-chosen id, unique per run.
    pub timer_id: String,
    pub due_at: Millis,
}

/// A CloudEvent kept for the retention window; unique by (`source`, `id`) across workspaces.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// CloudEvent `id`.
    pub id: String,
    /// CloudEvent `source`.
    pub source: String,
    /// CloudEvent `type`.
    pub kind: String,
    /// CloudEvent `time` (or the time it was received).
    pub time: Millis,
    /// The whole CloudEvent as JSON (structured mode).
    pub event: Value,
    /// When Baton stored the event (unix ms); the retention window and
    /// [`crate::EventStore::retained_events`] go by it.
    pub received_at: Millis,
}

/// What a waiting run listens for, kept until the run clears it (or the run is deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRecord {
    pub run_id: String,
    /// Caller-chosen id, unique per run.
    pub subscription_id: String,
    pub workspace: WorkspaceId,
    /// Event types it can match; `None` = any type. `Some(vec![])` matches no type.
    pub types: Option<Vec<String>>,
    /// The engine's opaque subscription document.
    pub subscription: Value,
    /// Human-input item shown in the inbox (title, description, form, assignees…);
    /// `None` = not human input.
    pub inbox: Option<Value>,
    /// When an inbox item is overdue (unix ms); `None` = no deadline.
    pub deadline_at: Option<Millis>,
    pub created_at: Millis,
}

/// Which inbox items of a workspace [`crate::EventStore::list_inbox`] returns, by `created_at`,
/// `run_id`, `subscription_id`. `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxFilter {
    /// Only items whose inbox document's `assignees` array contains this string.
    pub assignee: Option<String>,
    /// Only items of runs of this workflow namespace.
    pub namespace: Option<String>,
    /// Only items of runs of this workflow name.
    pub name: Option<String>,
    /// Only items with `deadline_at <= overdue_at`.
    pub overdue_at: Option<Millis>,
    /// Page size: at most this many items.
    pub limit: u32,
    /// Cursor: only items sorting after (created_at, run_id, subscription_id), the last item of
    /// the previous page.
    pub after: Option<(Millis, String, String)>,
}

/// An open human-input item: a subscription with an inbox document, with its run's workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct InboxItem {
    pub run_id: String,
    /// The run's workspace ([`crate::EventStore::overdue_inbox`] sees every workspace).
    pub workspace: WorkspaceId,
    pub subscription_id: String,
    /// The run's workflow namespace, name and version.
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub inbox: Value,
    pub deadline_at: Option<Millis>,
    pub created_at: Millis,
    pub subscription: Value,
}

/// Everything one interpreter step changes, committed atomically (persist, then act).
///
/// `status`, `state`, `output` and `error` are the run's complete new values (a `None` output or
/// error clears the stored one).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub run_id: String,
    /// The `state_version` the step started from; a different stored version is a conflict.
    pub expected_version: i64,
    /// The run's `owner_epoch` when the committing node loaded or claimed it; a different stored
    /// epoch (another node took the run over) is a conflict: the fencing check.
    pub expected_epoch: OwnerEpoch,
    pub status: RunStatus,
    pub state: Value,
    pub output: Option<Value>,
    pub error: Option<Value>,
    /// Appended in order after the run's last entry.
    pub history: Vec<NewHistoryEntry>,
    /// Timers to create or move: (timer id, due time). Applied after `timers_cleared`.
    pub timers_set: Vec<(String, Millis)>,
    /// Timer ids to delete; unknown ids are ignored.
    pub timers_cleared: Vec<String>,
    /// Events to keep, in the run's workspace; an already stored (`source`, `id`) is skipped.
    pub events: Vec<StoredEvent>,
    /// Subscriptions to create or replace, by (`run_id`, `subscription_id`); `run_id` must be
    /// the checkpoint's run. Applied after `subscriptions_cleared`; of several with one id the
    /// last wins.
    pub subscriptions_set: Vec<SubscriptionRecord>,
    /// Subscription ids of this run to delete; unknown ids are ignored.
    pub subscriptions_cleared: Vec<String>,
    /// Events (`source`, `id`) this run consumed: [`crate::EventStore::retained_events`] no longer
    /// returns them to this run.
    pub events_consumed: Vec<(String, String)>,
    /// Ids of the run's stored inputs ([`crate::ClusterStore::put_run_input`]) this step applied: they
    /// are deleted. A terminal status deletes every stored input of the run.
    pub inputs_consumed: Vec<i64>,
    /// Inputs for other runs, stored with the step as by [`crate::ClusterStore::put_run_input`]
    /// (PostgreSQL notifies their owners): (run id, input document). An unknown or ended run
    /// gets none. A child run's end reaches its parent this way, atomically with the end.
    pub inputs_sent: Vec<(String, Value)>,
    pub updated_at: Millis,
}

/// An input stored for the node that owns its run ([`crate::ClusterStore::put_run_input`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RunInput {
    /// Grows with every input stored (the order they are applied in).
    pub id: i64,
    pub run_id: String,
    /// The engine's input document, opaque to the store.
    pub input: Value,
    pub created_at: Millis,
}

/// Which runs of a workspace [`crate::RunStore::list_runs`] returns, newest first. `None` fields
/// do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunFilter {
    pub status: Option<RunStatus>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    /// Only runs created at or after this time.
    pub created_after: Option<Millis>,
    /// Only runs created strictly before this time.
    pub created_before: Option<Millis>,
    /// Page size: at most this many runs.
    pub limit: u32,
    /// Cursor: return only runs that sort after this run id (the last id of the previous page).
    pub before: Option<String>,
}

/// A run without its documents, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub id: String,
    pub workspace: WorkspaceId,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub status: RunStatus,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The `schedule` of one deployed workflow version: when it fires next and what it fired last.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub workspace: WorkspaceId,
    pub namespace: String,
    pub name: String,
    pub version: String,
    /// `every`, `cron`, `after` or `on`.
    pub kind: String,
    /// The definition's `schedule` object, opaque to the store.
    pub spec: Value,
    /// When it fires next; `None`: not time-driven (`on`), or an `after` schedule waiting for
    /// its last run to end.
    pub next_due_at: Option<Millis>,
    pub last_fired_at: Option<Millis>,
    pub last_run_id: Option<String>,
    pub created_at: Millis,
}

/// A compare-and-set on a schedule ([`crate::ScheduleStore::claim_schedule`]): applies only while the
/// schedule's `next_due_at` is still `expected_due_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleClaim {
    pub workspace: WorkspaceId,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub expected_due_at: Option<Millis>,
    pub next_due_at: Option<Millis>,
    /// `(fired_at, run_id)` of the fire this claim stands for; `None` keeps the last fire.
    pub fired: Option<(Millis, String)>,
}

/// Which deployed workflow version a schedule belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleKey {
    pub workspace: WorkspaceId,
    pub namespace: String,
    pub name: String,
    pub version: String,
}

/// One event matched by a filter of a `schedule.on.all` strategy and not used by a fire yet
/// (`dsl-reference.md#schedule`, `#event-consumption-strategy`). A correlation group holds at
/// most one per filter (its slot), and an event is recorded at most once per workflow version.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleMatch {
    pub schedule: ScheduleKey,
    /// The correlation group: the filter's correlation values as text (opaque to the store);
    /// empty when the filters do not correlate.
    pub group_key: String,
    /// Position of the matched filter in `schedule.on.all` (0-based).
    pub filter_index: i64,
    /// The event's identity: `[source, id]` as JSON text.
    pub event_key: String,
    /// The whole CloudEvent as JSON.
    pub event: Value,
    /// When Baton received the event (unix ms).
    pub received_at: Millis,
}

/// A request to hold a named lease (see [`crate::ClusterStore::acquire_lease`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    pub name: String,
    /// Who asks, e.g. `host/pid/uuid`.
    pub holder: String,
    /// The caller's clock (unix ms): a lease that expired at or before it is free.
    pub now: Millis,
    /// Until when the lease is held if granted (unix ms).
    pub expires_at: Millis,
    /// A holder known to be dead (its process is gone): its lease is taken over at once.
    pub take_over_from: Option<String>,
}

/// A named lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub holder: String,
    /// Grows by one each time the lease changes hands (a fencing token).
    pub epoch: i64,
    pub expires_at: Millis,
}

/// A run found by a node-level scan ([`crate::RunStore::unfinished_runs`],
/// [`crate::ClusterStore::claim_orphan_runs`]), with the workspace it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRef {
    pub id: String,
    pub workspace: WorkspaceId,
}
