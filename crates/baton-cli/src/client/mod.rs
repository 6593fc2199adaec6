//! The HTTP client of a running `baton serve` (`docs/api.md`): one method per endpoint the CLI
//! uses, errors as problem details.

pub mod credentials;
mod identity;
pub mod sse;

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use serde_json::{Map, Value};

use self::sse::{SseEvent, SseParser};
use crate::commands::UsageError;

/// How long one ordinary request (not an event stream) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes of a non-JSON error body quoted in a message.
const QUOTED_BODY: usize = 300;

/// An `application/problem+json` body (RFC 7807) with its extensions.
#[derive(Debug, Clone, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// The slug of `type`: `invalid-definition` for `/problems/invalid-definition`.
    pub fn slug(&self) -> &str {
        self.kind.rsplit('/').next().unwrap_or("")
    }

    /// The `diagnostics: [{path, message}]` extension of `invalid-definition`.
    pub fn diagnostics(&self) -> Vec<(String, String)> {
        let Some(Value::Array(items)) = self.extensions.get("diagnostics") else {
            return Vec::new();
        };
        items
            .iter()
            .map(|item| {
                let text = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or("").to_owned();
                (text("path"), text("message"))
            })
            .collect()
    }

    /// The `problems: [..]` extension of `invalid-event` and `invalid-response`.
    pub fn problems(&self) -> Vec<String> {
        let Some(Value::Array(items)) = self.extensions.get("problems") else {
            return Vec::new();
        };
        items.iter().map(|item| item.as_str().map_or_else(|| item.to_string(), str::to_owned)).collect()
    }

    /// The request was wrong (malformed, invalid, unknown resource): the CLI exits 2 for these,
    /// 1 for conflicts and server failures.
    pub fn is_usage(&self) -> bool {
        matches!(self.status, 400 | 401 | 403 | 404 | 413 | 415 | 422)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) if !detail.is_empty() => write!(f, "{}: {detail}", self.title),
            _ => f.write_str(&self.title),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot connect to the Baton server at {url} ({reason}); is `baton serve` running there?")]
    Connect { url: String, reason: String },
    #[error("{0}")]
    Problem(Box<Problem>),
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("unexpected response from {url}: {reason}")]
    Unexpected { url: String, reason: String },
}

/// A client error as the CLI reports it: a wrong request (bad URL, unknown run, invalid
/// definition) is a usage error (exit 2); the rest exit 1.
pub fn cli_error(err: ClientError) -> anyhow::Error {
    match err {
        ClientError::Problem(problem) if problem.is_usage() => UsageError(problem.to_string()).into(),
        ClientError::InvalidUrl { .. } => UsageError(err.to_string()).into(),
        other => other.into(),
    }
}

/// `POST /api/v1/workflows`: the deployment, and whether this call created it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub namespace: String,
    pub name: String,
    pub version: String,
    #[serde(skip)]
    pub created: bool,
}

/// Filters of `GET /api/v1/runs`.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub status: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// One page of a listing: `{items, nextCursor?}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub items: Vec<Value>,
    /// A string for runs, a sequence number for history.
    #[serde(default)]
    pub next_cursor: Option<Value>,
}

impl Page {
    /// `nextCursor` as the text of a query parameter.
    pub fn next_cursor_text(&self) -> Option<String> {
        match self.next_cursor.as_ref()? {
            Value::String(text) => Some(text.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

/// Filters of `GET /api/v1/inbox`.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    /// `NAMESPACE/NAME`.
    pub workflow: Option<String>,
    pub assignee: Option<String>,
    pub overdue: bool,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The three signals of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Cancel,
    Suspend,
    Resume,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Cancel => "cancel",
            Signal::Suspend => "suspend",
            Signal::Resume => "resume",
        }
    }
}

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
    /// Sent as `Authorization: Bearer <key>` on every request.
    api_key: Option<String>,
}

