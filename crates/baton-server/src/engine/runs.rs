//! Deploying definitions and the life of a run as callers see it: creating, starting (within
//! its workflow's concurrency limit), signalling, waiting for and reading a run.

use std::sync::Arc;

use serde_json::Value;

use baton_core::compile::CompiledWorkflow;
use baton_core::state::{RunStatus, StepInput};
use baton_store::{ParentLink, PutOutcome, Store, StoreError};

use crate::clock::now_ms;
use crate::engine::{DEFAULT_WORKSPACE, Deployed, Engine, EngineError, RunOutcome, Signal, cluster, registry};

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
        self.deploy_in(DEFAULT_WORKSPACE, text, max_concurrency).await
    }

    /// Like [`Engine::deploy_with_outcome`], into `workspace`: its runs, events and schedule
    /// belong to that workspace, and the same namespace/name/version in another workspace is
    /// another workflow.
    pub async fn deploy_in(
        &self,
        workspace: &str,
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
        self.workflow_in(DEFAULT_WORKSPACE, namespace, name, version).await
    }

    /// The deployed workflow with this identity in `workspace`; `version` may be `latest`.
    pub async fn workflow_in(
        &self,
        workspace: &str,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Arc<Deployed>, EngineError> {
        self.inner.registry.get(&self.inner.store, workspace, namespace, name, version).await
    }

    /// Creates a run (status `pending`, not started) and returns its id; `run_id` defaults to a
    /// new UUIDv7.
    pub async fn create_run(
        &self,
        workflow: &CompiledWorkflow,
        input: Value,
        run_id: Option<String>,
    ) -> Result<String, EngineError> {
        let run_id = run_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        self.create_run_with_parent(DEFAULT_WORKSPACE, workflow, input, run_id.clone(), None).await?;
        Ok(run_id)
    }

    /// Like [`Engine::create_run`] in `workspace` with a new id, the run's metadata set to
    /// `metadata` ([`baton_core::state::RunState::metadata`]).
    pub async fn create_run_with_metadata(
        &self,
        workspace: &str,
        workflow: &CompiledWorkflow,
        input: Value,
        metadata: serde_json::Map<String, Value>,
    ) -> Result<String, EngineError> {
        let run_id = uuid::Uuid::now_v7().to_string();
        self.insert_run(workspace, workflow, input, metadata, run_id.clone(), None, None).await?;
        Ok(run_id)
    }

    /// Creates a run (status `pending`, not started, with `metadata`) unless a run with
    /// `idempotency_key` exists in the workspace. Returns the run's id and whether this call
    /// created it. Concurrent calls with one key create one run: the store's unique index
    /// decides, the others find it.
    pub async fn create_run_idempotent(
        &self,
        workspace: &str,
        workflow: &CompiledWorkflow,
        input: Value,
        metadata: serde_json::Map<String, Value>,
        idempotency_key: &str,
    ) -> Result<(String, bool), EngineError> {
        let store = &self.inner.store;
        if let Some(existing) = store.run_by_idempotency_key(workspace, idempotency_key).await? {
            return Ok((existing.id, false));
        }
        let run_id = uuid::Uuid::now_v7().to_string();
        let key = Some(idempotency_key.to_owned());
        let created = self.insert_run(workspace, workflow, input, metadata, run_id.clone(), None, key).await;
        match created {
            Ok(()) => Ok((run_id, true)),
            Err(StoreError::Conflict(message)) => {
                match store.run_by_idempotency_key(workspace, idempotency_key).await? {
                    Some(existing) => Ok((existing.id, false)),
                    None => Err(StoreError::Conflict(message).into()),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Creates a run in `workspace` (a child run: in its parent's workspace).
    pub(crate) async fn create_run_with_parent(
        &self,
        workspace: &str,
        workflow: &CompiledWorkflow,
        input: Value,
        run_id: String,
        parent: Option<ParentLink>,
    ) -> Result<(), EngineError> {
        Ok(self.insert_run(workspace, workflow, input, serde_json::Map::new(), run_id, parent, None).await?)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn insert_run(
        &self,
        workspace: &str,
        workflow: &CompiledWorkflow,
        input: Value,
        metadata: serde_json::Map<String, Value>,
        run_id: String,
        parent: Option<ParentLink>,
        idempotency_key: Option<String>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut state = baton_core::new_run(run_id.clone(), input.clone(), now);
        state.metadata = metadata;
        let record = baton_store::NewRun {
            id: run_id,
            workspace: workspace.into(),
            namespace: workflow.namespace().into(),
            name: workflow.name().into(),
            version: workflow.version().into(),
            status: RunStatus::Pending.as_str().into(),
            input,
            state: serde_json::to_value(&state).unwrap_or(Value::Null),
            parent,
            idempotency_key,
            owner: self.node_id().map(str::to_owned),
            created_at: now,
        };
        self.inner.store.create_run(record, Vec::new()).await
    }

    /// Starts a pending run, or queues it (still `pending`) when its workflow is at its
    /// concurrency limit.
    pub async fn start(&self, run_id: &str) -> Result<(), EngineError> {
        let record = self.inner.store.get_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        let deployed = self.workflow_in(&record.workspace, &record.namespace, &record.name, &record.version).await?;
        let key = (record.workspace, record.namespace, record.name, record.version);
        if let Some(limit) = deployed.max_concurrency
            && !self.inner.admission.admit(&key, limit, run_id)
        {
            tracing::debug!(run_id, limit, "run queued behind the workflow's concurrency limit");
            return Ok(());
        }
        self.deliver(run_id, StepInput::Start);
        Ok(())
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
        let record = self.inner.store.get_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        Ok(RunOutcome {
            run_id: record.id,
            status: RunStatus::parse(&record.status).unwrap_or(RunStatus::Running),
            output: record.output,
            error: record.error.and_then(|error| serde_json::from_value(error).ok()),
        })
    }
}
