//! Run-level transitions: start, complete, fault, cancel, suspend, resume, and the workflow
//! lifecycle events they record (`dsl-reference.md#lifecycle-events`).

use serde_json::{Value, json};

use baton_model::error_types::StandardError;

use crate::error::WorkflowError;
use crate::interpreter::{Machine, WORKFLOW_FRAME, Work};
use crate::state::{Command, Cursor, Exec, Frame, Millis, RunStatus, TimerPurpose};

/// RFC 3339 text of a unix-ms time.
pub(crate) fn iso8601(ms: Millis) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}

/// The `dateTimeDescriptor` of a time (`dsl.md#datetime-descriptor`).
pub(crate) fn date_time(ms: Millis) -> Value {
    json!({"iso8601": iso8601(ms), "epoch": {"seconds": ms.div_euclid(1000), "milliseconds": ms}})
}

/// The standard `timeout` error raised at `instance`.
pub(crate) fn timeout_error(title: &str, instance: &str) -> WorkflowError {
    WorkflowError::standard(StandardError::Timeout, title).at(instance)
}

impl Machine<'_> {
    fn workflow_name(&self) -> String {
        self.workflow.name().to_owned()
    }

    pub(super) fn start(&mut self) {
        if self.state.status != RunStatus::Pending {
            return;
        }
        self.state.status = RunStatus::Running;
        self.state.started_at = self.now();
        let definition = json!({
            "namespace": self.workflow.namespace(), "name": self.workflow.name(), "version": self.workflow.version()
        });
        let name = self.workflow_name();
        self.history(
            "workflow.started",
            None,
            json!({"name": name, "definition": definition, "startedAt": iso8601(self.now())}),
        );
        let raw_input = self.state.input.clone();
        if let Some(validator) = &self.workflow.input_schema
            && let Err(error) = super::data::validate(validator, &raw_input, "/", "workflow input")
        {
            return self.fault_workflow(error);
        }
        let input = match &self.workflow.input_from {
            Some(template) => match template.evaluate(&raw_input, &self.workflow_variables()) {
                Ok(value) => value,
                Err(err) => return self.fault_workflow(WorkflowError::from(err).at("/input/from")),
            },
            None => raw_input.clone(),
        };
        // dsl.md "Data flow": the transformed workflow input is the initial `$context`.
        self.set_context(input.clone());
        if let Some(timeout_ms) = self.workflow.timeout_ms {
            self.start_timer(self.now() + timeout_ms as Millis, TimerPurpose::WorkflowTimeout);
        }
        let list = &self.workflow.lists[self.workflow.root];
        let cursor = Cursor { list: list.reference.clone(), index: 0, child: None };
        let frame = Frame {
            parent: None,
            slot: 0,
            reference: String::new(),
            raw_input,
            input: input.clone(),
            started_at: self.now(),
            timeout_timer: None,
            exec: Exec::Sequence { cursor },
        };
        self.state.frames.insert(WORKFLOW_FRAME, frame);
        self.start_list(WORKFLOW_FRAME, input);
    }

    /// A task said `then: end` inside the list run by `frame`: that frame and its ancestors end
    /// with `output`, every other open task is cancelled, and the workflow completes.
    pub(super) fn end_workflow(&mut self, frame: u64, output: Value) {
        let mut current = Some(frame);
        while let Some(id) = current {
            let Some(open) = self.state.frames.get(&id) else { break };
            current = open.parent;
            if !open.reference.is_empty() {
                let reference = open.reference.clone();
                let data = json!({"completedAt": iso8601(self.now()), "output": output});
                self.history("task.completed", Some(&reference), data);
                self.state.frames.remove(&id);
            }
        }
        self.finish_workflow(output);
    }

    /// The workflow's task list ended with `output`.
    pub(super) fn finish_workflow(&mut self, output: Value) {
        self.clear_all();
        let output = match &self.workflow.output_as {
            Some(template) => match template.evaluate(&output, &self.workflow_variables()) {
                Ok(value) => value,
                Err(err) => return self.fault_workflow(WorkflowError::from(err).at("/output/as")),
            },
            None => output,
        };
        if let Some(validator) = &self.workflow.output_schema
            && let Err(error) = super::data::validate(validator, &output, "/", "workflow output")
        {
            return self.fault_workflow(error);
        }
        self.state.status = RunStatus::Completed;
        self.state.output = Some(output.clone());
        let name = self.workflow_name();
        self.history(
            "workflow.completed",
            None,
            json!({"name": name, "completedAt": iso8601(self.now()), "output": output}),
        );
        self.push_command(Command::Complete { output });
    }

    pub(super) fn fault_workflow(&mut self, error: WorkflowError) {
        if self.state.status.is_terminal() {
            return;
        }
        self.clear_all();
        let error = if error.instance.is_empty() { error.at("/") } else { error };
        self.state.status = RunStatus::Faulted;
        self.state.error = Some(error.clone());
        let name = self.workflow_name();
        self.history(
            "workflow.faulted",
            None,
            json!({"name": name, "faultedAt": iso8601(self.now()), "error": error.to_value()}),
        );
        self.push_command(Command::Fault { error });
    }

    pub(super) fn cancel(&mut self) {
        self.clear_all();
        self.state.status = RunStatus::Cancelled;
        let name = self.workflow_name();
        self.history("workflow.cancelled", None, json!({"name": name, "cancelledAt": iso8601(self.now())}));
        self.push_command(Command::Cancelled);
    }

    pub(super) fn suspend(&mut self) {
        if self.state.status == RunStatus::Suspended {
            return;
        }
        self.state.status = RunStatus::Suspended;
        let name = self.workflow_name();
        self.history("workflow.suspended", None, json!({"name": name, "suspendedAt": iso8601(self.now())}));
    }

    pub(super) fn resume(&mut self) {
        if self.state.status != RunStatus::Suspended {
            return;
        }
        // A run suspended before it started goes back to pending; its deferred start follows.
        self.state.status = if self.state.frames.is_empty() { RunStatus::Pending } else { RunStatus::Running };
        let name = self.workflow_name();
        self.history("workflow.resumed", None, json!({"name": name, "resumedAt": iso8601(self.now())}));
        for input in std::mem::take(&mut self.state.deferred) {
            self.apply(input);
            self.run_agenda();
            if self.state.status.is_terminal() || self.state.status == RunStatus::Suspended {
                break;
            }
        }
    }

    /// Drops every frame, timer and effect: the run is ending. Tasks still open are recorded
    /// as cancelled.
    fn clear_all(&mut self) {
        self.agenda.clear();
        let open: Vec<String> =
            self.state.frames.values().filter(|f| !f.reference.is_empty()).map(|f| f.reference.clone()).collect();
        for reference in open {
            self.history("task.cancelled", Some(&reference), json!({"cancelledAt": iso8601(self.now())}));
        }
        if self.state.frames.contains_key(&WORKFLOW_FRAME) {
            self.remove_subtree(WORKFLOW_FRAME);
        }
        self.state.frames.clear();
        let timers: Vec<String> = self.state.timers.keys().cloned().collect();
        for timer_id in timers {
            self.cancel_timer(&timer_id);
        }
        self.state.effects.clear();
        self.unsubscribe_frame(None);
    }

    /// Enters the first task of the list the frame's cursor points at, or finishes the list
    /// at once when it is empty.
    pub(super) fn start_list(&mut self, frame: u64, input: Value) {
        self.advance(frame, input, None);
    }

    /// Queues the start of a child task.
    pub(super) fn enter_child(
        &mut self,
        parent: u64,
        slot: usize,
        task: crate::compile::TaskId,
        raw_input: Value,
    ) -> u64 {
        let frame = self.next_id();
        self.agenda.push_back(Work::Enter { frame, parent, slot, task, raw_input });
        frame
    }
}
