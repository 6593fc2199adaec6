//! The actor of one run: applies inputs in order with [`baton_core::step`], commits each step,
//! then acts on its commands. It exists only while the run has work in flight: a run waiting
//! on a timer, a child run or a signal has no actor; the next input starts one again.
//!
//! With several nodes (`cluster.rs`), an actor first makes sure its node owns the run: it
//! claims a run whose owner is dead, and passes the inputs of a run another live node owns on
//! to that node through the store. A checkpoint refused by the fencing check (another node took
//! the run over) ends the actor the same way.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use baton_core::effects::Effect;
use baton_core::error::WorkflowError;
use baton_core::state::{Command, RunState, StepInput, StepOutput};
use baton_core::{StepContext, in_flight, new_run, step};
use baton_model::error_types::StandardError;
use baton_store::{
    Checkpoint, ConflictKind, NewHistoryEntry, OwnerEpoch, ParentLink, RunStatus as StoreStatus, Store, StoreError,
    WorkspaceId,
};

use crate::clock::now_ms;
use crate::engine::effects::{child_result, perform_call, start_subflow};
use crate::engine::events::{stored_event, subscription_record};
use crate::engine::inbox_gate;
use crate::engine::recovery::retry_transient;
use crate::engine::status::to_store;
use crate::engine::stepping::StepFailed;
use crate::engine::{Delivery, Deployed, Engine, EngineError, RunUpdate};
use crate::secrets::{VaultError, open_state, run_secrets, seal_state};

/// A run loaded into memory, with the channel its inputs arrive on.
struct Actor<S: Store + Clone> {
    engine: Engine<S>,
    deployed: Arc<Deployed>,
    state: RunState,
    version: i64,
    /// The run's `owner_epoch` this actor writes under (the fencing token).
    epoch: OwnerEpoch,
    last_seq: i64,
    parent: Option<ParentLink>,
    /// The run's workspace, whose secrets its steps read.
    workspace: WorkspaceId,
    mailbox: mpsc::UnboundedReceiver<Delivery>,
}

/// Where a run is driven.
enum Loaded<S: Store + Clone> {
    Here(Box<Actor<S>>),
    /// Another live node owns the run: its inputs go there.
    Elsewhere(mpsc::UnboundedReceiver<Delivery>),
}

/// Runs the actor of `run_id` until it has nothing in flight; logs instead of failing.
pub(super) async fn run_actor<S: Store + Clone>(
    engine: Engine<S>,
    run_id: String,
    mailbox: mpsc::UnboundedReceiver<Delivery>,
) {
    match Actor::load(engine.clone(), &run_id, mailbox).await {
        Ok(Loaded::Here(actor)) => {
            if let Err(err) = actor.run().await {
                tracing::error!(run_id = %run_id, error = %err, "run actor stopped");
            }
        }
        Ok(Loaded::Elsewhere(mut mailbox)) => pass_on(&engine, &run_id, &mut mailbox, None).await,
        Err(err) => tracing::error!(run_id = %run_id, error = %err, "cannot load run"),
    }
    engine.forget_stopped_actor(&run_id);
}

/// Sends the inputs of a run this node does not own (any more) to its owner through the store,
/// then retires the mailbox. Inputs that came from the store stay there for the owner.
async fn pass_on<S: Store + Clone>(
    engine: &Engine<S>,
    run_id: &str,
    mailbox: &mut mpsc::UnboundedReceiver<Delivery>,
    mut first: Option<StepInput>,
) {
    loop {
        let delivery = match first.take() {
            Some(input) => Delivery { input, stored_id: None },
            None => match mailbox.try_recv() {
                Ok(delivery) => delivery,
                Err(_) => match engine.retire_actor(run_id, Some(mailbox)) {
                    Some(delivery) => delivery,
                    None => return,
                },
            },
        };
        if delivery.stored_id.is_some() {
            continue;
        }
        if let Err(err) = engine.forward(run_id, &delivery.input).await {
            tracing::error!(run_id, error = %err, "cannot pass an input on to the run's owner");
        }
    }
}

