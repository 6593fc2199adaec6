//! The engine: runs compiled workflows against a [`Store`], persisting each step before acting
//! on it (DESIGN.md, "Persist, then act").
//!
//! Each run with work in flight has an actor (`actor.rs`) that owns its state and applies its
//! inputs in order; effect results, timer firings, child-run results and signals reach it as
//! [`StepInput`]s through [`Engine::deliver`]. A run that only waits (a timer, a child run, a
//! suspension) has no actor: one timer service (`timers.rs`) wakes it when due.

mod actor;
mod admission;
mod cluster;
mod delivery;
mod effects;
mod events;
pub mod inbox_gate;
mod quarantine;
mod recovery;
mod registry;
mod runs;
mod schedules;
mod status;
mod stepping;
mod sweeper;
mod timers;
mod watchers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, mpsc};

use baton_core::definition::DefinitionError;
use baton_core::error::WorkflowError;
use baton_core::state::{HistoryEvent, RunStatus, StepInput};
use baton_store::{ParentLink, RunRecord, Store, StoreError, WorkspaceId};

use crate::outbound::egress::EgressPolicy;
use crate::outbound::http_client::HttpExecutor;
use crate::secrets::{SealError, SecretKey, VaultError};

pub use cluster::ClusterConfig;
pub use quarantine::QUARANTINE_AFTER_CRASHES;
pub use registry::{Deployed, Registry, WorkflowKey};
pub use stepping::MAX_STEP_THREADS;
pub use sweeper::{SweepReport, SweepTotals};

/// Workspace used until authentication arrives.
pub const DEFAULT_WORKSPACE: WorkspaceId = WorkspaceId::DEFAULT;

/// Deepest chain of `run: workflow` subflows before a run faults (catches cyclic subflows).
pub const MAX_SUBFLOW_DEPTH: usize = 32;

/// Runs stepped at the same time on one node (the bounded executor); further runs queue.
pub const DEFAULT_MAX_ACTIVE_STEPS: usize = 256;

/// How the engine reaches the outside world.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Process-wide secrets (`--secret`): an object of secret name → value, read by a
    /// workflow's declared names that its workspace's secret store does not hold. Never
    /// stored, never logged.
    pub secrets: Value,
    /// Seals workspace secrets and the requests in flight of stored run states.
    pub secret_key: SecretKey,
    pub egress: EgressPolicy,
    /// URL prefix rewrites applied to outbound requests (the conformance stand-in uses them).
    pub rewrites: Vec<(String, String)>,
    /// How long received events are kept for `listen`s that start later (ms).
    pub event_retention_ms: i64,
    /// Deadline of a human-input wait without a `timeout` of its own (ms); 0: none.
    pub approval_deadline_ms: i64,
    /// Several nodes share the database (PostgreSQL): runs belong to the node that created or
    /// claimed them. `None`: this process drives the whole database (it holds the database
    /// lease, see `lease.rs`).
    pub cluster: Option<ClusterConfig>,
    /// Largest value an expression may build, in estimated bytes of JSON (`--max-value-bytes`;
    /// [`baton_core::expr::DEFAULT_MAX_VALUE_BYTES`] by default); beyond it the run faults with
    /// a `runtime` error.
    pub max_value_bytes: usize,
}

/// Default [`EngineConfig::event_retention_ms`]: 24 hours.
pub const DEFAULT_EVENT_RETENTION_MS: i64 = 24 * 3_600_000;

/// Default [`EngineConfig::approval_deadline_ms`]: 30 minutes.
pub const DEFAULT_APPROVAL_DEADLINE_MS: i64 = 30 * 60_000;

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
    /// A run's requests in flight could not be sealed or opened (another server key?).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The workspace secrets a step reads could not be had.
    #[error(transparent)]
    Secrets(#[from] VaultError),
    /// A CloudEvent that is not valid: every problem, e.g. `id: required`.
    #[error("invalid CloudEvent: {}", .0.join("; "))]
    InvalidEvent(Vec<String>),
    /// A signal the run's status does not allow (e.g. resuming a completed run).
    #[error("run {run_id} is {status}: cannot {signal} it")]
    SignalRefused { run_id: String, status: &'static str, signal: &'static str },
    /// The runtime stopped before a step could run; the run goes on from its last checkpoint
    /// at the next start.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// The one request to create a run ([`Engine::create`]); [`CreateRun::new`] gives the
/// defaults (a new UUIDv7 id, no metadata, no parent, no idempotency key).
#[derive(Debug, Clone)]
pub struct CreateRun<'a> {
    pub workflow: &'a baton_core::compile::CompiledWorkflow,
    /// The run's input document.
    pub input: Value,
    /// The run's id; `None`: a new UUIDv7.
    pub run_id: Option<String>,
    /// [`baton_core::state::RunState::metadata`] of the new run.
    pub metadata: serde_json::Map<String, Value>,
    /// The parent run waiting for this one (`run: workflow`).
    pub parent: Option<ParentLink>,
    /// Makes creating idempotent per workspace (the API's `Idempotency-Key`).
    pub idempotency_key: Option<String>,
    /// The workspace the run belongs to (the workflow's; a child run: its parent's).
    pub workspace: WorkspaceId,
}

