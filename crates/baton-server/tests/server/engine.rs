//! The engine against a real SQLite file: waiting costs nothing, signals, recovery after the
//! engine is gone, concurrency limits, subflows that wait.

use std::time::Duration;

use serde_json::{Value, json};

use baton_core::state::RunStatus;
use baton_server::engine::{CreateRun, DEFAULT_APPROVAL_DEADLINE_MS, Engine, EngineError, EngineLoad, Signal};
use baton_store::WorkspaceId;
use baton_store::prelude::*;
use baton_store::{SqliteOptions, SqliteStore};

async fn engine_on(path: &std::path::Path) -> Engine<SqliteStore> {
    engine_with_deadline(path, DEFAULT_APPROVAL_DEADLINE_MS).await
}

async fn engine_with_deadline(path: &std::path::Path, approval_deadline_ms: i64) -> Engine<SqliteStore> {
    let store = SqliteStore::open(SqliteOptions::new(path)).await.expect("open store");
    Engine::new(store, crate::support::loopback_config(approval_deadline_ms))
}

fn waiting_workflow(name: &str, wait_ms: u64) -> String {
    format!(
        "document: {{dsl: '1.0.3', namespace: test, name: {name}, version: '1.0.0'}}\n\
         do:\n  - before:\n      set: {{stage: waiting}}\n  - pause:\n      wait: {{milliseconds: {wait_ms}}}\n  \
         - after:\n      set: {{stage: done}}\n"
    )
}

async fn start(engine: &Engine<SqliteStore>, text: &str, input: Value) -> String {
    let workflow = engine.deploy(text).await.expect("deploy");
    let run_id =
        engine.create(CreateRun::new(&workflow, input)).await.map(|created| created.record.id).expect("create run");
    engine.start(&run_id).await.expect("start");
    run_id
}

async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future).await.expect("timed out")
}

/// The engine's load once idle actors had time to retire (they do right after their commit).
async fn settled_load(engine: &Engine<SqliteStore>) -> EngineLoad {
    let mut load = engine.load();
    for _ in 0..50 {
        if load.actors == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        load = engine.load();
    }
    load
}

#[tokio::test]
async fn a_waiting_run_holds_no_actor_only_a_timer() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let run_id = start(&engine, &waiting_workflow("idle", 400), json!({})).await;
    let waiting = within(engine.wait_for(&run_id, |s| s == RunStatus::Waiting)).await.unwrap();
    assert_eq!(waiting.status, RunStatus::Waiting);
    let load = settled_load(&engine).await;
    assert_eq!((load.actors, load.timers), (0, 1), "{load:?}");
    let done = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.output, Some(json!({"stage": "done"})));
    assert_eq!(engine.load().timers, 0);
}

#[tokio::test]
async fn suspend_holds_a_due_timer_until_resume() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let run_id = start(&engine, &waiting_workflow("suspendable", 200), json!({})).await;
    within(engine.wait_for(&run_id, |s| s == RunStatus::Waiting)).await.unwrap();
    engine.signal(&run_id, Signal::Suspend).await.unwrap();
    within(engine.wait_for(&run_id, |s| s == RunStatus::Suspended)).await.unwrap();
    // The timer fires while suspended; the run must not move on.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(engine.outcome(&run_id).await.unwrap().status, RunStatus::Suspended);
    // Suspending again is accepted and changes nothing.
    engine.signal(&run_id, Signal::Suspend).await.unwrap();
    engine.signal(&run_id, Signal::Resume).await.unwrap();
    let done = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    let refused = engine.signal(&run_id, Signal::Resume).await;
    assert!(matches!(refused, Err(EngineError::SignalRefused { .. })), "{refused:?}");
}

#[tokio::test]
async fn cancel_ends_a_waiting_run_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let run_id = start(&engine, &waiting_workflow("cancellable", 60_000), json!({})).await;
    within(engine.wait_for(&run_id, |s| s == RunStatus::Waiting)).await.unwrap();
    engine.signal(&run_id, Signal::Cancel).await.unwrap();
    let cancelled = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(engine.signal(&run_id, Signal::Cancel).await.unwrap(), RunStatus::Cancelled);
    assert_eq!(engine.load().timers, 0, "the cancelled run's timer is gone");
}