impl<S: Store + Clone> Actor<S> {
    async fn load(
        engine: Engine<S>,
        run_id: &str,
        mailbox: mpsc::UnboundedReceiver<Delivery>,
    ) -> Result<Loaded<S>, EngineError> {
        let store = &engine.inner.store;
        let load =
            || async { store.load_run(run_id).await?.ok_or_else(|| StoreError::NotFound(format!("run {run_id}"))) };
        let mut record = match retry_transient("load a run", load).await {
            Ok(record) => record,
            Err(StoreError::NotFound(_)) => return Err(EngineError::RunNotFound(run_id.into())),
            Err(err) => return Err(err.into()),
        };
        if let Some(node) = engine.node_id()
            && record.owner.as_deref() != Some(node)
            && !record.status.is_terminal()
        {
            let claimed = retry_transient("claim a run", || store.claim_run(run_id, node, now_ms())).await?;
            if claimed.is_none() {
                return Ok(Loaded::Elsewhere(mailbox));
            }
            // Taken from a dead node: read what it committed last, take up its timers and the
            // inputs stored for it.
            engine.resumed_from_crash(run_id);
            record = retry_transient("load a run", load).await?;
            engine.adopt_timers(run_id).await?;
            engine.wake_input_intake();
            tracing::info!(run_id, epoch = %record.owner_epoch, "claimed a run from a node that is gone");
            if record.status == StoreStatus::Pending {
                // Its node never started it: start it here (within the workflow's limit).
                engine.start(run_id).await?;
            }
        }
        let deployed = engine
            .inner
            .registry
            .get(store, &record.workspace, &record.namespace, &record.name, &record.version)
            .await?;
        let state = open_run_state(&engine, run_id, record.state)?;
        Ok(Loaded::Here(Box::new(Actor {
            engine,
            deployed,
            state,
            version: record.state_version,
            epoch: record.owner_epoch,
            last_seq: record.last_seq,
            parent: record.parent,
            workspace: record.workspace,
            mailbox,
        })))
    }

    /// Whether nothing in flight needs this actor: calls have results to wait for, while timers
    /// fire through the timer service and children report through the engine.
    fn idle(&self) -> bool {
        self.state.pending.is_empty()
            && self.state.effects.values().all(|pending| matches!(pending.effect, Effect::Subflow { .. }))
    }

    /// What a fresh actor does first: it owns whatever the store says is in flight, so calls
    /// started by a process that died are issued again (same idempotency keys) and timers are
    /// registered again; events may have arrived while no node held the run (a crash between
    /// storing an event and delivering it), so the retained ones are offered again.
    async fn take_up(&mut self) {
        if self.state.status.is_terminal() {
            return;
        }
        self.act(in_flight(&self.state)).await;
        for (subscription_id, active) in self.state.subscriptions.clone() {
            let run_id = self.state.run_id.clone();
            if let Err(err) =
                self.engine.offer_retained(&self.workspace, &run_id, &subscription_id, &active.subscription).await
            {
                tracing::error!(run_id = %run_id, error = %err, "cannot offer retained events");
            }
        }
    }

    /// Reads the run again after a fenced commit, when this node owns it again (it lost the run
    /// while paused and claimed it back): the actor goes on from the stored state.
    async fn reload_if_owned(&mut self) -> Result<bool, EngineError> {
        let store = &self.engine.inner.store;
        let run_id = self.state.run_id.clone();
        let Some(record) = retry_transient("load a run", || store.load_run(&run_id)).await? else { return Ok(false) };
        if record.owner.as_deref() != self.engine.node_id() {
            return Ok(false);
        }
        self.engine.adopt_timers(&run_id).await?;
        self.state = open_run_state(&self.engine, &run_id, record.state)?;
        self.version = record.state_version;
        self.epoch = record.owner_epoch;
        self.last_seq = record.last_seq;
        self.take_up().await;
        Ok(true)
    }

