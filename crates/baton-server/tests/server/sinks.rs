//! Lifecycle event sinks: a run's history arrives at a local receiver as CloudEvents, in order,
//! once each also when the receiver fails at first, and loopback sinks need explicit permission.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use baton_core::state::RunStatus;
use baton_server::engine::{CreateRun, DEFAULT_APPROVAL_DEADLINE_MS, Engine};
use baton_server::notify::sinks::{self, RetryPolicy, SinkError, SinkOptions};
use baton_server::outbound::egress::EgressPolicy;
use baton_store::prelude::*;
use baton_store::{SqliteOptions, SqliteStore};

use crate::support::{LOOPBACK, STRICT};
use baton_store::WorkspaceId;

const TWO_STEPS: &str = "document: {dsl: '1.0.3', namespace: test, name: sinks, version: '1.0.0'}\n\
     do:\n  - first:\n      set: {a: 1}\n  - second:\n      set: {b: 2}\n";

/// One request the receiver got: content type, body, and the status it answered.
#[derive(Debug, Clone)]
struct Received {
    content_type: String,
    body: Value,
    status: u16,
}

/// A webhook receiver on 127.0.0.1 that answers 503 to its first `failures` requests.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(failures: usize) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let recorded = got.clone();
        let router = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let recorded = recorded.clone();
                async move {
                    let mut got = recorded.lock().unwrap();
                    let status = if got.len() < failures { 503 } else { 200 };
                    got.push(Received {
                        content_type: headers
                            .get("content-type")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or_default()
                            .to_owned(),
                        body: serde_json::from_str(&body).unwrap_or(Value::Null),
                        status,
                    });
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { url: format!("http://{addr}/hook?token=secret"), got }
    }

    /// The events answered with 200, in arrival order.
    fn accepted(&self) -> Vec<Received> {
        self.got.lock().unwrap().iter().filter(|it| it.status == 200).cloned().collect()
    }

    /// Waits until `n` events were accepted.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            let accepted = self.accepted();
            if accepted.len() >= n {
                return accepted;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("receiver got {:?}", self.got.lock().unwrap());
    }
}

async fn engine_on(path: &std::path::Path) -> Engine<SqliteStore> {
    let store = SqliteStore::open(SqliteOptions::new(path)).await.expect("open store");
    Engine::new(store, crate::support::loopback_config(DEFAULT_APPROVAL_DEADLINE_MS))
}

fn fast(policy: EgressPolicy) -> SinkOptions {
    SinkOptions {
        retry: RetryPolicy { attempts: 5, base: Duration::from_millis(10), cap: Duration::from_millis(100) },
        ..SinkOptions::new(policy)
    }
}

/// Runs TWO_STEPS to the end; returns its id and its history as `(seq, kind, task)`.
async fn run_two_steps(engine: &Engine<SqliteStore>) -> (String, Vec<(i64, String, Option<String>)>) {
    let workflow = engine.deploy(TWO_STEPS).await.expect("deploy");
    let run_id =
        engine.create(CreateRun::new(&workflow, json!({}))).await.map(|created| created.record.id).expect("create run");
    engine.start(&run_id).await.expect("start");
    let done = tokio::time::timeout(Duration::from_secs(20), engine.wait_for(&run_id, RunStatus::is_terminal))
        .await
        .expect("timed out")
        .unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    let history = engine.store().history(&WorkspaceId::DEFAULT, &run_id, 0, 1000).await.unwrap();
    (run_id, history.into_iter().map(|entry| (entry.seq, entry.kind, entry.task)).collect())
}

