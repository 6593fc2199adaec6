//! [`RunStore`]: runs, their checkpoints, history and timers.

use std::future::Future;

use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::records::{Checkpoint, HistoryEntry, Millis, NewRun, RunFilter, RunRecord, RunRef, RunSummary, TimerRecord};
use crate::status::RunStatus;

/// Runs with their state, history and timers.
pub trait RunStore: Send + Sync + 'static {
    /// Creates a run in `run.workspace` at state version 1 with its first history entries
    /// (numbered from 1) and returns the record as written.
    ///
    /// # Errors
    /// [`crate::ConflictKind::RunExists`] when the run id exists,
    /// [`crate::ConflictKind::IdempotencyKeyTaken`] when the run's `idempotency_key` is already
    /// taken in its workspace; nothing is written then.
    fn create_run(&self, run: NewRun) -> impl Future<Output = Result<RunRecord, StoreError>> + Send;

    /// Applies one interpreter step of the run `checkpoint.run_id` (which the committing node
    /// loaded, so the run's workspace is fixed) atomically and returns the run's new
    /// `state_version` (`expected_version + 1`).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown run; [`crate::ConflictKind::StaleVersion`] when
    /// the stored `state_version` differs from `checkpoint.expected_version`,
    /// [`crate::ConflictKind::Fenced`] when the stored `owner_epoch` differs from
    /// `checkpoint.expected_epoch` (the run changed owner: a stale node's write is refused);
    /// nothing is written then.
    fn commit(&self, checkpoint: Checkpoint) -> impl Future<Output = Result<i64, StoreError>> + Send;

    /// Loads a run of `workspace` (`None` also for a run of another workspace).
    fn get_run(
        &self,
        workspace: &WorkspaceId,
        id: &str,
    ) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// Node-level: loads a run of any workspace, for the engine driving it (its input came by
    /// run id: a timer, an effect's result, a child's end). The record carries its workspace.
    fn load_run(&self, id: &str) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// Loads the run created with `idempotency_key` in `workspace`.
    fn run_by_idempotency_key(
        &self,
        workspace: &WorkspaceId,
        idempotency_key: &str,
    ) -> impl Future<Output = Result<Option<RunRecord>, StoreError>> + Send;

    /// Node-level: number of runs per status over all workspaces (statuses without runs are
    /// absent), for metrics.
    fn count_runs_by_status(&self) -> impl Future<Output = Result<Vec<(RunStatus, u64)>, StoreError>> + Send;

    /// Lists runs of `workspace` newest first (by `created_at`, then id), one page at a time.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the `before` cursor names an unknown run.
    fn list_runs(
        &self,
        workspace: &WorkspaceId,
        filter: RunFilter,
    ) -> impl Future<Output = Result<Vec<RunSummary>, StoreError>> + Send;

    /// Returns up to `limit` history entries of a run of `workspace` with `seq > after_seq`, in
    /// order. An unknown run (or one of another workspace) has an empty history.
    fn history(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<HistoryEntry>, StoreError>> + Send;

    /// Node-level: all runs of every workspace whose status is not terminal
    /// ([`RunStatus::TERMINAL`]), oldest first; used to resume work after a restart.
    fn unfinished_runs(&self) -> impl Future<Output = Result<Vec<RunRef>, StoreError>> + Send;

    /// Runs of `workspace` started by `parent_run_id`, oldest first.
    fn child_runs(
        &self,
        workspace: &WorkspaceId,
        parent_run_id: &str,
    ) -> impl Future<Output = Result<Vec<RunSummary>, StoreError>> + Send;

    /// Node-level: up to `limit` timers of every workspace with `due_at <= now`, earliest first
    /// (ties by run id, timer id).
    fn due_timers(&self, now: Millis, limit: u32) -> impl Future<Output = Result<Vec<TimerRecord>, StoreError>> + Send;

    /// Node-level: all timers of a run the engine drives, earliest first.
    fn timers_of_run(&self, run_id: &str) -> impl Future<Output = Result<Vec<TimerRecord>, StoreError>> + Send;
}
