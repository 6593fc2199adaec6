//! Long `for` loops: linear in the number of items, and cut into bounded steps.

use serde_json::{Value, json};

use baton_core::definition::load_definition;
use baton_core::state::{Command, RunStatus, StepInput};
use baton_core::{StepContext, new_run, step};

fn loop_definition() -> String {
    json!({
        "document": {"dsl": "1.0.3", "namespace": "test", "name": "long-loop", "version": "1.0.0"},
        "do": [
            {"sum": {
                "for": {"each": "item", "in": "${ .items }"},
                "do": [{"add": {"set": {"total": "${ .total + $item }"}}}]
            }}
        ]
    })
    .to_string()
}

/// Runs the loop over `n` items to its end; returns the output and the number of steps.
fn run_loop(n: usize) -> (Value, usize) {
    let workflow = load_definition(&loop_definition()).expect("definition");
    let items: Vec<usize> = (0..n).collect();
    let mut state = new_run("run-1", json!({"items": items, "total": 0}), 0);
    let secrets = json!({});
    let context = StepContext { now: 0, secrets: &secrets, max_value_bytes: baton_core::expr::DEFAULT_MAX_VALUE_BYTES };
    let mut input = StepInput::Start;
    let mut steps = 0;
    loop {
        steps += 1;
        let output = step(&workflow, &mut state, input, &context);
        if state.status == RunStatus::Completed {
            return (state.output.clone().expect("output"), steps);
        }
        assert!(output.commands.iter().any(|c| matches!(c, Command::Continue)), "a step ended without continuing");
        input = StepInput::Continue;
    }
}

// See: #13
#[test]
fn issue_13_a_long_for_is_linear_and_cut_into_bounded_steps() {
    let n = 400_000;
    let (output, steps) = run_loop(n);
    assert_eq!(output, json!({"total": n * (n - 1) / 2}));
    // Three agenda items per iteration (enter the body task, produce its output, hand it to the
    // loop), in steps of at most MAX_WORK_PER_STEP items each. The work is asserted, not the
    // time: with `$context` (the large input) converted per expression this took hours.
    let expected = 3 * n / baton_core::MAX_WORK_PER_STEP;
    assert!((expected..=expected + 2).contains(&steps), "{steps} steps, expected about {expected}");
}

// See: #13
#[test]
fn issue_13_a_cancel_between_two_chunks_stops_the_loop() {
    let workflow = load_definition(&loop_definition()).expect("definition");
    let items: Vec<usize> = (0..100_000).collect();
    let mut state = new_run("run-1", json!({"items": items, "total": 0}), 0);
    let secrets = json!({});
    let context = StepContext { now: 0, secrets: &secrets, max_value_bytes: baton_core::expr::DEFAULT_MAX_VALUE_BYTES };
    let output = step(&workflow, &mut state, StepInput::Start, &context);
    assert!(output.commands.contains(&Command::Continue));
    assert_eq!(baton_core::in_flight(&state), vec![Command::Continue]);
    // A suspend keeps the pending work; nothing runs until the resume.
    let output = step(&workflow, &mut state, StepInput::Suspend, &context);
    assert_eq!(state.status, RunStatus::Suspended);
    assert!(!output.commands.contains(&Command::Continue));
    assert!(!state.pending.is_empty());
    let output = step(&workflow, &mut state, StepInput::Resume, &context);
    assert!(output.commands.contains(&Command::Continue));
    let output = step(&workflow, &mut state, StepInput::Cancel, &context);
    assert_eq!(state.status, RunStatus::Cancelled);
    assert!(state.pending.is_empty());
    assert!(output.commands.contains(&Command::Cancelled));
    assert!(baton_core::in_flight(&state).is_empty());
}