/// The accepted events are exactly the run's history, once each, in order, with the
/// CloudEvent attributes.
fn assert_matches_history(run_id: &str, history: &[(i64, String, Option<String>)], accepted: &[Received]) {
    let ids: Vec<&str> = accepted.iter().map(|it| it.body["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = history.iter().map(|(seq, _, _)| format!("{run_id}/{seq}")).collect();
    assert_eq!(ids, expected, "every event once, in order");
    for (received, (_, kind, task)) in accepted.iter().zip(history) {
        let event = &received.body;
        assert_eq!(received.content_type, "application/cloudevents+json");
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["source"], format!("/baton/runs/{run_id}"));
        assert_eq!(event["type"], json!(kind));
        assert_eq!(event.get("subject").and_then(Value::as_str), task.as_deref(), "{event}");
        let time = event["time"].as_str().expect("time");
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{time}");
        assert_eq!(event["data"]["runId"], run_id);
    }
}

fn kinds(accepted: &[Received]) -> Vec<String> {
    accepted.iter().map(|it| it.body["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_run_s_lifecycle_arrives_as_cloud_events_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let receiver = Receiver::start(0).await;
    let started = sinks::start(&engine, std::slice::from_ref(&receiver.url), fast(LOOPBACK)).await.expect("sinks");
    let (run_id, history) = run_two_steps(&engine).await;
    let accepted = receiver.wait_for(history.len()).await;
    assert_matches_history(&run_id, &history, &accepted);

    let kinds = kinds(&accepted);
    let position = |suffix: &str, from: usize| {
        kinds[from..].iter().position(|kind| kind.contains(suffix)).map(|at| at + from).unwrap_or_else(|| {
            panic!("{suffix} after {from} in {kinds:?}");
        })
    };
    let workflow_started = position("workflow.started", 0);
    let task_started = position("task.started", workflow_started);
    let task_completed = position("task.completed", task_started);
    position("workflow.completed", task_completed);
    let first_task = &accepted[task_started].body;
    assert!(first_task["subject"].as_str().is_some_and(|it| it.contains("first")), "{first_task}");

    let stats = &started.sinks[0].stats;
    assert_eq!(stats.delivered.load(std::sync::atomic::Ordering::Relaxed), history.len() as u64);
    assert!(!started.sinks[0].name.contains("token"), "{}", started.sinks[0].name);
}

#[tokio::test]
async fn a_failing_receiver_still_gets_every_event_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let receiver = Receiver::start(2).await;
    let started = sinks::start(&engine, std::slice::from_ref(&receiver.url), fast(LOOPBACK)).await.expect("sinks");
    let (run_id, history) = run_two_steps(&engine).await;
    let accepted = receiver.wait_for(history.len()).await;
    assert_matches_history(&run_id, &history, &accepted);

    let all = receiver.got.lock().unwrap().clone();
    assert_eq!(all.iter().filter(|it| it.status == 503).count(), 2);
    // The first event was retried twice, then accepted before anything else was sent.
    let first = format!("{run_id}/{}", history[0].0);
    assert!(all[..3].iter().all(|it| it.body["id"] == first), "{all:?}");
    let stats = &started.sinks[0].stats;
    assert_eq!(stats.retries.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
}

#[tokio::test]
async fn loopback_sinks_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_on(&dir.path().join("baton.db")).await;
    let receiver = Receiver::start(0).await;
    let refused = sinks::start(&engine, std::slice::from_ref(&receiver.url), fast(STRICT)).await;
    let err = refused.expect_err("a loopback sink needs permission");
    assert!(matches!(err, SinkError::Refused { index: 1, .. }), "{err:?}");
    assert!(!err.to_string().contains("token"), "{err}");
    let port = receiver.url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let by_name = sinks::start(&engine, &[format!("http://localhost:{port}/hook")], fast(STRICT)).await;
    assert!(matches!(by_name, Err(SinkError::Refused { .. })), "{by_name:?}");
    let bad = sinks::start(&engine, &["ftp://example.com/".to_owned()], fast(STRICT)).await;
    assert!(matches!(bad, Err(SinkError::Refused { .. })), "{bad:?}");

    run_two_steps(&engine).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.got.lock().unwrap().is_empty(), "nothing is delivered to a refused sink");
}
