//! The assertion steps, checked against what a run left behind: its status, output or error, and
//! its history.

use serde_json::Value;

use baton_core::state::RunStatus;

use crate::commands::conformance::step::Step;

const TASK_STARTED: &str = "io.serverlessworkflow.task.started.v1";
const TASK_COMPLETED: &str = "io.serverlessworkflow.task.completed.v1";
const TASK_FAULTED: &str = "io.serverlessworkflow.task.faulted.v1";
const TASK_CANCELLED: &str = "io.serverlessworkflow.task.cancelled.v1";

/// The end of a run, as the assertion steps see it.
#[derive(Debug, Clone)]
pub struct Execution {
    pub status: RunStatus,
    pub output: Option<Value>,
    /// The run's error as a JSON object.
    pub error: Option<Value>,
    pub events: Vec<TaskEvent>,
}

/// A task lifecycle event of the run's history, in history order.
#[derive(Debug, Clone)]
pub struct TaskEvent {
    /// `io.serverlessworkflow.task.started.v1`, …
    pub kind: String,
    /// The task's name: the last segment of its reference.
    pub task: String,
    pub data: Value,
}

impl TaskEvent {
    /// `reference` is the task's JSON pointer (`/do/0/getPet`).
    pub fn new(kind: String, reference: &str, data: Value) -> TaskEvent {
        let last = reference.rsplit('/').next().unwrap_or(reference);
        TaskEvent { kind, task: last.replace("~1", "/").replace("~0", "~"), data }
    }
}

/// Checks an assertion step. `Err` says what was expected and what happened.
pub fn check(execution: &Execution, step: &Step) -> Result<(), String> {
    match step {
        Step::Definition(_) | Step::Input(_) | Step::Execute => Ok(()),
        Step::WorkflowCompletes { output } => {
            let actual = completed_output(execution)?;
            match output {
                Some(expected) if !json_eq(expected, actual) => {
                    Err(format!("expected output {}, got {}", compact(expected), compact(actual)))
                }
                _ => Ok(()),
            }
        }
        Step::WorkflowFaults { error } => {
            if execution.status != RunStatus::Faulted {
                return Err(format!("expected the workflow to fault, but it {}", ending(execution)));
            }
            let actual = execution.error.as_ref().unwrap_or(&Value::Null);
            match error {
                Some(expected) => error_matches(expected, actual),
                None => Ok(()),
            }
        }
        Step::WorkflowCancels => match execution.status {
            RunStatus::Cancelled => Ok(()),
            _ => Err(format!("expected the workflow to be cancelled, but it {}", ending(execution))),
        },
        Step::OutputHasProperties(paths) => {
            let output = completed_output(execution)?;
            let missing: Vec<&str> =
                paths.iter().filter(|path| lookup(output, path).is_none()).map(String::as_str).collect();
            match missing.as_slice() {
                [] => Ok(()),
                _ => Err(format!("output has no {} (output: {})", quote_all(&missing), compact(output))),
            }
        }
        Step::OutputPropertyEquals { path, value } => {
            let output = completed_output(execution)?;
            match lookup(output, path) {
                None => Err(format!("output has no '{path}' (output: {})", compact(output))),
                Some(actual) if !json_eq(value, actual) => {
                    Err(format!("'{path}': expected {}, got {}", compact(value), compact(actual)))
                }
                Some(_) => Ok(()),
            }
        }
        Step::OutputPropertyCount { path, n_items } => {
            let output = completed_output(execution)?;
            match lookup(output, path) {
                None => Err(format!("output has no '{path}' (output: {})", compact(output))),
                Some(Value::Array(items)) if items.len() == *n_items => Ok(()),
                Some(Value::Array(items)) => Err(format!(
                    "'{path}': expected {n_items} items, got {} ({})",
                    items.len(),
                    compact(&Value::Array(items.clone()))
                )),
                Some(actual) => Err(format!("'{path}' is not an array: {}", compact(actual))),
            }
        }
        Step::TaskRunsFirst(task) => {
            let started = started(execution);
            match started.first() {
                Some(first) if first == task => Ok(()),
                _ => Err(format!("expected {task} to run first; tasks started in this order: {}", list(&started))),
            }
        }
        Step::TaskRunsLast(task) => {
            let started = started(execution);
            match started.last() {
                Some(last) if last == task => Ok(()),
                _ => Err(format!("expected {task} to run last; tasks started in this order: {}", list(&started))),
            }
        }
        Step::TaskRunsBefore { task, other } => order(execution, task, other, "before"),
        Step::TaskRunsAfter { task, other } => order(execution, task, other, "after"),
        Step::TaskCompletes { task, output } => {
            let outputs: Vec<&Value> = events(execution, task, TASK_COMPLETED)
                .map(|event| event.data.get("output").unwrap_or(&Value::Null))
                .collect();
            let Some(last) = outputs.last() else {
                return Err(format!("expected {task} to complete, but it {}", task_ending(execution, task)));
            };
            match output {
                Some(expected) if !outputs.iter().any(|actual| json_eq(expected, actual)) => {
                    Err(format!("expected {task} to complete with output {}, got {}", compact(expected), compact(last)))
                }
                _ => Ok(()),
            }
        }
        Step::TaskFaults { task, error } => {
            let errors: Vec<&Value> = events(execution, task, TASK_FAULTED)
                .map(|event| event.data.get("error").unwrap_or(&Value::Null))
                .collect();
            let Some(last) = errors.last() else {
                return Err(format!("expected {task} to fault, but it {}", task_ending(execution, task)));
            };
            match error {
                Some(expected) if !errors.iter().any(|actual| error_matches(expected, actual).is_ok()) => {
                    error_matches(expected, last).map_err(|reason| format!("{task}: {reason}"))
                }
                _ => Ok(()),
            }
        }
        Step::TaskCancels(task) => match events(execution, task, TASK_CANCELLED).next() {
            Some(_) => Ok(()),
            None => Err(format!("expected {task} to be cancelled, but it {}", task_ending(execution, task))),
        },
    }
}

