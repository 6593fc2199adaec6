//! Semantic checks the JSON schema cannot express.

use crate::diagnostic::Diagnostic;
use crate::types::Workflow;

/// Checks a schema-valid workflow; returns every problem found (empty when valid).
pub fn check_workflow(_workflow: &Workflow) -> Vec<Diagnostic> {
    Vec::new()
}
