//! `try`/`catch` and retries (`dsl-reference.md#try`, `#retry`).
//!
//! Order (DESIGN.md): an error that matches the catch filter and conditions is retried while
//! the retry policy allows; once retries are exhausted (or without a policy) it is caught: the
//! `catch.do` list runs, or, without one, the task outputs its transformed input.

use serde_json::json;

use baton_model::FlowDirective;
use baton_model::error_types::error_types_match;

use crate::compile::{Backoff, CompiledCatch, CompiledKind, CompiledRetry};
use crate::error::WorkflowError;
use crate::interpreter::lifecycle::iso8601;
use crate::interpreter::{Machine, Work};
use crate::state::{Cursor, Exec, TimerPurpose, TryPhase};

/// Whether `error` passes the `errors.with` filter; types compare by last path segment.
fn filter_matches(catch: &CompiledCatch, error: &WorkflowError) -> bool {
    let filter = &catch.filter;
    filter.type_.as_deref().is_none_or(|type_| error_types_match(type_, &error.type_))
        && filter.status.is_none_or(|status| status == error.status)
        && filter.instance.as_deref().is_none_or(|instance| instance == error.instance)
        && filter.title.as_deref().is_none_or(|title| error.title.as_deref() == Some(title))
        && filter.details.as_deref().is_none_or(|detail| error.detail.as_deref() == Some(detail))
}

/// The delay before retry number `retry` (1-based), before jitter; `None` when it does not fit
/// in a `u64` (the caller refuses it, as it refuses any delay beyond 100 years).
fn backoff_delay_ms(policy: &CompiledRetry, retry: u32) -> Option<u64> {
    match policy.backoff {
        Backoff::Constant => Some(policy.delay_ms),
        Backoff::Linear => policy.delay_ms.checked_mul(u64::from(retry)),
        Backoff::Exponential => 1u64.checked_shl(retry - 1).and_then(|factor| policy.delay_ms.checked_mul(factor)),
    }
}

/// A deterministic stand-in for a uniform random draw in `[from, to]`: the interpreter may not
/// use randomness, so the draw is a hash of the run, the task and the attempt.
fn jitter_ms(from: u64, to: u64, seed: &str) -> u64 {
    if to <= from {
        return from;
    }
    // FNV-1a, 64 bit.
    let hash = seed
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    from + hash % (to - from + 1)
}

