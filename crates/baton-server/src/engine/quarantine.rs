//! The crash-loop quarantine (issue 13, item 1): a run whose step kills the process (an abort
//! the interpreter cannot catch) would be resumed, and kill it again, at every start. So the
//! first step of every run a node takes up from a process that died (the unfinished runs at a
//! restart, the runs adopted from a dead node) is counted in the store before it computes
//! ([`baton_store::ClusterStore::count_resumed_step`]); a committed step moves the run to a new state version,
//! which resets the count. When the count reaches [`QUARANTINE_AFTER_CRASHES`] the earlier
//! attempts at that same step died with their processes: the run is faulted instead of being
//! stepped again, and the node goes on.
//!
//! Only the first step after a take-over is counted: the steps of a node's own runs cost no
//! extra write.

use std::collections::HashSet;
use std::sync::Mutex;

use baton_core::error::WorkflowError;
use baton_model::error_types::StandardError;
use baton_store::Store;

use crate::engine::recovery::retry_transient;
use crate::engine::{Engine, EngineError};

/// Processes that died in a row while stepping a run from the same state before it is faulted
/// (`runtime` error, detail `quarantined after 2 crashes`).
pub const QUARANTINE_AFTER_CRASHES: u32 = 2;

/// The runs this node took up from a dead process whose first step here is still to come.
#[derive(Default)]
pub(crate) struct Resumed {
    runs: Mutex<HashSet<String>>,
}

impl Resumed {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.runs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<S: Store + Clone> Engine<S> {
    /// Notes that `run_id` was taken up from a process that died: its next step is counted.
    pub(crate) fn resumed_from_crash(&self, run_id: &str) {
        self.inner.resumed.lock().insert(run_id.to_owned());
    }

    /// Before a step of `run_id` from `state_version`: the error to fault the run with when the
    /// quarantine holds it, `None` to step it. Counts the step when it is the first since the
    /// run was taken up from a dead process.
    pub(crate) async fn crash_loop(
        &self,
        run_id: &str,
        state_version: i64,
    ) -> Result<Option<WorkflowError>, EngineError> {
        if !self.inner.resumed.lock().remove(run_id) {
            return Ok(None);
        }
        let store = &self.inner.store;
        let count = || store.count_resumed_step(run_id, state_version);
        let Some(attempts) = retry_transient("count a resumed step", count).await? else { return Ok(None) };
        if attempts < QUARANTINE_AFTER_CRASHES {
            return Ok(None);
        }
        let detail = format!("quarantined after {attempts} crashes");
        tracing::warn!(run_id, state_version, attempts, "the run's step killed the process before; faulting it");
        let error = WorkflowError::standard(StandardError::Runtime, "crash loop").with_detail(detail);
        Ok(Some(error))
    }
}
