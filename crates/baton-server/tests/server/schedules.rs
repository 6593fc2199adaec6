//! Schedules against a real SQLite file: `every` fires once per due time (also with two engines
//! on one database), `cron`, `after` (never overlapping), a fire missed while no engine ran
//! fires once after a restart, `on` starts a run per matching event with `[event]` as input;
//! `on.all` fires once per complete set of events (arrival order, duplicates once, across a
//! restart, per correlation value), constant `expect`s filter, `until` is refused.

use std::time::Duration;

use serde_json::{Value, json};

use baton_core::state::RunStatus;
use baton_server::engine::{DEFAULT_APPROVAL_DEADLINE_MS, Engine};
use baton_store::WorkspaceId;
use baton_store::prelude::*;
use baton_store::{RunFilter, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, SqliteOptions, SqliteStore};

async fn engine_on(path: &std::path::Path) -> Engine<SqliteStore> {
    let store = SqliteStore::open(SqliteOptions::new(path)).await.expect("open store");
    Engine::new(store, crate::support::loopback_config(DEFAULT_APPROVAL_DEADLINE_MS))
}

fn scheduled(name: &str, schedule: &str, tasks: &str) -> String {
    format!(
        "document: {{dsl: '1.0.3', namespace: test, name: {name}, version: '1.0.0'}}\n\
         schedule:\n  {schedule}\ndo:\n{tasks}"
    )
}

const QUICK: &str = "  - mark:\n      set: {done: true}\n";

async fn runs_of(engine: &Engine<SqliteStore>, name: &str) -> Vec<RunSummary> {
    let filter = RunFilter { name: Some(name.into()), limit: 1_000, ..Default::default() };
    let mut runs = engine.store().list_runs(&WorkspaceId::DEFAULT, filter).await.expect("list runs");
    runs.sort_by_key(|run| run.created_at);
    runs
}

