//! The actor of one run: applies inputs in order with [`baton_core::step`], commits each step,
//! then acts on its commands. It exists only while the run has work in flight: a run waiting
//! on a timer, a child run or a signal has no actor; the next input starts one again.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use baton_core::effects::Effect;
use baton_core::error::WorkflowError;
use baton_core::state::{Command, RunState, StepInput, StepOutput};
use baton_core::{StepContext, in_flight, step};
use baton_model::error_types::StandardError;
use baton_store::{Checkpoint, NewHistoryEntry, ParentLink, Store};

use crate::engine::effects::{child_result, perform_call, start_subflow};
use crate::engine::events::{stored_event, subscription_record};
use crate::engine::{Deployed, Engine, EngineError, RunUpdate, now_ms};

/// A run loaded into memory, with the channel its inputs arrive on.
struct Actor<S: Store + Clone> {
    engine: Engine<S>,
    deployed: Arc<Deployed>,
    state: RunState,
    version: i64,
    last_seq: i64,
    parent: Option<ParentLink>,
    mailbox: mpsc::UnboundedReceiver<StepInput>,
}

/// Runs the actor of `run_id` until it has nothing in flight; logs instead of failing.
pub(super) async fn run_actor<S: Store + Clone>(
    engine: Engine<S>,
    run_id: String,
    mailbox: mpsc::UnboundedReceiver<StepInput>,
) {
    match Actor::load(engine.clone(), &run_id, mailbox).await {
        Ok(actor) => {
            if let Err(err) = actor.run().await {
                tracing::error!(run_id = %run_id, error = %err, "run actor stopped");
            }
        }
        Err(err) => tracing::error!(run_id = %run_id, error = %err, "cannot load run"),
    }
    engine.retire_actor(&run_id, None);
}

impl<S: Store + Clone> Actor<S> {
    async fn load(
        engine: Engine<S>,
        run_id: &str,
        mailbox: mpsc::UnboundedReceiver<StepInput>,
    ) -> Result<Actor<S>, EngineError> {
        let store = &engine.inner.store;
        let record = store.get_run(run_id).await?.ok_or_else(|| EngineError::RunNotFound(run_id.into()))?;
        let deployed = engine.inner.registry.get(store, &record.namespace, &record.name, &record.version).await?;
        let state: RunState = serde_json::from_value(record.state)
            .map_err(|err| EngineError::CorruptRun { run_id: run_id.into(), message: err.to_string() })?;
        Ok(Actor {
            engine,
            deployed,
            state,
            version: record.state_version,
            last_seq: record.last_seq,
            parent: record.parent,
            mailbox,
        })
    }

    /// Whether nothing in flight needs this actor: calls have results to wait for, while timers
    /// fire through the timer service and children report through the engine.
    fn idle(&self) -> bool {
        self.state.effects.values().all(|pending| matches!(pending.effect, Effect::Subflow { .. }))
    }

    async fn run(mut self) -> Result<(), EngineError> {
        // A fresh actor owns whatever the store says is in flight: calls started by a process
        // that died are issued again (same idempotency keys), timers are registered again.
        if !self.state.status.is_terminal() {
            self.act(in_flight(&self.state)).await;
            // Events may have arrived while no node held this run (a crash between storing an
            // event and delivering it): offer the retained ones again.
            for (subscription_id, active) in self.state.subscriptions.clone() {
                let run_id = self.state.run_id.clone();
                if let Err(err) = self.engine.offer_retained(&run_id, &subscription_id, &active.subscription).await {
                    tracing::error!(run_id = %run_id, error = %err, "cannot offer retained events");
                }
            }
        }
        loop {
            let input = match self.mailbox.try_recv() {
                Ok(input) => input,
                Err(TryRecvError::Disconnected) => return Ok(()),
                Err(TryRecvError::Empty) if self.idle() || self.state.status.is_terminal() => {
                    let run_id = self.state.run_id.clone();
                    match self.engine.retire_actor(&run_id, Some(&mut self.mailbox)) {
                        Some(input) => input,
                        None => return Ok(()),
                    }
                }
                Err(TryRecvError::Empty) => match self.mailbox.recv().await {
                    Some(input) => input,
                    None => return Ok(()),
                },
            };
            self.apply(input).await?;
        }
    }

