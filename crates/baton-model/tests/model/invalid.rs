//! Data-driven tests of refused definitions: `tests/data/invalid/<case>.yaml` must be refused
//! with exactly the diagnostics of `<case>.diagnostics`, one `path: message` line each.

use crate::expect::{compare_with_file, data_dir, files_ending_with};

#[test]
fn invalid_definitions_report_every_problem() {
    let cases = files_ending_with(&data_dir().join("invalid"), ".yaml");
    assert!(cases.len() >= 20, "expected at least 20 invalid cases, found {}", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("a readable case");
        let rendered = match baton_model::parse_workflow(&text) {
            Ok(_) => String::new(),
            Err(err) => err.diagnostics().iter().map(|diagnostic| format!("{diagnostic}\n")).collect(),
        };
        if rendered.is_empty() {
            failures.push(format!("{} was accepted", case.display()));
            continue;
        }
        failures.extend(compare_with_file(&case.with_extension("diagnostics"), &rendered));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