    async fn run(mut self) -> Result<(), EngineError> {
        self.take_up().await;
        loop {
            let delivery = match self.mailbox.try_recv() {
                Ok(delivery) => delivery,
                Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) if self.idle() || self.state.status.is_terminal() => {
                    let run_id = self.state.run_id.clone();
                    match self.engine.retire_actor(&run_id, Some(&mut self.mailbox)) {
                        Some(delivery) => delivery,
                        None => return Ok(()),
                    }
                }
                Err(TryRecvError::Empty) => match self.mailbox.recv().await {
                    Some(delivery) => delivery,
                    None => return Ok(()),
                },
            };
            // Inputs nothing else would bring again are kept, should the step be refused
            // because another node took the run over: they go to that node then.
            let clustered = self.engine.node_id().is_some();
            let kept = (clustered && delivery.stored_id.is_none() && !recoverable(&delivery.input))
                .then(|| delivery.input.clone());
            match self.apply(delivery).await {
                Err(EngineError::Store(StoreError::Conflict(
                    kind @ (ConflictKind::Fenced { .. } | ConflictKind::StaleVersion { .. }),
                ))) if clustered => {
                    let run_id = self.state.run_id.clone();
                    if self.reload_if_owned().await? {
                        tracing::warn!(run_id = %run_id, %kind, "the run changed owner and came back; going on");
                        if let Some(input) = kept {
                            self.apply(Delivery { input, stored_id: None }).await?;
                        }
                        continue;
                    }
                    tracing::warn!(run_id = %run_id, %kind, "another node took the run over; stopping here");
                    pass_on(&self.engine, &run_id, &mut self.mailbox, kept).await;
                    return Ok(());
                }
                applied => applied?,
            }
        }
    }

    async fn apply(&mut self, delivery: Delivery) -> Result<(), EngineError> {
        let Delivery { input, stored_id } = delivery;
        if self.state.status.is_terminal() {
            return Ok(());
        }
        let engine = self.engine.clone();
        let _permit = engine.inner.executor.acquire().await.ok();
        let fired = match &input {
            StepInput::TimerFired { timer_id } => Some(timer_id.clone()),
            _ => None,
        };
        let answer = inbox_gate::pending_answer(&self.state, &input);
        let mut output = self.compute(input).await?;
        inbox_gate::record_answer(answer, &mut output, now_ms());
        self.commit(&output, fired, stored_id).await?;
        self.act(output.commands).await;
        if self.state.status.is_terminal() {
            self.engine.release(&self.deployed);
            // With several nodes the parent's input went to the store with the step (it reaches
            // the parent's owner, wherever it runs, even if this node dies now).
            if self.engine.node_id().is_none()
                && let Some((parent_id, input)) = self.report_to_parent()
            {
                self.engine.deliver(&parent_id, input);
            }
        }
        Ok(())
    }

    /// The step of `input`, or a fault of the run: when the crash-loop quarantine holds it
    /// (`quarantine.rs`) or the interpreter panicked.
    async fn compute(&mut self, input: StepInput) -> Result<StepOutput, EngineError> {
        let engine = self.engine.clone();
        if let Some(error) = engine.crash_loop(&self.state.run_id, self.version).await? {
            return Ok(self.fault(error));
        }
        let secrets = self.step_secrets().await?;
        // The step computes on the blocking pool (`stepping.rs`): it takes the state and gives
        // it back with the output; meanwhile a placeholder with the run's id stands in.
        let now = now_ms();
        let max_value_bytes = engine.inner.max_value_bytes;
        let deployed = self.deployed.clone();
        let placeholder = new_run(self.state.run_id.clone(), Value::Null, now);
        let mut state = std::mem::replace(&mut self.state, placeholder);
        let job = move || {
            let context = StepContext { now, secrets: &secrets, max_value_bytes };
            let output = step(&deployed.workflow, &mut state, input, &context);
            (state, output)
        };
        match engine.inner.steps.run(job).await {
            Ok((state, output)) => {
                self.state = state;
                Ok(output)
            }
            Err(StepFailed::ShuttingDown) => Err(EngineError::ShuttingDown),
            Err(StepFailed::Panicked) => {
                // A bug in the interpreter must not take the node down: fault this run only.
                // The state went with the step: go back to the last committed one.
                let run_id = self.state.run_id.clone();
                tracing::error!(run_id = %run_id, "interpreter panicked; faulting the run");
                let record =
                    engine.inner.store.load_run(&run_id).await?.ok_or(EngineError::RunNotFound(run_id.clone()))?;
                self.state = open_run_state(&engine, &run_id, record.state)?;
                Ok(self.fault(WorkflowError::standard(StandardError::Runtime, "internal error in the interpreter")))
            }
        }
    }

    /// Faults the run (from its last committed state) with `error`, outside the interpreter.
    fn fault(&mut self, error: WorkflowError) -> StepOutput {
        self.state.status = baton_core::state::RunStatus::Faulted;
        self.state.error = Some(error.clone());
        StepOutput { commands: vec![Command::Fault { error }], history: Vec::new() }
    }

    /// Persists the step: state, history, timers and emitted events in one transaction, then
    /// tells subscribers. While the database is unreachable it tries again, with backoff.
    async fn commit(
        &mut self,
        output: &StepOutput,
        fired_timer: Option<String>,
        stored_input: Option<i64>,
    ) -> Result<(), EngineError> {
        let store = &self.engine.inner.store;
        let checkpoint = self.checkpoint(output, fired_timer, stored_input)?;
        let attempt = || store.commit(checkpoint.clone());
        self.version = match retry_transient("commit a step", attempt).await {
            Ok(version) => version,
            // A commit that was applied but whose answer was lost (the connection broke)
            // comes back as a stale version when tried again (the epoch check passed, so the
            // run is still this actor's): under this epoch nobody else writes the run, so one
            // version more is this very commit.
            Err(StoreError::Conflict(ConflictKind::StaleVersion { stored, .. })) if stored == self.version + 1 => {
                tracing::debug!(run_id = %self.state.run_id, "a retried commit had been applied");
                stored
            }
            Err(err) => return Err(err.into()),
        };
        let first_seq = self.last_seq + 1;
        self.last_seq += output.history.len() as i64;
        let state = &self.state;
        let update = RunUpdate {
            run_id: state.run_id.clone(),
            workspace: self.workspace.clone(),
            status: state.status,
            history: (first_seq..).zip(output.history.iter().cloned()).collect(),
            output: state.output.clone(),
            error: state.error.clone(),
        };
        self.engine.publish(update);
        Ok(())
    }

    /// The checkpoint of a step: the run's new state and everything the step's commands write.
    fn checkpoint(
        &self,
        output: &StepOutput,
        fired_timer: Option<String>,
        stored_input: Option<i64>,
    ) -> Result<Checkpoint, EngineError> {
        let now = now_ms();
        let mut timers_set = Vec::new();
        let mut timers_cleared: Vec<String> = fired_timer.into_iter().collect();
        let mut events = Vec::new();
        let mut subscriptions_set = Vec::new();
        let mut subscriptions_cleared = Vec::new();
        let mut events_consumed = Vec::new();
        let run_id = &self.state.run_id;
        let approval_deadline_ms = self.engine.inner.approval_deadline_ms;
        for command in &output.commands {
            match command {
                Command::StartTimer { timer_id, due_at } => timers_set.push((timer_id.clone(), *due_at)),
                Command::CancelTimer { timer_id } => timers_cleared.push(timer_id.clone()),
                Command::EmitEvent { event } => events.push(stored_event(event, now)),
                Command::Subscribe { subscription_id, subscription } => subscriptions_set.push(subscription_record(
                    &self.workspace,
                    run_id,
                    subscription_id,
                    subscription,
                    approval_deadline_ms,
                )),
                Command::Unsubscribe { subscription_id } => subscriptions_cleared.push(subscription_id.clone()),
                Command::EventConsumed { source, id } => events_consumed.push((source.clone(), id.clone())),
                _ => {}
            }
        }
        let state = &self.state;
        let history: Vec<NewHistoryEntry> = output
            .history
            .iter()
            .map(|event| NewHistoryEntry {
                at: event.at,
                kind: event.kind.clone(),
                task: event.task.clone(),
                data: event.data.clone(),
            })
            .collect();
        let stored_state = serde_json::to_value(state).expect("a RunState serializes: every map in it has string keys");
        Ok(Checkpoint {
            run_id: state.run_id.clone(),
            expected_version: self.version,
            expected_epoch: self.epoch,
            status: to_store(state.status),
            state: seal_state(&self.engine.inner.secret_key, &state.run_id, stored_state)?,
            output: state.output.clone(),
            error: state.error.as_ref().map(WorkflowError::to_value),
            history,
            timers_set,
            timers_cleared,
            events,
            subscriptions_set,
            subscriptions_cleared,
            events_consumed,
            inputs_consumed: stored_input.into_iter().collect(),
            inputs_sent: (self.engine.node_id().is_some())
                .then(|| self.report_to_parent())
                .flatten()
                .map(|(parent_id, input)| {
                    (parent_id, serde_json::to_value(input).expect("a StepInput serializes: its maps have string keys"))
                })
                .into_iter()
                .collect(),
            updated_at: now,
        })
    }

    /// `$secrets` for one step: the secrets the workflow declares, from the run's workspace
    /// (or the process's `--secret` values), decrypted for this step only.
    async fn step_secrets(&self) -> Result<Value, EngineError> {
        let declared = match &self.deployed.workflow.workflow.use_ {
            Some(uses) if !uses.secrets.is_empty() => &uses.secrets,
            _ => return Ok(Value::Object(Default::default())),
        };
        let inner = &self.engine.inner;
        let read = || async {
            match run_secrets(&inner.store, &inner.secret_key, &self.workspace, declared, &inner.secrets).await {
                Err(VaultError::Store(err)) => Err(err),
                other => Ok(other),
            }
        };
        Ok(retry_transient("read a run's secrets", read).await??)
    }

    /// A child run that ended: the parent's input that reports it.
    fn report_to_parent(&self) -> Option<(String, StepInput)> {
        let parent = self.parent.as_ref().filter(|_| self.state.status.is_terminal())?;
        let result = child_result(self.state.status, self.state.output.clone(), self.state.error.clone());
        Some((parent.run_id.clone(), StepInput::EffectCompleted { effect_id: parent.effect_id.clone(), result }))
    }

    /// Performs committed commands; results come back through the mailbox.
    async fn act(&mut self, commands: Vec<Command>) {
        let run_id = self.state.run_id.clone();
        for command in commands {
            match command {
                Command::Perform { effect_id, idempotency_key, effect: effect @ Effect::Subflow { .. } } => {
                    if let Err(err) = start_subflow(&self.engine, &run_id, &effect_id, effect, &idempotency_key).await {
                        tracing::error!(run_id = %run_id, error = %err, "cannot start subflow");
                    }
                }
                Command::Perform { effect_id, idempotency_key, effect } => {
                    let engine = self.engine.clone();
                    let run_id = run_id.clone();
                    tokio::spawn(async move {
                        let result = perform_call(&engine, &effect, &idempotency_key).await;
                        engine.deliver(&run_id, StepInput::EffectCompleted { effect_id, result });
                    });
                }
                Command::StartTimer { timer_id, due_at } => {
                    self.engine.inner.timers.schedule(&run_id, &timer_id, due_at)
                }
                Command::CancelTimer { timer_id } => self.engine.inner.timers.cancel(&run_id, &timer_id),
                // Event subscriptions (`listen`) are not wired into the engine yet.
                Command::Subscribe { subscription_id, subscription } => {
                    if let Err(err) =
                        self.engine.offer_retained(&self.workspace, &run_id, &subscription_id, &subscription).await
                    {
                        tracing::error!(run_id = %run_id, error = %err, "cannot offer retained events");
                    }
                }
                Command::EmitEvent { event } => {
                    if let Err(err) = self.engine.route_event(&self.workspace, &event).await {
                        tracing::error!(run_id = %run_id, error = %err, "cannot route an emitted event");
                    }
                }
                // Behind the inputs already queued, so a cancel or suspend applies between chunks.
                Command::Continue => self.engine.deliver(&run_id, StepInput::Continue),
                Command::Unsubscribe { .. }
                | Command::EventConsumed { .. }
                | Command::Complete { .. }
                | Command::Fault { .. }
                | Command::Cancelled => {}
            }
        }
    }
}

/// A stored run state as the interpreter reads it: its requests in flight opened.
fn open_run_state<S: Store + Clone>(engine: &Engine<S>, run_id: &str, state: Value) -> Result<RunState, EngineError> {
    let state = open_state(&engine.inner.secret_key, run_id, state)?;
    serde_json::from_value(state)
        .map_err(|err| EngineError::CorruptRun { run_id: run_id.into(), message: err.to_string() })
}

/// Whether an input comes back by itself after a crash or a takeover: a call's result (the new
/// owner issues the call again), a timer (the new owner takes up the run's timers) or a
/// `Continue` (the pending work is in the stored state, and `in_flight` asks for it again).
fn recoverable(input: &StepInput) -> bool {
    matches!(
        input,
        StepInput::EffectCompleted { .. } | StepInput::TimerFired { .. } | StepInput::Start | StepInput::Continue
    )
}
