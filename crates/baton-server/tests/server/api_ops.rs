//! Operations endpoints and the OpenAPI document.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

use baton_store::prelude::*;

use crate::api_support::{HELLO, TestApi};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness() {
    let api = TestApi::start().await;
    let health = api.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json(), json!({"status": "ok"}));
    let ready = api.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.json(), json!({"status": "ready"}));

    api.store.close().await;
    let problem = api.get("/readyz").await.problem(503, "platform-unavailable");
    let text = problem.to_string().to_lowercase();
    assert!(!text.contains("pool") && !text.contains("sqlite") && !text.contains("closed"), "{problem}");
    assert_eq!(api.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_are_problems() {
    let api = TestApi::start().await;
    api.get("/api/v1/nothing").await.problem(404, "not-found");
    let request = Request::delete("/api/v1/workflows").body(Body::empty()).unwrap();
    api.send(request).await.problem(405, "method-not-allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_prometheus_text() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    for _ in 0..2 {
        assert_eq!(api.start_run("hello", "", json!({"name": "m"})).await.json()["status"], "completed");
    }
    let reply = api.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let text = String::from_utf8(reply.body.to_vec()).unwrap();
    for line in [
        "baton_runs{status=\"completed\"} 2",
        "baton_runs{status=\"waiting\"} 0",
        "# TYPE baton_task_duration_seconds histogram",
        "baton_queue_depth 0",
        "# TYPE baton_active_runs gauge",
        "# TYPE baton_timers gauge",
        "# TYPE baton_store_commits counter",
        "# TYPE baton_store_write_requests counter",
        "# TYPE baton_store_commit_batch_size gauge",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    // Two runs of two tasks each; the latency collector follows the runs asynchronously.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = String::from_utf8(api.get("/metrics").await.body.to_vec()).unwrap();
        let count = text
            .lines()
            .find_map(|line| line.strip_prefix("baton_task_duration_seconds_count "))
            .and_then(|n| n.trim().parse::<u64>().ok());
        if count == Some(4) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "task latencies not observed:\n{text}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every operation of the API contract (docs/api.md), as (method, path).
const CONTRACT: [(&str, &str); 30] = [
    ("post", "/api/v1/workflows"),
    ("get", "/api/v1/workflows"),
    ("get", "/api/v1/workflows/{namespace}/{name}/{version}"),
    ("post", "/api/v1/runs"),
    ("get", "/api/v1/runs"),
    ("get", "/api/v1/runs/{id}"),
    ("get", "/api/v1/runs/{id}/history"),
    ("post", "/api/v1/runs/{id}/cancel"),
    ("post", "/api/v1/runs/{id}/suspend"),
    ("post", "/api/v1/runs/{id}/resume"),
    ("get", "/api/v1/events/runs"),
    ("post", "/api/v1/events"),
    ("get", "/api/v1/inbox"),
    ("post", "/api/v1/inbox/{item}/respond"),
    ("get", "/api/v1/secrets"),
    ("put", "/api/v1/secrets/{name}"),
    ("delete", "/api/v1/secrets/{name}"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/workspaces"),
    ("get", "/api/v1/workspaces"),
    ("get", "/api/v1/members"),
    ("post", "/api/v1/members"),
    ("patch", "/api/v1/members/{id}"),
    ("post", "/api/v1/keys"),
    ("get", "/api/v1/keys"),
    ("delete", "/api/v1/keys/{id}"),
    ("get", "/api/v1/audit"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_routes() {
    let api = TestApi::start().await;
    let reply = api.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200);
    let served = reply.json();
    assert_eq!(served, serde_json::to_value(&api.server.api().openapi).unwrap());
    assert!(served["openapi"].as_str().unwrap().starts_with("3."));
    assert!(served["components"]["schemas"]["Problem"].is_object());

    let mut documented = BTreeSet::new();
    for (path, item) in served["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            documented.insert((method.clone(), path.clone()));
            let responses = operation["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path} documents no response");
            let problems = responses.iter().filter(|(status, _)| status.starts_with('4') || status.starts_with('5'));
            for (status, response) in problems {
                let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/Problem", "{method} {path} {status}");
            }
        }
    }
    let contract: BTreeSet<(String, String)> =
        CONTRACT.iter().map(|(method, path)| (method.to_string(), path.to_string())).collect();
    assert_eq!(documented, contract);

    // Every documented operation is routed: no 404 "not-found" or 405 for it.
    for (method, path) in &documented {
        let uri = path
            .replace("{namespace}", "test")
            .replace("{name}", "x")
            .replace("{version}", "1")
            .replace("{id}", "r1")
            .replace("{item}", "r1~s1");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let request = Request::builder().method(method.clone()).uri(&uri).body(Body::from("{}")).unwrap();
        let response = tower::ServiceExt::oneshot(api.router(), request).await.unwrap();
        let status = response.status().as_u16();
        if status == 404 {
            let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_ne!(problem["type"], "/problems/not-found", "{method} {uri} is not routed");
        } else {
            assert_ne!(status, 405, "{method} {uri}");
        }
    }
}