// See: #13
#[tokio::test]
async fn issue_13_a_cancel_stops_a_long_loop_between_two_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let text = "document: {dsl: '1.0.3', namespace: test, name: long-loop, version: '1.0.0'}\n\
                do:\n  - sum:\n      for: {each: i, in: '${ [range(500000)] }'}\n      \
                do:\n        - add:\n            set: {total: '${ .total + $i }'}\n";
    let run_id = start(&engine, text, json!({"total": 0})).await;
    within(engine.wait_for(&run_id, |s| s == RunStatus::Running)).await.unwrap();
    // One step of the loop alone would take far longer than `within` allows; the cancel
    // applies after the chunk in progress.
    engine.signal(&run_id, Signal::Cancel).await.unwrap();
    let cancelled = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
}

#[tokio::test]
async fn a_new_engine_recovers_waiting_and_never_started_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    let (waiting, never_started) = {
        let engine = engine_on(&path).await;
        let waiting = start(&engine, &waiting_workflow("recoverable", 300), json!({})).await;
        within(engine.wait_for(&waiting, |s| s == RunStatus::Waiting)).await.unwrap();
        let workflow = engine.workflow("test", "recoverable", "1.0.0").await.unwrap();
        let never_started = engine
            .create(CreateRun::new(&workflow.workflow, json!({})))
            .await
            .map(|created| created.record.id)
            .unwrap();
        engine.store().close().await;
        (waiting, never_started)
    };
    let engine = engine_on(&path).await;
    assert_eq!(engine.recover().await.unwrap(), 2);
    for run_id in [&waiting, &never_started] {
        let done = within(engine.wait_for(run_id, RunStatus::is_terminal)).await.unwrap();
        assert_eq!(done.output, Some(json!({"stage": "done"})), "run {run_id}");
    }
}

#[tokio::test]
async fn runs_beyond_the_concurrency_limit_wait_their_turn() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let deployed = engine.deploy_with_limit(&waiting_workflow("limited", 150), Some(1)).await.unwrap();
    let mut runs = Vec::new();
    for n in 0..3 {
        let run_id = engine
            .create(CreateRun::new(&deployed.workflow, json!({"n": n})))
            .await
            .map(|created| created.record.id)
            .unwrap();
        engine.start(&run_id).await.unwrap();
        runs.push(run_id);
    }
    within(engine.wait_for(&runs[0], |s| s == RunStatus::Waiting)).await.unwrap();
    assert_eq!(engine.outcome(&runs[1]).await.unwrap().status, RunStatus::Pending);
    assert_eq!(engine.outcome(&runs[2]).await.unwrap().status, RunStatus::Pending);
    assert_eq!(engine.load().queued, 2);
    let mut finished_at = Vec::new();
    for run_id in &runs {
        within(engine.wait_for(run_id, RunStatus::is_terminal)).await.unwrap();
        finished_at.push(engine.store().get_run(&WorkspaceId::DEFAULT, run_id).await.unwrap().unwrap().updated_at);
    }
    assert!(finished_at.windows(2).all(|pair| pair[0] <= pair[1]), "runs finished out of order: {finished_at:?}");
}

#[tokio::test]
async fn a_subflow_that_waits_reports_to_its_parent() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    engine.deploy(&waiting_workflow("child", 200)).await.unwrap();
    let parent = "document: {dsl: '1.0.3', namespace: test, name: parent, version: '1.0.0'}\n\
                  do:\n  - callChild:\n      run:\n        workflow: {namespace: test, name: child, version: '1.0.0'}\n      \
                  output:\n        as: '${ {child: .stage} }'\n";
    let run_id = start(&engine, parent, json!({})).await;
    let done = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.output, Some(json!({"child": "done"})), "{done:?}");
    let children = engine.store().child_runs(&WorkspaceId::DEFAULT, &run_id).await.unwrap();
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].status, "completed");
}

