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
mod effects;
mod events;
pub mod inbox_gate;
mod registry;
mod schedules;
mod sweeper;
mod timers;
mod watchers;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};

use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, mpsc};

use baton_core::compile::CompiledWorkflow;
use baton_core::definition::DefinitionError;
use baton_core::error::WorkflowError;
use baton_core::state::{HistoryEvent, RunStatus, StepInput};
use baton_store::{ParentLink, PutOutcome, Store, StoreError};

use crate::egress::EgressPolicy;
use crate::http_client::HttpExecutor;

pub use cluster::ClusterConfig;
pub use registry::{Deployed, Registry, WorkflowKey};
pub use sweeper::{SweepReport, SweepTotals};

/// Workspace used until authentication arrives.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Deepest chain of `run: workflow` subflows before a run faults (catches cyclic subflows).
pub const MAX_SUBFLOW_DEPTH: usize = 32;

/// Runs stepped at the same time on one node (the bounded executor); further runs queue.
pub const DEFAULT_MAX_ACTIVE_STEPS: usize = 256;

/// Most timers loaded into memory when a node starts.
const MAX_TIMERS_LOADED: u32 = 1_000_000;

/// How the engine reaches the outside world.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// `$secrets`: an object of secret name → value. Never stored, never logged.
    pub secrets: Value,
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
    /// A CloudEvent that is not valid: every problem, e.g. `id: required`.
    #[error("invalid CloudEvent: {}", .0.join("; "))]
    InvalidEvent(Vec<String>),
    /// A signal the run's status does not allow (e.g. resuming a completed run).
    #[error("run {run_id} is {status}: cannot {signal} it")]
    SignalRefused { run_id: String, status: &'static str, signal: &'static str },
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
    pub workspace: String,
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
struct Delivery {
    input: StepInput,
    /// The input's id in the store when it came from [`Store::put_run_input`] (another node
    /// passed it on): the checkpoint that applies it deletes it.
    stored_id: Option<i64>,
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
    event_retention_ms: i64,
    approval_deadline_ms: i64,
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
    /// The sweeper's single-flight lock and its totals.
    sweeping: sweeper::Sweeping,
    schedules: schedules::Scheduler,
}

