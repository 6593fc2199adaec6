//! Data-driven interpreter tests: each `cases/*.yaml` holds a workflow, its input, scripted
//! effect results and the expected end (status, output or error, written by hand). The run's
//! trace (lifecycle events and commands) is compared with `cases/*.trace`; regenerate those with
//! `UPDATE_EXPECT=1 cargo test -p baton-core --test interpreter`.
//!
//! The harness persists nothing but round-trips the run state through JSON after every step, as
//! the store does, so a state that does not survive serialization fails here.

mod harness;
mod long_loops;

use std::path::Path;

#[test]
fn interpreter_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interpreter/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("cases folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no cases in {}", dir.display());
    let failures: Vec<String> = paths.iter().filter_map(|path| harness::check_case(path).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), paths.len(), failures.join("\n\n"));
}
