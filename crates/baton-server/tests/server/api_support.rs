//! Helpers of the HTTP API tests: a real router on a real SQLite file in a temporary directory,
//! requests through `tower::ServiceExt::oneshot`, and a real listener on 127.0.0.1 for streams.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use futures_util::StreamExt as _;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt as _;

use baton_server::api::DEFAULT_MAX_BODY_BYTES;
use baton_server::engine::DEFAULT_APPROVAL_DEADLINE_MS;
use baton_server::server::Server;
use baton_store::AnyStore;

/// Two `set` tasks: `{name}` → `{greeting: "hello NAME!"}`.
pub const HELLO: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: hello, version: '1.0.0'}
do:
  - first:
      set:
        greeting: ${ "hello " + .name }
  - second:
      set:
        greeting: ${ .greeting + "!" }
"#;

/// Faults with a `validation` error.
pub const FAULTY: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: faulty, version: '1.0.0'}
do:
  - boom:
      raise:
        error:
          type: https://serverlessworkflow.io/spec/1.0.0/errors/validation
          status: 400
          title: boom
"#;

/// Waits an hour.
pub const SLEEPER: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: sleeper, version: '1.0.0'}
do:
  - pause:
      wait: PT1H
"#;

/// Sets, waits one second, sets again.
pub const NAPPER: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: napper, version: '1.0.0'}
do:
  - before:
      set:
        step: 1
  - pause:
      wait: PT1S
  - after:
      set:
        step: 2
"#;

/// An answer: status, headers and body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts a problem response with this status and `type`; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16, slug: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let problem = self.json();
        assert_eq!(problem["type"], format!("/problems/{slug}"), "{problem}");
        assert_eq!(problem["status"], status);
        assert!(problem["title"].is_string(), "{problem}");
        problem
    }
}

/// An embedded node on a fresh SQLite file.
pub struct TestApi {
    /// Holds the database file until the test ends.
    _dir: TempDir,
    pub store: AnyStore,
    pub server: Server,
}

impl TestApi {
    pub async fn start() -> TestApi {
        Self::with_body_limit(DEFAULT_MAX_BODY_BYTES).await
    }

    pub async fn with_body_limit(max_body_bytes: usize) -> TestApi {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = crate::support::local_config(&dir.path().join("baton.db"), DEFAULT_APPROVAL_DEADLINE_MS);
        config.max_body_bytes = max_body_bytes;
        let server = crate::support::start(config).await;
        TestApi { _dir: dir, store: server.store().clone(), server }
    }

    pub fn router(&self) -> Router {
        self.server.api().router.clone()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(self.router(), request).await
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, uri: &str, body: impl Into<Body>) -> Reply {
        self.send(Request::post(uri).body(body.into()).unwrap()).await
    }

    pub async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        let request =
            Request::post(uri).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
        self.send(request).await
    }

    /// Deploys a definition and asserts it was accepted (created or unchanged).
    pub async fn deploy(&self, text: &str) {
        let reply = self.post("/api/v1/workflows", text.to_owned()).await;
        assert!(reply.status.is_success(), "deploy failed: {}", String::from_utf8_lossy(&reply.body));
    }

    /// Starts a run of `test/NAME` with `query` (e.g. `mode=background`) and returns the reply.
    pub async fn start_run(&self, name: &str, query: &str, input: Value) -> Reply {
        let body = serde_json::json!({"workflow": {"namespace": "test", "name": name}, "input": input});
        self.post_json(&format!("/api/v1/runs?{query}"), &body).await
    }

    /// Polls a run until its status is `status` (10 s at most); returns the run.
    pub async fn wait_status(&self, run_id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let run = self.get(&format!("/api/v1/runs/{run_id}")).await.json();
            if run["status"] == status {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "run {run_id} never became {status}: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Serves the router on 127.0.0.1 (an ephemeral port) until the test ends.
    pub async fn listen(&self) -> SocketAddr {
        let base = crate::support::serve_api(&self.server).await;
        base.trim_start_matches("http://").parse().expect("an address")
    }
}

/// Sends `request` as the test admin (see [`crate::auth_support::authorize`]).
pub async fn send(router: Router, request: Request<Body>) -> Reply {
    send_as_is(router, crate::auth_support::authorize(request)).await
}

/// Sends `request` with exactly the headers it has.
pub async fn send_as_is(router: Router, request: Request<Body>) -> Reply {
    let response = router.oneshot(request).await.expect("infallible router");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Reply { status: parts.status, headers: parts.headers, body }
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Value,
}

/// Reads Server-Sent Events from a streaming response.
pub struct SseReader {
    stream: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    buffer: String,
}

impl SseReader {
    /// Opens `url` with `Accept: text/event-stream` and the given headers.
    pub async fn open(url: &str, headers: &[(&str, &str)]) -> SseReader {
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let mut request = client.get(url).header("accept", "text/event-stream");
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("authorization")) {
            request = request.bearer_auth(crate::auth_support::TEST_KEY);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("stream request");
        assert_eq!(response.status(), 200);
        let content_type = response.headers().get("content-type").and_then(|it| it.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        SseReader { stream: response.bytes_stream().boxed(), buffer: String::new() }
    }

    /// The next event (skipping keep-alive comments), or `None` when the stream ended.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&block) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("an event within 10 s")?
                .expect("stream chunk");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Every remaining event until the stream ends.
    pub async fn rest(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

fn parse_event(block: &str) -> Option<SseEvent> {
    let (mut id, mut event, mut data) = (None, None, Vec::new());
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim_start().to_owned());
        } else if let Some(value) = line.strip_prefix("event:") {
            event = Some(value.trim_start().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.trim_start().to_owned());
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = serde_json::from_str(&data.join("\n")).expect("event data is JSON");
    Some(SseEvent { id, event, data })
}
