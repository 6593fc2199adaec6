//! Features Baton does not run yet (placeholder until the full list lands).

use baton_model::{Diagnostic, Workflow};

/// Every feature of `workflow` that Baton cannot run yet, each at its path.
pub fn unsupported_features(_workflow: &Workflow) -> Vec<Diagnostic> {
    Vec::new()
}
