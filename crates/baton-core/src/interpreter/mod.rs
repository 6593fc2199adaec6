//! The interpreter: `step(workflow, state, input, context) -> commands + history`.
//!
//! A step applies one [`StepInput`] and runs every pure task it can (set, switch, do, for,
//! raise, try bookkeeping) until each active branch of the run waits on an effect or a timer,
//! or the run ends. Work inside a step is an agenda of small items processed in order, so deep
//! workflows never recurse on the Rust stack.

mod calls;
mod data;
mod enter;
mod flow;
mod lifecycle;
mod listen;
mod retry;

use std::collections::VecDeque;

use serde_json::{Map, Value};

use crate::compile::CompiledWorkflow;
use crate::state::{
    Command, Exec, Frame, HistoryEvent, Millis, RunState, RunStatus, STATE_FORMAT, StepInput, StepOutput, TimerPurpose,
    Work,
};

/// Frame id of the workflow itself.
pub const WORKFLOW_FRAME: u64 = 0;

/// Most agenda items one step works through. A step that reaches it with work left keeps the
/// rest in [`RunState::pending`] and ends with [`Command::Continue`], so a loop of pure tasks
/// (a `for` over many items, `then` jumps) never holds its driver for long: signals queued
/// meanwhile apply between two chunks. One item is one task entered, produced or finished
/// (a few expression evaluations), so a chunk takes well under a second.
pub const MAX_WORK_PER_STEP: usize = 20_000;

/// What the driver supplies to every step besides the input: the time and the secrets.
/// Secrets are never stored in the run state.
#[derive(Debug, Clone, Copy)]
pub struct StepContext<'a> {
    /// Current time, unix ms.
    pub now: Millis,
    /// `$secrets`: an object of secret name → value.
    pub secrets: &'a Value,
    /// Largest value an expression may build, in estimated bytes of JSON
    /// ([`crate::expr::DEFAULT_MAX_VALUE_BYTES`] unless the driver is configured otherwise);
    /// beyond it the task fails with a `runtime` error naming the limit.
    pub max_value_bytes: usize,
}

/// A fresh run, not started yet (status `pending`); apply [`StepInput::Start`] to start it.
pub fn new_run(run_id: impl Into<String>, input: Value, now: Millis) -> RunState {
    RunState {
        format: STATE_FORMAT,
        run_id: run_id.into(),
        status: RunStatus::Pending,
        input,
        context: Value::Object(Default::default()),
        started_at: now,
        next_id: 1,
        frames: Default::default(),
        timers: Default::default(),
        effects: Default::default(),
        subscriptions: Default::default(),
        deferred: Vec::new(),
        pending: Default::default(),
        output: None,
        error: None,
        metadata: Map::new(),
    }
}

/// Applies one input to a run. Deterministic: the same workflow, state, input and context
/// always give the same new state and output.
pub fn step(workflow: &CompiledWorkflow, state: &mut RunState, input: StepInput, context: &StepContext) -> StepOutput {
    let mut machine = Machine {
        workflow,
        state,
        context: *context,
        out: StepOutput::default(),
        agenda: VecDeque::new(),
        detached: Vec::new(),
        new_subscriptions: Vec::new(),
        context_value: std::cell::OnceCell::new(),
    };
    // Work left by the last step comes first, before what this input adds.
    machine.agenda = std::mem::take(&mut machine.state.pending);
    machine.apply(input);
    machine.run_agenda();
    machine.settle_status();
    machine.prune_commands();
    machine.out
}

/// The commands a recovering driver must (re)issue for a run loaded from the store: every
/// effect in flight and every pending timer.
pub fn in_flight(state: &RunState) -> Vec<Command> {
    if state.status.is_terminal() {
        return Vec::new();
    }
    let resumable = !state.pending.is_empty() && state.status != RunStatus::Suspended;
    let pending = resumable.then_some(Command::Continue);
    let effects = state.effects.iter().map(|(effect_id, pending)| Command::Perform {
        effect_id: effect_id.clone(),
        idempotency_key: pending.idempotency_key.clone(),
        effect: pending.effect.clone(),
    });
    let timers = state
        .timers
        .iter()
        .map(|(timer_id, timer)| Command::StartTimer { timer_id: timer_id.clone(), due_at: timer.due_at });
    effects.chain(timers).chain(pending).collect()
}

struct Machine<'a> {
    workflow: &'a CompiledWorkflow,
    state: &'a mut RunState,
    context: StepContext<'a>,
    out: StepOutput,
    agenda: VecDeque<Work>,
    /// Effects performed without waiting for their result (`run: workflow` with `await: false`).
    detached: Vec<String>,
    /// Subscriptions created in this step.
    new_subscriptions: Vec<String>,
    /// `$context` converted for jaq, shared by every evaluation until the context changes
    /// ([`Machine::set_context`]): a large workflow input (the default context) is converted
    /// once per step, not once per expression.
    context_value: std::cell::OnceCell<crate::expr::SharedValue>,
}

