//! The storage interface the server codes against.

use std::future::Future;

use serde_json::Value;

use crate::error::StoreError;
use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewHistoryEntry, NewRun, PutOutcome,
    RunFilter, RunInput, RunRecord, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, StoredEvent,
    SubscriptionRecord, TimerRecord, WorkflowRecord,
};

/// Durable storage of workflows, runs, history, timers and events.
///
/// Every method returns a `Send` future so callers can use a store from spawned tasks.
/// Writes are atomic per call; a write that returned `Ok` is durable (as durable as the
/// backend's configured sync level).
pub trait Store: Send + Sync + 'static {
    /// Stores a workflow version.
    ///
    /// Returns [`PutOutcome::Unchanged`] when the same (workspace, namespace, name, version) is
    /// already stored with the same definition text.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when that version is stored with a different definition.
    fn put_workflow(&self, record: WorkflowRecord) -> impl Future<Output = Result<PutOutcome, StoreError>> + Send;

    /// Loads one workflow version; `version == "latest"` selects the highest version.
    ///
    /// Versions compare by their dotted numeric parts (`1.10.0` > `1.9.2`, a leading `v` and
    /// `+build` are ignored, `1.0.0-rc1` < `1.0.0`); numeric versions rank above non-numeric
    /// ones; ties and non-numeric versions fall back to `created_at`.
    fn get_workflow(
        &self,
        workspace: &str,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> impl Future<Output = Result<Option<WorkflowRecord>, StoreError>> + Send;

    /// Lists every workflow version of a workspace, by namespace, name and creation time.
    fn list_workflows(&self, workspace: &str) -> impl Future<Output = Result<Vec<WorkflowRecord>, StoreError>> + Send;

    /// Creates a run at state version 1 with its first history entries (numbered from 1).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the run id exists, or when the run's `idempotency_key` is
    /// already taken in its workspace; nothing is written then.
    fn create_run(
        &self,
        run: NewRun,
        history: Vec<NewHistoryEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Applies one interpreter step atomically and returns the run's new `state_version`
    /// (`expected_version + 1`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown run, [`StoreError::Conflict`] when the stored
    /// `state_version` differs from `checkpoint.expected_version` or the stored `owner_epoch`
    /// from `checkpoint.expected_epoch` (the run changed owner: a stale node's write is
    /// refused); nothing is written then.
    fn commit(&self, checkpoint: Checkpoint) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Loads a run.
    fn get_run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// Loads the run created with `idempotency_key` in `workspace`.
    fn run_by_idempotency_key(
        &self,
        workspace: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// Number of runs per status, over all workspaces (statuses without runs are absent).
    fn count_runs_by_status(&self) -> impl Future<Output = Result<Vec<(String, u64)>, StoreError>> + Send;

    /// Checks that the database answers and can be written; for readiness probes. PostgreSQL: a
    /// trivial query. SQLite: a trivial query on the read pool, then a write that changes
    /// nothing through the writer ([`StoreError::WriteUnavailable`] while the disk cannot be
    /// written).
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Lists runs newest first (by `created_at`, then id), one page at a time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the `before` cursor names an unknown run.
    fn list_runs(&self, filter: RunFilter) -> impl Future<Output = Result<Vec<RunSummary>, StoreError>> + Send;

    /// Returns up to `limit` history entries of a run with `seq > after_seq`, in order.
    /// An unknown run has an empty history.
    fn history(
        &self,
        run_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;

    /// Ids of all runs whose status is not terminal ([`crate::TERMINAL_STATUSES`]), oldest
    /// first; used to resume work after a restart.
    fn unfinished_runs(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Runs started by `parent_run_id`, oldest first.
    fn child_runs(&self, parent_run_id: &str) -> impl Future<Output = Result<Vec<RunSummary>, StoreError>> + Send;

    /// Up to `limit` timers with `due_at <= now`, earliest first (ties by run id, timer id).
    fn due_timers(&self, now: Millis, limit: u32) -> impl Future<Output = Result<Vec<TimerRecord>, StoreError>> + Send;

    /// All timers of a run, earliest first.
    fn timers_of_run(&self, run_id: &str) -> impl Future<Output = Result<Vec<TimerRecord>, StoreError>> + Send;

    /// Loads a stored event by its CloudEvent `source` and `id`.
    fn get_event(&self, source: &str, id: &str)
    -> impl Future<Output = Result<Option<StoredEvent>, StoreError>> + Send;

    /// Stores an event received from outside, in `workspace`. Returns `true` when it is new,
    /// `false` when its (`source`, `id`) is already stored (nothing changes then), also when
    /// the same event is posted concurrently: exactly one call returns `true`.
    /// With `target_run_id`, the event answers that run only (an inbox response): it is never
    /// offered to another run by [`Store::retained_events`].
    fn put_event(
        &self,
        event: StoredEvent,
        workspace: &str,
        target_run_id: Option<&str>,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The subscriptions of `workspace` that can match an event of type `kind`: those listing
    /// `kind` among their types and those of any type (`types: None`), by `created_at`, run id
    /// and subscription id.
    fn subscriptions_for_type(
        &self,
        workspace: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<SubscriptionRecord>, StoreError>> + Send;

    /// Up to `limit` stored events of `workspace` received at or after `since`, of one of
    /// `types` (`None`: any type, an empty slice: none), that the run `run_id` has not
    /// consumed ([`Checkpoint::events_consumed`]), in arrival order (`received_at`, then
    /// insertion order).
    fn retained_events(
        &self,
        workspace: &str,
        run_id: &str,
        since: Millis,
        types: Option<&[String]>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Loads one subscription.
    fn subscription(
        &self,
        run_id: &str,
        subscription_id: &str,
    ) -> impl Future<Output = Result<Option<SubscriptionRecord>, StoreError>> + Send;

    /// Open inbox items (subscriptions with an inbox document) of a workspace, by
    /// `created_at`, run id and subscription id, one page at a time.
    fn list_inbox(&self, filter: InboxFilter) -> impl Future<Output = Result<Vec<InboxItem>, StoreError>> + Send;

    /// Up to `limit` inbox items of any workspace with `deadline_at <= now`, oldest deadline
    /// first (ties by run id, subscription id).
    fn overdue_inbox(&self, now: Millis, limit: u32)
    -> impl Future<Output = Result<Vec<InboxItem>, StoreError>> + Send;

    /// Deletes the events received before `received_before` (the retention purge), with the
    /// runs' records of having consumed them. Returns the number of events deleted.
    fn delete_events_before(&self, received_before: Millis) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Takes or renews the named lease for `request.holder` until `request.expires_at`: granted
    /// when the lease is free, expired at `request.now`, already this holder's, or held by
    /// `request.take_over_from`. Returns the lease as granted (its epoch grows when it changes
    /// hands).
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when another holder's lease is still valid.
    fn acquire_lease(&self, request: LeaseRequest) -> impl Future<Output = Result<Lease, StoreError>> + Send;

    /// Extends the lease `name` of `holder` at `epoch` until `expires_at`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the holder lost the lease (another took it over).
    fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
        expires_at: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives the lease up (it expires at once) if `holder` has it.
    fn release_lease(&self, name: &str, holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The named lease as stored, if it was ever taken.
    fn lease(&self, name: &str) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;

    /// Stores the schedule of a workflow version unless it has one already. Returns `true`
    /// when it was created; deploying the same version again keeps its schedule state.
    fn put_schedule(&self, record: ScheduleRecord) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every schedule (of `kind` when given), earliest `next_due_at` first (`None` last), then
    /// by namespace, name and version.
    fn schedules(&self, kind: Option<&str>) -> impl Future<Output = Result<Vec<ScheduleRecord>, StoreError>> + Send;

    /// Sets a schedule's `next_due_at` (and its last fire) if its `next_due_at` is still
    /// `claim.expected_due_at`, atomically: of several nodes claiming one due time, exactly one
    /// gets `true`. `false`: already claimed, or no such schedule.
    fn claim_schedule(&self, claim: ScheduleClaim) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Records an event matched by a filter of a `schedule.on.all` (`dsl-reference.md#schedule`)
    /// unless its slot (workflow version, `group_key`, `filter_index`) holds an event already or
    /// this event (`event_key`) is recorded for the version already. Returns `true` when it was
    /// recorded; of several nodes recording into one slot at once, exactly one gets `true`.
    fn put_schedule_match(&self, found: ScheduleMatch) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The recorded matches of one workflow version (of one group when `group_key` is given),
    /// by group, then in arrival order.
    fn schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ScheduleMatch>, StoreError>> + Send;

    /// Deletes the matches of group `group_key` whose events are in `event_keys` (those a fire
    /// used) and returns how many it deleted; of several nodes deleting the same matches at
    /// once, one deletes them and the others delete nothing.
    fn delete_schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: &str,
        event_keys: &[String],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Leases whose name starts with `prefix`, by name, with their names.
    fn leases_with_prefix(&self, prefix: &str)
    -> impl Future<Output = Result<Vec<(String, Lease)>, StoreError>> + Send;

    /// The crash-loop quarantine: counts one more attempt at stepping run `run_id` from
    /// `state_version` by a node that took the run up from a process that died (a restart, or
    /// an adoption from a dead node), before that step. Returns the attempts at that version so
    /// far, this one included (a step that commits moves the run on and so resets the count):
    /// more than one means an earlier attempt died with its process. `None` when the run is not
    /// at `state_version` (or does not exist).
    fn count_resumed_step(
        &self,
        run_id: &str,
        state_version: i64,
    ) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;

    /// Makes `node` the owner of run `run_id` if the run is unfinished and unowned, already
    /// `node`'s, or owned by a node whose lease (`node/<owner>`, see
    /// [`crate::NODE_LEASE_PREFIX`]) is missing or expired at `now`. Returns the run's
    /// `owner_epoch` then (grown by one when the owner changed); `None` when another live node
    /// owns it, the run ended, or it does not exist.
    fn claim_run(
        &self,
        run_id: &str,
        node: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// The orphan sweep: makes `node` the owner of up to `limit` unfinished runs that are
    /// unowned or whose owner's lease expired at `now`, oldest first, and returns their ids
    /// (each run's `owner_epoch` grows by one). Concurrent sweeps of several nodes take
    /// disjoint runs (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    fn claim_orphan_runs(
        &self,
        node: &str,
        now: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Stores an input for run `run_id`, to be applied by its owner, and returns that owner
    /// (`None`: unowned, or the run ended, and then nothing is stored). PostgreSQL notifies channel `baton_inputs` with the owner as payload
    /// when the write commits. The input stays until a checkpoint of the run lists it in
    /// [`Checkpoint::inputs_consumed`] or ends the run.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown run.
    fn put_run_input(
        &self,
        run_id: &str,
        input: Value,
        now: Millis,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Up to `limit` stored inputs of the runs `node` owns, oldest first.
    fn inputs_for_node(&self, node: &str, limit: u32)
    -> impl Future<Output = Result<Vec<RunInput>, StoreError>> + Send;

    /// A stream of wake-ups: one item each time an input is stored for a run that `node` owns,
    /// on any node (PostgreSQL `LISTEN baton_inputs`). `None`: the backend has no notifications
    /// (SQLite, where one process drives the database).
    fn input_notifications(
        &self,
        node: &str,
    ) -> impl Future<Output = Result<Option<tokio::sync::mpsc::UnboundedReceiver<()>>, StoreError>> + Send;

    /// Finishes the writes under way and closes the connections; later calls fail with
    /// [`StoreError::Closed`].
    fn close(&self) -> impl Future<Output = ()> + Send;
}