/// The output of a completed run, or why there is none.
fn completed_output(execution: &Execution) -> Result<&Value, String> {
    match execution.status {
        RunStatus::Completed => Ok(execution.output.as_ref().unwrap_or(&Value::Null)),
        _ => Err(format!("expected the workflow to complete, but it {}", ending(execution))),
    }
}

/// How the run ended, as the end of a sentence ("faulted with error {…}").
fn ending(execution: &Execution) -> String {
    match execution.status {
        RunStatus::Completed => {
            format!("completed with output {}", compact(execution.output.as_ref().unwrap_or(&Value::Null)))
        }
        RunStatus::Faulted => {
            format!("faulted with error {}", compact(execution.error.as_ref().unwrap_or(&Value::Null)))
        }
        RunStatus::Cancelled => "was cancelled".into(),
        status => format!("stopped with status {}", status.as_str()),
    }
}

/// What happened to a task, as the end of a sentence.
fn task_ending(execution: &Execution, task: &str) -> String {
    let kinds: Vec<&str> = execution
        .events
        .iter()
        .filter(|event| event.task == task)
        .map(|event| event.kind.trim_start_matches("io.serverlessworkflow.").trim_end_matches(".v1"))
        .collect();
    match kinds.as_slice() {
        [] => format!("never ran (tasks started: {})", list(&started(execution))),
        _ => format!("has events {}", kinds.join(", ")),
    }
}

fn events<'a>(execution: &'a Execution, task: &'a str, kind: &'a str) -> impl Iterator<Item = &'a TaskEvent> {
    execution.events.iter().filter(move |event| event.task == task && event.kind == kind)
}

/// Task names in the order they started (a task appears once per start).
fn started(execution: &Execution) -> Vec<&str> {
    execution.events.iter().filter(|event| event.kind == TASK_STARTED).map(|event| event.task.as_str()).collect()
}

/// `task` ran `relation` (`before` or `after`) `other`, comparing their first starts.
fn order(execution: &Execution, task: &str, other: &str, relation: &str) -> Result<(), String> {
    let started = started(execution);
    let position = |name: &str| started.iter().position(|it| *it == name);
    let holds = match (position(task), position(other)) {
        (Some(task_idx), Some(other_idx)) if relation == "before" => task_idx < other_idx,
        (Some(task_idx), Some(other_idx)) => task_idx > other_idx,
        _ => false,
    };
    match holds {
        true => Ok(()),
        false => {
            Err(format!("expected {task} to run {relation} {other}; tasks started in this order: {}", list(&started)))
        }
    }
}

