//! `POST /api/v1/events` through the real router on a real SQLite file: the structured, binary
//! and batch modes, idempotent intake (also under concurrent posts), refusals, and events
//! waking waiting runs (also when posted before the run reached its `listen`, and by
//! correlation).

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::api_support::{Reply, TestApi};
use baton_store::WorkspaceId;

/// Waits for one `com.example.ping`, then keeps what it got.
const PING: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: ping, version: '1.0.0'}
do:
  - wait:
      listen:
        to:
          one:
            with: {type: com.example.ping}
  - keep:
      set:
        got: ${ .[0] }
"#;

/// Pauses, then waits for one `com.example.late`.
const LATE: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: late, version: '1.0.0'}
do:
  - pause:
      wait: PT0.4S
  - wait:
      listen:
        to:
          one:
            with: {type: com.example.late}
"#;

/// Takes `com.example.tick` events until it has two.
const TWO_TICKS: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: ticks, version: '1.0.0'}
do:
  - wait:
      listen:
        to:
          any:
            - with: {type: com.example.tick}
          until: '${ length >= 2 }'
"#;

/// Waits for the payment of its own order.
const PAYMENT: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: payment, version: '1.0.0'}
do:
  - wait:
      listen:
        to:
          one:
            with: {type: com.example.payment}
            correlate:
              order:
                from: .data.orderId
                expect: ${ .orderId }
"#;

fn event(kind: &str, id: &str, data: Value) -> Value {
    json!({"specversion": "1.0", "id": id, "source": "https://shop.example/test", "type": kind, "data": data})
}

async fn post_events(api: &TestApi, content_type: &str, body: &Value) -> Reply {
    let request = Request::post("/api/v1/events")
        .header("content-type", content_type)
        .body(Body::from(body.to_string()))
        .unwrap();
    api.send(request).await
}