/// Current time, unix ms: the only clock the engine reads.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
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
                event_retention_ms: config.event_retention_ms,
                approval_deadline_ms: config.approval_deadline_ms,
                observer,
                actors: Mutex::new(HashMap::new()),
                cluster: config.cluster.map(cluster::ClusterState::new),
                timers: timers::TimerService::default(),
                admission: admission::Admission::default(),
                watchers: watchers::Watchers::default(),
                updates,
                executor: Semaphore::new(DEFAULT_MAX_ACTIVE_STEPS),
                sweeping: sweeper::Sweeping::default(),
                schedules: schedules::Scheduler::default(),
            }),
        };
        tokio::spawn(fire_timers(Arc::downgrade(&engine.inner)));
        engine
    }

    /// This node's id when several nodes share the database.
    pub fn node_id(&self) -> Option<&str> {
        self.inner.cluster.as_ref().map(|cluster| cluster.node_id.as_str())
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

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
        let deployed = self.inner.registry.deploy(&self.inner.store, text, max_concurrency).await?;
        self.register_schedule(&deployed.0.workflow).await?;
        Ok(deployed)
    }

    /// The deployed workflow with this identity; `version` may be `latest`.
    pub async fn workflow(&self, namespace: &str, name: &str, version: &str) -> Result<Arc<Deployed>, EngineError> {
        self.inner.registry.get(&self.inner.store, namespace, name, version).await
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
        self.create_run_with_parent(workflow, input, run_id.clone(), None).await?;
        Ok(run_id)
    }

    /// Like [`Engine::create_run`] with a new id, the run's metadata set to `metadata`
    /// ([`baton_core::state::RunState::metadata`]).
    pub async fn create_run_with_metadata(
        &self,
        workflow: &CompiledWorkflow,
        input: Value,
        metadata: serde_json::Map<String, Value>,
    ) -> Result<String, EngineError> {
        let run_id = uuid::Uuid::now_v7().to_string();
        self.insert_run(workflow, input, metadata, run_id.clone(), None, None).await?;
        Ok(run_id)
    }

    /// Creates a run (status `pending`, not started, with `metadata`) unless a run with
    /// `idempotency_key` exists in the workspace. Returns the run's id and whether this call
    /// created it. Concurrent calls with one key create one run: the store's unique index
    /// decides, the others find it.
    pub async fn create_run_idempotent(
        &self,
        workflow: &CompiledWorkflow,
        input: Value,
        metadata: serde_json::Map<String, Value>,
        idempotency_key: &str,
    ) -> Result<(String, bool), EngineError> {
        let store = &self.inner.store;
        if let Some(existing) = store.run_by_idempotency_key(DEFAULT_WORKSPACE, idempotency_key).await? {
            return Ok((existing.id, false));
        }
        let run_id = uuid::Uuid::now_v7().to_string();
        let key = Some(idempotency_key.to_owned());
        let created = self.insert_run(workflow, input, metadata, run_id.clone(), None, key).await;
        match created {
            Ok(()) => Ok((run_id, true)),
            Err(StoreError::Conflict(message)) => {
                match store.run_by_idempotency_key(DEFAULT_WORKSPACE, idempotency_key).await? {
                    Some(existing) => Ok((existing.id, false)),
                    None => Err(StoreError::Conflict(message).into()),
                }
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn create_run_with_parent(
        &self,
        workflow: &CompiledWorkflow,
        input: Value,
        run_id: String,
        parent: Option<ParentLink>,
    ) -> Result<(), EngineError> {
        Ok(self.insert_run(workflow, input, serde_json::Map::new(), run_id, parent, None).await?)
    }

    async fn insert_run(
        &self,
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
            workspace: DEFAULT_WORKSPACE.into(),
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

    /// Hands an input to a run, starting its actor when it has none. Never blocks. (With
    /// several nodes, an actor that finds its run owned by another node passes the input on
    /// through the store.)
    pub fn deliver(&self, run_id: &str, input: StepInput) {
        self.hand_over(run_id, Delivery { input, stored_id: None });
    }

    fn hand_over(&self, run_id: &str, delivery: Delivery) {
        let mut actors = self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let delivery = match actors.get(run_id) {
            Some(mailbox) => match mailbox.send(delivery) {
                Ok(()) => return,
                // The actor is gone (it stopped on an error): start another with this input.
                Err(unsent) => unsent.0,
            },
            None => delivery,
        };
        self.spawn_actor(&mut actors, run_id, Some(delivery));
    }

    /// Starts an actor for a run that has none, so that it re-issues what it has in flight.
    fn ensure_actor(&self, run_id: &str) {
        let mut actors = self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !actors.contains_key(run_id) {
            self.spawn_actor(&mut actors, run_id, None);
        }
    }

    /// Starts the actor of `run_id` with `first` in its mailbox and registers the mailbox; the
    /// caller holds the `actors` lock.
    fn spawn_actor(
        &self,
        actors: &mut HashMap<String, mpsc::UnboundedSender<Delivery>>,
        run_id: &str,
        first: Option<Delivery>,
    ) {
        let (mailbox, received) = mpsc::unbounded_channel();
        if let Some(input) = first {
            let _ = mailbox.send(input);
        }
        actors.insert(run_id.to_owned(), mailbox);
        tokio::spawn(actor::run_actor(self.clone(), run_id.to_owned(), received));
    }

    /// Removes a run's actor. With `mailbox`, the removal happens only if nothing arrived
    /// meanwhile: an input that raced the retirement is returned for the actor to apply. The
    /// check and the removal happen under the lock [`Engine::deliver`] sends under, so no input
    /// is lost.
    fn retire_actor(&self, run_id: &str, mailbox: Option<&mut mpsc::UnboundedReceiver<Delivery>>) -> Option<Delivery> {
        let mut actors = self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(mailbox) = mailbox
            && let Ok(input) = mailbox.try_recv()
        {
            return Some(input);
        }
        actors.remove(run_id);
        None
    }

    /// Whether the run has an actor on this node now.
    fn has_actor(&self, run_id: &str) -> bool {
        self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains_key(run_id)
    }

    /// After an actor stopped: drops its mailbox entry unless a newer actor replaced it (a
    /// mailbox whose receiver is gone is closed).
    fn forget_stopped_actor(&self, run_id: &str) {
        let mut actors = self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if actors.get(run_id).is_some_and(mpsc::UnboundedSender::is_closed) {
            actors.remove(run_id);
        }
    }

    /// Adds a run's stored timers to this node's timer service (scheduling one twice is
    /// harmless).
    async fn adopt_timers(&self, run_id: &str) -> Result<(), EngineError> {
        let store = &self.inner.store;
        for timer in retry_transient("load a run's timers", || store.timers_of_run(run_id)).await? {
            self.inner.timers.schedule(&timer.run_id, &timer.timer_id, timer.due_at);
        }
        Ok(())
    }

    fn publish(&self, update: RunUpdate) {
        if let Some(observer) = &self.inner.observer {
            for (_, event) in &update.history {
                observer(&update.run_id, event);
            }
        }
        let outcome = RunOutcome {
            run_id: update.run_id.clone(),
            status: update.status,
            output: update.output.clone(),
            error: update.error.clone(),
        };
        self.inner.watchers.notify(&outcome);
        if self.inner.updates.receiver_count() > 0 {
            let _ = self.inner.updates.send(update);
        }
    }

    /// Every committed step of every run from now on. A receiver that falls behind gets
    /// `Lagged` and should re-read the store.
    pub fn subscribe(&self) -> broadcast::Receiver<RunUpdate> {
        self.inner.updates.subscribe()
    }

    /// Starts a pending run, or queues it (still `pending`) when its workflow is at its
    /// concurrency limit.
    pub async fn start(&self, run_id: &str) -> Result<(), EngineError> {
        let record = self.inner.store.get_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        let deployed = self.workflow(&record.namespace, &record.name, &record.version).await?;
        let key = (record.namespace, record.name, record.version);
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
    fn release(&self, deployed: &Deployed) {
        let Some(limit) = deployed.max_concurrency else { return };
        let key = registry::key_of(&deployed.workflow);
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
        for run_id in &unfinished {
            let Some(record) = store.get_run(run_id).await? else { continue };
            if record.status == RunStatus::Pending.as_str() {
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
    async fn resume_started(&self, record: baton_store::RunRecord) -> Result<(), EngineError> {
        let deployed = self.workflow(&record.namespace, &record.name, &record.version).await?;
        if deployed.max_concurrency.is_some() {
            self.inner.admission.occupy(&(record.namespace, record.name, record.version.clone()));
        }
        self.ensure_actor(&record.id);
        Ok(())
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

    /// What the node holds now (for metrics and tests).
    pub fn load(&self) -> EngineLoad {
        EngineLoad {
            actors: self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len(),
            timers: self.inner.timers.len(),
            queued: self.inner.admission.queued(),
        }
    }
}

/// Calls `operation` until it succeeds or fails for a reason other than an unreachable
/// database ([`StoreError::is_transient`]), waiting 50 ms, then twice as long each time, up to
/// 2 s: a database outage pauses the runs instead of failing them.
async fn retry_transient<T, F, Fut>(what: &str, mut operation: F) -> Result<T, StoreError>
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

/// Delivers due timers until the engine is dropped.
async fn fire_timers<S: Store + Clone>(inner: Weak<Inner<S>>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let engine = Engine { inner: strong };
        let next = {
            let timers = &engine.inner.timers;
            tokio::select! {
                due = timers.next_due(now_ms) => Some(due),
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => None,
            }
        };
        if let Some((run_id, timer_id)) = next {
            engine.deliver(&run_id, StepInput::TimerFired { timer_id });
        }
    }
}
