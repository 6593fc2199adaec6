//! [`AnyStore`]: either backend behind one type, for code that picks the backend at run time
//! (`baton serve --db PATH|postgres://…`) and an API that is written once.

use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::postgres::PgStore;
use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewHistoryEntry, NewRun, PutOutcome,
    RunFilter, RunInput, RunRecord, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, StoredEvent,
    SubscriptionRecord, TimerRecord, WorkflowRecord,
};
use crate::sqlite::{CommitStats, SqliteStore};
use crate::store::Store;

/// A store of either backend; every call goes to the one it holds.
#[derive(Clone)]
pub enum AnyStore {
    /// The embedded default: one process per database file.
    Sqlite(SqliteStore),
    /// A server shared by several nodes.
    Postgres(PgStore),
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> AnyStore {
        AnyStore::Sqlite(store)
    }
}

impl From<PgStore> for AnyStore {
    fn from(store: PgStore) -> AnyStore {
        AnyStore::Postgres(store)
    }
}

impl AnyStore {
    /// Group-commit counters (SQLite only; PostgreSQL commits each write on its own).
    pub fn commit_stats(&self) -> Option<CommitStats> {
        match self {
            AnyStore::Sqlite(store) => Some(store.stats()),
            AnyStore::Postgres(_) => None,
        }
    }
}

