//! Driving one run: step, commit, then act; results come back as inputs.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use baton_core::effects::{Effect, EffectResult};
use baton_core::error::WorkflowError;
use baton_core::state::{Command, RunState, RunStatus, StepInput, StepOutput};
use baton_core::{StepContext, in_flight, step};
use baton_model::error_types::StandardError;
use baton_store::{Checkpoint, NewHistoryEntry, ParentLink, RunRecord, Store, StoreError, StoredEvent};

use crate::engine::{Engine, EngineError, MAX_SUBFLOW_DEPTH, RunOutcome, now_ms};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The outcome recorded in a stored run.
pub(super) fn outcome_of(record: &RunRecord) -> RunOutcome {
    RunOutcome {
        run_id: record.id.clone(),
        status: RunStatus::parse(&record.status).unwrap_or(RunStatus::Running),
        output: record.output.clone(),
        error: record.error.as_ref().and_then(|error| serde_json::from_value(error.clone()).ok()),
    }
}

fn outcome_of_state(state: &RunState) -> RunOutcome {
    RunOutcome { run_id: state.run_id.clone(), status: state.status, output: state.output.clone(), error: state.error.clone() }
}

/// Drives `run_id` to its end; `depth` counts enclosing subflows.
pub(super) fn drive<S: Store + Clone>(engine: &Engine<S>, run_id: &str, depth: usize) -> BoxFuture<'static, Result<RunOutcome, EngineError>> {
    let engine = engine.clone();
    let run_id = run_id.to_owned();
    Box::pin(async move { Driver::load(engine, &run_id, depth).await?.run().await })
}

struct Driver<S: Store + Clone> {
    engine: Engine<S>,
    workflow: std::sync::Arc<baton_core::compile::CompiledWorkflow>,
    state: RunState,
    version: i64,
    depth: usize,
    inputs: mpsc::UnboundedSender<StepInput>,
    received: mpsc::UnboundedReceiver<StepInput>,
    timers: HashMap<String, JoinHandle<()>>,
}

impl<S: Store + Clone> Driver<S> {
    async fn load(engine: Engine<S>, run_id: &str, depth: usize) -> Result<Driver<S>, EngineError> {
        let record = engine.store.get_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        let workflow = engine.registry.get(&engine.store, &record.namespace, &record.name, &record.version).await?;
        let state: RunState = serde_json::from_value(record.state)
            .map_err(|err| EngineError::CorruptRun { run_id: run_id.into(), message: err.to_string() })?;
        let (inputs, received) = mpsc::unbounded_channel();
        Ok(Driver { engine, workflow, state, version: record.state_version, depth, inputs, received, timers: HashMap::new() })
    }

    async fn run(mut self) -> Result<RunOutcome, EngineError> {
        let mut queued = VecDeque::new();
        match self.state.status {
            status if status.is_terminal() => return Ok(outcome_of_state(&self.state)),
            RunStatus::Pending => queued.push_back(StepInput::Start),
            _ => {
                tracing::info!(run_id = %self.state.run_id, "resuming run from its checkpoint");
                self.act(in_flight(&self.state));
            }
        }
        loop {
            if self.state.status.is_terminal() {
                break;
            }
            let input = match queued.pop_front() {
                Some(input) => input,
                None if self.state.effects.is_empty() && self.state.timers.is_empty() => {
                    // Nothing in flight can wake this run (e.g. suspended): report where it stands.
                    break;
                }
                None => match self.received.recv().await {
                    Some(input) => input,
                    None => break,
                },
            };
            let fired = match &input {
                StepInput::TimerFired { timer_id } => Some(timer_id.clone()),
                _ => None,
            };
            let secrets = self.engine.secrets.clone();
            let output = step(&self.workflow, &mut self.state, input, &StepContext { now: now_ms(), secrets: &secrets });
            self.commit(&output, fired).await?;
            self.act(output.commands);
        }
        for (_, timer) in self.timers.drain() {
            timer.abort();
        }
        Ok(outcome_of_state(&self.state))
    }

    /// Persists the step: state, history, timers and emitted events in one transaction.
    async fn commit(&mut self, output: &StepOutput, fired_timer: Option<String>) -> Result<(), EngineError> {
        let now = now_ms();
        let mut timers_set = Vec::new();
        let mut timers_cleared: Vec<String> = fired_timer.into_iter().collect();
        let mut events = Vec::new();
        for command in &output.commands {
            match command {
                Command::StartTimer { timer_id, due_at } => timers_set.push((timer_id.clone(), *due_at)),
                Command::CancelTimer { timer_id } => timers_cleared.push(timer_id.clone()),
                Command::EmitEvent { event } => events.push(stored_event(event, now)),
                _ => {}
            }
        }
        let state = &self.state;
        let checkpoint = Checkpoint {
            run_id: state.run_id.clone(),
            expected_version: self.version,
            status: state.status.as_str().into(),
            state: serde_json::to_value(state).unwrap_or(Value::Null),
            output: state.output.clone(),
            error: state.error.as_ref().map(WorkflowError::to_value),
            history: output
                .history
                .iter()
                .map(|event| NewHistoryEntry {
                    at: event.at,
                    kind: event.kind.clone(),
                    task: event.task.clone(),
                    data: event.data.clone(),
                })
                .collect(),
            timers_set,
            timers_cleared,
            events,
            updated_at: now,
        };
        self.version = self.engine.store.commit(checkpoint).await?;
        if let Some(observer) = &self.engine.observer {
            for event in &output.history {
                observer(&self.state.run_id, event);
            }
        }
        Ok(())
    }

