//! The stale-wait sweeper: human-input waits past their deadline are expired, oldest first,
//! in bounded batches, one pass at a time (DESIGN.md, "Human input").

use std::sync::PoisonError;

use baton_core::state::StepInput;
use baton_store::{ConflictKind, LeaseRequest, Store, StoreError};

use crate::clock::now_ms;
use crate::engine::{Engine, EngineError};

/// The lease a sweeper pass holds when several nodes share the database.
pub const SWEEPER_LEASE: &str = "sweeper";

/// How long a pass may hold [`SWEEPER_LEASE`] (ms): a node that dies during a pass blocks the
/// others at most this long.
const SWEEPER_LEASE_MS: i64 = 60_000;

/// What one pass of the sweeper did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Overdue waits found.
    pub checked: usize,
    /// Waits expired: their `listen` raises the `timeout` error (detail `reason: approval_timeout`)
    /// and their run's metadata gets `reason: "approval_timeout"`.
    pub timed_out: usize,
    /// Waits that could not be expired; they are tried again on the next pass.
    pub failed: usize,
}

/// The sweeper's passes since the engine started (exposed by `GET /metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepTotals {
    /// Passes completed (a pass refused because another one runs is not counted).
    pub passes: u64,
    /// Overdue waits found, summed over the passes.
    pub checked: u64,
    /// Waits expired, summed over the passes.
    pub timed_out: u64,
    /// Waits that could not be expired, summed over the passes (one wait may count again on
    /// each pass that retries it).
    pub failed: u64,
    /// The last completed pass; `None` before the first.
    pub last: Option<SweepReport>,
}

impl SweepTotals {
    fn add(&mut self, report: SweepReport) {
        self.passes += 1;
        self.checked += report.checked as u64;
        self.timed_out += report.timed_out as u64;
        self.failed += report.failed as u64;
        self.last = Some(report);
    }
}

/// The engine's sweeper state: the single-flight lock of a pass and the totals.
#[derive(Debug, Default)]
pub(super) struct Sweeping {
    /// Held by the running pass.
    pass: tokio::sync::Mutex<()>,
    totals: std::sync::Mutex<SweepTotals>,
}

impl<S: Store + Clone> Engine<S> {
    /// Expires up to `batch` overdue human-input waits, oldest deadline first. Single-flight:
    /// returns `None` when another pass is running, on this node or (several nodes) on another
    /// one: a pass holds the lease [`SWEEPER_LEASE`] of the database. A failure on one wait is counted and does
    /// not stop the pass; the runs' steps are applied by their actors, within the executor's
    /// bound. The pass is logged and added to [`Engine::sweep_totals`].
    pub async fn sweep_overdue(&self, batch: u32) -> Result<Option<SweepReport>, EngineError> {
        let Ok(_pass) = self.inner.sweeping.pass.try_lock() else { return Ok(None) };
        if let Some(node) = self.node_id() {
            let now = now_ms();
            let request = LeaseRequest {
                name: SWEEPER_LEASE.into(),
                holder: node.to_owned(),
                now,
                expires_at: now + SWEEPER_LEASE_MS,
                take_over_from: None,
            };
            match self.inner.store.acquire_lease(request).await {
                Ok(_) => {}
                Err(StoreError::Conflict(ConflictKind::LeaseHeld { .. })) => return Ok(None),
                Err(err) => return Err(err.into()),
            }
        }
        let report = self.sweep_pass(batch).await;
        if let Some(node) = self.node_id()
            && let Err(err) = self.inner.store.release_lease(SWEEPER_LEASE, node).await
        {
            tracing::warn!(error = %err, "cannot release the sweeper lease");
        }
        let report = report?;
        tracing::info!(checked = report.checked, timed_out = report.timed_out, failed = report.failed, "sweep pass");
        self.inner.sweeping.totals.lock().unwrap_or_else(PoisonError::into_inner).add(report);
        Ok(Some(report))
    }

    /// One pass: expires up to `batch` overdue waits.
    async fn sweep_pass(&self, batch: u32) -> Result<SweepReport, EngineError> {
        let mut report = SweepReport::default();
        for item in self.inner.store.overdue_inbox(now_ms(), batch).await? {
            report.checked += 1;
            match self.inner.store.subscription(&item.workspace, &item.run_id, &item.subscription_id).await {
                Ok(Some(_)) => {
                    self.deliver(&item.run_id, StepInput::Expire { subscription_id: item.subscription_id });
                    report.timed_out += 1;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(run_id = %item.run_id, error = %err, "cannot expire an overdue wait");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// The sweeper's passes so far.
    pub fn sweep_totals(&self) -> SweepTotals {
        *self.inner.sweeping.totals.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
