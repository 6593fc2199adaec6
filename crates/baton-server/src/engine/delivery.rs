//! Inputs on their way to runs: each run with work in flight has one actor whose mailbox
//! [`Engine::deliver`] sends to (starting the actor when there is none), the due-timer loop,
//! and the fan-out of committed steps to watchers and subscribers.

use std::collections::HashMap;
use std::sync::Weak;

use tokio::sync::{broadcast, mpsc};

use baton_core::state::StepInput;
use baton_store::Store;

use crate::clock::now_ms;
use crate::engine::{Delivery, Engine, Inner, RunOutcome, RunUpdate, actor};

impl<S: Store + Clone> Engine<S> {
    /// Hands an input to a run, starting its actor when it has none. Never blocks. (With
    /// several nodes, an actor that finds its run owned by another node passes the input on
    /// through the store.)
    pub fn deliver(&self, run_id: &str, input: StepInput) {
        self.hand_over(run_id, Delivery { input, stored_id: None });
    }

    pub(crate) fn hand_over(&self, run_id: &str, delivery: Delivery) {
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
    pub(crate) fn ensure_actor(&self, run_id: &str) {
        let mut actors = self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !actors.contains_key(run_id) {
            self.spawn_actor(&mut actors, run_id, None);
        }
    }

    /// Starts the actor of `run_id` with `first` in its mailbox and registers the mailbox; the
    /// caller holds the `actors` lock.
    pub(crate) fn spawn_actor(
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
    pub(crate) fn retire_actor(
        &self,
        run_id: &str,
        mailbox: Option<&mut mpsc::UnboundedReceiver<Delivery>>,
    ) -> Option<Delivery> {
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
    pub(crate) fn has_actor(&self, run_id: &str) -> bool {
        self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains_key(run_id)
    }

    /// After an actor stopped: drops its mailbox entry unless a newer actor replaced it (a
    /// mailbox whose receiver is gone is closed).
    pub(crate) fn forget_stopped_actor(&self, run_id: &str) {
        let mut actors = self.inner.actors.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if actors.get(run_id).is_some_and(mpsc::UnboundedSender::is_closed) {
            actors.remove(run_id);
        }
    }

    pub(crate) fn publish(&self, update: RunUpdate) {
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
}

/// Delivers due timers until the engine is dropped.
pub(crate) async fn fire_timers<S: Store + Clone>(inner: Weak<Inner<S>>) {
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
