//! Group commit: the single writer task.
//!
//! All writes travel through one bounded channel to one task that owns the only write
//! connection. The task takes every request queued at that moment (up to `max_batch`), runs them
//! in ONE `BEGIN IMMEDIATE` transaction, each inside its own savepoint so a failing request
//! (a version conflict, say) rolls back only itself, commits once (one fsync for the whole batch)
//! and only then answers every caller. If the batch transaction itself fails, each request is
//! retried alone so every caller gets its own verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::records::{
    Checkpoint, Lease, LeaseRequest, Millis, NewRun, PutOutcome, RunRecord, RunRef, ScheduleClaim, ScheduleKey,
    ScheduleMatch, ScheduleRecord, StoredEvent, WorkflowRecord,
};
use crate::rows;
use crate::secrets::SecretRecord;
use crate::sqlite::{leases, ownership, schedules, secrets, writes};

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
    PutSecret(Job<SecretRecord, bool>),
    DeleteSecret(Job<(String, String), bool>),
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

    /// Records the result and tells whether it is a success.
    fn record(&mut self, result: Result<O, StoreError>) -> bool {
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn answer(self) {
        let result = self.result.unwrap_or(Err(StoreError::Closed));
        // The caller may have given up waiting; the write stands regardless.
        let _ = self.reply.send(result);
    }
}

impl Request {
    /// Runs the write on `conn` (inside an open transaction) and keeps its result.
    async fn apply(&mut self, conn: &mut SqliteConnection) -> bool {
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
            Request::PutSecret(job) => {
                let result = secrets::put(conn, &job.input).await;
                job.record(result)
            }
            Request::DeleteSecret(job) => {
                let (workspace, name) = &job.input;
                let result = secrets::delete(conn, workspace, name).await;
                job.record(result)
            }
        }
    }

    /// Replaces the result: the transaction holding this write did not commit.
    fn fail(&mut self, err: sqlx::Error) {
        let err = StoreError::Database(err);
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
            Request::PutSecret(job) => job.result = Some(Err(err)),
            Request::DeleteSecret(job) => job.result = Some(Err(err)),
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
            Request::PutSecret(job) => job.answer(),
            Request::DeleteSecret(job) => job.answer(),
        }
    }
}

/// Counters shared between the writer task and [`crate::SqliteStore::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) commits: AtomicU64,
    pub(crate) requests: AtomicU64,
}

/// The writer task: serves requests until every sender is dropped, then closes `conn`.
pub(crate) async fn run(
    mut conn: SqliteConnection,
    mut requests: mpsc::Receiver<Request>,
    max_batch: usize,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while requests.recv_many(&mut batch, max_batch).await > 0 {
        let n_commits = commit_batch(&mut conn, &mut batch).await;
        counters.commits.fetch_add(n_commits, Ordering::Relaxed);
        counters.requests.fetch_add(batch.len() as u64, Ordering::Relaxed);
        tracing::trace!(n_requests = batch.len(), n_commits, "write batch done");
        for request in batch.drain(..) {
            request.answer();
        }
    }
    if let Err(err) = conn.close().await {
        tracing::warn!(error = %err, "closing the write connection failed");
    }
}

/// Commits `batch` as one transaction, or each request alone if that fails. Returns the number
/// of transactions committed.
async fn commit_batch(conn: &mut SqliteConnection, batch: &mut [Request]) -> u64 {
    let err = match transaction(conn, batch).await {
        Ok(()) => return 1,
        Err(err) => err,
    };
    if let [request] = batch {
        request.fail(err);
        return 0;
    }
    tracing::warn!(error = %err, n_requests = batch.len(), "group commit failed, retrying one by one");
    let mut n_commits = 0;
    for request in batch.iter_mut() {
        match transaction(conn, std::slice::from_mut(request)).await {
            Ok(()) => n_commits += 1,
            Err(err) => request.fail(err),
        }
    }
    n_commits
}

/// Runs `requests` in one write transaction, each in its own savepoint, and commits.
///
/// A request's own error only rolls back its savepoint; an `Err` here means the transaction as
/// a whole did not commit (it is rolled back when dropped).
async fn transaction(conn: &mut SqliteConnection, requests: &mut [Request]) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    for request in requests.iter_mut() {
        let mut savepoint = tx.begin().await?;
        if request.apply(&mut savepoint).await {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
    }
    tx.commit().await
}
