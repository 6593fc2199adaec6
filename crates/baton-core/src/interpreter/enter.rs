//! Starting a task (`if`, `input`, `timeout`, then its kind) and finishing one (`output`,
//! `export`, lifecycle events).

use serde_json::{Value, json};

use baton_model::FlowDirective;
use baton_model::error_types::StandardError;

use crate::compile::{CompiledKind, DelaySpec, TaskId};
use crate::error::WorkflowError;
use crate::interpreter::lifecycle::iso8601;
use crate::interpreter::{Machine, WORKFLOW_FRAME, Work, data};
use crate::state::{Cursor, Exec, Frame, Millis, TimerPurpose, TryPhase};

impl Machine<'_> {
    pub(super) fn enter(&mut self, frame_id: u64, parent: u64, slot: usize, task_id: TaskId, raw_input: Value) {
        if !self.state.frames.contains_key(&parent) {
            return;
        }
        let workflow = self.workflow;
        let task = &workflow.tasks[task_id];
        let frame = Frame {
            parent: Some(parent),
            slot,
            reference: task.reference.clone(),
            raw_input: raw_input.clone(),
            input: raw_input.clone(),
            started_at: self.now(),
            timeout_timer: None,
            exec: Exec::Function,
        };
        self.state.frames.insert(frame_id, frame);
        let reference = task.reference.as_str();
        if let Some(condition) = &task.if_ {
            let variables = self.task_variables(frame_id, None);
            match condition.evaluate_condition(&raw_input, &variables) {
                Ok(true) => {}
                Ok(false) => {
                    // A skipped task passes its raw input on and does not apply its `then`.
                    self.state.frames.remove(&frame_id);
                    let done = Work::ChildDone { parent, slot, output: raw_input, directive: FlowDirective::Continue };
                    self.agenda.push_back(done);
                    return;
                }
                Err(err) => {
                    return self.agenda.push_back(Work::Fail { frame: frame_id, error: WorkflowError::from(err) });
                }
            }
        }
        self.history("task.created", Some(reference), json!({"createdAt": iso8601(self.now())}));
        self.history("task.started", Some(reference), json!({"startedAt": iso8601(self.now())}));
        if let Some(validator) = &task.input_schema
            && let Err(error) = data::validate(validator, &raw_input, reference, "task input")
        {
            return self.agenda.push_back(Work::Fail { frame: frame_id, error });
        }
        let input = match &task.input_from {
            Some(template) => match template.evaluate(&raw_input, &self.task_variables(frame_id, None)) {
                Ok(value) => value,
                Err(err) => return self.agenda.push_back(Work::Fail { frame: frame_id, error: err.into() }),
            },
            None => raw_input,
        };
        if let Some(frame) = self.state.frames.get_mut(&frame_id) {
            frame.input = input.clone();
        }
        if let Some(timeout_ms) = task.timeout_ms {
            let timer =
                self.start_timer(self.now() + timeout_ms as Millis, TimerPurpose::TaskTimeout { frame: frame_id });
            if let Some(frame) = self.state.frames.get_mut(&frame_id) {
                frame.timeout_timer = Some(timer);
            }
        }
        if let Err(error) = self.run_kind(frame_id, task_id, input) {
            self.agenda.push_back(Work::Fail { frame: frame_id, error });
        }
    }

    fn set_exec(&mut self, frame_id: u64, exec: Exec) {
        if let Some(frame) = self.state.frames.get_mut(&frame_id) {
            frame.exec = exec;
        }
    }

    fn produce_now(&mut self, frame: u64, raw_output: Value) {
        self.agenda.push_back(Work::Produce { frame, raw_output, directive: None });
    }

    /// Starts the task's own work on its transformed input.
    fn run_kind(&mut self, frame_id: u64, task_id: TaskId, input: Value) -> Result<(), WorkflowError> {
        let workflow = self.workflow;
        let task = &workflow.tasks[task_id];
        match &task.kind {
            CompiledKind::Set(template) => {
                let output = template.evaluate(&input, &self.task_variables(frame_id, None))?;
                self.produce_now(frame_id, output);
            }
            CompiledKind::Do(list) => {
                let cursor = Cursor { list: workflow.lists[*list].reference.clone(), index: 0, child: None };
                self.set_exec(frame_id, Exec::Sequence { cursor });
                self.start_list(frame_id, input);
            }
            CompiledKind::For { in_, body, .. } => {
                let items = match in_.evaluate(&input, &self.task_variables(frame_id, None))? {
                    Value::Array(items) => items,
                    Value::Null => Vec::new(),
                    other => {
                        return Err(WorkflowError::standard(StandardError::Expression, "for.in must produce an array")
                            .with_detail(format!("got {}", baton_model::diagnostic::describe_json_type(&other))));
                    }
                };
                let cursor = Cursor { list: workflow.lists[*body].reference.clone(), index: 0, child: None };
                self.set_exec(frame_id, Exec::For { items, index: 0, cursor });
                self.start_iteration(frame_id, input)?;
            }
            CompiledKind::Fork { branches, compete } => {
                let branch_tasks = workflow.lists[*branches].tasks.clone();
                self.set_exec(frame_id, Exec::Fork { outputs: vec![None; branch_tasks.len()], compete: *compete });
                if branch_tasks.is_empty() {
                    self.produce_now(frame_id, Value::Array(Vec::new()));
                }
                for (slot, branch) in branch_tasks.into_iter().enumerate() {
                    self.enter_child(frame_id, slot, branch, input.clone());
                }
            }
            CompiledKind::Try { body, .. } => {
                let cursor = Cursor { list: workflow.lists[*body].reference.clone(), index: 0, child: None };
                let phase = TryPhase::Body { cursor };
                self.set_exec(frame_id, Exec::Try { attempt: 1, first_attempt_at: self.now(), phase });
                self.start_list(frame_id, input);
            }
            CompiledKind::Raise(error) => {
                let variables = self.task_variables(frame_id, None);
                let type_ = error.type_.evaluate(&input, &variables)?;
                let status = error.status.evaluate(&input, &variables)?;
                let title = error.title.as_ref().map(|t| t.evaluate(&input, &variables)).transpose()?;
                let detail = error.detail.as_ref().map(|d| d.evaluate(&input, &variables)).transpose()?;
                let raised = WorkflowError {
                    type_: text_of(&type_),
                    status: status.as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(500),
                    instance: error.instance.clone().unwrap_or_default(),
                    title: title.as_ref().map(text_of),
                    detail: detail.as_ref().map(text_of),
                };
                self.agenda.push_back(Work::Fail { frame: frame_id, error: raised });
            }
            CompiledKind::Wait(delay) => {
                let delay_ms = match delay {
                    DelaySpec::Fixed(ms) => *ms,
                    DelaySpec::Expression(template) => {
                        let value = template.evaluate(&input, &self.task_variables(frame_id, None))?;
                        baton_model::duration::parse_iso8601_ms(&text_of(&value)).map_err(|err| {
                            WorkflowError::standard(StandardError::Expression, "wait duration is invalid")
                                .with_detail(err.to_string())
                        })?
                    }
                };
                let timer_id =
                    self.start_timer(self.now() + delay_ms as Millis, TimerPurpose::Wait { frame: frame_id });
                self.set_exec(frame_id, Exec::Wait { timer_id });
            }
            CompiledKind::Emit(template) => {
                let properties = template.evaluate(&input, &self.task_variables(frame_id, None))?;
                let event = self.cloud_event(frame_id, properties);
                self.push_command(crate::state::Command::EmitEvent { event: event.clone() });
                self.produce_now(frame_id, event);
            }
            CompiledKind::Switch(cases) => {
                let variables = self.task_variables(frame_id, None);
                let mut directive = None;
                for case in cases {
                    let matched = match &case.when {
                        Some(condition) => condition.evaluate_condition(&input, &variables)?,
                        None => true,
                    };
                    if matched {
                        directive = Some(case.then.clone());
                        break;
                    }
                }
                self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: input, directive });
            }
            CompiledKind::Http(call) => self.start_http(frame_id, call, &input)?,
            CompiledKind::OpenApi(call) => self.start_openapi(frame_id, call, &input)?,
            CompiledKind::Function { function, with } => {
                let arguments = with.evaluate(&input, &self.task_variables(frame_id, None))?;
                self.set_exec(frame_id, Exec::Function);
                self.enter_child(frame_id, 0, *function, arguments);
            }
            CompiledKind::Subflow { namespace, name, version, input: subflow_input, await_ } => {
                let subflow_input = match subflow_input {
                    Some(template) => template.evaluate(&input, &self.task_variables(frame_id, None))?,
                    None => input.clone(),
                };
                let effect = crate::effects::Effect::Subflow {
                    namespace: namespace.clone(),
                    name: name.clone(),
                    version: version.clone(),
                    input: subflow_input,
                };
                self.start_subflow(frame_id, effect, *await_, input);
            }
            CompiledKind::Listen(listen) => self.start_listen(frame_id, listen, &input)?,
            CompiledKind::Unsupported(what) => {
                return Err(WorkflowError::standard(StandardError::Configuration, what.clone()));
            }
        }
        Ok(())
    }

    /// Builds the CloudEvent of an `emit`: `id` and `source` default as on the spec's main
    /// branch (a deterministic UUID; `/{namespace}/{name}/{version}`), `time` to now.
    fn cloud_event(&self, frame_id: u64, properties: Value) -> Value {
        let mut event = serde_json::Map::new();
        let seed = format!("{}/{frame_id}", self.state.run_id);
        event.insert("id".into(), json!(uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, seed.as_bytes()).to_string()));
        event.insert("specversion".into(), json!("1.0"));
        event.insert("time".into(), json!(iso8601(self.now())));
        event.insert(
            "source".into(),
            json!(format!("/{}/{}/{}", self.workflow.namespace(), self.workflow.name(), self.workflow.version())),
        );
        if let Value::Object(properties) = properties {
            for (key, value) in properties {
                if !value.is_null() {
                    event.insert(key, value);
                }
            }
        }
        Value::Object(event)
    }

    /// Applies `output.as`, `output.schema`, `export.as` and `export.schema`, records the
    /// completion and hands the transformed output to the parent.
    pub(super) fn produce(&mut self, frame_id: u64, raw_output: Value, directive: Option<FlowDirective>) {
        let Some(frame) = self.frame(frame_id).cloned() else { return };
        let workflow = self.workflow;
        let Some(task) = workflow.task_by_reference(&frame.reference).map(|id| &workflow.tasks[id]) else { return };
        let variables = self.task_variables(frame_id, Some(&raw_output));
        let output = match &task.output_as {
            Some(template) => match template.evaluate(&raw_output, &variables) {
                Ok(value) => value,
                Err(err) => return self.agenda.push_back(Work::Fail { frame: frame_id, error: err.into() }),
            },
            None => raw_output,
        };
        if let Some(validator) = &task.output_schema
            && let Err(error) = data::validate(validator, &output, &task.reference, "task output")
        {
            return self.agenda.push_back(Work::Fail { frame: frame_id, error });
        }
        if let Some(template) = &task.export_as {
            let mut variables = variables;
            variables.set("output", output.clone());
            match template.evaluate(&output, &variables) {
                Ok(context) => {
                    if let Some(validator) = &task.export_schema
                        && let Err(error) = data::validate(validator, &context, &task.reference, "exported context")
                    {
                        return self.agenda.push_back(Work::Fail { frame: frame_id, error });
                    }
                    self.set_context(context);
                }
                Err(err) => return self.agenda.push_back(Work::Fail { frame: frame_id, error: err.into() }),
            }
        }
        self.history(
            "task.completed",
            Some(&task.reference),
            json!({"completedAt": iso8601(self.now()), "output": output}),
        );
        self.remove_subtree(frame_id);
        let directive = directive.unwrap_or_else(|| task.then.clone());
        let parent = frame.parent.unwrap_or(WORKFLOW_FRAME);
        self.agenda.push_back(Work::ChildDone { parent, slot: frame.slot, output, directive });
    }

    /// Records the fault of the task in `frame_id` and hands the error to its parent.
    pub(super) fn fail(&mut self, frame_id: u64, error: WorkflowError) {
        if frame_id == WORKFLOW_FRAME {
            return self.fault_workflow(error);
        }
        let Some(frame) = self.frame(frame_id).cloned() else { return };
        let error = error.at(&frame.reference);
        let data = json!({"faultedAt": iso8601(self.now()), "error": error.to_value()});
        self.history("task.faulted", Some(&frame.reference), data);
        self.remove_subtree(frame_id);
        let parent = frame.parent.unwrap_or(WORKFLOW_FRAME);
        self.agenda.push_back(Work::ChildFailed { parent, error });
    }
}

/// A JSON value as text: strings as-is, anything else as JSON.
pub(super) fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
