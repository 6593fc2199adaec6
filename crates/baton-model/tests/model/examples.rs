//! Every example of the specification (copied to `tests/data/examples/`) is accepted.

use crate::expect::{data_dir, files_ending_with};

#[test]
fn every_specification_example_parses() {
    let files = files_ending_with(&data_dir().join("examples"), ".yaml");
    assert_eq!(files.len(), 66, "the 1.0.3 specification has 66 examples");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a readable example");
        if let Err(err) = baton_model::parse_workflow(&text) {
            let diagnostics: Vec<String> = err.diagnostics().iter().map(ToString::to_string).collect();
            failures.push(format!("{}:\n  {}", file.display(), diagnostics.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "examples refused:\n{}", failures.join("\n"));
}
