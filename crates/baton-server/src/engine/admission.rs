//! Per-workflow concurrency limits: beyond its limit, a workflow's runs wait `pending` in the
//! order they were started, and each run that ends admits the next.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::engine::registry::WorkflowKey;

/// Admission state of every limited workflow version.
#[derive(Default)]
pub(super) struct Admission {
    gates: Mutex<HashMap<WorkflowKey, Gate>>,
}

#[derive(Default)]
struct Gate {
    active: u32,
    queue: VecDeque<String>,
}

impl Admission {
    fn gates(&self) -> std::sync::MutexGuard<'_, HashMap<WorkflowKey, Gate>> {
        self.gates.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `run_id` may start now under `limit`; if not, it joins the queue.
    pub(super) fn admit(&self, key: &WorkflowKey, limit: u32, run_id: &str) -> bool {
        let mut gates = self.gates();
        let gate = gates.entry(key.clone()).or_default();
        if gate.active < limit && gate.queue.is_empty() {
            gate.active += 1;
            return true;
        }
        if !gate.queue.iter().any(|queued| queued == run_id) {
            gate.queue.push_back(run_id.to_owned());
        }
        false
    }

    /// Counts a run that was already active (found unfinished after a restart).
    pub(super) fn occupy(&self, key: &WorkflowKey) {
        self.gates().entry(key.clone()).or_default().active += 1;
    }

    /// A run of `key` ended: frees its slot and returns the runs to start now.
    pub(super) fn release(&self, key: &WorkflowKey, limit: u32) -> Vec<String> {
        let mut gates = self.gates();
        let Some(gate) = gates.get_mut(key) else { return Vec::new() };
        gate.active = gate.active.saturating_sub(1);
        let mut admitted = Vec::new();
        while gate.active < limit {
            let Some(run_id) = gate.queue.pop_front() else { break };
            gate.active += 1;
            admitted.push(run_id);
        }
        admitted
    }

    /// Runs waiting for a slot, over all workflows.
    pub(super) fn queued(&self) -> usize {
        self.gates().values().map(|gate| gate.queue.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_beyond_the_limit_wait_in_order() {
        let admission = Admission::default();
        let key = ("default".to_owned(), "ns".to_owned(), "flow".to_owned(), "1.0.0".to_owned());
        assert!(admission.admit(&key, 2, "a"));
        assert!(admission.admit(&key, 2, "b"));
        assert!(!admission.admit(&key, 2, "c"));
        assert!(!admission.admit(&key, 2, "d"));
        assert_eq!(admission.queued(), 2);
        assert_eq!(admission.release(&key, 2), ["c"]);
        assert_eq!(admission.release(&key, 2), ["d"]);
        assert!(admission.release(&key, 2).is_empty());
        assert!(admission.admit(&key, 2, "e"));
    }
}