fn approval_workflow(name: &str) -> String {
    format!(
        "document: {{dsl: '1.0.3', namespace: test, name: {name}, version: '1.0.0'}}\n\
         do:\n  - awaitApproval:\n      listen:\n        to:\n          one:\n            with:\n              \
         type: com.example.approval\n            correlate:\n              order:\n                from: .data.orderId\n                \
         expect: '${{ .orderId }}'\n      output:\n        as: '${{ {{approved: .[0].approved}} }}'\n"
    )
}

fn approval_event(id: &str, order_id: u64, approved: bool) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "test", "type": "com.example.approval",
           "data": {"orderId": order_id, "approved": approved}})
}

#[tokio::test]
async fn a_posted_event_wakes_the_waiting_run_it_correlates_with() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let text = approval_workflow("approval");
    let first = start(&engine, &text, json!({"orderId": 1})).await;
    let second = start(&engine, &text, json!({"orderId": 2})).await;
    for run_id in [&first, &second] {
        within(engine.wait_for(run_id, |s| s == RunStatus::Waiting)).await.unwrap();
    }
    assert_eq!(settled_load(&engine).await.actors, 0, "waiting on an event holds no actor");
    assert!(engine.publish_event(approval_event("e-2", 2, false)).await.unwrap());
    let done = within(engine.wait_for(&second, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.output, Some(json!({"approved": false})));
    assert_eq!(engine.outcome(&first).await.unwrap().status, RunStatus::Waiting, "order 1 is still waiting");
    // The same event again is acknowledged and ignored.
    assert!(!engine.publish_event(approval_event("e-2", 2, false)).await.unwrap());
    assert!(engine.publish_event(approval_event("e-1", 1, true)).await.unwrap());
    let done = within(engine.wait_for(&first, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.output, Some(json!({"approved": true})));
}

#[tokio::test]
async fn an_event_sent_before_the_wait_is_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    assert!(engine.publish_event(approval_event("early", 7, true)).await.unwrap());
    let run_id = start(&engine, &approval_workflow("early"), json!({"orderId": 7})).await;
    let done = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.output, Some(json!({"approved": true})));
    // A second run waiting for the same order gets the retained event too: consumption is per run.
    let again = start(&engine, &approval_workflow("early"), json!({"orderId": 7})).await;
    let done = within(engine.wait_for(&again, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.output, Some(json!({"approved": true})));
}

#[tokio::test]
async fn invalid_events_list_every_missing_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let refused = engine.publish_event(json!({"type": "x"})).await;
    let Err(EngineError::InvalidEvent(problems)) = refused else { panic!("accepted: {refused:?}") };
    let listed = problems.join("\n");
    for attribute in ["id", "source", "specversion"] {
        assert!(listed.contains(attribute), "{attribute} missing from {listed}");
    }
}

#[tokio::test]
async fn the_sweeper_expires_human_waits_past_their_deadline_once() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with_deadline(&dir.path().join("baton.db"), 100).await;
    let text = "document: {dsl: '1.0.3', namespace: test, name: refund, version: '1.0.0'}\n\
                do:\n  - approve:\n      listen:\n        to:\n          one:\n            with:\n              \
                type: com.example.approved\n      metadata:\n        inbox:\n          title: '${ \"Refund \" + .id }'\n";
    let run_id = start(&engine, text, json!({"id": "r-9"})).await;
    within(engine.wait_for(&run_id, |s| s == RunStatus::Waiting)).await.unwrap();
    let not_yet = engine.sweep_overdue(100).await.unwrap().unwrap();
    assert_eq!(not_yet, baton_server::engine::SweepReport::default(), "nothing is overdue yet");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let report = engine.sweep_overdue(100).await.unwrap().unwrap();
    assert_eq!((report.checked, report.timed_out, report.failed), (1, 1, 0));
    let done = within(engine.wait_for(&run_id, RunStatus::is_terminal)).await.unwrap();
    assert_eq!(done.status, RunStatus::Faulted);
    let error = done.error.unwrap();
    assert!(error.type_.ends_with("/timeout"), "{error:?}");
    assert_eq!(error.detail.as_deref(), Some("reason: approval_timeout"));
    assert_eq!(error.instance, "/do/0/approve");
    let again = engine.sweep_overdue(100).await.unwrap().unwrap();
    assert_eq!(again.checked, 0, "an expired wait is gone from the inbox");
}