async fn all_settle(engine: &Engine<SqliteStore>, runs: &[RunSummary]) {
    for run in runs {
        let outcome = tokio::time::timeout(Duration::from_secs(20), engine.wait_for(&run.id, RunStatus::is_terminal))
            .await
            .expect("timed out")
            .expect("outcome");
        assert_eq!(outcome.status, RunStatus::Completed, "{outcome:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fires_once_per_due_time_even_with_two_engines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let first = engine_on(&path).await;
    let second = engine_on(&path).await;
    first.deploy(&scheduled("ticker", "every: {milliseconds: 500}", QUICK)).await.expect("deploy");
    // The second node only runs its scheduler (as after a start), sharing the database.
    second.recover().await.expect("recover");
    tokio::time::sleep(Duration::from_millis(2_700)).await;
    let runs = runs_of(&first, "ticker").await;
    // Due at 0.5 s, 1.0 s, ..., 2.5 s after deployment: five fires, each exactly once.
    assert!((4..=6).contains(&runs.len()), "{} runs: {runs:?}", runs.len());
    let schedule = &first.store().schedules(Some("every")).await.unwrap()[0];
    assert_eq!(schedule.last_run_id.as_deref(), Some(runs.last().unwrap().id.as_str()));
    for pair in runs.windows(2) {
        let gap = pair[1].created_at - pair[0].created_at;
        assert!(gap >= 250, "two fires {gap} ms apart: {runs:?}");
    }
    all_settle(&first, &runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_fires_on_its_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    engine.deploy(&scheduled("cron", "cron: '* * * * * *'", QUICK)).await.expect("deploy");
    let schedule = &engine.store().schedules(None).await.unwrap()[0];
    assert_eq!(schedule.kind, "cron");
    assert_eq!(schedule.next_due_at.unwrap() % 1_000, 0, "due on a whole second");
    tokio::time::sleep(Duration::from_millis(2_600)).await;
    let runs = runs_of(&engine, "cron").await;
    assert!((2..=3).contains(&runs.len()), "{runs:?}");
    all_settle(&engine, &runs).await;
    // A five-field cron is accepted too; its next due time is on a whole minute.
    engine.deploy(&scheduled("daily", "cron: '0 0 * * *'", QUICK)).await.expect("deploy");
    let daily = engine.store().schedules(None).await.unwrap().into_iter().find(|s| s.name == "daily").unwrap();
    assert_eq!(daily.next_due_at.unwrap() % 86_400_000, 0, "due at midnight UTC");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_waits_for_the_previous_run_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let slow = "  - pause:\n      wait: {milliseconds: 700}\n";
    engine.deploy(&scheduled("after", "after: {milliseconds: 300}", slow)).await.expect("deploy");
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let runs = runs_of(&engine, "after").await;
    assert!((2..=3).contains(&runs.len()), "{runs:?}");
    for pair in runs.windows(2) {
        let previous = engine.store().get_run(&WorkspaceId::DEFAULT, &pair[0].id).await.unwrap().unwrap();
        assert!(previous.status == "completed", "{previous:?}");
        assert!(pair[1].created_at >= previous.updated_at + 300, "started before the delay after the end: {runs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fire_missed_while_down_runs_once_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let engine = engine_on(&path).await;
    engine.deploy(&scheduled("hourly", "every: PT1H", QUICK)).await.expect("deploy");
    let schedule = engine.store().schedules(None).await.unwrap().remove(0);
    // As if the server had been down for ten hours past the due time.
    let now = baton_server::clock::now_ms();
    let missed = now - 10 * 3_600_000;
    let back = ScheduleClaim {
        workspace: schedule.workspace.clone(),
        namespace: schedule.namespace.clone(),
        name: schedule.name.clone(),
        version: schedule.version.clone(),
        expected_due_at: schedule.next_due_at,
        next_due_at: Some(missed),
        fired: None,
    };
    assert!(engine.store().claim_schedule(back).await.unwrap());
    engine.store().close().await;
    drop(engine);

    let restarted = engine_on(&path).await;
    restarted.recover().await.expect("recover");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let runs = runs_of(&restarted, "hourly").await;
    assert_eq!(runs.len(), 1, "ten missed slots fire once: {runs:?}");
    let schedule = restarted.store().schedules(None).await.unwrap().remove(0);
    let next = schedule.next_due_at.unwrap();
    assert!(next > now && next <= now + 3_600_000, "continues on its grid from now");
    assert_eq!((next - missed) % 3_600_000, 0);
    all_settle(&restarted, &runs).await;

    // Another restart does not fire it again.
    restarted.store().close().await;
    drop(restarted);
    let again = engine_on(&path).await;
    again.recover().await.expect("recover");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(runs_of(&again, "hourly").await.len(), 1);
}

fn event(id: &str, kind: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/monitor", "type": kind, "data": data})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_starts_a_run_per_matching_event_with_the_events_as_input() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let tasks = "  - read:\n      set: {patient: '${ $workflow.input[0].data.patient }'}\n";
    let on = "on:\n    one:\n      with:\n        type: com.example.heartbeat.low";
    engine.deploy(&scheduled("nurse", on, tasks)).await.expect("deploy");

    let low = event("e1", "com.example.heartbeat.low", json!({"patient": "p1"}));
    assert!(engine.publish_event(low.clone()).await.unwrap());
    assert!(!engine.publish_event(low.clone()).await.unwrap(), "a duplicate is acknowledged");
    engine.publish_event(event("e2", "com.example.heartbeat.ok", json!({"patient": "p2"}))).await.unwrap();
    let runs = runs_of(&engine, "nurse").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let outcome = tokio::time::timeout(Duration::from_secs(20), engine.wait_for(&runs[0].id, RunStatus::is_terminal))
        .await
        .expect("timed out")
        .expect("outcome");
    assert_eq!(outcome.status, RunStatus::Completed, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"patient": "p1"})));
    let run = engine.store().get_run(&WorkspaceId::DEFAULT, &runs[0].id).await.unwrap().unwrap();
    assert_eq!(run.input, json!([low]));

    engine.publish_event(event("e3", "com.example.heartbeat.low", json!({"patient": "p3"}))).await.unwrap();
    assert_eq!(runs_of(&engine, "nurse").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_schedules_are_refused_at_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let until = "on:\n    any:\n      - with: {type: a}\n    until: '${ true }'";
    let err = engine.deploy(&scheduled("until", until, QUICK)).await.unwrap_err();
    assert!(format!("{err:?}").contains("schedule.on.until is not supported yet"), "{err:?}");
    let expect = "on:\n    one:\n      with: {type: a}\n      correlate: {k: {from: .data.k, expect: .k}}";
    let err = engine.deploy(&scheduled("expect", expect, QUICK)).await.unwrap_err();
    assert!(format!("{err:?}").contains("correlate.expect given as an expression in schedule.on"), "{err:?}");
    assert!(engine.store().schedules(None).await.unwrap().is_empty());
}

/// `all` of a `com.example.a` and a `com.example.b` event; the run outputs the ids of its input.
const BOTH: &str = "on:\n    all:\n      - with: {type: com.example.a}\n      - with: {type: com.example.b}";
const IDS: &str = "  - ids:\n      set: '${ $workflow.input | map(.id) }'\n";

async fn inputs_of(engine: &Engine<SqliteStore>, name: &str) -> Vec<Value> {
    let runs = runs_of(engine, name).await;
    all_settle(engine, &runs).await;
    let mut inputs = Vec::new();
    for run in &runs {
        inputs.push(engine.store().get_run(&WorkspaceId::DEFAULT, &run.id).await.unwrap().unwrap().input);
    }
    inputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_all_fires_once_per_set_of_events_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    // Retained before deployment: not replayed into the schedule.
    engine.publish_event(event("early", "com.example.a", json!(0))).await.unwrap();
    engine.deploy(&scheduled("both", BOTH, IDS)).await.expect("deploy");

    let b1 = event("b1", "com.example.b", json!(1));
    let a1 = event("a1", "com.example.a", json!(2));
    engine.publish_event(b1.clone()).await.unwrap();
    assert!(runs_of(&engine, "both").await.is_empty(), "one of two events");
    assert!(!engine.publish_event(b1.clone()).await.unwrap(), "a duplicate is acknowledged");
    assert!(runs_of(&engine, "both").await.is_empty(), "a duplicate counts once");
    engine.publish_event(event("other", "com.example.c", json!(3))).await.unwrap();
    engine.publish_event(a1.clone()).await.unwrap();
    let runs = runs_of(&engine, "both").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let outcome = tokio::time::timeout(Duration::from_secs(20), engine.wait_for(&runs[0].id, RunStatus::is_terminal))
        .await
        .expect("timed out")
        .expect("outcome");
    assert_eq!(outcome.output, Some(json!(["b1", "a1"])), "arrival order");
    assert_eq!(
        engine.store().get_run(&WorkspaceId::DEFAULT, &runs[0].id).await.unwrap().unwrap().input,
        json!([b1, a1])
    );

    // The used events are gone: a new set starts. A second `a` while the first waits is not used.
    engine.publish_event(event("a2", "com.example.a", json!(4))).await.unwrap();
    engine.publish_event(event("a3", "com.example.a", json!(5))).await.unwrap();
    engine.publish_event(event("b2", "com.example.b", json!(6))).await.unwrap();
    engine.publish_event(event("b3", "com.example.b", json!(7))).await.unwrap();
    let mut ids: Vec<Value> = inputs_of(&engine, "both")
        .await
        .iter()
        .map(|input| json!(input.as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>()))
        .collect();
    ids.sort_by_key(Value::to_string);
    assert_eq!(ids, [json!(["a2", "b2"]), json!(["b1", "a1"])]);
    let pending = engine.store().schedule_matches(&both_key(), None).await.unwrap();
    assert_eq!(pending.iter().map(|m| m.event["id"].clone()).collect::<Vec<_>>(), [json!("b3")]);
}

fn both_key() -> ScheduleKey {
    ScheduleKey { workspace: "default".into(), namespace: "test".into(), name: "both".into(), version: "1.0.0".into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_all_survives_a_restart_between_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let engine = engine_on(&path).await;
    engine.deploy(&scheduled("both", BOTH, IDS)).await.expect("deploy");
    engine.publish_event(event("a1", "com.example.a", json!(1))).await.unwrap();
    engine.store().close().await;
    drop(engine);

    let restarted = engine_on(&path).await;
    restarted.recover().await.expect("recover");
    assert!(runs_of(&restarted, "both").await.is_empty());
    restarted.publish_event(event("b1", "com.example.b", json!(2))).await.unwrap();
    let inputs = inputs_of(&restarted, "both").await;
    assert_eq!(inputs.len(), 1);
    assert_eq!(inputs[0].as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>(), ["a1", "b1"]);
}

/// A node stopped after recording the last event of a group but before firing it: the next
/// start fires the group once, and deletes its events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_group_left_by_a_crash_fires_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let engine = engine_on(&path).await;
    engine.deploy(&scheduled("both", BOTH, IDS)).await.expect("deploy");
    for (index, (id, kind)) in [("a1", "com.example.a"), ("b1", "com.example.b")].into_iter().enumerate() {
        let found = ScheduleMatch {
            schedule: both_key(),
            group_key: String::new(),
            filter_index: index as i64,
            event_key: json!(["/monitor", id]).to_string(),
            event: event(id, kind, json!(index)),
            received_at: 1,
        };
        assert!(engine.store().put_schedule_match(found).await.unwrap());
    }
    engine.store().close().await;
    drop(engine);

    let restarted = engine_on(&path).await;
    restarted.recover().await.expect("recover");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inputs_of(&restarted, "both").await.len(), 1);
    assert!(restarted.store().schedule_matches(&both_key(), None).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_all_with_correlate_completes_per_value() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let on = "on:\n    all:\n      - with: {type: com.example.paid}\n        correlate: {order: {from: .data.order}}\n      \
              - with: {type: com.example.shipped}\n        correlate: {order: {from: .data.id}}";
    engine.deploy(&scheduled("orders", on, IDS)).await.expect("deploy");
    engine.publish_event(event("p1", "com.example.paid", json!({"order": 1}))).await.unwrap();
    engine.publish_event(event("p2", "com.example.paid", json!({"order": "2"}))).await.unwrap();
    engine.publish_event(event("none", "com.example.shipped", json!({"id": null}))).await.unwrap();
    engine.publish_event(event("s3", "com.example.shipped", json!({"id": 3}))).await.unwrap();
    assert!(runs_of(&engine, "orders").await.is_empty(), "different values never combine");
    engine.publish_event(event("s2", "com.example.shipped", json!({"id": 2}))).await.unwrap();
    engine.publish_event(event("s1", "com.example.shipped", json!({"id": 1}))).await.unwrap();
    let mut ids: Vec<Value> = inputs_of(&engine, "orders")
        .await
        .iter()
        .map(|input| json!(input.as_array().unwrap().iter().map(|e| e["id"].clone()).collect::<Vec<_>>()))
        .collect();
    ids.sort_by_key(Value::to_string);
    assert_eq!(ids, [json!(["p1", "s1"]), json!(["p2", "s2"])]);
    let key = ScheduleKey { name: "orders".into(), ..both_key() };
    let pending = engine.store().schedule_matches(&key, None).await.unwrap();
    assert_eq!(pending.iter().map(|m| m.event["id"].clone()).collect::<Vec<_>>(), [json!("s3")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_with_a_constant_expect_starts_only_for_that_value() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let on = "on:\n    one:\n      with: {type: com.example.order}\n      \
              correlate: {tier: {from: .data.tier, expect: gold}}";
    engine.deploy(&scheduled("gold", on, IDS)).await.expect("deploy");
    for (id, tier) in [("o1", json!("silver")), ("o2", json!("gold")), ("o3", json!(null)), ("o4", json!("gold"))] {
        engine.publish_event(event(id, "com.example.order", json!({"tier": tier}))).await.unwrap();
    }
    let mut ids: Vec<String> =
        inputs_of(&engine, "gold").await.iter().map(|input| input[0]["id"].to_string()).collect();
    ids.sort();
    assert_eq!(ids, [r#""o2""#, r#""o4""#]);
}