    async fn apply(&mut self, input: StepInput) -> Result<(), EngineError> {
        if self.state.status.is_terminal() {
            return Ok(());
        }
        let engine = self.engine.clone();
        let _permit = engine.inner.executor.acquire().await.ok();
        let fired = match &input {
            StepInput::TimerFired { timer_id } => Some(timer_id.clone()),
            _ => None,
        };
        let context = StepContext { now: now_ms(), secrets: &engine.inner.secrets };
        let stepped = std::panic::catch_unwind(AssertUnwindSafe(|| {
            step(&self.deployed.workflow, &mut self.state, input, &context)
        }));
        let output = match stepped {
            Ok(output) => output,
            Err(_) => {
                // A bug in the interpreter must not take the node down: fault this run only.
                // The state may be half-changed: go back to the last committed one.
                tracing::error!(run_id = %self.state.run_id, "interpreter panicked; faulting the run");
                let run_id = self.state.run_id.clone();
                let record =
                    engine.inner.store.get_run(&run_id).await?.ok_or(EngineError::RunNotFound(run_id.clone()))?;
                self.state = serde_json::from_value(record.state)
                    .map_err(|err| EngineError::CorruptRun { run_id, message: err.to_string() })?;
                let error = WorkflowError::standard(StandardError::Runtime, "internal error in the interpreter");
                self.state.status = baton_core::state::RunStatus::Faulted;
                self.state.error = Some(error.clone());
                StepOutput { commands: vec![Command::Fault { error }], history: Vec::new() }
            }
        };
        self.commit(&output, fired).await?;
        self.act(output.commands).await;
        if self.state.status.is_terminal() {
            self.engine.release(&self.deployed);
            if let Some(parent) = &self.parent {
                let result = child_result(self.state.status, self.state.output.clone(), self.state.error.clone());
                let effect_id = parent.effect_id.clone();
                self.engine.deliver(&parent.run_id, StepInput::EffectCompleted { effect_id, result });
            }
        }
        Ok(())
    }

    /// Persists the step: state, history, timers and emitted events in one transaction, then
    /// tells subscribers.
    async fn commit(&mut self, output: &StepOutput, fired_timer: Option<String>) -> Result<(), EngineError> {
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
        let checkpoint = Checkpoint {
            run_id: state.run_id.clone(),
            expected_version: self.version,
            status: state.status.as_str().into(),
            state: serde_json::to_value(state).unwrap_or(Value::Null),
            output: state.output.clone(),
            error: state.error.as_ref().map(WorkflowError::to_value),
            history,
            timers_set,
            timers_cleared,
            events,
            subscriptions_set,
            subscriptions_cleared,
            events_consumed,
            updated_at: now,
        };
        self.version = self.engine.inner.store.commit(checkpoint).await?;
        let first_seq = self.last_seq + 1;
        self.last_seq += output.history.len() as i64;
        let update = RunUpdate {
            run_id: state.run_id.clone(),
            status: state.status,
            history: (first_seq..).zip(output.history.iter().cloned()).collect(),
            output: state.output.clone(),
            error: state.error.clone(),
        };
        self.engine.publish(update);
        Ok(())
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
                    if let Err(err) = self.engine.offer_retained(&run_id, &subscription_id, &subscription).await {
                        tracing::error!(run_id = %run_id, error = %err, "cannot offer retained events");
                    }
                }
                Command::EmitEvent { event } => {
                    if let Err(err) = self.engine.route_event(&event).await {
                        tracing::error!(run_id = %run_id, error = %err, "cannot route an emitted event");
                    }
                }
                Command::Unsubscribe { .. }
                | Command::EventConsumed { .. }
                | Command::Complete { .. }
                | Command::Fault { .. }
                | Command::Cancelled => {}
            }
        }
    }
}
