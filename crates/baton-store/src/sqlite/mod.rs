//! The SQLite store: one database file in WAL mode, a read pool and a single group-committing
//! writer task (see [`writer`]).

mod auth;
mod codec;
mod health;
mod leases;
mod ownership;
mod reads;
mod schedules;
mod secrets;
mod writer;
mod writes;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::StoreError;
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewRun, PutOutcome, RunFilter,
    RunInput, RunRecord, RunRef, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, StoredEvent,
    SubscriptionRecord, TimerRecord, WorkflowRecord,
};
use crate::sqlite::health::Health;
use crate::sqlite::writer::{Counters, Job, Request};
use crate::status::RunStatus;
use crate::store::{ClusterStore, EventStore, RunStore, ScheduleStore, StoreLifecycle, WorkflowStore};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How hard SQLite syncs to disk on commit (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// fsync the WAL on every commit: a committed write survives power loss. The default.
    Full,
    /// fsync only at checkpoints: survives a process crash, but the last commits may be lost
    /// on power loss.
    Normal,
}

/// How to open a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Database file; created (with its schema) when missing.
    pub path: PathBuf,
    pub synchronous: Synchronous,
    /// Size of the read pool (connections). Default 4.
    pub read_connections: u32,
    /// How long a connection waits for a lock held by another connection or process.
    /// Default 5 s.
    pub busy_timeout: Duration,
    /// Most write requests committed in one transaction. Default 256.
    pub max_batch: usize,
}

impl SqliteOptions {
    /// Options for the file at `path` with the defaults: [`Synchronous::Full`], 4 read
    /// connections, 5 s busy timeout, batches of up to 256 writes.
    pub fn new(path: impl Into<PathBuf>) -> SqliteOptions {
        SqliteOptions {
            path: path.into(),
            synchronous: Synchronous::Full,
            read_connections: 4,
            busy_timeout: Duration::from_secs(5),
            max_batch: 256,
        }
    }
}

/// Totals of the writer since the store was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Write requests handled (successful or not).
    pub requests: u64,
}

/// [`Store`] on one SQLite file. Cheap to clone; clones share the connections and the writer.
///
/// Writes are group-committed by one writer task (see the `writer` module); a write is
/// acknowledged only after its batch committed. A write whose caller stopped waiting (its future
/// was dropped after the request was queued) still commits.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    /// Channel to the writer; `None` once closed.
    requests: Mutex<Option<mpsc::Sender<Request>>>,
    /// The writer task; taken by `close` to wait for it.
    writer: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

/// Capacity of the writer's queue; callers wait (back-pressure) when it is full.
const QUEUE_CAPACITY: usize = 4096;

/// Attempts at opening the write connection and migrating the schema.
const OPEN_ATTEMPTS: u32 = 10;

/// Opens the write connection and brings the schema up to date. Processes opening a new file at
/// the same moment race to create its schema: the loser finds the file locked, or its migration
/// fails and rolls back; it waits and tries again, and then finds the schema in place. A lasting
/// failure is reported after [`OPEN_ATTEMPTS`] tries (about a second).
async fn connect_and_migrate(connect: &SqliteConnectOptions) -> Result<SqliteConnection, StoreError> {
    let mut attempt = 1;
    loop {
        match try_connect_and_migrate(connect).await {
            Ok(conn) => return Ok(conn),
            Err(err) if attempt < OPEN_ATTEMPTS => {
                tracing::debug!(attempt, error = %err, "opening the database failed; trying again");
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

async fn try_connect_and_migrate(connect: &SqliteConnectOptions) -> Result<SqliteConnection, StoreError> {
    let mut conn = connect.connect().await?;
    MIGRATOR.run(&mut conn).await?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens or creates the database file: WAL journal, the configured `synchronous` level,
    /// foreign keys on, busy timeout, migrations applied; then starts the writer task.
    ///
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the file cannot be opened, [`StoreError::Migrate`] when the
    /// schema cannot be brought up to date (for example a newer, unknown schema).
    pub async fn open(options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let synchronous = match options.synchronous {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        };
        let connect = SqliteConnectOptions::new()
            .filename(&options.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout);
        let write_conn = connect_and_migrate(&connect).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(connect.clone())
            .await?;

        let counters = Arc::new(Counters::default());
        let health = Arc::new(Health::default());
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let writer = tokio::spawn(writer::run(
            write_conn,
            connect,
            receiver,
            options.max_batch.max(1),
            Arc::clone(&counters),
            health,
        ));
        tracing::debug!(path = %options.path.display(), "sqlite store open");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                pool,
                requests: Mutex::new(Some(sender)),
                writer: Mutex::new(Some(writer)),
                counters,
            }),
        })
    }

    /// Stops accepting writes, lets the writer finish what is queued, then closes all
    /// connections. Later calls on any clone fail with [`StoreError::Closed`] (writes) or a
    /// database error (reads). Idempotent.
    pub async fn close(&self) {
        drop(lock(&self.inner.requests).take());
        let writer = lock(&self.inner.writer).take();
        if let Some(writer) = writer
            && let Err(err) = writer.await
        {
            tracing::error!(error = %err, "sqlite writer task failed");
        }
        self.inner.pool.close().await;
    }

    /// Transactions committed and write requests handled so far; `requests / commits` is the
    /// average batch size of the group commit.
    pub fn stats(&self) -> CommitStats {
        CommitStats {
            commits: self.inner.counters.commits.load(Ordering::Relaxed),
            requests: self.inner.counters.requests.load(Ordering::Relaxed),
        }
    }

    /// Queues a write for the writer and waits for its result (after the batch committed).
    async fn write<I, O>(&self, input: I, request: fn(Job<I, O>) -> Request) -> Result<O, StoreError> {
        let sender = lock(&self.inner.requests).clone().ok_or(StoreError::Closed)?;
        let (reply, response) = oneshot::channel();
        sender.send(request(Job::new(input, reply))).await.map_err(|_| StoreError::Closed)?;
        drop(sender);
        response.await.map_err(|_| StoreError::Closed)?
    }
}

