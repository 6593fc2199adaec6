//! Taking runs up after a restart: every unfinished run gets an actor that re-issues what it
//! had in flight, pending runs start, stored timers load; and the retry of store calls a run's
//! progress depends on while the database is unreachable.

use std::future::Future;

use baton_store::{Store, StoreError};

use crate::engine::{Engine, EngineError};

/// Most timers loaded into memory when a node starts.
const MAX_TIMERS_LOADED: u32 = 1_000_000;

impl<S: Store + Clone> Engine<S> {
    /// Adds a run's stored timers to this node's timer service (scheduling one twice is
    /// harmless).
    pub(crate) async fn adopt_timers(&self, run_id: &str) -> Result<(), EngineError> {
        let store = &self.inner.store;
        for timer in retry_transient("load a run's timers", || store.timers_of_run(run_id)).await? {
            self.inner.timers.schedule(&timer.run_id, &timer.timer_id, timer.due_at);
        }
        Ok(())
    }

    /// After a restart: gives every unfinished run an actor (re-issuing the calls it had in
    /// flight), starts runs that were created but never started (oldest first, within their
    /// workflows' limits) and loads every pending timer. Returns how many runs it took over.
    ///
    /// With several nodes, it takes only the orphaned runs (unowned, or of nodes whose lease
    /// expired) and starts the node's background loops: the orphan sweep and the intake of
    /// inputs other nodes stored for this node's runs.
    pub async fn recover(&self) -> Result<usize, EngineError> {
        if self.inner.cluster.is_some() {
            let adopted = self.sweep_orphans().await?;
            self.start_cluster_loops();
            self.start_scheduler();
            return Ok(adopted);
        }
        let store = &self.inner.store;
        for timer in store.due_timers(i64::MAX, MAX_TIMERS_LOADED).await? {
            self.inner.timers.schedule(&timer.run_id, &timer.timer_id, timer.due_at);
        }
        let unfinished = store.unfinished_runs().await?;
        let mut pending = Vec::new();
        for run in &unfinished {
            self.resumed_from_crash(&run.id);
            let Some(record) = store.load_run(&run.id).await? else { continue };
            if record.status == baton_store::RunStatus::Pending {
                pending.push(record.id);
                continue;
            }
            self.resume_started(record).await?;
        }
        for run_id in pending {
            self.start(&run_id).await?;
        }
        self.start_scheduler();
        Ok(unfinished.len())
    }

    /// Takes up a started, unfinished run on this node: it holds a slot of its workflow's
    /// concurrency limit, and gets an actor that re-issues what it has in flight.
    pub(crate) async fn resume_started(&self, record: baton_store::RunRecord) -> Result<(), EngineError> {
        let deployed = self.workflow_in(&record.workspace, &record.namespace, &record.name, &record.version).await?;
        if deployed.max_concurrency.is_some() {
            self.inner.admission.occupy(&(
                record.workspace.to_string(),
                record.namespace,
                record.name,
                record.version.clone(),
            ));
        }
        self.ensure_actor(&record.id);
        Ok(())
    }
}

/// Calls `operation` until it succeeds or fails for a reason other than an unreachable
/// database ([`StoreError::is_transient`]), waiting 50 ms, then twice as long each time, up to
/// 2 s: a database outage pauses the runs instead of failing them.
pub(crate) async fn retry_transient<T, F, Fut>(what: &str, mut operation: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut delay = std::time::Duration::from_millis(50);
    loop {
        match operation().await {
            Err(err) if err.is_transient() => {
                tracing::warn!(error = %err, delay_ms = delay.as_millis() as u64, "cannot {what}; trying again");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            result => return result,
        }
    }
}
