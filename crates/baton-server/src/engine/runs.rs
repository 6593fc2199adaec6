//! Deploying definitions and the life of a run as callers see it: creating, starting (within
//! its workflow's concurrency limit), signalling, waiting for and reading a run.

use std::sync::Arc;

use baton_core::compile::CompiledWorkflow;
use baton_core::state::{RunStatus, StepInput};
use baton_store::{
    ConflictKind, NewRun, PutOutcome, RunRecord, RunStatus as StoreStatus, Store, StoreError, WorkspaceId,
};

use crate::clock::now_ms;
use crate::engine::status::from_store;
use crate::engine::{
    CreateRun, CreatedRun, DEFAULT_WORKSPACE, Deployed, Engine, EngineError, RunOutcome, Signal, cluster, registry,
};

impl<S: Store + Clone> Engine<S> {
    /// Checks, compiles and stores a definition. Deploying the same text again is a no-op;
    /// different text under the same namespace/name/version is a store `Conflict`.
    pub async fn deploy(&self, text: &str) -> Result<Arc<CompiledWorkflow>, EngineError> {
        Ok(self.deploy_with_limit(text, None).await?.workflow.clone())
    }

    /// Like [`Engine::deploy`], with a limit on how many runs of this version are active at
    /// once; further runs wait `pending` in the order they were started.
    pub async fn deploy_with_limit(
        &self,
        text: &str,
        max_concurrency: Option<u32>,
    ) -> Result<Arc<Deployed>, EngineError> {
        Ok(self.deploy_with_outcome(text, max_concurrency).await?.0)
    }

    /// Like [`Engine::deploy_with_limit`], telling whether the version was new
    /// ([`PutOutcome::Created`]) or already deployed with this text and limit
    /// ([`PutOutcome::Unchanged`]).
    pub async fn deploy_with_outcome(
        &self,
        text: &str,
        max_concurrency: Option<u32>,
    ) -> Result<(Arc<Deployed>, PutOutcome), EngineError> {
        self.deploy_in(&DEFAULT_WORKSPACE, text, max_concurrency).await
    }

    /// Like [`Engine::deploy_with_outcome`], into `workspace`: its runs, events and schedule
    /// belong to that workspace, and the same namespace/name/version in another workspace is
    /// another workflow.
    pub async fn deploy_in(
        &self,
        workspace: &WorkspaceId,
        text: &str,
        max_concurrency: Option<u32>,
    ) -> Result<(Arc<Deployed>, PutOutcome), EngineError> {
        let deployed = self.inner.registry.deploy(&self.inner.store, workspace, text, max_concurrency).await?;
        self.register_schedule(&deployed.0).await?;
        Ok(deployed)
    }

    /// The deployed workflow with this identity in the `default` workspace; `version` may be
    /// `latest`.
    pub async fn workflow(&self, namespace: &str, name: &str, version: &str) -> Result<Arc<Deployed>, EngineError> {
        self.workflow_in(&DEFAULT_WORKSPACE, namespace, name, version).await
    }

