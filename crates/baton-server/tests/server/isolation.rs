//! Workspace isolation and the inbox-only answer: two workspaces with the same workflow names
//! and runs in flight together; nothing crosses (events, runs, inbox, history, lists), and an
//! inbox wait is answered only through the inbox, recording who answered.

use std::time::Duration;

use serde_json::{Value, json};

use crate::auth_support::TEST_KEY;

/// A plain `listen` (no inbox) and an inbox approval of the same event type.
const WAITS: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: waits, version: '1.0.0'}
do:
  - hear:
      listen:
        to:
          one:
            with: {type: com.example.go}
"#;

const APPROVAL: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: approval, version: '1.0.0'}
do:
  - approve:
      metadata:
        inbox:
          title: Approve
      listen:
        to:
          one:
            with: {type: com.example.go}
"#;

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, key: &str, method: reqwest::Method, path: &str, body: Option<(&str, String)>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(key);
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap_or(Value::Null))
    }

    async fn ok(&self, key: &str, method: reqwest::Method, path: &str, body: Option<(&str, String)>) -> Value {
        let (status, body) = self.call(key, method.clone(), path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {body}");
        body
    }

    async fn start(&self, key: &str, name: &str) -> String {
        let body = json!({"workflow": {"namespace": "test", "name": name}, "input": {}}).to_string();
        let run = self.ok(key, reqwest::Method::POST, "/api/v1/runs", Some(("application/json", body))).await;
        assert_eq!(run["status"], "waiting", "{run}");
        run["id"].as_str().unwrap().to_owned()
    }

    async fn status(&self, key: &str, run_id: &str) -> String {
        let run = self.ok(key, reqwest::Method::GET, &format!("/api/v1/runs/{run_id}"), None).await;
        run["status"].as_str().unwrap().to_owned()
    }

    async fn send_event(&self, key: &str, id: &str) {
        let event =
            json!({"specversion": "1.0", "id": id, "source": "isolation", "type": "com.example.go", "data": {}});
        let body = Some(("application/cloudevents+json", event.to_string()));
        self.ok(key, reqwest::Method::POST, "/api/v1/events", body).await;
    }
}

// See: #11
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_two_workspaces_share_nothing_and_only_the_inbox_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = crate::support::start(crate::support::local_config(&dir.path().join("baton.db"), 0)).await;
    let base = crate::support::serve_api(&server).await;
    let client = Client { base, http: reqwest::Client::builder().no_proxy().build().unwrap() };
    let a = TEST_KEY.to_owned();
    let body = Some(("application/json", json!({"name": "B", "slug": "b"}).to_string()));
    let b =
        client.ok(&a, reqwest::Method::POST, "/api/v1/workspaces", body).await["adminKey"].as_str().unwrap().to_owned();
    for key in [&a, &b] {
        for definition in [WAITS, APPROVAL] {
            let body = Some(("application/yaml", definition.to_owned()));
            client.ok(key, reqwest::Method::POST, "/api/v1/workflows", body).await;
        }
    }
    let (a_waits, b_waits) = (client.start(&a, "waits").await, client.start(&b, "waits").await);
    let (a_first, a_second) = (client.start(&a, "approval").await, client.start(&a, "approval").await);
    let b_approval = client.start(&b, "approval").await;

    // Foreign ids are not found; lists show the caller's own runs only.
    for path in [format!("/api/v1/runs/{a_waits}"), format!("/api/v1/runs/{a_waits}/history")] {
        assert_eq!(client.call(&b, reqwest::Method::GET, &path, None).await.0, 404, "{path}");
    }
    assert_eq!(client.call(&b, reqwest::Method::POST, &format!("/api/v1/runs/{a_waits}/cancel"), None).await.0, 404);
    let listed = client.ok(&b, reqwest::Method::GET, "/api/v1/runs", None).await;
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|it| it["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.contains(&b_waits.as_str()) && ids.contains(&b_approval.as_str()));

    // An event posted with B's key wakes B's plain listen only; no inbox wait takes it.
    client.send_event(&b, "e-1").await;
    wait_status(&client, &b, &b_waits, "completed").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.status(&a, &a_waits).await, "waiting", "an event of B woke a run of A");
    for run in [&a_first, &a_second] {
        assert_eq!(client.status(&a, run).await, "waiting", "a plain event answered an inbox wait");
    }
    assert_eq!(client.status(&b, &b_approval).await, "waiting", "a plain event answered an inbox wait");

    // The inbox: each workspace sees its own items; another workspace's item is not found.
    let inbox = client.ok(&a, reqwest::Method::GET, "/api/v1/inbox", None).await;
    let items: Vec<Value> = inbox["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2, "{inbox}");
    let first_item =
        items.iter().find(|it| it["runId"] == a_first.as_str()).unwrap()["id"].as_str().unwrap().to_owned();
    let respond = format!("/api/v1/inbox/{first_item}/respond");
    let answer = Some(("application/json", json!({"data": {"approved": true}}).to_string()));
    assert_eq!(client.call(&b, reqwest::Method::POST, &respond, answer.clone()).await.0, 404);
    let taken = client.ok(&a, reqwest::Method::POST, &respond, answer).await;
    assert_eq!(taken["respondedBy"]["id"], "default-admin", "{taken}");
    wait_status(&client, &a, &a_first, "completed").await;
    assert_eq!(client.status(&a, &a_second).await, "waiting", "answering one item answered another");

    // The run's history says who answered; the audit log records it.
    let history = client.ok(&a, reqwest::Method::GET, &format!("/api/v1/runs/{a_first}/history"), None).await;
    let responded = history["items"].as_array().unwrap().iter().find(|it| it["type"] == "io.baton.inbox.responded.v1");
    let responded = responded.unwrap_or_else(|| panic!("no inbox.responded entry: {history}"));
    assert_eq!(responded["data"]["respondedBy"], json!({"id": "default-admin", "name": "admin"}));
    let audit = client.ok(&a, reqwest::Method::GET, "/api/v1/audit", None).await;
    assert_eq!(audit["items"][0]["action"], "inbox.answered", "{audit}");
    assert_eq!(audit["items"][0]["target"], first_item.as_str());
    let b_audit = client.ok(&b, reqwest::Method::GET, "/api/v1/audit", None).await;
    assert!(b_audit["items"].as_array().unwrap().iter().all(|it| it["action"] != "inbox.answered"), "{b_audit}");
    server.close().await;
}

async fn wait_status(client: &Client, key: &str, run_id: &str, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if client.status(key, run_id).await == status {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "run {run_id} never became {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
