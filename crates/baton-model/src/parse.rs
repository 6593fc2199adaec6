//! Turning definition text (YAML or JSON) into a checked [`Workflow`].

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::types::Workflow;
use crate::validate;

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
    /// Every problem as diagnostics (a syntax error is one diagnostic at the root, on one line:
    /// the position and the reason, without the parser's code frame).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ParseError::Syntax(message) => {
                let first_line = message.lines().next().unwrap_or_default();
                let reason = first_line.strip_prefix("error: ").unwrap_or(first_line);
                // The YAML parser suggests one of its own options; that means nothing to an author.
                let reason = reason.split(", set DuplicateKeyPolicy").next().unwrap_or(reason);
                vec![Diagnostic::new("", format!("malformed definition: {reason}"))]
            }
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
    validate::validate_document(&document).map_err(ParseError::Invalid)
}

/// Every JSON-schema violation, with its instance path, worded by
/// [`validate::schema_diagnostics`].
pub fn schema_diagnostics(document: &Value) -> Vec<Diagnostic> {
    validate::schema_diagnostics(document)
}