/// Starts a run synchronously and asserts it waits; returns its id.
async fn start_waiting(api: &TestApi, name: &str, input: Value) -> String {
    let reply = api.start_run(name, "", input).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let run = reply.json();
    assert_eq!(run["status"], "waiting", "{run}");
    run["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_structured_event_wakes_a_waiting_run() {
    let api = TestApi::start().await;
    api.deploy(PING).await;
    let run_id = start_waiting(&api, "ping", json!({})).await;

    let reply =
        post_events(&api, "application/cloudevents+json", &event("com.example.ping", "e1", json!({"n": 1}))).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json(), json!({"accepted": 1, "duplicates": 0}));
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!({"got": {"n": 1}}));

    // application/json with specversion is the structured mode too.
    api.deploy(&PING.replace("name: ping", "name: pong").replace("com.example.ping", "com.example.pong")).await;
    let run_id = start_waiting(&api, "pong", json!({})).await;
    let reply = post_events(&api, "application/json", &event("com.example.pong", "e2", json!("two"))).await;
    assert_eq!(reply.status, 202);
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!({"got": "two"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binary_mode_event_is_delivered_with_its_body_as_data() {
    let api = TestApi::start().await;
    api.deploy(PING).await;
    let run_id = start_waiting(&api, "ping", json!({})).await;

    let request = Request::post("/api/v1/events")
        .header("ce-specversion", "1.0")
        .header("ce-id", "b1")
        .header("ce-source", "https://shop.example/test")
        .header("ce-type", "com.example.ping")
        .header("ce-subject", "order%20A")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"amount": 12}"#))
        .unwrap();
    let reply = api.send(request).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json(), json!({"accepted": 1, "duplicates": 0}));
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!({"got": {"amount": 12}}));
    let stored =
        baton_store::EventStore::get_event(&api.store, &WorkspaceId::DEFAULT, "https://shop.example/test", "b1")
            .await
            .unwrap()
            .unwrap();
    assert_eq!(stored.event["subject"], "order A");
    assert_eq!(stored.event["datacontenttype"], "application/json");

    // A binary event without `ce-id`: 400 naming it.
    let request = Request::post("/api/v1/events")
        .header("ce-specversion", "1.0")
        .header("ce-source", "s")
        .header("ce-type", "com.example.ping")
        .body(Body::from("text"))
        .unwrap();
    let problem = api.send(request).await.problem(400, "invalid-event");
    assert_eq!(problem["problems"], json!(["id: required"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_checked_whole_then_each_event_published_once() {
    let api = TestApi::start().await;
    api.deploy(PING).await;
    let first = start_waiting(&api, "ping", json!({})).await;

    // One invalid event refuses the whole batch: nothing is stored, the run still waits.
    let valid = event("com.example.ping", "p1", json!(1));
    let batch = json!([valid, {"specversion": "1.0", "type": "com.example.ping"}, {"id": "x", "source": "s"}]);
    let problem = post_events(&api, "application/cloudevents-batch+json", &batch).await.problem(400, "invalid-event");
    assert_eq!(
        problem["problems"],
        json!(["[1] id: required", "[1] source: required", "[2] specversion: required", "[2] type: required"])
    );
    assert!(
        baton_store::EventStore::get_event(&api.store, &WorkspaceId::DEFAULT, "https://shop.example/test", "p1")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(api.get(&format!("/api/v1/runs/{first}")).await.json()["status"], "waiting");

    // A valid batch: a repeated event in it is a duplicate.
    let second = start_waiting(&api, "ping", json!({})).await;
    let batch = json!([valid, event("com.example.ping", "p2", json!(2)), valid]);
    let reply = post_events(&api, "application/cloudevents-batch+json", &batch).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json(), json!({"accepted": 2, "duplicates": 1}));
    // Events go to every run waiting for them: both take the first one.
    assert_eq!(api.wait_status(&first, "completed").await["output"]["got"], 1);
    assert_eq!(api.wait_status(&second, "completed").await["output"]["got"], 1);

    // An empty batch, and an array posted as application/json, are batches too.
    let reply = post_events(&api, "application/cloudevents-batch+json", &json!([])).await;
    assert_eq!(reply.json(), json!({"accepted": 0, "duplicates": 0}));
    let reply = post_events(&api, "application/json", &json!([valid])).await;
    assert_eq!(reply.json(), json!({"accepted": 0, "duplicates": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_are_acknowledged_and_delivered_once_also_when_concurrent() {
    let api = TestApi::start().await;
    api.deploy(TWO_TICKS).await;
    let run_id = start_waiting(&api, "ticks", json!({})).await;

    let tick = event("com.example.tick", "t1", json!({"tick": 1}));
    let posts = (0..20).map(|_| {
        let router = api.router();
        let body = tick.to_string();
        tokio::spawn(async move {
            let request = Request::post("/api/v1/events")
                .header("content-type", "application/cloudevents+json")
                .body(Body::from(body))
                .unwrap();
            crate::api_support::send(router, request).await
        })
    });
    let (mut accepted, mut duplicates) = (0, 0);
    for post in posts.collect::<Vec<_>>() {
        let reply = post.await.unwrap();
        assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
        let body = reply.json();
        accepted += body["accepted"].as_u64().unwrap();
        duplicates += body["duplicates"].as_u64().unwrap();
    }
    assert_eq!((accepted, duplicates), (1, 19));

    // Twenty posts, one delivery: the run took one tick and waits for a second one.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(api.get(&format!("/api/v1/runs/{run_id}")).await.json()["status"], "waiting");
    let reply =
        post_events(&api, "application/cloudevents+json", &event("com.example.tick", "t2", json!({"tick": 2}))).await;
    assert_eq!(reply.json(), json!({"accepted": 1, "duplicates": 0}));
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"tick": 1}, {"tick": 2}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_are_refused_listing_every_missing_attribute() {
    let api = TestApi::start().await;
    let problem =
        post_events(&api, "application/cloudevents+json", &json!({"data": 1})).await.problem(400, "invalid-event");
    assert_eq!(
        problem["problems"],
        json!(["specversion: required", "id: required", "source: required", "type: required"])
    );
    assert_eq!(problem["detail"], "4 problem(s) found");

    let problem =
        post_events(&api, "application/json", &json!({"specversion": "0.3", "id": "", "source": "s", "type": "t"}))
            .await
            .problem(400, "invalid-event");
    assert_eq!(problem["problems"], json!(["specversion: must be \"1.0\"", "id: must be a non-empty string"]));

    let problem =
        post_events(&api, "application/cloudevents+json", &json!("not an event")).await.problem(400, "invalid-event");
    assert_eq!(problem["problems"], json!(["the event must be a JSON object"]));
    let problem =
        post_events(&api, "application/cloudevents-batch+json", &json!({"a": 1})).await.problem(400, "invalid-event");
    assert!(problem["problems"][0].as_str().unwrap().contains("JSON array"), "{problem}");

    api.post("/api/v1/events", "{").await.problem(400, "malformed-json");
    api.post("/api/v1/events", "").await.problem(400, "malformed-json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_event_is_413() {
    let api = TestApi::with_body_limit(1024).await;
    let big = event("com.example.ping", "big", json!("x".repeat(2048)));
    post_events(&api, "application/cloudevents+json", &big).await.problem(413, "payload-too-large");
    let small = event("com.example.ping", "small", json!("x"));
    assert_eq!(post_events(&api, "application/cloudevents+json", &small).await.status, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_posted_before_the_wait_is_consumed_when_the_run_gets_there() {
    let api = TestApi::start().await;
    api.deploy(PING).await;
    api.deploy(LATE).await;

    // Posted before the run exists.
    let reply =
        post_events(&api, "application/cloudevents+json", &event("com.example.ping", "early", json!("early"))).await;
    assert_eq!(reply.json(), json!({"accepted": 1, "duplicates": 0}));
    let run = api.start_run("ping", "", json!({})).await.json();
    let run = api.wait_status(run["id"].as_str().unwrap(), "completed").await;
    assert_eq!(run["output"], json!({"got": "early"}));

    // Posted while the run is still in an earlier task.
    let reply = api.start_run("late", "mode=background", json!({})).await;
    let run_id = reply.json()["id"].as_str().unwrap().to_owned();
    let reply =
        post_events(&api, "application/cloudevents+json", &event("com.example.late", "l1", json!({"ok": true}))).await;
    assert_eq!(reply.json(), json!({"accepted": 1, "duplicates": 0}));
    assert_ne!(api.get(&format!("/api/v1/runs/{run_id}")).await.json()["status"], "completed");
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"ok": true}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlated_events_go_to_their_own_runs() {
    let api = TestApi::start().await;
    api.deploy(PAYMENT).await;
    let run_a = start_waiting(&api, "payment", json!({"orderId": "A"})).await;
    let run_b = start_waiting(&api, "payment", json!({"orderId": "B"})).await;

    let reply = post_events(
        &api,
        "application/json",
        &event("com.example.payment", "pay-b", json!({"orderId": "B", "paid": 20})),
    )
    .await;
    assert_eq!(reply.status, 202);
    let run = api.wait_status(&run_b, "completed").await;
    assert_eq!(run["output"], json!([{"orderId": "B", "paid": 20}]));
    assert_eq!(api.get(&format!("/api/v1/runs/{run_a}")).await.json()["status"], "waiting");

    let reply = post_events(
        &api,
        "application/json",
        &event("com.example.payment", "pay-a", json!({"orderId": "A", "paid": 10})),
    )
    .await;
    assert_eq!(reply.status, 202);
    let run = api.wait_status(&run_a, "completed").await;
    assert_eq!(run["output"], json!([{"orderId": "A", "paid": 10}]));
}
