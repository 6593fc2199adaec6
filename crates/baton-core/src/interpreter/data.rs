//! The data flow around a task (`dsl.md#data-flow`): runtime-expression arguments, scope
//! variables, and schema validation.

use serde_json::{Value, json};

use baton_model::error_types::StandardError;

use crate::compile::CompiledKind;
use crate::error::WorkflowError;
use crate::expr::{SharedValue, Variables};
use crate::interpreter::Machine;
use crate::interpreter::lifecycle::date_time;
use crate::state::{Exec, TryPhase};

/// Runtime name and version (`$runtime`).
const RUNTIME_NAME: &str = "baton";
const RUNTIME_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Validates `value` against a schema; failures are `validation` errors (status 400) listing
/// every violation.
pub(super) fn validate(
    validator: &jsonschema::Validator,
    value: &Value,
    instance: &str,
    what: &str,
) -> Result<(), WorkflowError> {
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|err| format!("{}: {err}", display_path(&err.instance_path().to_string())))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(WorkflowError::standard(StandardError::Validation, format!("the {what} does not match its schema"))
        .with_detail(problems.join("; "))
        .at(instance))
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

impl Machine<'_> {
    fn base_variables(&self) -> Variables {
        let mut variables = Variables::new(self.now()).with_max_value_bytes(self.context.max_value_bytes);
        let context = self.context_value.get_or_init(|| SharedValue::new(self.state.context.clone()));
        variables.set_shared("context", context);
        variables.set("secrets", self.context.secrets.clone());
        if self.workflow.uses_workflow_descriptor {
            variables.set(
                "workflow",
                json!({
                    "id": self.state.run_id,
                    "definition": self.workflow.definition,
                    "input": self.state.input,
                    "startedAt": date_time(self.state.started_at),
                }),
            );
        }
        variables.set("runtime", json!({"name": RUNTIME_NAME, "version": RUNTIME_VERSION, "metadata": {}}));
        variables
    }

    /// Arguments for workflow-level expressions (`input.from`, `output.as`).
    pub(super) fn workflow_variables(&self) -> Variables {
        self.base_variables()
    }

    /// Arguments for an expression of the task running in `frame`: the runtime arguments,
    /// `$input` (the transformed input), `$task`, and the scope variables of every enclosing
    /// `for` and `catch`. `raw_output` fills `$task.output` once known.
    pub(super) fn task_variables(&self, frame_id: u64, raw_output: Option<&Value>) -> Variables {
        let mut variables = self.base_variables();
        let Some(frame) = self.frame(frame_id) else { return variables };
        variables.set("input", frame.input.clone());
        if self.workflow.uses_task_descriptor
            && let Some(task) = self.workflow.task_by_reference(&frame.reference).map(|id| &self.workflow.tasks[id])
        {
            variables.set(
                "task",
                json!({
                    "name": task.name,
                    "reference": task.reference,
                    "definition": task.definition,
                    "input": frame.raw_input,
                    "output": raw_output.cloned().unwrap_or(Value::Null),
                    "startedAt": date_time(frame.started_at),
                }),
            );
        }
        // Outer scopes first, so an inner variable of the same name wins.
        let mut scopes = Vec::new();
        let mut current = frame.parent;
        while let Some(id) = current {
            let Some(ancestor) = self.frame(id) else { break };
            scopes.push(id);
            current = ancestor.parent;
        }
        for id in scopes.into_iter().rev() {
            self.bind_scope(id, &mut variables);
        }
        variables
    }

    /// Binds what the frame `id` makes visible to its descendants.
    pub(super) fn bind_scope(&self, id: u64, variables: &mut Variables) {
        let Some(frame) = self.frame(id) else { return };
        let Some(task) = self.workflow.task_by_reference(&frame.reference).map(|t| &self.workflow.tasks[t]) else {
            return;
        };
        match (&frame.exec, &task.kind) {
            (Exec::For { items, index, .. }, CompiledKind::For { each, at, .. }) => {
                variables.set(each, items.get(*index).cloned().unwrap_or(Value::Null));
                variables.set(at, json!(index));
            }
            (Exec::Try { phase: TryPhase::Handler { error, .. }, .. }, CompiledKind::Try { catch, .. }) => {
                variables.set(&catch.as_, error.to_value());
            }
            (Exec::Listen { iteration: Some(iteration), .. }, CompiledKind::Listen(listen)) => {
                if let Some(foreach) = &listen.foreach {
                    variables.set(&foreach.item, iteration.item.clone());
                    variables.set(&foreach.at, json!(iteration.index));
                }
            }
            _ => {}
        }
    }
}
