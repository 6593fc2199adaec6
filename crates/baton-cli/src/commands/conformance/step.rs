//! The CTK step vocabulary (`ctk/README.md`, "Steps"): step text and docstring to [`Step`].

use serde_json::Value;

/// A step the runner knows.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `a workflow with definition:` (the definition text).
    Definition(String),
    /// `the workflow input is:`.
    Input(Value),
    /// `the workflow is executed`.
    Execute,
    /// `the workflow should complete` / `… complete with output:`.
    WorkflowCompletes { output: Option<Value> },
    /// `the workflow should fault` / `… fault with error:`.
    WorkflowFaults { error: Option<Value> },
    /// `the workflow should cancel`.
    WorkflowCancels,
    /// `the workflow output should have properties 'a', 'b.c'`.
    OutputHasProperties(Vec<String>),
    /// `the workflow output should have a 'p' property with value:`.
    OutputPropertyEquals { path: String, value: Value },
    /// `the workflow output should have a 'p' property containing N items`.
    OutputPropertyCount { path: String, n_items: usize },
    /// `<task> should run first`.
    TaskRunsFirst(String),
    /// `<task> should run last`.
    TaskRunsLast(String),
    /// `<task> should run before <other>`.
    TaskRunsBefore { task: String, other: String },
    /// `<task> should run after <other>`.
    TaskRunsAfter { task: String, other: String },
    /// `<task> should complete` / `… complete with output:`.
    TaskCompletes { task: String, output: Option<Value> },
    /// `<task> should fault` / `… fault with error:`.
    TaskFaults { task: String, error: Option<Value> },
    /// `<task> should cancel`.
    TaskCancels(String),
}

/// Why a step could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// Not in the vocabulary.
    Unknown,
    /// In the vocabulary, but malformed (a missing docstring, a docstring that is not YAML…).
    Invalid(String),
}

/// Reads a step. `docstring` is the step's docstring content, if any.
pub fn parse(text: &str, docstring: Option<&str>) -> Result<Step, StepError> {
    let text = text.trim();
    let text = text.strip_suffix(':').unwrap_or(text).trim_end();
    // `And given the workflow input is:` repeats the keyword in the text.
    let text = text.strip_prefix("given ").unwrap_or(text);
    let step = match text {
        "a workflow with definition" => Step::Definition(required(docstring)?.to_owned()),
        "the workflow input is" => Step::Input(yaml(required(docstring)?)?),
        "the workflow is executed" => Step::Execute,
        "the workflow should complete" => Step::WorkflowCompletes { output: None },
        "the workflow should complete with output" => {
            Step::WorkflowCompletes { output: Some(yaml(required(docstring)?)?) }
        }
        "the workflow should fault" => Step::WorkflowFaults { error: None },
        "the workflow should fault with error" => Step::WorkflowFaults { error: Some(yaml(required(docstring)?)?) },
        "the workflow should cancel" => Step::WorkflowCancels,
        _ => {
            if let Some(list) = text.strip_prefix("the workflow output should have properties ") {
                return quoted_list(list).map(Step::OutputHasProperties);
            }
            if let Some(rest) = text.strip_prefix("the workflow output should have a '") {
                return output_property(rest, docstring);
            }
            return task_step(text, docstring);
        }
    };
    Ok(step)
}

/// `p' property with value` or `p' property containing N items`.
fn output_property(rest: &str, docstring: Option<&str>) -> Result<Step, StepError> {
    let (path, rest) = rest.split_once('\'').ok_or(StepError::Unknown)?;
    let path = path.to_owned();
    if rest == " property with value" {
        return Ok(Step::OutputPropertyEquals { path, value: yaml(required(docstring)?)? });
    }
    let count = rest.strip_prefix(" property containing ").ok_or(StepError::Unknown)?;
    let count = count.strip_suffix(" items").or_else(|| count.strip_suffix(" item")).ok_or(StepError::Unknown)?;
    let n_items =
        count.trim().parse().map_err(|_| StepError::Invalid(format!("{count:?} is not a number of items")))?;
    Ok(Step::OutputPropertyCount { path, n_items })
}