/// Runs `$call` on the backend `$self` holds, bound as `$store`.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl Store for AnyStore {
    async fn put_workflow(&self, record: WorkflowRecord) -> Result<PutOutcome, StoreError> {
        dispatch!(self, store => store.put_workflow(record).await)
    }

    async fn get_workflow(
        &self,
        workspace: &str,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        dispatch!(self, store => store.get_workflow(workspace, namespace, name, version).await)
    }

    async fn list_workflows(&self, workspace: &str) -> Result<Vec<WorkflowRecord>, StoreError> {
        dispatch!(self, store => store.list_workflows(workspace).await)
    }

    async fn create_run(&self, run: NewRun, history: Vec<NewHistoryEntry>) -> Result<(), StoreError> {
        dispatch!(self, store => store.create_run(run, history).await)
    }

    async fn commit(&self, checkpoint: Checkpoint) -> Result<i64, StoreError> {
        dispatch!(self, store => store.commit(checkpoint).await)
    }

    async fn get_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        dispatch!(self, store => store.get_run(id).await)
    }

    async fn run_by_idempotency_key(
        &self,
        workspace: &str,
        idempotency_key: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        dispatch!(self, store => store.run_by_idempotency_key(workspace, idempotency_key).await)
    }

    async fn count_runs_by_status(&self) -> Result<Vec<(String, u64)>, StoreError> {
        dispatch!(self, store => store.count_runs_by_status().await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        dispatch!(self, store => store.ping().await)
    }

    async fn list_runs(&self, filter: RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        dispatch!(self, store => store.list_runs(filter).await)
    }

    async fn history(&self, run_id: &str, after_seq: i64, limit: u32) -> Result<Vec<HistoryEntry>, StoreError> {
        dispatch!(self, store => store.history(run_id, after_seq, limit).await)
    }

    async fn unfinished_runs(&self) -> Result<Vec<String>, StoreError> {
        dispatch!(self, store => store.unfinished_runs().await)
    }

    async fn child_runs(&self, parent_run_id: &str) -> Result<Vec<RunSummary>, StoreError> {
        dispatch!(self, store => store.child_runs(parent_run_id).await)
    }

    async fn due_timers(&self, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError> {
        dispatch!(self, store => store.due_timers(now, limit).await)
    }

    async fn timers_of_run(&self, run_id: &str) -> Result<Vec<TimerRecord>, StoreError> {
        dispatch!(self, store => store.timers_of_run(run_id).await)
    }

    async fn get_event(&self, source: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        dispatch!(self, store => store.get_event(source, id).await)
    }

    async fn put_event(
        &self,
        event: StoredEvent,
        workspace: &str,
        target_run_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        dispatch!(self, store => store.put_event(event, workspace, target_run_id).await)
    }

    async fn subscriptions_for_type(&self, workspace: &str, kind: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        dispatch!(self, store => store.subscriptions_for_type(workspace, kind).await)
    }

    async fn retained_events(
        &self,
        workspace: &str,
        run_id: &str,
        since: Millis,
        types: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        dispatch!(self, store => store.retained_events(workspace, run_id, since, types, limit).await)
    }

    async fn subscription(
        &self,
        run_id: &str,
        subscription_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        dispatch!(self, store => store.subscription(run_id, subscription_id).await)
    }

    async fn list_inbox(&self, filter: InboxFilter) -> Result<Vec<InboxItem>, StoreError> {
        dispatch!(self, store => store.list_inbox(filter).await)
    }

    async fn overdue_inbox(&self, now: Millis, limit: u32) -> Result<Vec<InboxItem>, StoreError> {
        dispatch!(self, store => store.overdue_inbox(now, limit).await)
    }

    async fn delete_events_before(&self, received_before: Millis) -> Result<u64, StoreError> {
        dispatch!(self, store => store.delete_events_before(received_before).await)
    }

    async fn acquire_lease(&self, request: LeaseRequest) -> Result<Lease, StoreError> {
        dispatch!(self, store => store.acquire_lease(request).await)
    }

    async fn renew_lease(&self, name: &str, holder: &str, epoch: i64, expires_at: Millis) -> Result<(), StoreError> {
        dispatch!(self, store => store.renew_lease(name, holder, epoch, expires_at).await)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        dispatch!(self, store => store.release_lease(name, holder).await)
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        dispatch!(self, store => store.lease(name).await)
    }

    async fn put_schedule(&self, record: ScheduleRecord) -> Result<bool, StoreError> {
        dispatch!(self, store => store.put_schedule(record).await)
    }

    async fn schedules(&self, kind: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
        dispatch!(self, store => store.schedules(kind).await)
    }

    async fn claim_schedule(&self, claim: ScheduleClaim) -> Result<bool, StoreError> {
        dispatch!(self, store => store.claim_schedule(claim).await)
    }

    async fn put_schedule_match(&self, found: ScheduleMatch) -> Result<bool, StoreError> {
        dispatch!(self, store => store.put_schedule_match(found).await)
    }

    async fn schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: Option<&str>,
    ) -> Result<Vec<ScheduleMatch>, StoreError> {
        dispatch!(self, store => store.schedule_matches(schedule, group_key).await)
    }

    async fn delete_schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: &str,
        event_keys: &[String],
    ) -> Result<u64, StoreError> {
        dispatch!(self, store => store.delete_schedule_matches(schedule, group_key, event_keys).await)
    }

    async fn leases_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Lease)>, StoreError> {
        dispatch!(self, store => store.leases_with_prefix(prefix).await)
    }

    async fn count_resumed_step(&self, run_id: &str, state_version: i64) -> Result<Option<u32>, StoreError> {
        dispatch!(self, store => store.count_resumed_step(run_id, state_version).await)
    }

    async fn claim_run(&self, run_id: &str, node: &str, now: Millis) -> Result<Option<i64>, StoreError> {
        dispatch!(self, store => store.claim_run(run_id, node, now).await)
    }

    async fn claim_orphan_runs(&self, node: &str, now: Millis, limit: u32) -> Result<Vec<String>, StoreError> {
        dispatch!(self, store => store.claim_orphan_runs(node, now, limit).await)
    }

    async fn put_run_input(&self, run_id: &str, input: Value, now: Millis) -> Result<Option<String>, StoreError> {
        dispatch!(self, store => store.put_run_input(run_id, input, now).await)
    }

    async fn inputs_for_node(&self, node: &str, limit: u32) -> Result<Vec<RunInput>, StoreError> {
        dispatch!(self, store => store.inputs_for_node(node, limit).await)
    }

    async fn input_notifications(&self, node: &str) -> Result<Option<mpsc::UnboundedReceiver<()>>, StoreError> {
        dispatch!(self, store => store.input_notifications(node).await)
    }

    async fn close(&self) -> () {
        dispatch!(self, store => store.close().await)
    }
}
