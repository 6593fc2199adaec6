//! Group commit: the single writer task.
//!
//! All writes travel through one bounded channel to one task that owns the only write
//! connection. The task takes every request queued at that moment (up to `max_batch`), runs them
//! in ONE `BEGIN IMMEDIATE` transaction, each inside its own savepoint so a failing request
//! (a version conflict, say) rolls back only itself, commits once (one fsync for the whole batch)
//! and only then answers every caller. If the batch transaction itself fails, each request is
//! retried alone so every caller gets its own verdict.
//!
//! A disk fault (`health.rs`) is different: the transaction is rolled back by closing the
//! connection (its state is not trusted after a failed commit), and the batch is tried again on
//! a fresh connection with backoff; a lasting fault fails the batch's callers with the transient
//! [`StoreError::WriteUnavailable`], and the next batch tries again, so the writer recovers by
//! itself once the disk is writable. Nothing is acknowledged that was not committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::records::{
    Checkpoint, Lease, LeaseRequest, Millis, NewRun, PutOutcome, RunRecord, RunRef, ScheduleClaim, ScheduleKey,
    ScheduleMatch, ScheduleRecord, StoredEvent, WorkflowRecord,
};
use crate::rows;
use crate::secrets::SecretRecord;
use crate::sqlite::health::{Health, RETRY_DELAYS, is_disk_fault};
use crate::sqlite::{auth, health, leases, ownership, schedules, secrets, writes};

/// One queued write and the caller waiting for it.
pub(crate) enum Request {
    PutWorkflow(Job<WorkflowRecord, PutOutcome>),
    /// Boxed, as `Commit`: a new run (its documents, first history and the record returned)
    /// is much larger than the other requests.
    CreateRun(Box<Job<NewRun, RunRecord>>),
    /// Boxed: a checkpoint is much larger than the other requests.
    Commit(Box<Job<Checkpoint, i64>>),
    PutEvent(Job<(WorkspaceId, StoredEvent, Option<String>), bool>),
    DeleteEventsBefore(Job<Millis, u64>),
    PutSchedule(Job<ScheduleRecord, bool>),
    ClaimSchedule(Job<ScheduleClaim, bool>),
    PutScheduleMatch(Job<ScheduleMatch, bool>),
    DeleteScheduleMatches(Job<(ScheduleKey, String, Vec<String>), u64>),
    AcquireLease(Job<LeaseRequest, Lease>),
    RenewLease(Job<(String, String, i64, Millis), ()>),
    ReleaseLease(Job<(String, String), ()>),
    ClaimRun(Job<(String, String, Millis), Option<OwnerEpoch>>),
    ClaimOrphanRuns(Job<(String, Millis, u32), Vec<RunRef>>),
    PutRunInput(Job<(String, Value, Millis), Option<String>>),
    /// The identity area's writes (`sqlite/auth.rs`).
    Auth(Box<Job<auth::AuthWrite, auth::AuthWritten>>),
    PutSecret(Job<SecretRecord, bool>),
    DeleteSecret(Job<(String, String), bool>),
    /// A write that changes nothing ([`health::probe`]): `ping` checks the writer with it.
    Probe(Job<(), ()>),
    CountResumedStep(Job<(String, i64), Option<u32>>),
}

/// A write's input, its reply channel and, once applied, its result.
pub(crate) struct Job<I, O> {
    input: I,
    reply: oneshot::Sender<Result<O, StoreError>>,
    /// `None` until applied; a job answered without a result reports [`StoreError::Closed`].
    result: Option<Result<O, StoreError>>,
}

impl<I, O> Job<I, O> {
    pub(crate) fn new(input: I, reply: oneshot::Sender<Result<O, StoreError>>) -> Self {
        Job { input, reply, result: None }
    }

    /// Records the result and tells what it means for the transaction.
    fn record(&mut self, result: Result<O, StoreError>) -> Applied {
        let applied = match &result {
            Ok(_) => Applied::Done,
            Err(StoreError::Database(err)) if is_disk_fault(err) => Applied::Fault(err.to_string()),
            Err(_) => Applied::Refused,
        };
        self.result = Some(result);
        applied
    }