/// Locks a mutex that is never held across a panic-prone section; poisoning is harmless here.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StoreLifecycle for SqliteStore {
    /// Checks the read pool, then the writer with a write that changes nothing (a wedged
    /// writer does not answer; a disk that cannot be written gives
    /// [`StoreError::WriteUnavailable`]).
    async fn ping(&self) -> Result<(), StoreError> {
        reads::ping(&self.inner.pool).await?;
        self.write((), Request::Probe).await
    }

    async fn close(&self) {
        SqliteStore::close(self).await
    }
}

impl WorkflowStore for SqliteStore {
    async fn put_workflow(&self, record: WorkflowRecord) -> Result<PutOutcome, StoreError> {
        self.write(record, Request::PutWorkflow).await
    }

    async fn get_workflow(
        &self,
        workspace: &WorkspaceId,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        reads::get_workflow(&self.inner.pool, workspace, namespace, name, version).await
    }

    async fn list_workflows(&self, workspace: &WorkspaceId) -> Result<Vec<WorkflowRecord>, StoreError> {
        reads::list_workflows(&self.inner.pool, workspace).await
    }
}

impl RunStore for SqliteStore {
    async fn create_run(&self, run: NewRun) -> Result<RunRecord, StoreError> {
        self.write(run, |job| Request::CreateRun(Box::new(job))).await
    }

    async fn commit(&self, checkpoint: Checkpoint) -> Result<i64, StoreError> {
        self.write(checkpoint, |job| Request::Commit(Box::new(job))).await
    }

    async fn get_run(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<RunRecord>, StoreError> {
        reads::get_run(&self.inner.pool, workspace, id).await
    }

    async fn load_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        reads::load_run(&self.inner.pool, id).await
    }

    async fn run_by_idempotency_key(
        &self,
        workspace: &WorkspaceId,
        idempotency_key: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        reads::run_by_idempotency_key(&self.inner.pool, workspace, idempotency_key).await
    }

    async fn count_runs_by_status(&self) -> Result<Vec<(RunStatus, u64)>, StoreError> {
        reads::count_runs_by_status(&self.inner.pool).await
    }

    async fn list_runs(&self, workspace: &WorkspaceId, filter: RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        reads::list_runs(&self.inner.pool, workspace, filter).await
    }

