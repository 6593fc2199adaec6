//! `/api/v1/workflows`: deploy (created, unchanged, conflict, invalid), list and read.

use serde_json::json;

use crate::api_support::{HELLO, SLEEPER, TestApi};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_created_then_unchanged_then_conflict() {
    let api = TestApi::start().await;
    let created = api.post("/api/v1/workflows", HELLO).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.header("location"), Some("/api/v1/workflows/test/hello/1.0.0"));
    let body = created.json();
    assert_eq!(
        (&body["namespace"], &body["name"], &body["version"]),
        (&json!("test"), &json!("hello"), &json!("1.0.0"))
    );
    assert!(body.get("maxConcurrency").is_none(), "{body}");
    let created_at: jiff::Timestamp = body["createdAt"].as_str().unwrap().parse().expect("RFC 3339");

    let again = api.post("/api/v1/workflows", HELLO).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["createdAt"], body["createdAt"]);
    assert!(created_at.as_millisecond() > 0);

    let changed = HELLO.replace("\"hello \"", "\"hi \"");
    let problem = api.post("/api/v1/workflows", changed).await.problem(409, "workflow-conflict");
    assert!(problem["detail"].as_str().unwrap().contains("test/hello:1.0.0"), "{problem}");
    // The same text with another limit is other content too.
    api.post("/api/v1/workflows?concurrency=3", HELLO).await.problem(409, "workflow-conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_definitions_list_every_problem() {
    let api = TestApi::start().await;
    let two_problems = r#"
document: {dsl: '1.0.3', namespace: test, name: bad, version: '1.0.0'}
do:
  - first:
      set: {a: 1}
      then: nowhere
  - second:
      set: {b: 2}
      then: elsewhere
"#;
    let problem = api.post("/api/v1/workflows", two_problems).await.problem(400, "invalid-definition");
    let diagnostics = problem["diagnostics"].as_array().expect("diagnostics");
    let paths: Vec<&str> = diagnostics.iter().map(|it| it["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/do/0/first/then", "/do/1/second/then"]);
    assert!(diagnostics.iter().all(|it| it["message"].as_str().is_some_and(|m| !m.is_empty())));

    let problem = api.post("/api/v1/workflows", "document: [").await.problem(400, "invalid-definition");
    assert_eq!(problem["diagnostics"].as_array().map(Vec::len), Some(1));

    api.post("/api/v1/workflows", vec![0xff, 0xfe]).await.problem(400, "invalid-request");
    api.post("/api/v1/workflows?concurrency=0", HELLO).await.problem(400, "invalid-request");
    api.post("/api/v1/workflows?concurrency=many", HELLO).await.problem(400, "invalid-request");
    // Nothing was stored.
    assert_eq!(api.get("/api/v1/workflows").await.json(), json!({"items": []}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_read_workflows() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let hello2 = HELLO.replace("version: '1.0.0'", "version: '1.2.0'");
    api.deploy(&hello2).await;
    let limited = api.post("/api/v1/workflows?concurrency=2", SLEEPER).await;
    assert_eq!(limited.status, 201);
    assert_eq!(limited.json()["maxConcurrency"], 2);

    let list = api.get("/api/v1/workflows").await;
    assert_eq!(list.status, 200);
    let items = list.json()["items"].as_array().unwrap().clone();
    let ids: Vec<String> = items
        .iter()
        .map(|it| format!("{}/{}:{}", it["namespace"], it["name"], it["version"]).replace('"', ""))
        .collect();
    assert_eq!(ids, ["test/hello:1.0.0", "test/hello:1.2.0", "test/sleeper:1.0.0"]);
    assert!(items.iter().all(|it| it.get("definition").is_none()));

    let one = api.get("/api/v1/workflows/test/hello/1.0.0").await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["definition"], HELLO);
    let latest = api.get("/api/v1/workflows/test/hello/latest").await.json();
    assert_eq!(latest["version"], "1.2.0");
    assert_eq!(latest["definition"], hello2.as_str());

    let problem = api.get("/api/v1/workflows/test/hello/9.9.9").await.problem(404, "workflow-not-found");
    assert!(problem["detail"].as_str().unwrap().contains("9.9.9"));
    api.get("/api/v1/workflows/test/nothing/latest").await.problem(404, "workflow-not-found");
}
