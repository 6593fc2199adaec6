//! Validation of workflow definitions, reporting every problem with its JSON-pointer path.
//!
//! Two layers: the JSON-schema gate ([`schema_diagnostics`], run on the raw document) and the
//! semantic checks the schema cannot express ([`check_workflow`], run on the typed model):
//! unique task names, flow targets, references into `use` (secrets read by `$secrets` included), durations, cron expressions, inline
//! JSON schemas and variable names. Runtime expressions are compiled by `baton-core`, not here.

mod flow;
mod pointer;
mod references;
mod schema;
mod schema_text;
mod secrets;
mod serde_errors;
mod values;
mod walk;

use serde::Deserialize;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::types::{Use, Workflow};
use crate::validate::pointer::Pointer;

/// Validates a parsed document: the JSON schema, then the typed model, then the semantic
/// checks. Returns the workflow, or every problem of the first layer that failed, in the order
/// of the document.
pub fn validate_document(document: &Value) -> Result<Workflow, Vec<Diagnostic>> {
    let diagnostics = schema::schema_diagnostics(document);
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let workflow = Workflow::deserialize(document).map_err(|error| vec![serde_errors::locate(document, &error)])?;
    let mut diagnostics = check_workflow(&workflow);
    let declared = workflow.use_.as_ref().map(|uses| uses.secrets.as_slice()).unwrap_or_default();
    diagnostics.extend(secrets::undeclared_secrets(document, declared));
    if diagnostics.is_empty() {
        return Ok(workflow);
    }
    diagnostics.sort_by_cached_key(|diagnostic| pointer::document_order(document, &diagnostic.path));
    Err(diagnostics)
}

/// Checks a schema-valid workflow; returns every problem found (empty when valid), in the order
/// the checks walk the workflow.
pub fn check_workflow(workflow: &Workflow) -> Vec<Diagnostic> {
    let no_uses = Use::default();
    let mut checker = Checker { uses: workflow.use_.as_ref().unwrap_or(&no_uses), diagnostics: Vec::new() };
    checker.workflow(workflow);
    checker.diagnostics
}

/// Every violation of the workflow JSON schema in `document`, worded for people: the most
/// specific problem of each `oneOf` choice, unknown properties with suggestions, no duplicates,
/// in the order of the document.
pub fn schema_diagnostics(document: &Value) -> Vec<Diagnostic> {
    schema::schema_diagnostics(document)
}

/// Walks a workflow and collects the problems of the semantic checks.
struct Checker<'a> {
    /// The workflow's reusable components, which references resolve against.
    uses: &'a Use,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn report(&mut self, path: &Pointer, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(path.as_str(), message));
    }
}