    /// Performs committed commands; their results come back through the input channel.
    fn act(&mut self, commands: Vec<Command>) {
        for command in commands {
            match command {
                Command::Perform { effect_id, idempotency_key, effect } => {
                    let engine = self.engine.clone();
                    let inputs = self.inputs.clone();
                    let depth = self.depth;
                    tokio::spawn(async move {
                        let result = perform(&engine, effect, &idempotency_key, depth).await;
                        let _ = inputs.send(StepInput::EffectCompleted { effect_id, result });
                    });
                }
                Command::StartTimer { timer_id, due_at } => {
                    let inputs = self.inputs.clone();
                    let delay = Duration::from_millis((due_at - now_ms()).max(0) as u64);
                    let id = timer_id.clone();
                    let handle = tokio::spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = inputs.send(StepInput::TimerFired { timer_id: id });
                    });
                    self.timers.insert(timer_id, handle);
                }
                Command::CancelTimer { timer_id } => {
                    if let Some(handle) = self.timers.remove(&timer_id) {
                        handle.abort();
                    }
                }
                Command::EmitEvent { .. } | Command::Complete { .. } | Command::Fault { .. } | Command::Cancelled => {}
            }
        }
    }
}

fn stored_event(event: &Value, now: i64) -> StoredEvent {
    let text = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let time = event
        .get("time")
        .and_then(Value::as_str)
        .and_then(|time| time.parse::<jiff::Timestamp>().ok())
        .map(|time| time.as_millisecond())
        .unwrap_or(now);
    StoredEvent { id: text("id"), source: text("source"), kind: text("type"), time, event: event.clone() }
}

/// Performs one effect. Never fails: failures become [`EffectResult::Failed`].
async fn perform<S: Store + Clone>(engine: &Engine<S>, effect: Effect, idempotency_key: &str, depth: usize) -> EffectResult {
    match effect {
        Effect::Http { request } => engine.http.send(&request, idempotency_key).await,
        Effect::FetchDocument { uri, headers } => engine.http.fetch_document(&uri, &headers).await,
        Effect::Subflow { namespace, name, version, input } => {
            match run_subflow(engine, &namespace, &name, &version, input, idempotency_key, depth).await {
                Ok(result) => result,
                Err(err) => EffectResult::Failed {
                    error: WorkflowError::standard(StandardError::Runtime, "the subflow could not run").with_detail(err.to_string()),
                },
            }
        }
    }
}

/// Runs a child run for `run: workflow`. The child's id derives from the idempotency key, so
/// a repeated effect (after a crash) resumes the same child instead of starting another.
async fn run_subflow<S: Store + Clone>(
    engine: &Engine<S>,
    namespace: &str,
    name: &str,
    version: &str,
    input: Value,
    idempotency_key: &str,
    depth: usize,
) -> Result<EffectResult, EngineError> {
    if depth + 1 >= MAX_SUBFLOW_DEPTH {
        let error = WorkflowError::standard(StandardError::Runtime, "subflows are nested too deeply")
            .with_detail(format!("more than {MAX_SUBFLOW_DEPTH} levels: is a workflow calling itself?"));
        return Ok(EffectResult::Failed { error });
    }
    let workflow = match engine.registry.get(&engine.store, namespace, name, version).await {
        Ok(workflow) => workflow,
        Err(EngineError::WorkflowNotFound { .. }) => {
            let error = WorkflowError::standard(StandardError::Configuration, format!("workflow {namespace}/{name}:{version} is not known"));
            return Ok(EffectResult::Failed { error });
        }
        Err(err) => return Err(err),
    };
    let child_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, idempotency_key.as_bytes()).to_string();
    let (parent_run, effect_id) = idempotency_key.split_once(':').unwrap_or((idempotency_key, ""));
    let parent = ParentLink { run_id: parent_run.into(), effect_id: effect_id.into() };
    match engine.create_run_with_parent(&workflow, input, child_id.clone(), Some(parent)).await {
        Ok(()) | Err(EngineError::Store(StoreError::Conflict(_))) => {}
        Err(err) => return Err(err),
    }
    let outcome = drive(engine, &child_id, depth + 1).await?;
    Ok(match outcome.status {
        RunStatus::Completed => EffectResult::Output { output: outcome.output.unwrap_or(Value::Null) },
        RunStatus::Faulted => EffectResult::Failed {
            error: outcome.error.unwrap_or_else(|| WorkflowError::standard(StandardError::Runtime, "the subflow faulted")),
        },
        status => EffectResult::Failed {
            error: WorkflowError::standard(StandardError::Runtime, format!("the subflow ended {}", status.as_str())),
        },
    })
}
