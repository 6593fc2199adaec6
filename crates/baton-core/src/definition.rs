//! The one pipeline from definition text to a runnable workflow, shared by `baton validate`,
//! `baton run` and the server: parse, schema and semantic checks, the features Baton runs,
//! then compilation of every expression.

use baton_model::{Diagnostic, ParseError, parse_workflow};

use crate::compile::{CompiledWorkflow, compile};
use crate::support::unsupported_features;

/// Why a definition cannot run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DefinitionError {
    #[error("malformed definition: {0}")]
    Syntax(String),
    /// Every problem found, sorted by path.
    #[error("invalid definition: {} problem(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
}

impl DefinitionError {
    /// Every problem as diagnostics (a syntax error is one diagnostic at the root).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            DefinitionError::Syntax(message) => vec![Diagnostic::new("", format!("malformed definition: {message}"))],
            DefinitionError::Invalid(diagnostics) => diagnostics.clone(),
        }
    }
}

/// Parses, checks and compiles a definition (YAML or JSON text). Errors list every problem.
pub fn load_definition(text: &str) -> Result<CompiledWorkflow, DefinitionError> {
    let workflow = parse_workflow(text).map_err(|err| match err {
        ParseError::Syntax(message) => DefinitionError::Syntax(message),
        ParseError::Invalid(diagnostics) => DefinitionError::Invalid(diagnostics),
    })?;
    let mut diagnostics = unsupported_features(&workflow);
    match compile(workflow) {
        Ok(compiled) if diagnostics.is_empty() => Ok(compiled),
        Ok(_) => Err(DefinitionError::Invalid(diagnostics)),
        Err(more) => {
            diagnostics.extend(more);
            diagnostics.sort();
            diagnostics.dedup();
            Err(DefinitionError::Invalid(diagnostics))
        }
    }
}