    fn answer(self) {
        let result = self.result.unwrap_or(Err(StoreError::Closed));
        // The caller may have given up waiting; the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// What applying one request means for its transaction.
enum Applied {
    Done,
    /// The request's own error (a conflict, say): only its savepoint is rolled back.
    Refused,
    /// A disk fault: the whole transaction fails (see `health.rs`); the error's text.
    Fault(String),
}

/// Why a transaction did not commit.
enum TxError {
    /// A disk fault (its text): retried with backoff on a fresh connection.
    Fault(String),
    /// Anything else: the requests are retried alone, each gets its own verdict.
    Other(sqlx::Error),
}

impl From<sqlx::Error> for TxError {
    fn from(err: sqlx::Error) -> TxError {
        if is_disk_fault(&err) { TxError::Fault(err.to_string()) } else { TxError::Other(err) }
    }
}

impl Request {
    /// Runs the write on `conn` (inside an open transaction) and keeps its result.
    async fn apply(&mut self, conn: &mut SqliteConnection) -> Applied {
        match self {
            Request::PutWorkflow(job) => {
                let result = writes::put_workflow(conn, &job.input).await;
                job.record(result)
            }
            Request::CreateRun(job) => {
                // The record as written, built from the request instead of read back.
                let result = writes::create_run(conn, &job.input).await.map(|()| rows::created_run(job.input.clone()));
                job.record(result)
            }
            Request::Commit(job) => {
                let result = writes::commit(conn, &job.input).await;
                job.record(result)
            }
            Request::PutEvent(job) => {
                let (workspace, event, target_run_id) = &job.input;
                let result = writes::put_event(conn, workspace, event, target_run_id.as_deref()).await;
                job.record(result)
            }
            Request::DeleteEventsBefore(job) => {
                let result = writes::delete_events_before(conn, job.input).await;
                job.record(result)
            }
            Request::PutSchedule(job) => {
                let result = schedules::put_schedule(&mut *conn, &job.input).await;
                job.record(result)
            }
            Request::ClaimSchedule(job) => {
                let result = schedules::claim_schedule(&mut *conn, &job.input).await;
                job.record(result)
            }
            Request::PutScheduleMatch(job) => {
                let result = schedules::put_schedule_match(&mut *conn, &job.input).await;
                job.record(result)
            }
            Request::DeleteScheduleMatches(job) => {
                let (key, group_key, event_keys) = &job.input;
                let result = schedules::delete_schedule_matches(&mut *conn, key, group_key, event_keys).await;
                job.record(result)
            }
            Request::AcquireLease(job) => {
                let result = leases::acquire(&mut *conn, &job.input).await;
                job.record(result)
            }
            Request::RenewLease(job) => {
                let (name, holder, epoch, expires_at) = &job.input;
                let result = leases::renew(&mut *conn, name, holder, *epoch, *expires_at).await;
                job.record(result)
            }
            Request::ReleaseLease(job) => {
                let (name, holder) = &job.input;
                let result = leases::release(&mut *conn, name, holder).await;
                job.record(result)
            }
            Request::ClaimRun(job) => {
                let (run_id, node, now) = &job.input;
                let result = ownership::claim_run(&mut *conn, run_id, node, *now).await;
                job.record(result)
            }
            Request::ClaimOrphanRuns(job) => {
                let (node, now, limit) = &job.input;
                let result = ownership::claim_orphan_runs(&mut *conn, node, *now, *limit).await;
                job.record(result)
            }
            Request::PutRunInput(job) => {
                let (run_id, input, now) = &job.input;
                let result = ownership::put_run_input(conn, run_id, input, *now).await;
                job.record(result)
            }
            Request::Auth(job) => {
                let result = auth::apply(conn, &job.input).await;
                job.record(result)
            }
            Request::PutSecret(job) => {
                let result = secrets::put(conn, &job.input).await;
                job.record(result)
            }
            Request::DeleteSecret(job) => {
                let (workspace, name) = &job.input;
                let result = secrets::delete(conn, workspace, name).await;
                job.record(result)
            }
            Request::Probe(job) => {
                let result = health::probe(conn).await;
                job.record(result)
            }
            Request::CountResumedStep(job) => {
                let (run_id, state_version) = &job.input;
                let result = crate::crashes::count_sqlite(conn, run_id, *state_version).await;
                job.record(result)
            }
        }
    }

    /// Replaces the result: the transaction holding this write did not commit.
    fn fail(&mut self, err: StoreError) {
        match self {
            Request::PutWorkflow(job) => job.result = Some(Err(err)),
            Request::CreateRun(job) => job.result = Some(Err(err)),
            Request::Commit(job) => job.result = Some(Err(err)),
            Request::PutEvent(job) => job.result = Some(Err(err)),
            Request::DeleteEventsBefore(job) => job.result = Some(Err(err)),
            Request::PutSchedule(job) => job.result = Some(Err(err)),
            Request::ClaimSchedule(job) => job.result = Some(Err(err)),
            Request::PutScheduleMatch(job) => job.result = Some(Err(err)),
            Request::DeleteScheduleMatches(job) => job.result = Some(Err(err)),
            Request::AcquireLease(job) => job.result = Some(Err(err)),
            Request::RenewLease(job) => job.result = Some(Err(err)),
            Request::ReleaseLease(job) => job.result = Some(Err(err)),
            Request::ClaimRun(job) => job.result = Some(Err(err)),
            Request::ClaimOrphanRuns(job) => job.result = Some(Err(err)),
            Request::PutRunInput(job) => job.result = Some(Err(err)),
            Request::Auth(job) => job.result = Some(Err(err)),
            Request::PutSecret(job) => job.result = Some(Err(err)),
            Request::DeleteSecret(job) => job.result = Some(Err(err)),
            Request::Probe(job) => job.result = Some(Err(err)),
            Request::CountResumedStep(job) => job.result = Some(Err(err)),
        }
    }

    fn answer(self) {
        match self {
            Request::PutWorkflow(job) => job.answer(),
            Request::CreateRun(job) => job.answer(),
            Request::Commit(job) => job.answer(),
            Request::PutEvent(job) => job.answer(),
            Request::DeleteEventsBefore(job) => job.answer(),
            Request::PutSchedule(job) => job.answer(),
            Request::ClaimSchedule(job) => job.answer(),
            Request::PutScheduleMatch(job) => job.answer(),
            Request::DeleteScheduleMatches(job) => job.answer(),
            Request::AcquireLease(job) => job.answer(),
            Request::RenewLease(job) => job.answer(),
            Request::ReleaseLease(job) => job.answer(),
            Request::ClaimRun(job) => job.answer(),
            Request::ClaimOrphanRuns(job) => job.answer(),
            Request::PutRunInput(job) => job.answer(),
            Request::Auth(job) => job.answer(),
            Request::PutSecret(job) => job.answer(),
            Request::DeleteSecret(job) => job.answer(),
            Request::Probe(job) => job.answer(),
            Request::CountResumedStep(job) => job.answer(),
        }
    }
}

/// Counters shared between the writer task and [`crate::SqliteStore::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) requests: AtomicU64,
}

/// The writer task: serves requests until every sender is dropped, then closes its connection.
/// `connect` reopens the connection after a disk fault.
pub(crate) async fn run(
    conn: SqliteConnection,
    connect: SqliteConnectOptions,
    mut requests: mpsc::Receiver<Request>,
    max_batch: usize,
    counters: Arc<Counters>,
    health: Arc<Health>,
) {
    let mut writer = Writer { connect, conn: Some(conn), health };
    let mut batch = Vec::with_capacity(max_batch);
    while requests.recv_many(&mut batch, max_batch).await > 0 {
        let n_commits = writer.commit_batch(&mut batch).await;
        counters.commits.fetch_add(n_commits, Ordering::Relaxed);
        counters.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
        tracing::trace!(n_requests = batch.len(), n_commits, "write batch done");
        for request in batch.drain(..) {
            request.answer();
        }
    }
    if let Some(conn) = writer.conn.take()
        && let Err(err) = conn.close().await
    {
        tracing::warn!(error = %err, "closing the write connection failed");
    }
}

/// The writer's connection and what it knows of the disk.
struct Writer {
    connect: SqliteConnectOptions,
    /// `None` after a fault closed it: reopened before the next transaction.
    conn: Option<SqliteConnection>,
    health: Arc<Health>,
}

impl Writer {
    /// Commits `batch` as one transaction, or each request alone if that fails for a reason
    /// other than a disk fault; retries a disk fault with backoff, then fails every request
    /// with [`StoreError::WriteUnavailable`]. Returns the number of transactions committed.
    async fn commit_batch(&mut self, batch: &mut [Request]) -> u64 {
        let mut delays = RETRY_DELAYS.iter();
        loop {
            let cause = match self.transaction(batch).await {
                Ok(()) => {
                    self.health.set_writable();
                    return 1;
                }
                Err(TxError::Other(err)) => return self.one_by_one(batch, err).await,
                Err(TxError::Fault(cause)) => cause,
            };
            self.reset().await;
            match delays.next().filter(|_| !self.health.is_failing()) {
                Some(delay) => {
                    tracing::debug!(error = %cause, delay_ms = delay.as_millis() as u64, "write failed on a disk fault; retrying");
                    tokio::time::sleep(*delay).await;
                }
                None => {
                    self.health.set_failing(&cause);
                    for request in batch.iter_mut() {
                        request.fail(StoreError::WriteUnavailable);
                    }
                    return 0;
                }
            }
        }
    }

