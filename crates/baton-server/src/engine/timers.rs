//! One timer service for every run: a heap of due times in memory, mirrored by the `timers`
//! table. A run waiting on a timer holds no task and no memory beyond its heap entry.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use baton_core::state::Millis;

type TimerKey = (String, String);

/// Due timers waiting to fire, earliest first.
#[derive(Default)]
pub(super) struct TimerService {
    heap: Mutex<Heap>,
    changed: Notify,
}

#[derive(Default)]
struct Heap {
    due: BinaryHeap<Reverse<(Millis, String, String)>>,
    /// Timers not cancelled yet; a popped entry missing here was cancelled and is skipped.
    live: HashSet<TimerKey>,
}

impl TimerService {
    fn heap(&self) -> std::sync::MutexGuard<'_, Heap> {
        self.heap.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fires `timer_id` of `run_id` at `due_at` (unix ms). Scheduling the same timer twice is
    /// harmless: it fires once.
    pub(super) fn schedule(&self, run_id: &str, timer_id: &str, due_at: Millis) {
        let mut heap = self.heap();
        if heap.live.insert((run_id.to_owned(), timer_id.to_owned())) {
            heap.due.push(Reverse((due_at, run_id.to_owned(), timer_id.to_owned())));
            drop(heap);
            self.changed.notify_one();
        }
    }

    pub(super) fn cancel(&self, run_id: &str, timer_id: &str) {
        self.heap().live.remove(&(run_id.to_owned(), timer_id.to_owned()));
    }

    /// Number of timers waiting.
    pub(super) fn len(&self) -> usize {
        self.heap().live.len()
    }

    /// Waits for the next due timer and returns `(run_id, timer_id)`.
    pub(super) async fn next_due(&self, now: impl Fn() -> Millis) -> (String, String) {
        loop {
            let notified = self.changed.notified();
            let wait = {
                let mut heap = self.heap();
                loop {
                    let Some(Reverse((due_at, run_id, timer_id))) = heap.due.peek().cloned() else { break None };
                    let key = (run_id, timer_id);
                    if !heap.live.contains(&key) {
                        heap.due.pop();
                        continue;
                    }
                    if due_at <= now() {
                        heap.due.pop();
                        heap.live.remove(&key);
                        return key;
                    }
                    break Some(Duration::from_millis((due_at - now()).max(0) as u64));
                }
            };
            match wait {
                Some(delay) => {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}