/// Every field of `expected` is in `actual` with an equal value; error types are compared by
/// their last path segment (`…/errors/types/communication` and `…/dsl/errors/types/communication`
/// name the same type).
fn error_matches(expected: &Value, actual: &Value) -> Result<(), String> {
    let Value::Object(fields) = expected else {
        return Err(format!("the expected error is not an object: {}", compact(expected)));
    };
    for (field, expected_value) in fields {
        let actual_value = actual.get(field);
        let same = match (field.as_str(), expected_value, actual_value) {
            (_, _, None) => false,
            ("type", Value::String(expected_type), Some(Value::String(actual_type))) => {
                last_segment(expected_type) == last_segment(actual_type)
            }
            (_, _, Some(actual_value)) => json_eq(expected_value, actual_value),
        };
        if !same {
            let got = actual_value.map_or_else(|| "nothing".to_owned(), compact);
            return Err(format!(
                "error field '{field}': expected {}, got {got} (error: {})",
                compact(expected_value),
                compact(actual)
            ));
        }
    }
    Ok(())
}

fn last_segment(uri: &str) -> &str {
    uri.trim_end_matches('/').rsplit('/').next().unwrap_or(uri)
}

/// Follows a dotted path (`request.headers`, `items.0.id`) through objects and arrays.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |value, segment| match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|idx| items.get(idx)),
        _ => None,
    })
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_eq(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
            (Some(a), Some(b), _, _) => a == b,
            (_, _, Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_eq(a, b)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, a)| b.get(key).is_some_and(|b| json_eq(a, b)))
        }
        _ => expected == actual,
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn quote_all(paths: &[&str]) -> String {
    paths.iter().map(|path| format!("'{path}'")).collect::<Vec<_>>().join(", ")
}

fn list(names: &[&str]) -> String {
    match names {
        [] => "(none)".into(),
        _ => names.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn completed(output: Value, started: &[&str]) -> Execution {
        let events = started
            .iter()
            .map(|task| TaskEvent::new(TASK_STARTED.into(), &format!("/do/0/{task}"), Value::Null))
            .collect();
        Execution { status: RunStatus::Completed, output: Some(output), error: None, events }
    }

    #[test]
    fn output_checks() {
        let execution = completed(json!({"a": {"b": [1, 2]}, "n": 1.0}), &[]);
        assert!(check(&execution, &Step::OutputHasProperties(vec!["a".into(), "a.b".into()])).is_ok());
        let err = check(&execution, &Step::OutputHasProperties(vec!["a.c".into()])).unwrap_err();
        assert!(err.starts_with("output has no 'a.c'"), "{err}");
        assert!(check(&execution, &Step::OutputPropertyEquals { path: "n".into(), value: json!(1) }).is_ok());
        assert!(check(&execution, &Step::OutputPropertyCount { path: "a.b".into(), n_items: 2 }).is_ok());
        let err = check(&execution, &Step::WorkflowFaults { error: None }).unwrap_err();
        assert!(err.starts_with("expected the workflow to fault, but it completed with output"), "{err}");
    }

    #[test]
    fn order_checks() {
        let execution = completed(json!({}), &["a", "b", "c"]);
        assert!(check(&execution, &Step::TaskRunsFirst("a".into())).is_ok());
        assert!(check(&execution, &Step::TaskRunsLast("c".into())).is_ok());
        assert!(check(&execution, &Step::TaskRunsAfter { task: "b".into(), other: "a".into() }).is_ok());
        assert!(check(&execution, &Step::TaskRunsBefore { task: "a".into(), other: "c".into() }).is_ok());
        let err = check(&execution, &Step::TaskRunsBefore { task: "c".into(), other: "a".into() }).unwrap_err();
        assert_eq!(err, "expected c to run before a; tasks started in this order: a, b, c");
    }

    #[test]
    fn errors_match_listed_fields_and_type_by_last_segment() {
        let actual = json!({"type": "https://serverlessworkflow.io/spec/1.0.0/errors/communication", "status": 404, "instance": "/do/0/x"});
        let expected = json!({"type": "https://serverlessworkflow.io/dsl/errors/types/communication", "status": 404});
        assert!(error_matches(&expected, &actual).is_ok());
        let err = error_matches(&json!({"status": 503}), &actual).unwrap_err();
        assert!(err.starts_with("error field 'status': expected 503, got 404"), "{err}");
    }
}