    /// The batch failed as a whole, not on a disk fault: each request alone gets its verdict.
    async fn one_by_one(&mut self, batch: &mut [Request], err: sqlx::Error) -> u64 {
        // After a failed transaction sqlx's view of the connection is not to be trusted.
        self.reset().await;
        if let [request] = batch {
            request.fail(StoreError::Database(err));
            return 0;
        }
        tracing::warn!(error = %err, n_requests = batch.len(), "group commit failed, retrying one by one");
        let mut n_commits = 0;
        for request in batch.iter_mut() {
            match self.transaction(std::slice::from_mut(request)).await {
                Ok(()) => n_commits += 1,
                Err(TxError::Other(err)) => {
                    self.reset().await;
                    request.fail(StoreError::Database(err));
                }
                Err(TxError::Fault(cause)) => {
                    self.reset().await;
                    self.health.set_failing(&cause);
                    request.fail(StoreError::WriteUnavailable);
                }
            }
        }
        n_commits
    }

    /// Runs `requests` in one write transaction, each in its own savepoint, and commits,
    /// (re)opening the connection first when a fault closed it.
    ///
    /// A request's own error only rolls back its savepoint; an `Err` here means the transaction
    /// as a whole did not commit.
    async fn transaction(&mut self, requests: &mut [Request]) -> Result<(), TxError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            // Whatever keeps the file from opening is a fault of the disk, not of a request.
            None => self.connect.connect().await.map_err(|err| TxError::Fault(err.to_string()))?,
        };
        let conn = self.conn.insert(conn);
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        for request in requests.iter_mut() {
            let mut savepoint = tx.begin().await?;
            match request.apply(&mut savepoint).await {
                Applied::Done => savepoint.commit().await?,
                Applied::Refused => savepoint.rollback().await?,
                Applied::Fault(cause) => return Err(TxError::Fault(cause)),
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Closes the connection, which rolls back whatever transaction it still has open.
    async fn reset(&mut self) {
        if let Some(conn) = self.conn.take()
            && let Err(err) = conn.close().await
        {
            tracing::debug!(error = %err, "closing the write connection after a failure");
        }
    }
}
