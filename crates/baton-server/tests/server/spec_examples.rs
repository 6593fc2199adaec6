//! The specification's `listen-*`, `schedule-*`, `emit` and `for` examples
//! (`crates/baton-model/tests/data/examples/`, unchanged) deployed through the API router on a
//! real SQLite file, with the CloudEvents they wait for posted to `POST /api/v1/events`. Their
//! HTTP calls go to public hosts, rewritten to a recording server on 127.0.0.1. Several
//! examples share `test/listen-to-any:0.1.0` with other content, so each test has its own
//! database.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Uri};
use serde_json::{Value, json};
use tempfile::TempDir;

use baton_server::api::ApiEngine;
use baton_server::clock::now_ms;
use baton_server::engine::DEFAULT_APPROVAL_DEADLINE_MS;
use baton_server::server::Server;
use baton_store::prelude::*;
use baton_store::{AnyStore, ScheduleClaim};

use crate::api_support::{Reply, send};
use baton_store::WorkspaceId;

/// The public origins the examples call.
const CALLED_ORIGINS: [&str; 4] = [
    "https://virtual-wf-powered-race.com",
    "https://fake-chat-api.com",
    "https://example.com",
    "https://hospital.example.com",
];

const DAY_MS: i64 = 86_400_000;

fn example(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../baton-model/tests/data/examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// An HTTP server on 127.0.0.1 that records every request (`{method, path, body}`) and answers
/// it with that record as JSON.
#[derive(Clone)]
struct Recorder {
    base: String,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let got: Arc<Mutex<Vec<Value>>> = Arc::default();
        let recorded = got.clone();
        let router = Router::new().fallback(move |method: Method, uri: Uri, body: String| {
            let recorded = recorded.clone();
            async move {
                let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
                let request = json!({"method": method.as_str(), "path": uri.path(), "body": body});
                recorded.lock().unwrap().push(request.clone());
                Json(request)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Recorder { base, got }
    }

    fn requests(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

/// The API on an engine on the SQLite file at `path`, the examples' origins rewritten to
/// `recorder`.
struct SpecServer {
    store: AnyStore,
    engine: ApiEngine,
    server: Server,
}

impl SpecServer {
    async fn open(path: &Path, recorder: &Recorder) -> SpecServer {
        let mut config = crate::support::local_config(path, DEFAULT_APPROVAL_DEADLINE_MS);
        config.rewrites = CALLED_ORIGINS.iter().map(|origin| ((*origin).to_owned(), recorder.base.clone())).collect();
        let server = crate::support::start(config).await;
        SpecServer { store: server.store().clone(), engine: server.engine().clone(), server }
    }

    /// A fresh database in `dir` with the example `file` deployed.
    async fn with(dir: &TempDir, recorder: &Recorder, file: &str) -> SpecServer {
        let server = SpecServer::open(&dir.path().join("baton.db"), recorder).await;
        let reply = server.post("/api/v1/workflows", "application/yaml", example(file)).await;
        assert_eq!(reply.status, 201, "deploy {file}: {}", String::from_utf8_lossy(&reply.body));
        server
    }

    async fn post(&self, uri: &str, content_type: &str, body: String) -> Reply {
        let request = Request::post(uri).header("content-type", content_type).body(Body::from(body)).unwrap();
        send(self.server.api().router.clone(), request).await
    }

    async fn get(&self, uri: &str) -> Value {
        let reply = send(self.server.api().router.clone(), Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, 200, "{uri}: {}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// Starts `NAMESPACE/NAME` synchronously; returns the run as answered.
    async fn run(&self, namespace: &str, name: &str, input: Value) -> Value {
        let body = json!({"workflow": {"namespace": namespace, "name": name}, "input": input});
        let reply = self.post("/api/v1/runs?mode=sync", "application/json", body.to_string()).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// Starts `test/NAME` and asserts it waits for events; returns its id.
    async fn waiting(&self, name: &str, input: Value) -> String {
        let run = self.run("test", name, input).await;
        assert_eq!(run["status"], "waiting", "{run}");
        run["id"].as_str().unwrap().to_owned()
    }

    /// Posts one structured-mode CloudEvent and asserts it is accepted.
    async fn send_event(&self, event: &Value) {
        let reply = self.post("/api/v1/events", "application/cloudevents+json", event.to_string()).await;
        assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.json(), json!({"accepted": 1, "duplicates": 0}));
    }

    async fn run_of(&self, run_id: &str) -> Value {
        self.get(&format!("/api/v1/runs/{run_id}")).await
    }

    /// Polls a run until its status is `status` (10 s at most); returns the run.
    async fn wait_status(&self, run_id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let run = self.run_of(run_id).await;
            if run["status"] == status {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "run {run_id} never became {status}: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Asserts the run still waits once what it was sent had time to arrive.
    async fn still_waiting(&self, run_id: &str) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let run = self.run_of(run_id).await;
        assert_eq!(run["status"], "waiting", "{run}");
    }

    /// The ids of the runs of workflow `name`, oldest first.
    async fn runs_of(&self, name: &str) -> Vec<String> {
        let page = self.get(&format!("/api/v1/runs?name={name}")).await;
        let mut ids: Vec<String> =
            page["items"].as_array().unwrap().iter().map(|run| run["id"].as_str().unwrap().to_owned()).collect();
        ids.reverse();
        ids
    }
}

/// A CloudEvent from the hospital's monitors.
fn event(id: &str, kind: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "/hospital/monitors", "type": kind, "data": data})
}

const TEMPERATURE: &str = "com.fake-hospital.vitals.measurements.temperature";
const BPM: &str = "com.fake-hospital.vitals.measurements.bpm";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_all_consumes_one_event_per_filter_in_arrival_order() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-all.yaml").await;
    let run_id = server.waiting("listen-to-all", json!({})).await;
    // A normal temperature matches neither filter; a high heart rate satisfies the second one.
    server.send_event(&event("t-1", TEMPERATURE, json!({"temperature": 37}))).await;
    server.send_event(&event("b-1", BPM, json!({"bpm": 120}))).await;
    server.still_waiting(&run_id).await;
    // A second high heart rate is not consumed: its filter is satisfied already.
    server.send_event(&event("b-2", BPM, json!({"bpm": 130}))).await;
    server.send_event(&event("t-2", TEMPERATURE, json!({"temperature": 39}))).await;
    let run = server.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"bpm": 120}, {"temperature": 39}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_all_read_envelope_outputs_the_whole_events() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-all-read-envelope.yaml").await;
    let run_id = server.waiting("listen-to-all-read-envelope", json!({})).await;
    let temperature = event("t-1", TEMPERATURE, json!({"temperature": 39.5}));
    let bpm = event("b-1", BPM, json!({"bpm": 45}));
    server.send_event(&temperature).await;
    server.send_event(&event("b-0", BPM, json!({"bpm": 80}))).await;
    server.still_waiting(&run_id).await;
    server.send_event(&bpm).await;
    let run = server.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([temperature, bpm]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_any_filter_completes_with_the_first_matching_event() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-any-filter.yaml").await;
    let run_id = server.waiting("listen-to-any-filter", json!({})).await;
    server.send_event(&event("t-1", TEMPERATURE, json!({"temperature": 37}))).await;
    server.send_event(&event("b-1", BPM, json!({"bpm": 75}))).await;
    server.still_waiting(&run_id).await;
    server.send_event(&event("b-2", BPM, json!({"bpm": 50}))).await;
    let run = server.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"bpm": 50}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_any_without_filters_completes_with_any_event() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-any.yaml").await;
    let run_id = server.waiting("listen-to-any", json!({})).await;
    server.send_event(&event("x-1", "com.example.anything", json!({"n": 1}))).await;
    let run = server.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"n": 1}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_any_until_condition_stops_once_more_than_three_were_consumed() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-any-until-condition.yaml").await;
    let run_id = server.waiting("listen-to-any", json!({})).await;
    for n in 1..=3 {
        server.send_event(&event(&format!("x-{n}"), "com.example.anything", json!({"n": n}))).await;
    }
    // `( . | length ) > 3` (the example's comment says 3 events): three are not enough.
    server.still_waiting(&run_id).await;
    server.send_event(&event("x-4", "com.example.other", json!({"n": 4}))).await;
    let run = server.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_any_until_consumed_excludes_the_until_event() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-any-until-consumed.yaml").await;
    let run_id = server.waiting("listen-to-any", json!({})).await;
    server.send_event(&event("t-1", TEMPERATURE, json!({"temperature": 39}))).await;
    server.send_event(&event("t-2", TEMPERATURE, json!({"temperature": 36.6}))).await;
    server.send_event(&event("b-1", BPM, json!({"bpm": 130}))).await;
    server.send_event(&event("t-3", TEMPERATURE, json!({"temperature": 40}))).await;
    // `any` goes on consuming matching events until the check-out.
    server.still_waiting(&run_id).await;
    let checked_out = event("c-1", "com.fake-hospital.patient.checked-out", json!({"patient": "p-1"}));
    server.send_event(&checked_out).await;
    let run = server.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"temperature": 39}, {"bpm": 130}, {"temperature": 40}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_one_waits_for_the_start_then_calls_with_the_consumed_events() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-one.yaml").await;
    let run_id = server.waiting("listen-to-one", json!({})).await;
    let kind = |what: &str| format!("com.virtual-wf-powered-race.events.race.{what}.v1");
    server.send_event(&event("r-1", &kind("finished"), json!({"carId": 7}))).await;
    server.still_waiting(&run_id).await;
    assert!(recorder.requests().is_empty(), "nothing is called before the start");
    server.send_event(&event("r-2", &kind("started"), json!({"carId": 7}))).await;
    let run = server.wait_status(&run_id, "completed").await;
    // The listen outputs the array of consumed events, which has no `carId`: the URI template
    // variable expands to the empty string (dsl-reference.md, "URI Template").
    let called = json!({"method": "POST", "path": "/api/v4/cars//start", "body": ""});
    assert_eq!(recorder.requests(), vec![called.clone()]);
    assert_eq!(run["output"], called);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_to_any_forever_foreach_posts_each_event_and_keeps_waiting() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "listen-to-any-forever-foreach.yaml").await;
    let run_id = server.waiting("listen-to-any-while-foreach", json!({})).await;
    let gossips = [json!({"roomId": "r1", "text": "did you hear"}), json!({"roomId": "r2", "text": "no way"})];
    for (n, gossip) in gossips.iter().enumerate() {
        server.send_event(&event(&format!("g-{n}"), "com.example.gossip", gossip.clone())).await;
    }
    // One iteration per event, in order: the event data is `$event` and the URI's `roomId`.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while recorder.requests().len() < gossips.len() {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", recorder.requests());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected: Vec<Value> = gossips
        .iter()
        .map(|gossip| json!({"method": "POST", "path": format!("/room/{}", gossip["roomId"].as_str().unwrap()), "body": {"event": gossip}}))
        .collect();
    assert_eq!(recorder.requests(), expected);
    // `until: ${ false }`: it never ends by itself.
    server.wait_status(&run_id, "waiting").await;
    server.still_waiting(&run_id).await;
    let history = server.get(&format!("/api/v1/runs/{run_id}/history?limit=1000")).await;
    let completed_calls = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| {
            entry["type"] == "io.serverlessworkflow.task.completed.v1"
                && entry["task"].as_str().is_some_and(|task| task.ends_with("/postToChatApi"))
        })
        .count();
    assert_eq!(completed_calls, 2);
    let cancelled = server.post(&format!("/api/v1/runs/{run_id}/cancel"), "application/json", String::new()).await;
    assert_eq!(cancelled.status, 202, "{}", String::from_utf8_lossy(&cancelled.body));
    server.wait_status(&run_id, "cancelled").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_cron_is_due_at_midnight_utc_and_a_due_fire_runs_the_backup() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let before = now_ms();
    let server = SpecServer::with(&dir, &recorder, "schedule-cron.yaml").await;
    let schedules = server.store.schedules(Some("cron")).await.unwrap();
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    let schedule = &schedules[0];
    assert_eq!((schedule.namespace.as_str(), schedule.name.as_str()), ("examples", "cron-schedule"));
    // `0 0 * * *`: the next midnight UTC after deployment.
    let next_midnight = (before / DAY_MS + 1) * DAY_MS;
    assert_eq!(schedule.next_due_at, Some(next_midnight));
    assert!(server.runs_of("cron-schedule").await.is_empty());

    // As if midnight had passed while the server was down: it fires once when it starts again.
    let claim = ScheduleClaim {
        workspace: schedule.workspace.clone(),
        namespace: schedule.namespace.clone(),
        name: schedule.name.clone(),
        version: schedule.version.clone(),
        expected_due_at: schedule.next_due_at,
        next_due_at: Some(next_midnight - DAY_MS),
        fired: None,
    };
    assert!(server.store.claim_schedule(claim).await.unwrap());
    server.server.close().await;
    let server = SpecServer::open(&dir.path().join("baton.db"), &recorder).await;
    server.engine.recover().await.expect("recover");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let runs = loop {
        let runs = server.runs_of("cron-schedule").await;
        if !runs.is_empty() {
            break runs;
        }
        assert!(tokio::time::Instant::now() < deadline, "the missed fire never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(runs.len(), 1);
    let run = server.wait_status(&runs[0], "completed").await;
    assert_eq!(run["input"], json!({}));
    let called = json!({"method": "POST", "path": "/api/v1/backup/start", "body": ""});
    assert_eq!(recorder.requests(), vec![called.clone()]);
    assert_eq!(run["output"], called);
    let schedule = server.store.schedules(Some("cron")).await.unwrap().remove(0);
    assert!(schedule.next_due_at.unwrap() >= next_midnight, "{schedule:?}");
    assert_eq!(schedule.next_due_at.unwrap() % DAY_MS, 0, "{schedule:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_event_driven_starts_a_run_with_the_event_as_input() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "schedule-event-driven.yaml").await;
    let kind = "com.example.hospital.events.patients.heartbeat.low";
    server.send_event(&event("h-0", "com.example.hospital.events.patients.heartbeat.ok", json!({}))).await;
    assert!(server.runs_of("event-driven-schedule").await.is_empty(), "another type starts nothing");
    let patient = json!({"id": "p-1", "name": "Ada", "room": {"number": 12}, "vitals": {"bpm": 38}});
    let low = event("h-1", kind, json!({"patient": patient, "timestamp": "2025-01-01T03:00:00Z"}));
    server.send_event(&low).await;
    let runs = server.runs_of("event-driven-schedule").await;
    assert_eq!(runs.len(), 1);
    let run = server.wait_status(&runs[0], "completed").await;
    assert_eq!(run["input"], json!([low]));
    let notified = json!({
        "method": "POST",
        "path": "/api/v1/notify",
        "body": {
            "patientId": "p-1",
            "patientName": "Ada",
            "roomNumber": 12,
            "vitals": {"heartRate": 38, "timestamp": "2025-01-01T03:00:00Z"},
            "message": "Alert: Patient's heartbeat is critically low. Immediate attention required.",
        },
    });
    assert_eq!(recorder.requests(), vec![notified.clone()]);
    assert_eq!(run["output"], notified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_outputs_the_completed_cloud_event_and_publishes_it() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "emit.yaml").await;
    let run = server.run("test", "emit", json!({})).await;
    assert_eq!(run["status"], "completed", "{run}");
    let emitted = &run["output"];
    assert_eq!(emitted["specversion"], "1.0");
    assert_eq!(emitted["source"], "https://petstore.com");
    assert_eq!(emitted["type"], "com.petstore.order.placed.v1");
    assert_eq!(
        emitted["data"],
        json!({"client": {"firstName": "Cruella", "lastName": "de Vil"}, "items": [{"breed": "dalmatian", "quantity": 101}]})
    );
    let id = emitted["id"].as_str().expect("an id is filled in");
    let time: jiff::Timestamp = emitted["time"].as_str().expect("a time is filled in").parse().unwrap();
    assert!((time.as_millisecond() - now_ms()).abs() < 60_000, "{time}");
    // The event went to the intake like a posted one.
    let stored = server
        .store
        .get_event(&WorkspaceId::DEFAULT, "https://petstore.com", id)
        .await
        .unwrap()
        .expect("emitted event stored");
    assert_eq!(&stored.event, emitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_listens_per_pet_and_its_output_as_faults_on_the_listen_output() {
    let (dir, recorder) = (tempfile::tempdir().unwrap(), Recorder::start().await);
    let server = SpecServer::with(&dir, &recorder, "for.yaml").await;
    // `while: .vet != null`: without a vet the loop runs no iteration.
    let pets = json!([{"id": 1}, {"id": 2}]);
    let run = server.run("test", "for-example", json!({"pets": pets, "vet": null})).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["output"], json!({"pets": pets, "vet": null}));

    // With a vet, the first iteration waits for its checkup.
    let run_id = server.waiting("for-example", json!({"pets": pets, "vet": "dr-who"})).await;
    let waiting = server.run_of(&run_id).await;
    assert_eq!(waiting["currentTask"], "/do/0/checkup/do/0/waitForCheckup", "{waiting}");
    server.send_event(&event("c-1", "com.fake.petclinic.pets.checkup.completed.v2", json!({"petId": 1}))).await;
    // The listen outputs the array of consumed events, so `.pets` in its `output.as` indexes an
    // array: the example faults with an expression error at its first checkup.
    let run = server.wait_status(&run_id, "faulted").await;
    let error = &run["error"];
    assert!(error["type"].as_str().unwrap().ends_with("/expression"), "{error}");
    assert_eq!(error["instance"], "/do/0/checkup/do/0/waitForCheckup", "{error}");
}
