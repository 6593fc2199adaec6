//! Runs one case file through the interpreter with a simulated clock, scripted effect results
//! and scripted events.
//!
//! Events: `events:` lists `{after_ms?, event?, subscription?, signal?}` entries, delivered in
//! order once the run has no effect in flight, each `after_ms` (default 0) after the previous
//! entry (the first after the start); a timer due earlier fires first. An event (missing
//! `specversion`, `id` and `source` are filled in: `1.0`, `evt-<n>` for the n-th entry,
//! `/test`) goes to every subscription [`baton_core::events::matches`] accepts, or, with
//! `subscription: <id>`, to that id unchecked; an event no subscription matches is dropped. A
//! `signal` (`cancel`, `suspend`, `resume`, or `expire`: every open subscription passed its
//! deadline) is applied instead.
//!
//! `metadata:` is the run's metadata when it is created; `expect.metadata` the whole metadata
//! object the run must end with.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use baton_core::definition::load_definition;
use baton_core::effects::{Effect, EffectResult, HttpResponse};
use baton_core::error::WorkflowError;
use baton_core::events::{Subscription, matches, validate_cloud_event};
use baton_core::state::{Command, RunState, StepInput};
use baton_core::{StepContext, new_run, step};

/// Start of the simulated clock: 2023-11-14T22:13:20Z.
const START_MS: i64 = 1_700_000_000_000;
/// Steps after which a case is considered to loop forever.
const MAX_STEPS: usize = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    workflow: Value,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    secrets: Value,
    /// The step context's `max_value_bytes` (the default limit when absent).
    #[serde(default = "default_max_value_bytes")]
    max_value_bytes: usize,
    /// The run's metadata when it is created.
    #[serde(default)]
    metadata: serde_json::Map<String, Value>,
    /// Results for effects, consumed in the order the effects are issued.
    #[serde(default)]
    effects: Vec<ScriptedResult>,
    /// Events and signals, delivered while the run waits.
    #[serde(default)]
    events: Vec<ScriptedInput>,
    expect: Expectation,
}

