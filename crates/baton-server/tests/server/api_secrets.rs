//! `/api/v1/secrets`: written (created, replaced), listed by name without values, deleted; a
//! run reads only the secrets its workflow declares, from its workspace.

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::api_support::{Reply, TestApi};

async fn put(api: &TestApi, name: &str, body: &str) -> Reply {
    let request = Request::put(format!("/api/v1/secrets/{name}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    api.send(request).await
}

async fn delete(api: &TestApi, name: &str) -> Reply {
    api.send(Request::delete(format!("/api/v1/secrets/{name}")).body(Body::empty()).unwrap()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_written_listed_and_deleted_but_never_read_back() {
    let api = TestApi::start().await;
    let created = put(&api, "db", r#"{"password": "pa55word-xyz"}"#).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["name"], "db");
    let replaced = put(&api, "db", r#""pa55word-new""#).await;
    assert_eq!(replaced.status, 200);

    let listed = api.get("/api/v1/secrets").await;
    assert_eq!(listed.status, 200);
    let text = String::from_utf8_lossy(&listed.body).into_owned();
    assert!(!text.contains("pa55word"), "{text}");
    let items = listed.json()["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1);
    assert_eq!(items[0]["name"], "db");
    let created_at: jiff::Timestamp = items[0]["createdAt"].as_str().unwrap().parse().expect("RFC 3339");
    let updated_at: jiff::Timestamp = items[0]["updatedAt"].as_str().unwrap().parse().expect("RFC 3339");
    assert!(updated_at >= created_at);

    let problem = put(&api, "no%20spaces", r#""x""#).await.problem(400, "invalid-request");
    assert!(problem["detail"].as_str().unwrap().contains("no spaces"), "{problem}");
    put(&api, "db", "{not json").await.problem(400, "malformed-json");

    assert_eq!(delete(&api, "db").await.status, 204);
    delete(&api, "db").await.problem(404, "secret-not-found");
    assert_eq!(api.get("/api/v1/secrets").await.json()["items"], json!([]));
}

// See: #11
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_runs_read_only_the_declared_workspace_secrets() {
    let api = TestApi::start().await;
    assert_eq!(put(&api, "api", r#"{"token": "t0ken-abc"}"#).await.status, 201);
    assert_eq!(put(&api, "other", r#""not-for-this-workflow""#).await.status, 201);
    api.deploy(
        r#"
document: {dsl: '1.0.3', namespace: test, name: reader, version: '1.0.0'}
use:
  secrets: [api, missing]
do:
  - read:
      set:
        names: ${ $secrets | keys }
        token: ${ $secrets.api.token }
        dynamic: ${ $secrets["oth" + "er"] }
"#,
    )
    .await;
    let reply = api.start_run("reader", "", json!({})).await;
    assert_eq!(reply.status, 200, "{:?}", String::from_utf8_lossy(&reply.body));
    let run = reply.json();
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["output"], json!({"names": ["api"], "token": "t0ken-abc", "dynamic": Value::Null}));
}