impl Machine<'_> {
    fn catch_of(&self, frame_id: u64) -> Option<&CompiledCatch> {
        let frame = self.frame(frame_id)?;
        let task = &self.workflow.tasks[self.workflow.task_by_reference(&frame.reference)?];
        match &task.kind {
            CompiledKind::Try { catch, .. } => Some(catch),
            _ => None,
        }
    }

    /// The directive after a handled error: `catch.then`, else the task's own `then`.
    pub(super) fn catch_then(&self, frame_id: u64) -> Option<FlowDirective> {
        self.catch_of(frame_id).and_then(|catch| catch.then.clone())
    }

    /// The `try` list of `frame_id` faulted with `error`.
    pub(super) fn catch(&mut self, frame_id: u64, error: WorkflowError) {
        let workflow = self.workflow;
        let Some(frame) = self.frame(frame_id).cloned() else { return };
        let Some(task) = workflow.task_by_reference(&frame.reference).map(|id| &workflow.tasks[id]) else { return };
        let CompiledKind::Try { catch, .. } = &task.kind else { return };
        let Exec::Try { attempt, first_attempt_at, .. } = frame.exec else { return };
        let mut variables = self.task_variables(frame_id, None);
        variables.set(&catch.as_, error.to_value());
        let condition = |expression: &Option<crate::expr::Expression>, default: bool| match expression {
            Some(expression) => expression.evaluate_condition(&frame.input, &variables),
            None => Ok(default),
        };
        let caught = filter_matches(catch, &error)
            && match (condition(&catch.when, true), condition(&catch.except_when, false)) {
                (Ok(when), Ok(except)) => when && !except,
                (Err(err), _) | (_, Err(err)) => {
                    return self.agenda.push_back(Work::Fail { frame: frame_id, error: err.into() });
                }
            };
        if !caught {
            return self.agenda.push_back(Work::Fail { frame: frame_id, error });
        }
        if let Some(policy) = &catch.retry {
            let retry_wanted = match (condition(&policy.when, true), condition(&policy.except_when, false)) {
                (Ok(when), Ok(except)) => when && !except,
                (Err(err), _) | (_, Err(err)) => {
                    return self.agenda.push_back(Work::Fail { frame: frame_id, error: err.into() });
                }
            };
            let retry = attempt; // retries done so far + 1
            let within_count = policy.max_retries.is_none_or(|max| attempt - 1 < max);
            let jitter = policy.jitter_ms.map_or(0, |(from, to)| {
                jitter_ms(from, to, &format!("{}{}{attempt}", self.state.run_id, frame.reference))
            });
            let delay = backoff_delay_ms(policy, retry).and_then(|delay| delay.checked_add(jitter)).unwrap_or(u64::MAX);
            let elapsed = u64::try_from(self.now().saturating_sub(first_attempt_at)).unwrap_or(0);
            // An elapsed time plus a delay beyond u64 is beyond every limit.
            let within_duration =
                policy.max_duration_ms.is_none_or(|max| elapsed.checked_add(delay).is_some_and(|total| total <= max));
            if retry_wanted && within_count && within_duration {
                let due_at = match self.due_in(delay, "retry delay") {
                    Ok(due_at) => due_at,
                    Err(error) => return self.agenda.push_back(Work::Fail { frame: frame_id, error }),
                };
                self.history(
                    "task.retried",
                    Some(&frame.reference),
                    json!({"retriedAt": iso8601(self.now()), "attempt": attempt + 1}),
                );
                let timer_id = self.start_timer(due_at, TimerPurpose::Retry { frame: frame_id });
                if let Some(Exec::Try { phase, .. }) = self.exec_mut(frame_id) {
                    *phase = TryPhase::RetryDelay { timer_id, error };
                }
                return;
            }
        }
        match catch.do_ {
            Some(list) => {
                let cursor = Cursor { list: workflow.lists[list].reference.clone(), index: 0, child: None };
                if let Some(Exec::Try { phase, .. }) = self.exec_mut(frame_id) {
                    *phase = TryPhase::Handler { cursor, error };
                }
                self.start_list(frame_id, frame.input);
            }
            None => {
                let directive = catch.then.clone();
                self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: frame.input, directive });
            }
        }
    }

    /// A retry delay ended: run the `try` list again on the task's transformed input.
    pub(super) fn retry_now(&mut self, frame_id: u64) {
        let workflow = self.workflow;
        let Some(frame) = self.frame(frame_id).cloned() else { return };
        let Some(CompiledKind::Try { body, .. }) =
            workflow.task_by_reference(&frame.reference).map(|id| &workflow.tasks[id].kind)
        else {
            return;
        };
        let cursor = Cursor { list: workflow.lists[*body].reference.clone(), index: 0, child: None };
        if let Some(Exec::Try { attempt, phase, .. }) = self.exec_mut(frame_id) {
            *attempt += 1;
            *phase = TryPhase::Body { cursor };
        }
        self.start_list(frame_id, frame.input);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_as_documented() {
        let policy = |backoff| CompiledRetry {
            when: None,
            except_when: None,
            delay_ms: 100,
            backoff,
            max_retries: None,
            max_duration_ms: None,
            jitter_ms: None,
        };
        let delays = |backoff| (1..=4).map(|n| backoff_delay_ms(&policy(backoff), n)).collect::<Vec<_>>();
        assert_eq!(delays(Backoff::Constant), [Some(100), Some(100), Some(100), Some(100)]);
        assert_eq!(delays(Backoff::Linear), [Some(100), Some(200), Some(300), Some(400)]);
        assert_eq!(delays(Backoff::Exponential), [Some(100), Some(200), Some(400), Some(800)]);
        // Beyond u64 the delay is refused, never saturated or wrapped.
        assert_eq!(backoff_delay_ms(&policy(Backoff::Exponential), 65), None);
        assert_eq!(backoff_delay_ms(&CompiledRetry { delay_ms: u64::MAX, ..policy(Backoff::Linear) }, 2), None);
    }

    #[test]
    fn jitter_stays_in_range_and_is_deterministic() {
        for seed in ["a", "b", "run/do/0/x3"] {
            let draw = jitter_ms(10, 20, seed);
            assert!((10..=20).contains(&draw));
            assert_eq!(draw, jitter_ms(10, 20, seed));
        }
    }
}
