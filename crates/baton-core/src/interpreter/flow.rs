//! Moving through task lists: flow directives (`dsl-reference.md#flow-directive`), `for`
//! iterations, fork joins, and where a child's fault goes.

use serde_json::Value;

use baton_model::FlowDirective;
use baton_model::error_types::StandardError;

use crate::compile::CompiledKind;
use crate::error::WorkflowError;
use crate::interpreter::{Machine, WORKFLOW_FRAME, Work};
use crate::state::{Cursor, Exec, TryPhase};

/// Where a list goes after one of its tasks completed.
enum Next {
    Task(usize),
    ListDone,
    EndWorkflow,
}

impl Machine<'_> {
    /// The cursor of the list the frame is running, if it runs one.
    fn cursor_mut(&mut self, frame_id: u64) -> Option<&mut Cursor> {
        match self.exec_mut(frame_id)? {
            Exec::Sequence { cursor } | Exec::For { cursor, .. } => Some(cursor),
            Exec::Try { phase: TryPhase::Body { cursor } | TryPhase::Handler { cursor, .. }, .. } => Some(cursor),
            Exec::Listen { iteration: Some(iteration), .. } => Some(&mut iteration.cursor),
            _ => None,
        }
    }

    /// Moves the frame's list past the task that just completed with `output`, following
    /// `directive`; `None` starts the list from its first task.
    pub(super) fn advance(&mut self, frame_id: u64, output: Value, directive: Option<FlowDirective>) {
        let workflow = self.workflow;
        let Some(cursor) = self.cursor_mut(frame_id).cloned() else { return };
        let Some(list) = workflow.list_by_reference(&cursor.list).map(|id| &workflow.lists[id]) else {
            let error = WorkflowError::standard(StandardError::Runtime, format!("unknown task list {}", cursor.list));
            return self.agenda.push_back(Work::Fail { frame: frame_id, error });
        };
        let next = match directive {
            None => Next::Task(0),
            Some(FlowDirective::Continue) => Next::Task(cursor.index + 1),
            Some(FlowDirective::Exit) => Next::ListDone,
            Some(FlowDirective::End) => Next::EndWorkflow,
            Some(FlowDirective::Goto(name)) => match list.position(&name) {
                Some(index) => Next::Task(index),
                None => {
                    let error =
                        WorkflowError::standard(StandardError::Configuration, format!("then: no task named {name:?}"));
                    return self.agenda.push_back(Work::Fail { frame: frame_id, error });
                }
            },
        };
        match next {
            Next::Task(index) if index < list.tasks.len() => {
                let task = list.tasks[index];
                let child = self.enter_child(frame_id, 0, task, output);
                if let Some(cursor) = self.cursor_mut(frame_id) {
                    cursor.index = index;
                    cursor.child = Some(child);
                }
            }
            Next::Task(_) | Next::ListDone => self.list_done(frame_id, output),
            Next::EndWorkflow => self.end_workflow(frame_id, output),
        }
    }

    /// The list run by `frame_id` ended with `output`.
    fn list_done(&mut self, frame_id: u64, output: Value) {
        if frame_id == WORKFLOW_FRAME {
            return self.finish_workflow(output);
        }
        match self.exec_mut(frame_id) {
            Some(Exec::For { index, .. }) => {
                *index += 1;
                if let Err(error) = self.start_iteration(frame_id, output) {
                    self.agenda.push_back(Work::Fail { frame: frame_id, error });
                }
            }
            Some(Exec::Listen { .. }) => self.iteration_done(frame_id, output),
            Some(Exec::Try { phase: TryPhase::Handler { .. }, .. }) => {
                let directive = self.catch_then(frame_id);
                self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: output, directive });
            }
            Some(_) => self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: output, directive: None }),
            None => {}
        }
    }

    /// Starts the `for` iteration at the frame's current index with `input`, or completes the
    /// task with `input` when the items are exhausted or `while` is false.
    pub(super) fn start_iteration(&mut self, frame_id: u64, input: Value) -> Result<(), WorkflowError> {
        let workflow = self.workflow;
        let Some(frame) = self.frame(frame_id) else { return Ok(()) };
        let Exec::For { items, index, .. } = &frame.exec else { return Ok(()) };
        let exhausted = *index >= items.len();
        let Some(task) = workflow.task_by_reference(&frame.reference).map(|id| &workflow.tasks[id]) else {
            return Ok(());
        };
        let CompiledKind::For { while_, .. } = &task.kind else { return Ok(()) };
        let proceed = !exhausted
            && match while_ {
                Some(condition) => {
                    // `while` sees the iteration's `$item`/`$index`, bound by the frame itself.
                    let mut variables = self.task_variables(frame_id, None);
                    self.bind_scope(frame_id, &mut variables);
                    condition.evaluate_condition(&input, &variables)?
                }
                None => true,
            };
        if !proceed {
            self.agenda.push_back(Work::Produce { frame: frame_id, raw_output: input, directive: None });
            return Ok(());
        }
        self.advance(frame_id, input, None);
        Ok(())
    }

    pub(super) fn child_done(&mut self, parent: u64, slot: usize, output: Value, directive: FlowDirective) {
        match self.exec_mut(parent) {
            Some(Exec::Fork { outputs, compete }) => {
                if *compete {
                    let siblings: Vec<u64> = self
                        .state
                        .frames
                        .iter()
                        .filter(|(_, frame)| frame.parent == Some(parent))
                        .map(|(id, _)| *id)
                        .collect();
                    for sibling in siblings {
                        self.cancel_task(sibling);
                    }
                    return self.agenda.push_back(Work::Produce { frame: parent, raw_output: output, directive: None });
                }
                if let Some(entry) = outputs.get_mut(slot) {
                    *entry = Some(output);
                }
                if outputs.iter().all(Option::is_some) {
                    let joined = Value::Array(outputs.iter_mut().map(|o| o.take().unwrap_or(Value::Null)).collect());
                    self.agenda.push_back(Work::Produce { frame: parent, raw_output: joined, directive: None });
                }
            }
            Some(Exec::Function) => {
                self.agenda.push_back(Work::Produce { frame: parent, raw_output: output, directive: None })
            }
            Some(_) => self.advance(parent, output, Some(directive)),
            None => {}
        }
    }

    /// Stops a running task that lost a race (fork `compete`).
    fn cancel_task(&mut self, frame_id: u64) {
        let Some(reference) = self.frame(frame_id).map(|f| f.reference.clone()) else { return };
        let data = serde_json::json!({"cancelledAt": crate::interpreter::lifecycle::iso8601(self.now())});
        self.history("task.cancelled", Some(&reference), data);
        self.remove_subtree(frame_id);
    }

    pub(super) fn child_failed(&mut self, parent: u64, error: WorkflowError) {
        if parent == WORKFLOW_FRAME {
            return self.fault_workflow(error);
        }
        match self.exec_mut(parent) {
            Some(Exec::Try { phase: TryPhase::Body { .. }, .. }) => self.catch(parent, error),
            Some(_) => self.agenda.push_back(Work::Fail { frame: parent, error }),
            None => {}
        }
    }
}
