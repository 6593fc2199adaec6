//! Per-run watchers: a caller waiting for one run (a synchronous API request, `baton run`)
//! hears only that run's changes, instead of filtering every run's broadcast.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::engine::RunOutcome;

/// Watch channels of the runs somebody waits for; a channel exists only while it has receivers.
#[derive(Default)]
pub(super) struct Watchers {
    senders: Arc<Mutex<HashMap<String, watch::Sender<Option<RunOutcome>>>>>,
}

/// A subscription to one run's outcome changes; unregisters itself when dropped.
pub(super) struct Watch {
    run_id: String,
    pub(super) receiver: watch::Receiver<Option<RunOutcome>>,
    senders: Arc<Mutex<HashMap<String, watch::Sender<Option<RunOutcome>>>>>,
}

impl Watchers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Option<RunOutcome>>>> {
        self.senders.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Subscribes to `run_id`. Subscribe before reading the run's stored state, so that no
    /// change between the read and the wait is missed.
    pub(super) fn watch(&self, run_id: &str) -> Watch {
        let receiver = self.lock().entry(run_id.to_owned()).or_insert_with(|| watch::channel(None).0).subscribe();
        Watch { run_id: run_id.to_owned(), receiver, senders: self.senders.clone() }
    }

    /// Tells the run's watchers, if any, where it stands now.
    pub(super) fn notify(&self, outcome: &RunOutcome) {
        if let Some(sender) = self.lock().get(&outcome.run_id) {
            sender.send_replace(Some(outcome.clone()));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut senders = self.senders.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // This watch's receiver is still alive here: the channel goes when it was the last one.
        if senders.get(&self.run_id).is_some_and(|sender| sender.receiver_count() <= 1) {
            senders.remove(&self.run_id);
        }
    }
}