fn task_step(text: &str, docstring: Option<&str>) -> Result<Step, StepError> {
    let (task, rest) = text.split_once(" should ").ok_or(StepError::Unknown)?;
    if task.is_empty() || task.contains(char::is_whitespace) {
        return Err(StepError::Unknown);
    }
    let task = task.to_owned();
    let step = match rest {
        "run first" => Step::TaskRunsFirst(task),
        "run last" => Step::TaskRunsLast(task),
        "complete" => Step::TaskCompletes { task, output: None },
        "complete with output" => Step::TaskCompletes { task, output: Some(yaml(required(docstring)?)?) },
        "fault" => Step::TaskFaults { task, error: None },
        "fault with error" => Step::TaskFaults { task, error: Some(yaml(required(docstring)?)?) },
        "cancel" => Step::TaskCancels(task),
        _ => {
            let (relation, other) =
                rest.strip_prefix("run ").and_then(|rest| rest.split_once(' ')).ok_or(StepError::Unknown)?;
            if other.is_empty() || other.contains(char::is_whitespace) {
                return Err(StepError::Unknown);
            }
            let other = other.to_owned();
            match relation {
                "before" => Step::TaskRunsBefore { task, other },
                "after" => Step::TaskRunsAfter { task, other },
                _ => return Err(StepError::Unknown),
            }
        }
    };
    Ok(step)
}

fn required(docstring: Option<&str>) -> Result<&str, StepError> {
    docstring.ok_or_else(|| StepError::Invalid("this step needs a docstring".into()))
}

/// A docstring as YAML (JSON included); an empty one is `null`.
fn yaml(text: &str) -> Result<Value, StepError> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_saphyr::from_str(text).map_err(|err| StepError::Invalid(format!("the docstring is not YAML: {err}")))
}

/// `'a', 'b.c'` (single or double quotes).
fn quoted_list(list: &str) -> Result<Vec<String>, StepError> {
    list.split(',')
        .map(|item| {
            let item = item.trim();
            let unquoted = item
                .strip_prefix('\'')
                .and_then(|it| it.strip_suffix('\''))
                .or_else(|| item.strip_prefix('"').and_then(|it| it.strip_suffix('"')));
            match unquoted {
                Some(path) if !path.is_empty() => Ok(path.to_owned()),
                _ => Err(StepError::Invalid(format!("{item:?} is not a quoted property path"))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn workflow_steps() {
        assert_eq!(parse("a workflow with definition:", Some("do: []\n")), Ok(Step::Definition("do: []\n".into())));
        assert_eq!(parse("given the workflow input is:", Some("a: 1\n")), Ok(Step::Input(json!({"a": 1}))));
        assert_eq!(parse("the workflow is executed", None), Ok(Step::Execute));
        assert_eq!(
            parse("the workflow should complete with output:", Some("colors: [ red ]")),
            Ok(Step::WorkflowCompletes { output: Some(json!({"colors": ["red"]})) })
        );
        assert_eq!(parse("the workflow should fault", None), Ok(Step::WorkflowFaults { error: None }));
        assert_eq!(parse("the workflow should cancel", None), Ok(Step::WorkflowCancels));
        assert_eq!(
            parse("the workflow output should have properties 'id', 'request.uri'", None),
            Ok(Step::OutputHasProperties(vec!["id".into(), "request.uri".into()]))
        );
        assert_eq!(
            parse("the workflow output should have a 'error.instance' property with value:", Some("/do/0/x")),
            Ok(Step::OutputPropertyEquals { path: "error.instance".into(), value: json!("/do/0/x") })
        );
        assert_eq!(
            parse("the workflow output should have a 'colors' property containing 1 items", None),
            Ok(Step::OutputPropertyCount { path: "colors".into(), n_items: 1 })
        );
    }

    #[test]
    fn task_steps() {
        assert_eq!(parse("setRed should run first", None), Ok(Step::TaskRunsFirst("setRed".into())));
        assert_eq!(parse("setRed should run last", None), Ok(Step::TaskRunsLast("setRed".into())));
        assert_eq!(
            parse("setGreen should run after setRed", None),
            Ok(Step::TaskRunsAfter { task: "setGreen".into(), other: "setRed".into() })
        );
        assert_eq!(
            parse("a should run before b", None),
            Ok(Step::TaskRunsBefore { task: "a".into(), other: "b".into() })
        );
        assert_eq!(parse("a should complete", None), Ok(Step::TaskCompletes { task: "a".into(), output: None }));
        assert_eq!(
            parse("a should fault with error:", Some("status: 400")),
            Ok(Step::TaskFaults { task: "a".into(), error: Some(json!({"status": 400})) })
        );
        assert_eq!(parse("a should cancel", None), Ok(Step::TaskCancels("a".into())));
    }

    #[test]
    fn unknown_and_invalid_steps() {
        assert_eq!(parse("the workflow should explode", None), Err(StepError::Unknown));
        assert_eq!(parse("a should run sideways b", None), Err(StepError::Unknown));
        assert_eq!(parse("the sky should fall", None), Err(StepError::Unknown));
        assert!(matches!(parse("the workflow should complete with output:", None), Err(StepError::Invalid(_))));
        assert!(matches!(
            parse("the workflow output should have a 'p' property containing many items", None),
            Err(StepError::Invalid(_))
        ));
    }
}