impl<'a> CreateRun<'a> {
    /// A run of `workflow` with `input` and the defaults.
    pub fn new(workflow: &'a baton_core::compile::CompiledWorkflow, input: Value) -> CreateRun<'a> {
        CreateRun {
            workflow,
            input,
            run_id: None,
            metadata: serde_json::Map::new(),
            parent: None,
            idempotency_key: None,
            workspace: DEFAULT_WORKSPACE,
        }
    }
}

/// What [`Engine::create`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedRun {
    /// The run as stored.
    pub record: RunRecord,
    /// `false`: an earlier run with the request's idempotency key was found instead.
    pub created: bool,
}

/// How a run ended, or where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub run_id: String,
    pub status: RunStatus,
    pub output: Option<Value>,
    pub error: Option<WorkflowError>,
}

/// What one committed step changed, as told to subscribers.
#[derive(Debug, Clone)]
pub struct RunUpdate {
    pub run_id: String,
    /// The run's workspace: streams show a caller the runs of its own workspace only.
    pub workspace: WorkspaceId,
    pub status: RunStatus,
    /// The step's lifecycle events with their history sequence numbers.
    pub history: Vec<(i64, HistoryEvent)>,
    pub output: Option<Value>,
    pub error: Option<WorkflowError>,
}

/// What a node holds in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineLoad {
    /// Runs with an actor (work in flight).
    pub actors: usize,
    /// Timers waiting to fire.
    pub timers: usize,
    /// Runs waiting `pending` behind a concurrency limit.
    pub queued: usize,
}

/// A user's request to change a run's course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Cancel,
    Suspend,
    Resume,
}

/// An input on its way to a run's actor.
pub(crate) struct Delivery {
    pub(crate) input: StepInput,
    /// The input's id in the store when it came from [`Store::put_run_input`] (another node
    /// passed it on): the checkpoint that applies it deletes it.
    pub(crate) stored_id: Option<i64>,
}

/// Receives a run's lifecycle events as they are committed (the CLI's progress display).
pub type Observer = Arc<dyn Fn(&str, &HistoryEvent) + Send + Sync>;

/// Runs workflows durably. Cheap to clone.
pub struct Engine<S: Store + Clone> {
    inner: Arc<Inner<S>>,
}

impl<S: Store + Clone> Clone for Engine<S> {
    fn clone(&self) -> Self {
        Engine { inner: self.inner.clone() }
    }
}

struct Inner<S> {
    store: S,
    registry: Registry,
    http: HttpExecutor,
    secrets: Value,
    secret_key: SecretKey,
    event_retention_ms: i64,
    approval_deadline_ms: i64,
    max_value_bytes: usize,
    observer: Option<Observer>,
    /// Mailboxes of the runs that have an actor.
    actors: Mutex<HashMap<String, mpsc::UnboundedSender<Delivery>>>,
    /// This node's part in a cluster; `None` when it drives the database alone.
    cluster: Option<cluster::ClusterState>,
    timers: timers::TimerService,
    admission: admission::Admission,
    watchers: watchers::Watchers,
    updates: broadcast::Sender<RunUpdate>,
    executor: Semaphore,
    /// Where steps compute: off the async workers, bounded.
    steps: stepping::StepPool,
    /// Runs taken up from a dead process, until their first step here (`quarantine.rs`).
    resumed: quarantine::Resumed,
    /// The sweeper's single-flight lock and its totals.
    sweeping: sweeper::Sweeping,
    schedules: schedules::Scheduler,
}

impl<S: Store + Clone> Engine<S> {
    /// An engine with its timer service running (needs a tokio runtime).
    pub fn new(store: S, config: EngineConfig) -> Engine<S> {
        Self::build(store, config, None)
    }

    /// Like [`Engine::new`], calling `observer` with every committed lifecycle event.
    pub fn with_observer(store: S, config: EngineConfig, observer: Observer) -> Engine<S> {
        Self::build(store, config, Some(observer))
    }

    fn build(store: S, config: EngineConfig, observer: Option<Observer>) -> Engine<S> {
        let (updates, _) = broadcast::channel(4096);
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                registry: Registry::default(),
                http: HttpExecutor::new(config.egress, config.rewrites),
                secrets: config.secrets,
                secret_key: config.secret_key,
                event_retention_ms: config.event_retention_ms,
                approval_deadline_ms: config.approval_deadline_ms,
                max_value_bytes: config.max_value_bytes,
                observer,
                actors: Mutex::new(HashMap::new()),
                cluster: config.cluster.map(cluster::ClusterState::new),
                timers: timers::TimerService::default(),
                admission: admission::Admission::default(),
                watchers: watchers::Watchers::default(),
                updates,
                executor: Semaphore::new(DEFAULT_MAX_ACTIVE_STEPS),
                steps: stepping::StepPool::default(),
                resumed: quarantine::Resumed::default(),
                sweeping: sweeper::Sweeping::default(),
                schedules: schedules::Scheduler::default(),
            }),
        };
        tokio::spawn(delivery::fire_timers(Arc::downgrade(&engine.inner)));
        engine
    }

    /// This node's id when several nodes share the database.
    pub fn node_id(&self) -> Option<&str> {
        self.inner.cluster.as_ref().map(|cluster| cluster.node_id.as_str())
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The key sealing secrets at rest (workspace secrets, requests in flight).
    pub fn secret_key(&self) -> &SecretKey {
        &self.inner.secret_key
    }

    /// What the node holds now (for metrics and tests).
    pub fn load(&self) -> EngineLoad {
        EngineLoad {
            actors: self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len(),
            timers: self.inner.timers.len(),
            queued: self.inner.admission.queued(),
        }
    }
}
