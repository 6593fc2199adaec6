//! The engine: drives runs of compiled workflows against a [`Store`], persisting each step
//! before acting on it (DESIGN.md, "Persist, then act").
//!
//! A run is driven by one task that owns its state: it applies an input with
//! [`baton_core::step`], commits the checkpoint, then performs the step's commands; effect
//! results and timer firings come back to it as new inputs through a channel.

mod driver;
mod registry;

use std::sync::Arc;

use serde_json::Value;

use baton_core::compile::CompiledWorkflow;
use baton_core::definition::DefinitionError;
use baton_core::error::WorkflowError;
use baton_core::state::{HistoryEvent, RunStatus};
use baton_store::{Store, StoreError};

use crate::egress::EgressPolicy;
use crate::http_client::HttpExecutor;

pub use registry::Registry;

/// Workspace used until authentication arrives.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Deepest chain of `run: workflow` subflows before a run faults (catches cyclic subflows).
pub const MAX_SUBFLOW_DEPTH: usize = 32;

/// How the engine reaches the outside world.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `$secrets`: an object of secret name → value. Never stored, never logged.
    pub secrets: Value,
    pub egress: EgressPolicy,
    /// URL prefix rewrites applied to outbound requests (the conformance stand-in uses them).
    pub rewrites: Vec<(String, String)>,
}

/// Errors of the engine itself (a faulted run is not an engine error: see [`RunOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Definition(#[from] DefinitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("run {0} not found")]
    RunNotFound(String),
    #[error("workflow {namespace}/{name}:{version} is not deployed")]
    WorkflowNotFound { namespace: String, name: String, version: String },
    #[error("stored run {run_id} is unreadable: {message}")]
    CorruptRun { run_id: String, message: String },
}

/// How a run ended, or where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: String,
    pub status: RunStatus,
    pub output: Option<Value>,
    pub error: Option<WorkflowError>,
}

/// Receives a run's lifecycle events as they are committed (the CLI's progress display).
pub type Observer = Arc<dyn Fn(&str, &HistoryEvent) + Send + Sync>;

/// Runs workflows durably. Cheap to clone.
#[derive(Clone)]
pub struct Engine<S: Store + Clone> {
    store: S,
    registry: Registry,
    http: HttpExecutor,
    secrets: Arc<Value>,
    observer: Option<Observer>,
}

/// Current time, unix ms: the only clock the engine reads.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl<S: Store + Clone> Engine<S> {
    pub fn new(store: S, config: EngineConfig) -> Engine<S> {
        Engine {
            store,
            registry: Registry::default(),
            http: HttpExecutor::new(config.egress, config.rewrites),
            secrets: Arc::new(config.secrets),
            observer: None,
        }
    }

    /// Calls `observer` with every committed lifecycle event of every run.
    pub fn with_observer(mut self, observer: Observer) -> Engine<S> {
        self.observer = Some(observer);
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Checks, compiles and stores a definition. Deploying the same text again is a no-op;
    /// different text under the same namespace/name/version is a `Conflict`.
    pub async fn deploy(&self, text: &str) -> Result<Arc<CompiledWorkflow>, EngineError> {
        self.registry.deploy(&self.store, text).await
    }

    /// Creates a run (status `pending`) and returns its id; `run_id` defaults to a new UUIDv7.
    pub async fn create_run(
        &self,
        workflow: &CompiledWorkflow,
        input: Value,
        run_id: Option<String>,
    ) -> Result<String, EngineError> {
        let run_id = run_id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        self.create_run_with_parent(workflow, input, run_id.clone(), None).await?;
        Ok(run_id)
    }

    async fn create_run_with_parent(
        &self,
        workflow: &CompiledWorkflow,
        input: Value,
        run_id: String,
        parent: Option<baton_store::ParentLink>,
    ) -> Result<(), EngineError> {
        let now = now_ms();
        let state = baton_core::new_run(run_id.clone(), input.clone(), now);
        let record = baton_store::NewRun {
            id: run_id,
            workspace: DEFAULT_WORKSPACE.into(),
            namespace: workflow.namespace().into(),
            name: workflow.name().into(),
            version: workflow.version().into(),
            status: RunStatus::Pending.as_str().into(),
            input,
            state: serde_json::to_value(&state).unwrap_or(Value::Null),
            parent,
            created_at: now,
        };
        self.store.create_run(record, Vec::new()).await?;
        Ok(())
    }

    /// Drives a run until it completes, faults or is cancelled: starts it when pending,
    /// resumes it from its last checkpoint otherwise (re-issuing effects in flight and timers).
    pub async fn drive(&self, run_id: &str) -> Result<RunOutcome, EngineError> {
        driver::drive(self, run_id, 0).await
    }

    /// The outcome as stored, without driving the run.
    pub async fn outcome(&self, run_id: &str) -> Result<RunOutcome, EngineError> {
        let record = self.store.get_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        Ok(driver::outcome_of(&record))
    }
}
