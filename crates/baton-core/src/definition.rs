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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn messages(body: &str) -> Vec<String> {
        let text = format!("document: {{dsl: '1.0.3', namespace: test, name: listen, version: '0.1.0'}}\n{body}");
        match load_definition(&text) {
            Ok(_) => Vec::new(),
            Err(err) => err.diagnostics().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn specification_listen_examples_load() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../baton-model/tests/data/examples");
        let mut loaded = 0;
        for entry in std::fs::read_dir(&folder).expect("the examples folder") {
            let path = entry.expect("an entry").path();
            let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
            if name.starts_with("listen-") || name == "for.yaml" || name == "accumulate-room-readings.yaml" {
                let text = std::fs::read_to_string(&path).expect("a readable example");
                if let Err(err) = load_definition(&text) {
                    panic!("{name}: {:?}", err.diagnostics());
                }
                loaded += 1;
            }
        }
        assert_eq!(loaded, 10);
    }

    #[test]
    fn listen_expressions_are_checked_at_load() {
        let problems = messages(
            r#"
do:
  - wait:
      listen:
        to:
          any:
            - with:
                type: t
                data: {amount: "${ . > $input.limit }"}
              correlate:
                order: {from: ".data.id |", expect: "${ .order.id }"}
          until: ". | length >"
      foreach:
        output: {as: "${ $nope }"}
"#,
        );
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("/do/0/wait/foreach/output/as: "), "{problems:?}");
        assert!(problems[1].starts_with("/do/0/wait/listen/to/any/0/correlate/order/from: "), "{problems:?}");
        assert!(problems[2].starts_with("/do/0/wait/listen/to/any/0/with/data/amount: "), "{problems:?}");
        assert!(problems[2].contains("$event"), "{problems:?}");
        assert!(problems[3].starts_with("/do/0/wait/listen/to/until: "), "{problems:?}");
    }

    #[test]
    fn schedule_filter_expressions_are_checked_at_load() {
        let problems = messages(
            r#"
schedule:
  on:
    all:
      - with: {type: t, data: "${ . > $input.limit }"}
      - with: {type: u}
        correlate:
          order: {from: ".data.id |"}
do:
  - mark:
      set: {done: true}
"#,
        );
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("/schedule/on/all/0/with/data: ")), "{problems:?}");
        assert!(problems.iter().any(|p| p.starts_with("/schedule/on/all/1/correlate/order/from: ")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("correlate on different keys")), "{problems:?}");
    }

    #[test]
    fn filters_and_expectations_compile_into_the_subscription_form() {
        let workflow = load_definition(
            "document: {dsl: '1.0.3', namespace: test, name: listen, version: '0.1.0'}
do:
  - wait:
      listen:
        to:
          one:
            with: {type: t, data: '${ .ok }'}
            correlate:
              a: {from: .subject, expect: approved}
              b: {from: .data.id, expect: .id}
              c: {from: .data.k}
",
        )
        .expect("a valid definition");
        let crate::compile::CompiledKind::Listen(listen) = &workflow.tasks[0].kind else { panic!("a listen task") };
        let filter = &listen.filters[0];
        assert_eq!(filter.correlate["a"].expect, Some(serde_json::json!("approved")));
        assert_eq!(filter.correlate["b"].expect, None);
        assert_eq!(filter.correlate["c"].expect, None);
        assert_eq!(listen.expect_expressions.len(), 1);
        assert_eq!(listen.expect_expressions[0].1, "b");
    }
}
