//! Effects the interpreter asks its driver to perform, and their results.
//!
//! The interpreter never performs I/O: it emits [`Effect`]s inside [`crate::Command`]s, the
//! driver executes them after the step is committed, and feeds the [`EffectResult`] back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::WorkflowError;

/// An outbound HTTP request, fully resolved (no expressions left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// Upper-case method, e.g. `GET`.
    pub method: String,
    /// Absolute URI, query string included.
    pub uri: String,
    /// Header names and values, in order. Credentials live here; never log them.
    pub headers: Vec<(String, String)>,
    /// JSON body, sent as `application/json` (strings are sent as-is as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Follow 3xx redirects (and accept 2xx–3xx) instead of failing on non-2xx.
    pub redirect: bool,
}

/// A received HTTP response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes, base64-encoded so the value stays JSON.
    pub body_base64: String,
}

/// Something the driver does outside the interpreter. Each is at-least-once: a crash between
/// doing it and committing its result repeats it, so HTTP requests carry an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Send an HTTP request; the result is [`EffectResult::Http`].
    Http { request: HttpRequest },
    /// Fetch a document (OpenAPI description) with GET; the result is [`EffectResult::Document`].
    FetchDocument { uri: String, headers: Vec<(String, String)> },
    /// Start a child run of another workflow and report its output as [`EffectResult::Output`].
    Subflow { namespace: String, name: String, version: String, input: Value },
}

/// What an effect produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EffectResult {
    Http {
        response: HttpResponse,
    },
    Document {
        document: Value,
    },
    Output {
        output: Value,
    },
    /// The effect failed (connection refused, child run faulted, ...).
    Failed {
        error: WorkflowError,
    },
}