fn default_max_value_bytes() -> usize {
    baton_core::expr::DEFAULT_MAX_VALUE_BYTES
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedInput {
    #[serde(default)]
    after_ms: i64,
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    subscription: Option<String>,
    #[serde(default)]
    signal: Option<Signal>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Signal {
    Cancel,
    Suspend,
    Resume,
    /// The stale-wait sweeper expires every open subscription.
    Expire,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
enum ScriptedResult {
    Http {
        status: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: Value,
    },
    Document(Value),
    Output(Value),
    Error(WorkflowError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expectation {
    status: String,
    #[serde(default)]
    output: Option<Value>,
    /// Fields the run's error must have (a partial match).
    #[serde(default)]
    error: Option<serde_json::Map<String, Value>>,
    /// The run's metadata at the end (the whole object).
    #[serde(default)]
    metadata: Option<serde_json::Map<String, Value>>,
}

fn script_result(result: ScriptedResult) -> EffectResult {
    match result {
        ScriptedResult::Http { status, headers, body } => {
            let mut headers: Vec<(String, String)> = headers.into_iter().collect();
            let bytes = match &body {
                Value::Null => Vec::new(),
                Value::String(text) => text.clone().into_bytes(),
                other => {
                    if !headers.iter().any(|(name, _)| name == "content-type") {
                        headers.push(("content-type".into(), "application/json".into()));
                    }
                    other.to_string().into_bytes()
                }
            };
            let body_base64 = base64::engine::general_purpose::STANDARD.encode(bytes);
            EffectResult::Http { response: HttpResponse { status, headers, body_base64 } }
        }
        ScriptedResult::Document(document) => EffectResult::Document { document },
        ScriptedResult::Output(output) => EffectResult::Output { output },
        ScriptedResult::Error(error) => EffectResult::Failed { error },
    }
}

fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Http { request } => {
            let mut text = format!("http {} {}", request.method, request.uri);
            for (name, value) in &request.headers {
                write!(text, " [{name}: {value}]").unwrap();
            }
            if let Some(body) = &request.body {
                write!(text, " body={body}").unwrap();
            }
            text
        }
        Effect::FetchDocument { uri, .. } => format!("fetch {uri}"),
        Effect::Subflow { namespace, name, version, input } => {
            format!("subflow {namespace}/{name}:{version} input={input}")
        }
    }
}

fn describe_subscription(subscription: &Subscription) -> String {
    let types = match &subscription.types {
        Some(types) => format!("[{}]", types.join(",")),
        None => "*".to_owned(),
    };
    let open = subscription.filters.iter().filter(|filter| !filter.satisfied).count();
    let mut text = format!("types={types} open={open}/{}", subscription.filters.len());
    if !subscription.correlation.is_empty() {
        write!(text, " correlation={}", json!(subscription.correlation)).unwrap();
    }
    text
}

/// The event of the `index`-th scripted entry with its defaults filled in.
fn complete_event(event: &Value, index: usize) -> Result<Value, String> {
    let mut event = event.clone();
    let Some(attributes) = event.as_object_mut() else { return Err(format!("event {index} is not an object")) };
    attributes.entry("specversion").or_insert_with(|| json!("1.0"));
    attributes.entry("id").or_insert_with(|| json!(format!("evt-{index}")));
    attributes.entry("source").or_insert_with(|| json!("/test"));
    validate_cloud_event(&event).map_err(|problems| format!("event {index} is invalid: {problems:?}"))?;
    Ok(event)
}

/// The inputs one scripted entry produces, described for the trace.
fn script_input(
    entry: &ScriptedInput,
    index: usize,
    subscriptions: &BTreeMap<String, Subscription>,
    now: i64,
) -> Result<(String, Vec<StepInput>), String> {
    match (&entry.event, entry.signal) {
        (None, Some(Signal::Expire)) => {
            let inputs = subscriptions
                .keys()
                .map(|subscription_id| StepInput::Expire { subscription_id: subscription_id.clone() })
                .collect();
            Ok(("expire".to_owned(), inputs))
        }
        (None, Some(signal)) => {
            let (name, input) = match signal {
                Signal::Cancel => ("cancel", StepInput::Cancel),
                Signal::Suspend => ("suspend", StepInput::Suspend),
                Signal::Resume | Signal::Expire => ("resume", StepInput::Resume),
            };
            Ok((name.to_owned(), vec![input]))
        }
        (Some(event), None) => {
            let event = complete_event(event, index)?;
            let targets: Vec<String> = match &entry.subscription {
                Some(id) => vec![id.clone()],
                None => {
                    let mut targets = Vec::new();
                    for (id, subscription) in subscriptions {
                        if matches(subscription, &event, now).map_err(|err| err.to_string())? {
                            targets.push(id.clone());
                        }
                    }
                    targets
                }
            };
            let shown = if targets.is_empty() { "dropped".to_owned() } else { format!("=> {}", targets.join(", ")) };
            let text = format!(
                "event {} {} {shown}",
                event["type"].as_str().unwrap_or("?"),
                event["id"].as_str().unwrap_or("?")
            );
            let inputs = targets
                .into_iter()
                .map(|subscription_id| StepInput::EventReceived { subscription_id, event: event.clone() })
                .collect();
            Ok((text, inputs))
        }
        _ => Err(format!("scripted entry {index} needs exactly one of event and signal")),
    }
}

/// Runs the case; returns its trace and final state, or the reason it could not run.
fn run_case(case: Case) -> Result<(String, RunState), String> {
    let text = serde_json::to_string(&case.workflow).map_err(|err| err.to_string())?;
    let workflow = load_definition(&text).map_err(|err| format!("definition refused: {:?}", err.diagnostics()))?;
    let mut state = new_run("run-1", case.input, START_MS);
    state.metadata = case.metadata;
    let mut scripted: VecDeque<ScriptedResult> = case.effects.into();
    let mut effects: VecDeque<(String, Effect)> = VecDeque::new();
    let mut timers: BTreeMap<String, i64> = BTreeMap::new();
    let mut script: VecDeque<ScriptedInput> = case.events.into();
    let mut script_index = 0;
    let mut last_delivery = START_MS;
    let mut subscriptions: BTreeMap<String, Subscription> = BTreeMap::new();
    let mut deliveries: VecDeque<StepInput> = VecDeque::new();
    let mut now = START_MS;
    let mut input = Some(StepInput::Start);
    let mut trace = String::new();
    let mut steps = 0;
    while let Some(next) = input.take() {
        steps += 1;
        if steps > MAX_STEPS {
            return Err(format!("more than {MAX_STEPS} steps"));
        }
        let context = StepContext { now, secrets: &case.secrets, max_value_bytes: case.max_value_bytes };
        let output = step(&workflow, &mut state, next, &context);
        state = serde_json::from_value(serde_json::to_value(&state).map_err(|e| e.to_string())?)
            .map_err(|err| format!("state does not round-trip: {err}"))?;
        for event in &output.history {
            let kind = event.kind.trim_start_matches("io.serverlessworkflow.").trim_end_matches(".v1");
            writeln!(trace, "+{}ms {kind} {}", event.at - START_MS, event.task.as_deref().unwrap_or("")).unwrap();
        }
        for command in output.commands {
            match command {
                Command::Perform { effect_id, effect, .. } => {
                    writeln!(trace, "  -> {}", describe_effect(&effect)).unwrap();
                    effects.push_back((effect_id, effect));
                }
                Command::StartTimer { timer_id, due_at } => {
                    writeln!(trace, "  -> timer {timer_id} in {}ms", due_at - now).unwrap();
                    timers.insert(timer_id, due_at);
                }
                Command::CancelTimer { timer_id } => {
                    writeln!(trace, "  -> cancel {timer_id}").unwrap();
                    timers.remove(&timer_id);
                }
                Command::EmitEvent { event } => writeln!(trace, "  -> emit {}", event["type"]).unwrap(),
                Command::Subscribe { subscription_id, subscription } => {
                    writeln!(trace, "  -> subscribe {subscription_id} {}", describe_subscription(&subscription))
                        .unwrap();
                    subscriptions.insert(subscription_id, subscription);
                }
                Command::Unsubscribe { subscription_id } => {
                    writeln!(trace, "  -> unsubscribe {subscription_id}").unwrap();
                    subscriptions.remove(&subscription_id);
                }
                Command::EventConsumed { source, id } => writeln!(trace, "  -> consumed {source} {id}").unwrap(),
                Command::Continue => {
                    writeln!(trace, "  -> continue").unwrap();
                    deliveries.push_back(StepInput::Continue);
                }
                Command::Complete { .. } | Command::Fault { .. } | Command::Cancelled => {}
            }
        }
        if state.status.is_terminal() {
            break;
        }
        input = loop {
            if let Some(delivery) = deliveries.pop_front() {
                break Some(delivery);
            }
            if let Some((effect_id, effect)) = effects.pop_front() {
                let result = scripted
                    .pop_front()
                    .ok_or_else(|| format!("no scripted result for {}", describe_effect(&effect)))?;
                break Some(StepInput::EffectCompleted { effect_id, result: script_result(result) });
            }
            let next_timer = timers.iter().min_by_key(|(_, due)| **due).map(|(id, due)| (id.clone(), *due));
            let next_entry = script.front().map(|entry| now.max(last_delivery + entry.after_ms));
            if let Some(due) = next_entry
                && next_timer.as_ref().is_none_or(|(_, timer_due)| due <= *timer_due)
            {
                let entry = script.pop_front().ok_or("no scripted entry")?;
                script_index += 1;
                now = due;
                last_delivery = due;
                let (text, inputs) = script_input(&entry, script_index, &subscriptions, now)?;
                writeln!(trace, "+{}ms <- {text}", now - START_MS).unwrap();
                deliveries.extend(inputs);
                continue;
            }
            if let Some((timer_id, due_at)) = next_timer {
                timers.remove(&timer_id);
                now = now.max(due_at);
                break Some(StepInput::TimerFired { timer_id });
            }
            break None;
        };
    }
    if !script.is_empty() {
        writeln!(trace, "undelivered: {} scripted entries", script.len()).unwrap();
    }
    if !scripted.is_empty() {
        return Err(format!("{} scripted results left unused", scripted.len()));
    }
    writeln!(trace, "status: {}", state.status.as_str()).unwrap();
    if let Some(output) = &state.output {
        writeln!(trace, "output: {output}").unwrap();
    }
    if let Some(error) = &state.error {
        writeln!(trace, "error: {}", error.to_value()).unwrap();
    }
    if !state.metadata.is_empty() {
        writeln!(trace, "metadata: {}", json!(state.metadata)).unwrap();
    }
    Ok((trace, state))
}

fn check_expectation(expect: &Expectation, state: &RunState) -> Result<(), String> {
    let mut problems = Vec::new();
    if state.status.as_str() != expect.status {
        problems.push(format!("status: expected {}, got {}", expect.status, state.status.as_str()));
    }
    if let Some(output) = &expect.output
        && state.output.as_ref() != Some(output)
    {
        problems.push(format!("output: expected {output}, got {}", json!(state.output)));
    }
    if let Some(fields) = &expect.error {
        let actual = state.error.as_ref().map(WorkflowError::to_value).unwrap_or(Value::Null);
        for (key, value) in fields {
            if actual.get(key) != Some(value) {
                problems
                    .push(format!("error.{key}: expected {value}, got {}", actual.get(key).unwrap_or(&Value::Null)));
            }
        }
    }
    if let Some(metadata) = &expect.metadata
        && &state.metadata != metadata
    {
        problems.push(format!("metadata: expected {}, got {}", json!(metadata), json!(state.metadata)));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// Checks one case file against its expectation and its trace file.
pub fn check_case(path: &Path) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let fail = |message: String| format!("--- {name}\n{message}");
    let text = std::fs::read_to_string(path).map_err(|err| fail(err.to_string()))?;
    let case: Case = serde_saphyr::from_str(&text).map_err(|err| fail(format!("bad case file: {err}")))?;
    let expect = Expectation {
        status: case.expect.status.clone(),
        output: case.expect.output.clone(),
        error: case.expect.error.clone(),
        metadata: case.expect.metadata.clone(),
    };
    let (trace, state) = run_case(case).map_err(fail)?;
    let trace_path = path.with_extension("trace");
    let expected_trace = std::fs::read_to_string(&trace_path).unwrap_or_default();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&trace_path, &trace).map_err(|err| fail(err.to_string()))?;
    } else if expected_trace != trace {
        return Err(fail(format!("trace differs from {}:\n{trace}", trace_path.display())));
    }
    check_expectation(&expect, &state).map_err(|problems| fail(format!("{problems}\ntrace:\n{trace}")))
}