impl Machine<'_> {
    fn now(&self) -> Millis {
        self.context.now
    }

    fn next_id(&mut self) -> u64 {
        let id = self.state.next_id;
        self.state.next_id += 1;
        id
    }

    fn apply(&mut self, input: StepInput) {
        if self.state.status.is_terminal() {
            return;
        }
        let deferrable = matches!(
            input,
            StepInput::EffectCompleted { .. }
                | StepInput::TimerFired { .. }
                | StepInput::EventReceived { .. }
                | StepInput::Expire { .. }
                | StepInput::Start
        );
        if self.state.status == RunStatus::Suspended && deferrable {
            self.state.deferred.push(input);
            return;
        }
        match input {
            StepInput::Start => self.start(),
            StepInput::EffectCompleted { effect_id, result } => self.effect_completed(&effect_id, result),
            StepInput::TimerFired { timer_id } => self.timer_fired(&timer_id),
            StepInput::EventReceived { subscription_id, event } => self.event_received(&subscription_id, event),
            StepInput::Expire { subscription_id } => self.expire(&subscription_id),
            StepInput::Cancel => self.cancel(),
            StepInput::Suspend => self.suspend(),
            StepInput::Resume => self.resume(),
            // The pending work is already on the agenda.
            StepInput::Continue => {}
        }
    }

    fn run_agenda(&mut self) {
        if !self.state.pending.is_empty() && self.state.status != RunStatus::Suspended {
            // Left by an earlier pass of this step (a resume applies several inputs): first.
            let mut agenda = std::mem::take(&mut self.state.pending);
            agenda.append(&mut self.agenda);
            self.agenda = agenda;
        }
        let mut done = 0;
        while !self.agenda.is_empty() {
            if self.state.status.is_terminal() {
                self.agenda.clear();
                return;
            }
            // A suspended run keeps its work for the resume; a step at its bound for the next
            // step, which the driver starts at once.
            if self.state.status == RunStatus::Suspended || done == MAX_WORK_PER_STEP {
                self.state.pending.append(&mut self.agenda);
                let asked = self.out.commands.contains(&Command::Continue);
                if self.state.status != RunStatus::Suspended && !asked {
                    self.push_command(Command::Continue);
                }
                return;
            }
            done += 1;
            let Some(work) = self.agenda.pop_front() else { return };
            match work {
                Work::Enter { frame, parent, slot, task, raw_input } => {
                    self.enter(frame, parent, slot, task, raw_input)
                }
                Work::Produce { frame, raw_output, directive } => self.produce(frame, raw_output, directive),
                Work::ChildDone { parent, slot, output, directive } => self.child_done(parent, slot, output, directive),
                Work::Fail { frame, error } => {
                    // Errors can quote what a step built from secrets (a URL, an echoed token).
                    let error = crate::redact::redact_error(error, self.context.secrets);
                    self.fail(frame, error)
                }
                Work::ChildFailed { parent, error } => self.child_failed(parent, error),
            }
        }
    }

    fn timer_fired(&mut self, timer_id: &str) {
        let Some(timer) = self.state.timers.remove(timer_id) else { return };
        match timer.purpose {
            TimerPurpose::Wait { frame } => {
                if let Some(input) = self.state.frames.get(&frame).map(|f| f.input.clone()) {
                    self.agenda.push_back(Work::Produce { frame, raw_output: input, directive: None });
                }
            }
            TimerPurpose::TaskTimeout { frame } => {
                if let Some(frame_state) = self.state.frames.get_mut(&frame) {
                    frame_state.timeout_timer = None;
                    let error = lifecycle::timeout_error("the task timed out", &frame_state.reference);
                    self.agenda.push_back(Work::Fail { frame, error });
                }
            }
            TimerPurpose::WorkflowTimeout => {
                let error = lifecycle::timeout_error("the workflow timed out", "/");
                self.fault_workflow(error);
            }
            TimerPurpose::Retry { frame } => self.retry_now(frame),
        }
    }

    /// Sets the status a non-terminal run has after the step.
    fn settle_status(&mut self) {
        let status = self.state.status;
        if status.is_terminal() || status == RunStatus::Suspended || status == RunStatus::Pending {
            return;
        }
        let waits_on_timer = self
            .state
            .timers
            .values()
            .any(|t| matches!(t.purpose, TimerPurpose::Wait { .. } | TimerPurpose::Retry { .. }));
        let waits = waits_on_timer || !self.state.subscriptions.is_empty();
        let idle = self.state.effects.is_empty() && self.state.pending.is_empty();
        self.state.status = if idle && waits { RunStatus::Waiting } else { RunStatus::Running };
    }

    /// Drops commands for effects, timers and subscriptions that the same step already forgot
    /// (a fork branch that lost its race, a timer cancelled before it was ever committed): they
    /// must not reach the driver or the store. Of several `Subscribe` for one id, only the last
    /// is kept.
    fn prune_commands(&mut self) {
        let state = &*self.state;
        let detached = &self.detached;
        let created = &self.new_subscriptions;
        let mut last_subscribe = std::collections::HashMap::new();
        for (position, command) in self.out.commands.iter().enumerate() {
            if let Command::Subscribe { subscription_id, .. } = command {
                last_subscribe.insert(subscription_id.clone(), position);
            }
        }
        let mut position = 0;
        self.out.commands.retain(|command| {
            let keep = match command {
                Command::Perform { effect_id, .. } => {
                    state.effects.contains_key(effect_id) || detached.contains(effect_id)
                }
                Command::StartTimer { timer_id, .. } => state.timers.contains_key(timer_id),
                Command::Subscribe { subscription_id, .. } => {
                    state.subscriptions.contains_key(subscription_id)
                        && last_subscribe.get(subscription_id) == Some(&position)
                }
                Command::Unsubscribe { subscription_id } => !created.contains(subscription_id),
                _ => true,
            };
            position += 1;
            keep
        });
    }

    /// Drops the subscriptions of frame `id` (all of them with `None`), telling the driver.
    fn unsubscribe_frame(&mut self, id: Option<u64>) {
        let doomed: Vec<String> = self
            .state
            .subscriptions
            .iter()
            .filter(|(_, active)| id.is_none_or(|id| active.frame == id))
            .map(|(subscription_id, _)| subscription_id.clone())
            .collect();
        for subscription_id in doomed {
            self.state.subscriptions.remove(&subscription_id);
            self.push_command(Command::Unsubscribe { subscription_id });
        }
    }

    fn push_command(&mut self, command: Command) {
        self.out.commands.push(command);
    }

    fn history(&mut self, kind: &str, task: Option<&str>, data: Value) {
        self.out.history.push(HistoryEvent {
            at: self.now(),
            kind: format!("io.serverlessworkflow.{kind}.v1"),
            task: task.map(str::to_owned),
            data,
        });
    }

    fn start_timer(&mut self, due_at: Millis, purpose: TimerPurpose) -> String {
        let timer_id = format!("t{}", self.next_id());
        self.state.timers.insert(timer_id.clone(), crate::state::Timer { due_at, purpose });
        self.push_command(Command::StartTimer { timer_id: timer_id.clone(), due_at });
        timer_id
    }

    fn cancel_timer(&mut self, timer_id: &str) {
        if self.state.timers.remove(timer_id).is_some() {
            self.push_command(Command::CancelTimer { timer_id: timer_id.to_owned() });
        }
    }

    /// Removes a frame and all its descendants, cancelling their timers and forgetting their
    /// effects (a late result of a forgotten effect is ignored).
    fn remove_subtree(&mut self, root: u64) {
        let mut doomed = vec![root];
        let mut index = 0;
        while index < doomed.len() {
            let parent = doomed[index];
            doomed.extend(self.state.frames.iter().filter(|(_, f)| f.parent == Some(parent)).map(|(id, _)| *id));
            index += 1;
        }
        for id in doomed {
            let Some(frame) = self.state.frames.remove(&id) else { continue };
            if let Some(timer_id) = frame.timeout_timer {
                self.cancel_timer(&timer_id);
            }
            let owned_timers: Vec<String> = self
                .state
                .timers
                .iter()
                .filter(|(_, t)| match t.purpose {
                    TimerPurpose::Wait { frame }
                    | TimerPurpose::Retry { frame }
                    | TimerPurpose::TaskTimeout { frame } => frame == id,
                    TimerPurpose::WorkflowTimeout => false,
                })
                .map(|(timer_id, _)| timer_id.clone())
                .collect();
            for timer_id in owned_timers {
                self.cancel_timer(&timer_id);
            }
            self.state.effects.retain(|_, pending| pending.frame != id);
            self.unsubscribe_frame(Some(id));
        }
    }

    /// Replaces `$context`.
    fn set_context(&mut self, context: Value) {
        self.state.context = context;
        self.context_value = std::cell::OnceCell::new();
    }

    fn frame(&self, id: u64) -> Option<&Frame> {
        self.state.frames.get(&id)
    }

    fn exec_mut(&mut self, id: u64) -> Option<&mut Exec> {
        self.state.frames.get_mut(&id).map(|frame| &mut frame.exec)
    }
}
