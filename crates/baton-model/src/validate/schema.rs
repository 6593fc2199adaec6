//! The JSON-schema gate (`schema/workflow.yaml`) and the translation of its errors into
//! diagnostics a person can act on.
//!
//! The schema is built from `oneOf`/`anyOf` choices (task kinds, call kinds, durations,
//! endpoints...). When a value matches none of the choices, the validator reports one generic
//! error carrying the errors of every choice. We pick the choice the author most likely meant
//! (see [`explain_choice`]) and report its errors; only when no choice stands out do we report
//! one summary for the whole value. `unevaluatedProperties` errors that merely repeat properties
//! declared by a failed choice are dropped.

use std::sync::OnceLock;

use jsonschema::ValidationError;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::validate::pointer::{self, Pointer};
use crate::validate::schema_text;

/// The official 1.0.3 JSON schema of a workflow document.
const WORKFLOW_SCHEMA: &str = include_str!("../../schema/workflow.yaml");

/// The workflow schema, kept as a value to look up titles and declared properties.
struct Gate {
    schema: Value,
    validator: jsonschema::Validator,
}

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| {
        let schema: Value = serde_saphyr::from_str(WORKFLOW_SCHEMA).expect("the bundled schema is valid YAML");
        let validator = jsonschema::validator_for(&schema).expect("the bundled schema compiles");
        Gate { schema, validator }
    })
}

/// How a problem weighs when deciding which `oneOf` choice the author meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A required property is missing.
    Required,
    /// The value has another JSON type than the choice expects.
    WrongType,
    /// A `const` or `not` keyword refused the value: typically a discriminator such as
    /// `call: http`.
    Constant,
    /// The value is not one of an `enum`.
    Enum,
    /// No choice of a nested `oneOf`/`anyOf` stood out.
    Summary,
    /// Anything else: the value has the right shape but a detail is wrong.
    Detail,
}

/// One explained schema problem.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) path: String,
    pub(crate) shape: Shape,
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, shape: Shape, message: impl Into<String>) -> Self {
        Problem { path: path.into(), shape, message: message.into() }
    }
}

/// Every schema violation of `document`, explained, de-duplicated and in document order.
pub(crate) fn schema_diagnostics(document: &Value) -> Vec<Diagnostic> {
    if let Some(message) = schema_text::not_a_workflow(document) {
        return vec![Diagnostic::new("", message)];
    }
    let gate = gate();
    let errors: Vec<ValidationError<'_>> = gate.validator.iter_errors(document).collect();
    let problems = explain(Some(&gate.schema), &errors);
    let problems = drop_covered_summaries(problems);
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for problem in problems {
        let diagnostic = Diagnostic::new(problem.path, problem.message);
        if !diagnostics.contains(&diagnostic) {
            diagnostics.push(diagnostic);
        }
    }
    diagnostics.sort_by_cached_key(|diagnostic| pointer::document_order(document, &diagnostic.path));
    diagnostics
}

/// Explains a list of sibling errors.
///
/// `schema` is the schema the errors come from, used to tell unknown properties from declared
/// ones and to name choices; without it every unexpected property is reported.
pub(crate) fn explain(schema: Option<&Value>, errors: &[ValidationError<'_>]) -> Vec<Problem> {
    let mut problems = Vec::new();
    for error in errors {
        let path = error.instance_path().as_str();
        match error.kind() {
            ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
                problems.extend(explain_choice(schema, error, context));
            }
            ValidationErrorKind::UnevaluatedProperties { unexpected }
            | ValidationErrorKind::AdditionalProperties { unexpected } => {
                let owner = error.schema_path().as_str().rsplit_once('/').map_or("", |(owner, _)| owner);
                let declared = schema_text::declared_properties(schema, owner);
                for name in unexpected.iter().filter(|name| !declared.contains(*name)) {
                    let message = schema_text::unknown_property(name, &declared);
                    problems.push(Problem::new(Pointer::from(path).join(name).as_str(), Shape::Detail, message));
                }
            }
            _ => problems.push(schema_text::single(error)),
        }
    }
    problems
}

/// Explains a failed `oneOf`/`anyOf`: the problems of the choice the author most likely meant,
/// or one summary problem when no choice stands out.
///
/// A choice scores by, in order: how badly its shape is refused at the value itself (a
/// mismatched type or discriminator property weighs 10, a refused `const`/`enum` value 5, a
/// missing property or an undecided nested choice 1), then how deep its problems go (deeper
/// means the value matched more of it), then how few problems it has. Several best choices with
/// different problems make a summary; the same problems from several choices are kept.
fn explain_choice(
    schema: Option<&Value>,
    error: &ValidationError<'_>,
    context: &[Vec<ValidationError<'_>>],
) -> Vec<Problem> {
    if schema_text::always_summarized(error.schema_path().as_str()) {
        return vec![schema_text::summary(schema, error)];
    }
    let path = error.instance_path().as_str();
    let depth = pointer::segments(path).count();
    let choices: Vec<Vec<Problem>> = context.iter().map(|errors| explain(schema, errors)).collect();
    let score = |problems: &Vec<Problem>| {
        let mismatch: usize = problems
            .iter()
            .map(|problem| {
                let problem_depth = pointer::segments(&problem.path).count();
                match problem.shape {
                    Shape::Constant if problem_depth == depth + 1 => 10,
                    Shape::Constant | Shape::Enum if problem_depth == depth => 5,
                    Shape::WrongType if problem_depth == depth => 10,
                    Shape::Required | Shape::Summary if problem_depth == depth => 1,
                    _ => 0,
                }
            })
            .sum();
        let deepest = problems.iter().map(|problem| pointer::segments(&problem.path).count()).max().unwrap_or(0);
        (mismatch, usize::MAX - deepest, problems.len())
    };
    let best = choices.iter().filter(|problems| !problems.is_empty()).map(score).min();
    let winners: Vec<&Vec<Problem>> =
        choices.iter().filter(|problems| !problems.is_empty() && Some(score(problems)) == best).collect();
    match winners.split_first() {
        Some((first, others)) if others.iter().all(|other| same_messages(other, first)) => first.to_vec(),
        _ => vec![schema_text::summary(schema, error)],
    }
}

fn same_messages(left: &[Problem], right: &[Problem]) -> bool {
    left.len() == right.len()
        && left.iter().zip(right).all(|(left, right)| left.path == right.path && left.message == right.message)
}

/// Drops a summary ("matches none of the forms") when a more specific problem exists at the
/// same path or below it.
fn drop_covered_summaries(problems: Vec<Problem>) -> Vec<Problem> {
    let specific: Vec<String> =
        problems.iter().filter(|problem| problem.shape != Shape::Summary).map(|problem| problem.path.clone()).collect();
    problems
        .into_iter()
        .filter(|problem| {
            problem.shape != Shape::Summary
                || !specific.iter().any(|path| path == &problem.path || path.starts_with(&format!("{}/", problem.path)))
        })
        .collect()
}
