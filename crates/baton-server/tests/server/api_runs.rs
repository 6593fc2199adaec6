//! `/api/v1/runs`: starting runs (sync, background, idempotent), listing, reading, signals.

use std::collections::HashSet;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::api_support::{FAULTY, HELLO, NAPPER, SLEEPER, TestApi, send};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_run_completes() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let reply = api.start_run("hello", "", json!({"name": "ada"})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("idempotency-replayed"), None);
    let run = reply.json();
    assert_eq!(run["status"], "completed");
    assert_eq!(run["output"], json!({"greeting": "hello ada!"}));
    assert!(run.get("error").is_none() && run.get("tasks").is_none(), "{run}");
    let cursor = run["historyCursor"].as_i64().unwrap();
    let history = api.get(&format!("/api/v1/runs/{}/history?limit=1000", run["id"].as_str().unwrap())).await.json();
    assert_eq!(history["items"].as_array().unwrap().len() as i64, cursor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_run_faults() {
    let api = TestApi::start().await;
    api.deploy(FAULTY).await;
    let run = api.start_run("faulty", "mode=sync", json!({})).await.json();
    assert_eq!(run["status"], "faulted");
    assert_eq!(run["error"]["status"], 400);
    assert_eq!(run["error"]["title"], "boom");
    assert_eq!(run["error"]["instance"], "/do/0/boom");
    assert!(run.get("output").is_none(), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_run_returns_when_waiting() {
    let api = TestApi::start().await;
    api.deploy(SLEEPER).await;
    let started = tokio::time::Instant::now();
    let run = api.start_run("sleeper", "", json!({})).await.json();
    assert_eq!(run["status"], "waiting");
    assert!(started.elapsed() < Duration::from_secs(5));
    let detail = api.get(&format!("/api/v1/runs/{}", run["id"].as_str().unwrap())).await.json();
    assert_eq!(detail["currentTask"], "/do/0/pause");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_wait_ends_after_wait_ms() {
    let api = TestApi::start().await;
    api.post("/api/v1/workflows?concurrency=1", SLEEPER).await;
    let first = api.start_run("sleeper", "", json!({})).await.json();
    assert_eq!(first["status"], "waiting");
    // The only slot is taken: the second run stays pending until wait_ms passes.
    let started = tokio::time::Instant::now();
    let second = api.start_run("sleeper", "wait_ms=200", json!({})).await.json();
    assert_eq!(second["status"], "pending");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(second["historyCursor"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_run_answers_202_and_completes() {
    let api = TestApi::start().await;
    api.deploy(NAPPER).await;
    let reply = api.start_run("napper", "mode=background", json!({"x": 1})).await;
    assert_eq!(reply.status, 202);
    let body = reply.json();
    let run_id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(reply.header("location"), Some(format!("/api/v1/runs/{run_id}").as_str()));
    assert!(["pending", "running", "waiting"].contains(&body["status"].as_str().unwrap()), "{body}");
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!({"step": 2}));
    assert_eq!(run["input"], json!({"x": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_tasks_returns_task_outputs_or_refuses_unknown_references() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let run = api.start_run("hello", "include_tasks=/do/0/first,%20/do/1/second", json!({"name": "bo"})).await.json();
    assert_eq!(
        run["tasks"],
        json!({"/do/0/first": {"greeting": "hello bo"}, "/do/1/second": {"greeting": "hello bo!"}})
    );

    let problem = api
        .start_run("hello", "include_tasks=/do/0/first,/do/7/ghost", json!({}))
        .await
        .problem(422, "unknown-task-reference");
    assert_eq!(problem["unknownReferences"], json!(["/do/7/ghost"]));
    // Refused before any run was created: only the first run exists.
    assert_eq!(api.get("/api/v1/runs").await.json()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_start_requests_are_problems() {
    let api = TestApi::with_body_limit(1024).await;
    api.deploy(HELLO).await;
    api.start_run("nothing", "", json!({})).await.problem(404, "workflow-not-found");
    api.post("/api/v1/runs", "{\"workflow\": ").await.problem(400, "malformed-json");
    api.post("/api/v1/runs", "").await.problem(400, "malformed-json");
    api.post_json("/api/v1/runs", &json!({"input": {}})).await.problem(400, "invalid-request");
    api.post_json("/api/v1/runs", &json!({"workflow": {"namespace": "test", "name": "hello"}, "inputs": {}}))
        .await
        .problem(400, "invalid-request");
    api.post_json("/api/v1/runs", &json!({"workflow": {"namespace": "", "name": "hello"}}))
        .await
        .problem(400, "invalid-request");
    api.start_run("hello", "mode=later", json!({})).await.problem(400, "invalid-request");
    api.start_run("hello", "wait_ms=-1", json!({})).await.problem(400, "invalid-request");
    let big = json!({"workflow": {"namespace": "test", "name": "hello"}, "input": {"name": "x".repeat(2048)}});
    let problem = api.post_json("/api/v1/runs", &big).await.problem(413, "payload-too-large");
    assert!(problem.get("detail").is_none());
    let valid = json!({"workflow": {"namespace": "test", "name": "hello"}}).to_string();
    let request = Request::post("/api/v1/runs").header("idempotency-key", " ").body(Body::from(valid)).unwrap();
    api.send(request).await.problem(400, "invalid-request");
    // None of these created a run.
    assert_eq!(api.get("/api/v1/runs").await.json()["items"], json!([]));
}

fn keyed(key: &str, query: &str) -> Request<Body> {
    let body = json!({"workflow": {"namespace": "test", "name": "hello"}, "input": {"name": "k"}});
    Request::post(format!("/api/v1/runs?{query}"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_first_run() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let first = api.send(keyed("order-1", "")).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("idempotency-replayed"), None);
    let again = api.send(keyed("order-1", "")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(again.json(), first.json());
    let background = api.send(keyed("order-1", "mode=background")).await;
    assert_eq!(background.status, 202);
    assert_eq!(background.header("idempotency-replayed"), Some("true"));
    assert_eq!(background.json(), json!({"id": first.json()["id"], "status": "completed"}));

    let other = api.send(keyed("order-2", "")).await.json();
    assert_ne!(other["id"], first.json()["id"]);
    assert_eq!(api.get("/api/v1/runs").await.json()["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_create_one_run() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let mut requests = JoinSet::new();
    for _ in 0..20 {
        let router = api.router();
        requests.spawn(async move { send(router, keyed("same-key", "")).await });
    }
    let mut ids = HashSet::new();
    let mut n_fresh = 0;
    while let Some(reply) = requests.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        if reply.header("idempotency-replayed").is_none() {
            n_fresh += 1;
        }
        let run = reply.json();
        assert_eq!(run["status"], "completed");
        ids.insert(run["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(n_fresh, 1);
    assert_eq!(api.get("/api/v1/runs").await.json()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_a_sync_request_does_not_stop_the_run() {
    let api = TestApi::start().await;
    let napper_limited = api.post("/api/v1/workflows?concurrency=1", NAPPER).await;
    assert_eq!(napper_limited.status, 201);
    let first = api.start_run("napper", "", json!({})).await.json();
    assert_eq!(first["status"], "waiting");
    // The second run is queued behind the first; its client gives up while waiting.
    let router = api.router();
    let body = json!({"workflow": {"namespace": "test", "name": "napper"}});
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        send(router, Request::post("/api/v1/runs").body(Body::from(body.to_string())).unwrap()),
    )
    .await;
    assert!(abandoned.is_err(), "the request should still be waiting");
    let runs = api.get("/api/v1/runs").await.json();
    let ids: Vec<String> =
        runs["items"].as_array().unwrap().iter().map(|it| it["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), 2);
    for run_id in ids {
        let run = api.wait_status(&run_id, "completed").await;
        assert_eq!(run["output"], json!({"step": 2}));
    }
}

async fn ids_of(api: &TestApi, query: &str) -> Vec<String> {
    let reply = api.get(&format!("/api/v1/runs?{query}")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.json()["items"].as_array().unwrap().iter().map(|it| it["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_runs_filters_and_pages() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    api.deploy(FAULTY).await;
    let mut hello_v1 = Vec::new();
    for _ in 0..3 {
        let run = api.start_run("hello", "", json!({"name": "a"})).await.json();
        hello_v1.push(run["id"].as_str().unwrap().to_owned());
    }
    api.deploy(&HELLO.replace("version: '1.0.0'", "version: '2.0.0'")).await;
    let hello_v2 = api
        .post_json("/api/v1/runs", &json!({"workflow": {"namespace": "test", "name": "hello", "version": "2.0.0"}}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let middle = jiff::Timestamp::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let faulted = api.start_run("faulty", "", json!({})).await.json()["id"].as_str().unwrap().to_owned();

    let all = ids_of(&api, "").await;
    assert_eq!(all.len(), 5);
    assert_eq!(all[0], faulted, "newest first");
    let first = &api.get("/api/v1/runs?limit=1").await.json()["items"][0];
    assert_eq!(first["workflow"], json!({"namespace": "test", "name": "faulty", "version": "1.0.0"}));
    assert_eq!(first["status"], "faulted");
    assert!(first["createdAt"].is_string() && first["updatedAt"].is_string());

    assert_eq!(ids_of(&api, "status=faulted").await, [faulted.as_str()]);
    assert_eq!(ids_of(&api, "status=completed").await.len(), 4);
    assert_eq!(ids_of(&api, "name=hello&version=2.0.0").await, [hello_v2.as_str()]);
    assert_eq!(ids_of(&api, "namespace=test&name=hello").await.len(), 4);
    assert_eq!(ids_of(&api, "namespace=other").await.len(), 0);
    let after = middle.to_string().replace('+', "%2B");
    assert_eq!(ids_of(&api, &format!("created_after={after}")).await, [faulted.as_str()]);
    assert_eq!(ids_of(&api, &format!("created_before={after}")).await.len(), 4);

    // Pages of two, following nextCursor: every run once, in order.
    let mut paged = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = api.get(&format!("/api/v1/runs?{query}")).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        paged.extend(items.iter().map(|it| it["id"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, all);
    // Exactly one page: no cursor.
    assert!(api.get("/api/v1/runs?limit=5").await.json().get("nextCursor").is_none());
    hello_v1.reverse();
    assert_eq!(ids_of(&api, "name=hello&version=1.0.0").await, hello_v1);

    api.get("/api/v1/runs?status=sleeping").await.problem(400, "invalid-request");
    api.get("/api/v1/runs?limit=0").await.problem(400, "invalid-request");
    api.get("/api/v1/runs?limit=ten").await.problem(400, "invalid-request");
    api.get("/api/v1/runs?cursor=ghost").await.problem(400, "invalid-request");
    api.get("/api/v1/runs?created_after=yesterday").await.problem(400, "invalid-request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_run_shows_everything() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let started = api.start_run("hello", "", json!({"name": "x"})).await.json();
    let run_id = started["id"].as_str().unwrap();
    let reply = api.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(reply.status, 200);
    let run = reply.json();
    assert_eq!(run["id"], run_id);
    assert_eq!(run["workflow"], json!({"namespace": "test", "name": "hello", "version": "1.0.0"}));
    assert_eq!(run["status"], "completed");
    assert_eq!(run["input"], json!({"name": "x"}));
    assert_eq!(run["output"], json!({"greeting": "hello x!"}));
    assert_eq!(run["historyCursor"], started["historyCursor"]);
    assert!(run.get("currentTask").is_none() && run.get("error").is_none(), "{run}");
    for field in ["createdAt", "updatedAt"] {
        let _: jiff::Timestamp = run[field].as_str().unwrap().parse().expect("RFC 3339");
    }
    let problem = api.get("/api/v1/runs/ghost").await.problem(404, "run-not-found");
    assert_eq!(problem["instance"], "/api/v1/runs/ghost");
}

async fn signal(api: &TestApi, run_id: &str, name: &str) -> crate::api_support::Reply {
    api.post(&format!("/api/v1/runs/{run_id}/{name}"), Body::empty()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_then_resume_completes_the_run() {
    let api = TestApi::start().await;
    api.deploy(NAPPER).await;
    let run = api.start_run("napper", "", json!({})).await.json();
    assert_eq!(run["status"], "waiting");
    let run_id = run["id"].as_str().unwrap();

    let suspended = signal(&api, run_id, "suspend").await;
    assert_eq!(suspended.status, 202);
    assert_eq!(suspended.json(), json!({"id": run_id, "status": "suspended"}));
    assert_eq!(signal(&api, run_id, "suspend").await.json()["status"], "suspended", "idempotent");
    // The one-second timer fires while the run is suspended: the run stays suspended.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(api.get(&format!("/api/v1/runs/{run_id}")).await.json()["status"], "suspended");

    let resumed = signal(&api, run_id, "resume").await;
    assert_eq!(resumed.status, 202);
    assert_ne!(resumed.json()["status"], "suspended");
    let done = api.wait_status(run_id, "completed").await;
    assert_eq!(done["output"], json!({"step": 2}));

    // An ended run refuses signals other than a repeated cancel.
    let problem = signal(&api, run_id, "suspend").await.problem(409, "signal-refused");
    assert!(problem["detail"].as_str().unwrap().contains("completed"), "{problem}");
    signal(&api, run_id, "resume").await.problem(409, "signal-refused");
    signal(&api, run_id, "cancel").await.problem(409, "signal-refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_a_waiting_run() {
    let api = TestApi::start().await;
    api.deploy(SLEEPER).await;
    let run = api.start_run("sleeper", "", json!({})).await.json();
    let run_id = run["id"].as_str().unwrap();
    let cancelled = signal(&api, run_id, "cancel").await;
    assert_eq!(cancelled.status, 202);
    assert_eq!(cancelled.json(), json!({"id": run_id, "status": "cancelled"}));
    assert_eq!(signal(&api, run_id, "cancel").await.status, 202, "cancel is idempotent");
    signal(&api, run_id, "resume").await.problem(409, "signal-refused");
    for name in ["cancel", "suspend", "resume"] {
        signal(&api, "ghost", name).await.problem(404, "run-not-found");
    }
    let value: Value = api.get(&format!("/api/v1/runs/{run_id}")).await.json();
    assert_eq!(value["status"], "cancelled");
}