    /// The deployed workflow with this identity in `workspace`; `version` may be `latest`.
    pub async fn workflow_in(
        &self,
        workspace: &WorkspaceId,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Arc<Deployed>, EngineError> {
        self.inner.registry.get(&self.inner.store, workspace, namespace, name, version).await
    }

    /// Creates a run (status `pending`, not started) as `request` says and returns the record
    /// as stored. With an idempotency key, a run created earlier with the same key in the
    /// workspace is returned instead (`created: false`); concurrent calls with one key create
    /// one run: the store's unique index decides, the others find it.
    ///
    /// Errors: [`EngineError::Store`] with [`ConflictKind::RunExists`] when `request.run_id` is
    /// taken.
    pub async fn create(&self, request: CreateRun<'_>) -> Result<CreatedRun, EngineError> {
        let store = &self.inner.store;
        if let Some(key) = &request.idempotency_key
            && let Some(existing) = store.run_by_idempotency_key(&request.workspace, key).await?
        {
            return Ok(CreatedRun { record: existing, created: false });
        }
        let now = now_ms();
        let run_id = request.run_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let mut state = baton_core::new_run(run_id.clone(), request.input.clone(), now);
        state.metadata = request.metadata;
        let run = NewRun {
            id: run_id,
            workspace: request.workspace.clone(),
            namespace: request.workflow.namespace().into(),
            name: request.workflow.name().into(),
            version: request.workflow.version().into(),
            status: StoreStatus::Pending,
            input: request.input,
            state: serde_json::to_value(&state).expect("a RunState serializes: every map in it has string keys"),
            parent: request.parent,
            idempotency_key: request.idempotency_key,
            owner: self.node_id().map(str::to_owned),
            created_at: now,
            history: Vec::new(),
        };
        match store.create_run(run).await {
            Ok(record) => Ok(CreatedRun { record, created: true }),
            Err(StoreError::Conflict(ConflictKind::IdempotencyKeyTaken { existing_run_id, .. })) => {
                let record = store
                    .get_run(&request.workspace, &existing_run_id)
                    .await?
                    .ok_or(EngineError::RunNotFound(existing_run_id))?;
                Ok(CreatedRun { record, created: false })
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Starts a pending run, or queues it (still `pending`) when its workflow is at its
    /// concurrency limit.
    pub async fn start(&self, run_id: &str) -> Result<(), EngineError> {
        let record = self.inner.store.load_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        let deployed = self.workflow_in(&record.workspace, &record.namespace, &record.name, &record.version).await?;
        self.start_created(&record, &deployed);
        Ok(())
    }

    /// [`Engine::start`] for a run just created from `deployed` ([`Engine::create`]): neither
    /// the run nor its workflow is read again.
    pub fn start_created(&self, record: &RunRecord, deployed: &Deployed) {
        let key = (record.workspace.to_string(), record.namespace.clone(), record.name.clone(), record.version.clone());
        if let Some(limit) = deployed.max_concurrency
            && !self.inner.admission.admit(&key, limit, &record.id)
        {
            tracing::debug!(run_id = %record.id, limit, "run queued behind the workflow's concurrency limit");
            return;
        }
        self.deliver(&record.id, StepInput::Start);
    }

    /// A run of `deployed` ended: start the runs its slot admits.
    pub(crate) fn release(&self, deployed: &Deployed) {
        let Some(limit) = deployed.max_concurrency else { return };
        let key = registry::key_of(&deployed.workspace, &deployed.workflow);
        for run_id in self.inner.admission.release(&key, limit) {
            self.deliver(&run_id, StepInput::Start);
        }
    }

    /// Waits until the run's status satisfies `until` and returns its outcome then.
    pub async fn wait_for(&self, run_id: &str, until: impl Fn(RunStatus) -> bool) -> Result<RunOutcome, EngineError> {
        let mut watch = self.inner.watchers.watch(run_id);
        let current = self.outcome(run_id).await?;
        if until(current.status) {
            return Ok(current);
        }
        loop {
            if self.inner.cluster.is_some() {
                // The run may be driven by another node, whose commits this node does not
                // see: look at the store now and then.
                match tokio::time::timeout(cluster::REMOTE_WATCH_INTERVAL, watch.receiver.changed()).await {
                    Err(_elapsed) => {
                        match self.outcome(run_id).await {
                            Ok(current) if until(current.status) => return Ok(current),
                            Ok(_) => {}
                            // The database is away: the run is paused, not failed.
                            Err(EngineError::Store(err)) if err.is_transient() => {}
                            Err(err) => return Err(err),
                        }
                        continue;
                    }
                    Ok(Err(_closed)) => return self.outcome(run_id).await,
                    Ok(Ok(())) => {}
                }
            } else if watch.receiver.changed().await.is_err() {
                return self.outcome(run_id).await;
            }
            let latest = watch.receiver.borrow_and_update().clone();
            if let Some(outcome) = latest
                && until(outcome.status)
            {
                return Ok(outcome);
            }
        }
    }

    /// Runs `run_id` to its end: starts it when pending, resumes it from its checkpoint otherwise.
    pub async fn drive(&self, run_id: &str) -> Result<RunOutcome, EngineError> {
        let current = self.outcome(run_id).await?;
        match current.status {
            status if status.is_terminal() => return Ok(current),
            RunStatus::Pending => self.start(run_id).await?,
            _ => self.ensure_actor(run_id),
        }
        self.wait_for(run_id, RunStatus::is_terminal).await
    }

    /// Applies a signal. Idempotent (suspending a suspended run is accepted); refused with
    /// [`EngineError::SignalRefused`] when the run has ended (cancelling a cancelled run is
    /// accepted).
    pub async fn signal(&self, run_id: &str, signal: Signal) -> Result<RunStatus, EngineError> {
        let current = self.outcome(run_id).await?;
        let refused = match signal {
            Signal::Cancel => current.status.is_terminal() && current.status != RunStatus::Cancelled,
            Signal::Suspend | Signal::Resume => current.status.is_terminal(),
        };
        if refused {
            let name = match signal {
                Signal::Cancel => "cancel",
                Signal::Suspend => "suspend",
                Signal::Resume => "resume",
            };
            return Err(EngineError::SignalRefused {
                run_id: run_id.into(),
                status: current.status.as_str(),
                signal: name,
            });
        }
        let input = match signal {
            Signal::Cancel if current.status == RunStatus::Cancelled => return Ok(current.status),
            Signal::Cancel => StepInput::Cancel,
            Signal::Suspend => StepInput::Suspend,
            Signal::Resume => StepInput::Resume,
        };
        self.deliver(run_id, input);
        Ok(current.status)
    }

    /// The outcome as stored, without driving the run.
    pub async fn outcome(&self, run_id: &str) -> Result<RunOutcome, EngineError> {
        let record = self.inner.store.load_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        Ok(RunOutcome {
            run_id: record.id,
            status: from_store(record.status),
            output: record.output,
            error: record.error.and_then(|error| serde_json::from_value(error).ok()),
        })
    }
}