    async fn history(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        reads::history(&self.inner.pool, workspace, run_id, after_seq, limit).await
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRef>, StoreError> {
        reads::unfinished_runs(&self.inner.pool).await
    }

    async fn child_runs(&self, workspace: &WorkspaceId, parent_run_id: &str) -> Result<Vec<RunSummary>, StoreError> {
        reads::child_runs(&self.inner.pool, workspace, parent_run_id).await
    }

    async fn due_timers(&self, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError> {
        reads::due_timers(&self.inner.pool, now, limit).await
    }

    async fn timers_of_run(&self, run_id: &str) -> Result<Vec<TimerRecord>, StoreError> {
        reads::timers_of_run(&self.inner.pool, run_id).await
    }
}

impl EventStore for SqliteStore {
    async fn get_event(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        reads::get_event(&self.inner.pool, workspace, source, id).await
    }

    async fn put_event(
        &self,
        workspace: &WorkspaceId,
        event: StoredEvent,
        target_run_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.write((workspace.clone(), event, target_run_id.map(str::to_owned)), Request::PutEvent).await
    }

    async fn subscriptions_for_type(
        &self,
        workspace: &WorkspaceId,
        kind: &str,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        reads::subscriptions_for_type(&self.inner.pool, workspace, kind).await
    }

    async fn retained_events(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        since: Millis,
        types: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        reads::retained_events(&self.inner.pool, workspace, run_id, since, types, limit).await
    }

    async fn subscription(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        subscription_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        reads::subscription(&self.inner.pool, workspace, run_id, subscription_id).await
    }

    async fn list_inbox(&self, workspace: &WorkspaceId, filter: InboxFilter) -> Result<Vec<InboxItem>, StoreError> {
        reads::list_inbox(&self.inner.pool, workspace, filter).await
    }

    async fn overdue_inbox(&self, now: Millis, limit: u32) -> Result<Vec<InboxItem>, StoreError> {
        reads::overdue_inbox(&self.inner.pool, now, limit).await
    }

    async fn delete_events_before(&self, received_before: Millis) -> Result<u64, StoreError> {
        self.write(received_before, Request::DeleteEventsBefore).await
    }
}

impl ScheduleStore for SqliteStore {
    async fn put_schedule(&self, record: ScheduleRecord) -> Result<bool, StoreError> {
        self.write(record, Request::PutSchedule).await
    }

    async fn schedules(&self, kind: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
        schedules::schedules(&self.inner.pool, kind).await
    }

    async fn claim_schedule(&self, claim: ScheduleClaim) -> Result<bool, StoreError> {
        self.write(claim, Request::ClaimSchedule).await
    }

    async fn put_schedule_match(&self, found: ScheduleMatch) -> Result<bool, StoreError> {
        self.write(found, Request::PutScheduleMatch).await
    }

    async fn schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: Option<&str>,
    ) -> Result<Vec<ScheduleMatch>, StoreError> {
        schedules::schedule_matches(&self.inner.pool, schedule, group_key).await
    }

    async fn delete_schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: &str,
        event_keys: &[String],
    ) -> Result<u64, StoreError> {
        let input = (schedule.clone(), group_key.to_owned(), event_keys.to_vec());
        self.write(input, Request::DeleteScheduleMatches).await
    }
}

impl ClusterStore for SqliteStore {
    async fn acquire_lease(&self, request: LeaseRequest) -> Result<Lease, StoreError> {
        self.write(request, Request::AcquireLease).await
    }

    async fn renew_lease(&self, name: &str, holder: &str, epoch: i64, expires_at: Millis) -> Result<(), StoreError> {
        self.write((name.to_owned(), holder.to_owned(), epoch, expires_at), Request::RenewLease).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.write((name.to_owned(), holder.to_owned()), Request::ReleaseLease).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        leases::get(&self.inner.pool, name).await
    }

    async fn leases_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Lease)>, StoreError> {
        ownership::leases_with_prefix(&self.inner.pool, prefix).await
    }

    async fn count_resumed_step(&self, run_id: &str, state_version: i64) -> Result<Option<u32>, StoreError> {
        self.write((run_id.to_owned(), state_version), Request::CountResumedStep).await
    }

    async fn claim_run(&self, run_id: &str, node: &str, now: Millis) -> Result<Option<OwnerEpoch>, StoreError> {
        self.write((run_id.to_owned(), node.to_owned(), now), Request::ClaimRun).await
    }

    async fn claim_orphan_runs(&self, node: &str, now: Millis, limit: u32) -> Result<Vec<RunRef>, StoreError> {
        self.write((node.to_owned(), now, limit), Request::ClaimOrphanRuns).await
    }

    async fn put_run_input(&self, run_id: &str, input: Value, now: Millis) -> Result<Option<String>, StoreError> {
        self.write((run_id.to_owned(), input, now), Request::PutRunInput).await
    }

    async fn inputs_for_node(&self, node: &str, limit: u32) -> Result<Vec<RunInput>, StoreError> {
        ownership::inputs_for_node(&self.inner.pool, node, limit).await
    }

    async fn input_notifications(&self, _node: &str) -> Result<Option<mpsc::UnboundedReceiver<()>>, StoreError> {
        Ok(None)
    }
}
