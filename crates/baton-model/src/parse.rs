//! Turning definition text (YAML or JSON) into a checked [`Workflow`].

use std::sync::OnceLock;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::types::Workflow;
use crate::validate;

/// The official 1.0.3 JSON schema of a workflow document.
const WORKFLOW_SCHEMA: &str = include_str!("../schema/workflow.yaml");

/// Why a definition could not be accepted.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ParseError {
    /// The text is neither valid YAML nor valid JSON.
    #[error("malformed definition: {0}")]
    Syntax(String),
    /// The document parsed but breaks the schema or a semantic rule; every problem is listed.
    #[error("invalid definition: {} problem(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
}

impl ParseError {
    /// Every problem as diagnostics (a syntax error is one diagnostic at the root).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ParseError::Syntax(message) => vec![Diagnostic::new("", format!("malformed definition: {message}"))],
            ParseError::Invalid(diagnostics) => diagnostics.clone(),
        }
    }
}

/// Parses YAML or JSON text into a `serde_json::Value`, with resource budgets against hostile
/// input (nodes, depth, scalar bytes).
pub fn parse_document(text: &str) -> Result<Value, ParseError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return serde_json::from_str(text).map_err(|err| ParseError::Syntax(err.to_string()));
    }
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! { max_nodes: 200_000, max_depth: 128, max_total_scalar_bytes: 16 << 20 },
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|err| ParseError::Syntax(err.to_string()))
}

/// Parses and checks a definition: syntax, the JSON schema, then the typed model and the
/// semantic rules of [`validate::check_workflow`]. Expression compilation is checked by
/// `baton-core` on top of this.
pub fn parse_workflow(text: &str) -> Result<Workflow, ParseError> {
    parse_workflow_value(parse_document(text)?)
}

/// Like [`parse_workflow`], from an already parsed document.
pub fn parse_workflow_value(document: Value) -> Result<Workflow, ParseError> {
    let mut diagnostics = schema_diagnostics(&document);
    if !diagnostics.is_empty() {
        diagnostics.sort();
        diagnostics.dedup();
        return Err(ParseError::Invalid(diagnostics));
    }
    let workflow: Workflow = serde_json::from_value(document)
        .map_err(|err| ParseError::Invalid(vec![Diagnostic::new("", err.to_string())]))?;
    let diagnostics = validate::check_workflow(&workflow);
    if diagnostics.is_empty() { Ok(workflow) } else { Err(ParseError::Invalid(diagnostics)) }
}

fn schema_validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_saphyr::from_str(WORKFLOW_SCHEMA).expect("the bundled schema is valid YAML");
        jsonschema::validator_for(&schema).expect("the bundled schema compiles")
    })
}

/// Every JSON-schema violation, with its instance path.
pub fn schema_diagnostics(document: &Value) -> Vec<Diagnostic> {
    schema_validator()
        .iter_errors(document)
        .map(|err| Diagnostic::new(err.instance_path().to_string(), err.to_string()))
        .collect()
}
