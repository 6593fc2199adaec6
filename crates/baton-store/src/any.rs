//! [`AnyStore`]: either backend behind one type, for code that picks the backend at run time
//! (`baton serve --db PATH|postgres://…`) and an API that is written once.

use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::StoreError;
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::postgres::PgStore;
use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewRun, PutOutcome, RunFilter,
    RunInput, RunRecord, RunRef, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, StoredEvent,
    SubscriptionRecord, TimerRecord, WorkflowRecord,
};
use crate::sqlite::{CommitStats, SqliteStore};
use crate::status::RunStatus;
use crate::store::{ClusterStore, EventStore, RunStore, ScheduleStore, StoreLifecycle, WorkflowStore};

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

/// Implements the area trait `$area` for [`AnyStore`]: each listed method goes to the backend
/// it holds. A new method is one line here.
macro_rules! delegate {
    ($area:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        impl $area for AnyStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    match self {
                        AnyStore::Sqlite(store) => store.$name($($arg),*).await,
                        AnyStore::Postgres(store) => store.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}

delegate!(StoreLifecycle {
    fn ping(&self) -> Result<(), StoreError>;
    fn close(&self) -> ();
});

delegate!(WorkflowStore {
    fn put_workflow(&self, record: WorkflowRecord) -> Result<PutOutcome, StoreError>;
    fn get_workflow(&self, workspace: &WorkspaceId, namespace: &str, name: &str, version: &str) -> Result<Option<WorkflowRecord>, StoreError>;
    fn list_workflows(&self, workspace: &WorkspaceId) -> Result<Vec<WorkflowRecord>, StoreError>;
});

delegate!(RunStore {
    fn create_run(&self, run: NewRun) -> Result<RunRecord, StoreError>;
    fn commit(&self, checkpoint: Checkpoint) -> Result<i64, StoreError>;
    fn get_run(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<RunRecord>, StoreError>;
    fn load_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError>;
    fn run_by_idempotency_key(&self, workspace: &WorkspaceId, idempotency_key: &str) -> Result<Option<RunRecord>, StoreError>;
    fn count_runs_by_status(&self) -> Result<Vec<(RunStatus, u64)>, StoreError>;
    fn list_runs(&self, workspace: &WorkspaceId, filter: RunFilter) -> Result<Vec<RunSummary>, StoreError>;
    fn history(&self, workspace: &WorkspaceId, run_id: &str, after_seq: i64, limit: u32) -> Result<Vec<HistoryEntry>, StoreError>;
    fn unfinished_runs(&self) -> Result<Vec<RunRef>, StoreError>;
    fn child_runs(&self, workspace: &WorkspaceId, parent_run_id: &str) -> Result<Vec<RunSummary>, StoreError>;
    fn due_timers(&self, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError>;
    fn timers_of_run(&self, run_id: &str) -> Result<Vec<TimerRecord>, StoreError>;
});

delegate!(EventStore {
    fn get_event(&self, workspace: &WorkspaceId, source: &str, id: &str) -> Result<Option<StoredEvent>, StoreError>;
    fn put_event(&self, workspace: &WorkspaceId, event: StoredEvent, target_run_id: Option<&str>) -> Result<bool, StoreError>;
    fn subscriptions_for_type(&self, workspace: &WorkspaceId, kind: &str) -> Result<Vec<SubscriptionRecord>, StoreError>;
    fn retained_events(&self, workspace: &WorkspaceId, run_id: &str, since: Millis, types: Option<&[String]>, limit: u32) -> Result<Vec<StoredEvent>, StoreError>;
    fn subscription(&self, workspace: &WorkspaceId, run_id: &str, subscription_id: &str) -> Result<Option<SubscriptionRecord>, StoreError>;
    fn list_inbox(&self, workspace: &WorkspaceId, filter: InboxFilter) -> Result<Vec<InboxItem>, StoreError>;
    fn overdue_inbox(&self, now: Millis, limit: u32) -> Result<Vec<InboxItem>, StoreError>;
    fn delete_events_before(&self, received_before: Millis) -> Result<u64, StoreError>;
});

delegate!(ScheduleStore {
    fn put_schedule(&self, record: ScheduleRecord) -> Result<bool, StoreError>;
    fn schedules(&self, kind: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError>;
    fn claim_schedule(&self, claim: ScheduleClaim) -> Result<bool, StoreError>;
    fn put_schedule_match(&self, found: ScheduleMatch) -> Result<bool, StoreError>;
    fn schedule_matches(&self, schedule: &ScheduleKey, group_key: Option<&str>) -> Result<Vec<ScheduleMatch>, StoreError>;
    fn delete_schedule_matches(&self, schedule: &ScheduleKey, group_key: &str, event_keys: &[String]) -> Result<u64, StoreError>;
});

delegate!(ClusterStore {
    fn acquire_lease(&self, request: LeaseRequest) -> Result<Lease, StoreError>;
    fn renew_lease(&self, name: &str, holder: &str, epoch: i64, expires_at: Millis) -> Result<(), StoreError>;
    fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
    fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError>;
    fn leases_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Lease)>, StoreError>;
    fn count_resumed_step(&self, run_id: &str, state_version: i64) -> Result<Option<u32>, StoreError>;
    fn claim_run(&self, run_id: &str, node: &str, now: Millis) -> Result<Option<OwnerEpoch>, StoreError>;
    fn claim_orphan_runs(&self, node: &str, now: Millis, limit: u32) -> Result<Vec<RunRef>, StoreError>;
    fn put_run_input(&self, run_id: &str, input: Value, now: Millis) -> Result<Option<String>, StoreError>;
    fn inputs_for_node(&self, node: &str, limit: u32) -> Result<Vec<RunInput>, StoreError>;
    fn input_notifications(&self, node: &str) -> Result<Option<mpsc::UnboundedReceiver<()>>, StoreError>;
});