impl Client {
    /// A client of the server at `server` (`http://host:port`, optionally with a path prefix).
    pub fn new(server: &str) -> Result<Self, ClientError> {
        let invalid = |reason: String| ClientError::InvalidUrl { url: server.to_owned(), reason };
        let mut base = Url::parse(server).map_err(|err| invalid(err.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("expected http://HOST:PORT or https://HOST:PORT".to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|err| invalid(format!("cannot build an HTTP client: {err}")))?;
        Ok(Self { base, http, api_key: None })
    }

    /// This client, sending `api_key` as `Authorization: Bearer <key>` on every request.
    pub fn with_api_key(self, api_key: Option<String>) -> Client {
        Client { api_key, ..self }
    }

    /// `POST /api/v1/workflows[?concurrency=N]`.
    pub async fn deploy(
        &self,
        text: String,
        content_type: &'static str,
        concurrency: Option<u32>,
    ) -> Result<Deployment, ClientError> {
        let mut request = self.request(Method::POST, "api/v1/workflows")?.header(CONTENT_TYPE, content_type).body(text);
        if let Some(concurrency) = concurrency {
            request = request.query(&[("concurrency", concurrency)]);
        }
        let response = self.send(request.timeout(REQUEST_TIMEOUT)).await?;
        let created = response.status() == StatusCode::CREATED;
        let mut deployment: Deployment = self.json(response).await?;
        deployment.created = created;
        Ok(deployment)
    }

    /// `GET /api/v1/runs` (one page).
    pub async fn list_runs(&self, query: &RunQuery) -> Result<Page, ClientError> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let fields = [
            ("status", &query.status),
            ("namespace", &query.namespace),
            ("name", &query.name),
            ("version", &query.version),
            ("cursor", &query.cursor),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                pairs.push((key, value.clone()));
            }
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        let request = self.request(Method::GET, "api/v1/runs")?.query(&pairs);
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `GET /api/v1/runs/{id}`.
    pub async fn get_run(&self, id: &str) -> Result<Value, ClientError> {
        let request = self.request(Method::GET, &format!("api/v1/runs/{}", segment(id)))?;
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `GET /api/v1/runs/{id}/history?after=SEQ&limit=N` (one page).
    pub async fn history(&self, id: &str, after: u64, limit: u32) -> Result<Page, ClientError> {
        let request = self
            .request(Method::GET, &format!("api/v1/runs/{}/history", segment(id)))?
            .query(&[("after", after), ("limit", u64::from(limit))]);
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `POST /api/v1/runs/{id}/{cancel|suspend|resume}` → `{id, status}`.
    pub async fn signal(&self, id: &str, signal: Signal) -> Result<Value, ClientError> {
        let request = self.request(Method::POST, &format!("api/v1/runs/{}/{}", segment(id), signal.as_str()))?;
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `POST /api/v1/events`: one event (structured mode) or, for an array, a batch →
    /// `{accepted, duplicates}`.
    pub async fn send_events(&self, events: &Value) -> Result<Value, ClientError> {
        let content_type = match events {
            Value::Array(_) => "application/cloudevents-batch+json",
            _ => "application/cloudevents+json",
        };
        let request =
            self.request(Method::POST, "api/v1/events")?.header(CONTENT_TYPE, content_type).body(events.to_string());
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `GET /api/v1/inbox` (one page).
    pub async fn list_inbox(&self, query: &InboxQuery) -> Result<Page, ClientError> {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for (key, value) in [("workflow", &query.workflow), ("assignee", &query.assignee), ("cursor", &query.cursor)] {
            if let Some(value) = value {
                pairs.push((key, value.clone()));
            }
        }
        if query.overdue {
            pairs.push(("overdue", "true".to_owned()));
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        let request = self.request(Method::GET, "api/v1/inbox")?.query(&pairs);
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `POST /api/v1/inbox/{item}/respond` → `{item, runId, eventId, accepted}` (`accepted`
    /// false: this response had already been taken).
    pub async fn respond(&self, item: &str, data: &Value) -> Result<Value, ClientError> {
        let body = serde_json::json!({ "data": data }).to_string();
        let request = self
            .request(Method::POST, &format!("api/v1/inbox/{}/respond", segment(item)))?
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    /// `GET /api/v1/runs/{id}/history` as Server-Sent Events, resuming after `last_event_id`.
    pub async fn history_events(&self, id: &str, last_event_id: Option<u64>) -> Result<EventStream, ClientError> {
        let mut request = self
            .request(Method::GET, &format!("api/v1/runs/{}/history", segment(id)))?
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"));
        if let Some(seq) = last_event_id {
            request = request.header("Last-Event-ID", seq.to_string());
        }
        let response = self.send(request).await?;
        let url = response.url().to_string();
        let is_sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/event-stream"));
        if !is_sse {
            return Err(ClientError::Unexpected { url, reason: "the history is not a text/event-stream".to_owned() });
        }
        Ok(EventStream { response, url, parser: SseParser::new(), ready: VecDeque::new() })
    }

    fn request(&self, method: Method, path: &str) -> Result<RequestBuilder, ClientError> {
        let url = self
            .base
            .join(path)
            .map_err(|err| ClientError::InvalidUrl { url: self.base.to_string(), reason: err.to_string() })?;
        let request = self.http.request(method, url);
        Ok(match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        })
    }

    /// Sends the request; a status other than 2xx becomes [`ClientError::Problem`].
    async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|err| self.transport(err))?;
        if response.status().is_success() {
            return Ok(response);
        }
        Err(problem_of(response).await)
    }

    async fn json<T: serde::de::DeserializeOwned>(&self, response: Response) -> Result<T, ClientError> {
        let url = response.url().to_string();
        let bytes = response.bytes().await.map_err(|err| self.transport(err))?;
        serde_json::from_slice(&bytes).map_err(|err| ClientError::Unexpected { url, reason: err.to_string() })
    }

    fn transport(&self, err: reqwest::Error) -> ClientError {
        let url = err.url().map_or_else(|| self.base.to_string(), Url::to_string);
        if err.is_connect() {
            return ClientError::Connect {
                url: self.base.as_str().trim_end_matches('/').to_owned(),
                reason: root_cause(&err),
            };
        }
        if err.is_timeout() {
            return ClientError::Transport { url, reason: "timed out".to_owned() };
        }
        ClientError::Transport { url, reason: root_cause(&err) }
    }
}

/// The history of one run as it is written; see [`Client::history_events`].
#[derive(Debug)]
pub struct EventStream {
    response: Response,
    url: String,
    parser: SseParser,
    ready: VecDeque<SseEvent>,
}

impl EventStream {
    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, ClientError> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(Some(event));
            }
            let chunk = self
                .response
                .chunk()
                .await
                .map_err(|err| ClientError::Transport { url: self.url.clone(), reason: root_cause(&err) })?;
            let Some(chunk) = chunk else { return Ok(None) };
            let events = self
                .parser
                .feed(&chunk)
                .map_err(|err| ClientError::Unexpected { url: self.url.clone(), reason: err.to_string() })?;
            self.ready.extend(events);
        }
    }
}

/// A failed response as a problem: its `application/problem+json` body, or one made from the
/// status and the body's first bytes when the server sent something else.
async fn problem_of(response: Response) -> ClientError {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    if let Ok(mut problem) = serde_json::from_slice::<Problem>(&body)
        && !problem.title.is_empty()
    {
        if problem.status == 0 {
            problem.status = status.as_u16();
        }
        return ClientError::Problem(Box::new(problem));
    }
    let text = String::from_utf8_lossy(&body);
    let text = text.trim();
    let detail = match text.char_indices().nth(QUOTED_BODY) {
        Some((end, _)) => Some(format!("{}…", &text[..end])),
        None if text.is_empty() => None,
        None => Some(text.to_owned()),
    };
    ClientError::Problem(Box::new(Problem {
        kind: String::new(),
        title: format!("HTTP {}", status.canonical_reason().unwrap_or("error")),
        status: status.as_u16(),
        detail,
        extensions: Map::new(),
    }))
}

/// The innermost error message (`Connection refused (os error 111)` rather than reqwest's
/// chain of wrappers).
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// A run id as one URL path segment.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_keeps_a_path_prefix() {
        let client = Client::new("http://127.0.0.1:8080/baton").unwrap();
        assert_eq!(client.base.join("api/v1/runs").unwrap().as_str(), "http://127.0.0.1:8080/baton/api/v1/runs");
        let client = Client::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(client.base.join("api/v1/runs").unwrap().as_str(), "http://127.0.0.1:8080/api/v1/runs");
        assert!(matches!(Client::new("127.0.0.1:8080"), Err(ClientError::InvalidUrl { .. })));
        assert!(matches!(Client::new("ftp://host"), Err(ClientError::InvalidUrl { .. })));
    }

    #[test]
    fn run_ids_are_escaped_as_one_segment() {
        assert_eq!(segment("0190-abc_d.e~f"), "0190-abc_d.e~f");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn problem_display_and_extensions() {
        let problem: Problem = serde_json::from_value(serde_json::json!({
            "type": "/problems/invalid-definition", "title": "Invalid definition", "status": 400,
            "detail": "2 problems", "diagnostics": [{"path": "/do/0/a", "message": "bad"}]
        }))
        .unwrap();
        assert_eq!(problem.to_string(), "Invalid definition: 2 problems");
        assert_eq!(problem.slug(), "invalid-definition");
        assert_eq!(problem.diagnostics(), vec![("/do/0/a".to_owned(), "bad".to_owned())]);
        assert!(problem.is_usage());
    }
}
