//! The API's one error type and its mapping to RFC 7807 problem details, in one place.
//!
//! Every handler returns `Result<_, ApiError>`. Client errors carry a stable `type`
//! (`/problems/<slug>`, listed in `docs/api.md`); server errors (5xx) never show internal or
//! database text: it is logged here, inside the request's span, and the client gets a generic
//! title.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use baton_model::Diagnostic;
use baton_store::StoreError;

use crate::engine::EngineError;

/// Media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("invalid workflow definition")]
    InvalidDefinition(Vec<Diagnostic>),
    #[error("workflow conflict: {0}")]
    WorkflowConflict(String),
    #[error("workflow {namespace}/{name}:{version} not found")]
    WorkflowNotFound { namespace: String, name: String, version: String },
    #[error("unknown task references: {0:?}")]
    UnknownTaskReference(Vec<String>),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("payload too large")]
    PayloadTooLarge,
    /// The client did not send the request body within the body-read timeout
    /// ([`crate::inbound::InboundLimits::body_read_timeout`]).
    #[error("request body timed out")]
    RequestTimeout,
    #[error("run {0} not found")]
    RunNotFound(String),
    #[error("run {run_id} is {status}: cannot {signal} it")]
    SignalRefused { run_id: String, status: String, signal: String },
    /// CloudEvents that are not valid: every problem (`id: required`, or `[2] id: required` in
    /// a batch).
    #[error("invalid CloudEvent: {}", .0.join("; "))]
    InvalidEvent(Vec<String>),
    #[error("inbox item {0} not found")]
    ItemNotFound(String),
    #[error("secret {0} not found")]
    SecretNotFound(String),
    /// The item's run no longer waits for it.
    #[error("inbox item {0} is closed")]
    ItemClosed(String),
    /// A response that does not match the item's form: every schema violation.
    #[error("the response to {item} does not match the form: {}", problems.join("; "))]
    InvalidResponse { item: String, problems: Vec<String> },
    /// No CloudEvent built from the response would satisfy the item's `listen` filter.
    #[error("inbox item {item} cannot be answered here: {detail}")]
    ItemUnanswerable { item: String, detail: String },
    /// No usable key: missing, malformed, unknown, revoked or expired (never echoes the key).
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// A valid key without the role the request needs (named in the text).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The caller's workspace was deleted.
    #[error("the workspace is deleted")]
    WorkspaceDeleted,
    /// A body without a type, or of a type the route does not take.
    #[error("unsupported media type {found:?}")]
    UnsupportedMediaType { found: Option<String>, accepted: &'static [&'static str] },
    /// The slug (or id) of a new workspace is taken.
    #[error("workspace conflict: {0}")]
    WorkspaceConflict(String),
    /// A member with that email exists in the workspace.
    #[error("member conflict: {0}")]
    MemberConflict(String),
    /// The change would leave the workspace without an admin.
    #[error("last admin: {0}")]
    LastAdmin(String),
    #[error("key {0} not found")]
    KeyNotFound(String),
    #[error("member {0} not found")]
    MemberNotFound(String),
    /// No route matches the path.
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The database does not answer. The text is logged, never sent.
    #[error("platform unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure. The text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An RFC 7807 problem document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Stable relative URI `/problems/<slug>`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/run-not-found")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// `invalid-definition`: every problem of the definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<DiagnosticDto>>,
    /// `unknown-task-reference`: the requested references the workflow does not have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_references: Option<Vec<String>>,
    /// `invalid-event`: every missing or invalid attribute; `invalid-response`: every schema
    /// violation of the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<String>>,
}

/// One problem of a workflow definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiagnosticDto {
    /// JSON pointer to the offending node, e.g. `/do/2/notify/call`.
    pub path: String,
    pub message: String,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidDefinition(_)
            | ApiError::MalformedJson(_)
            | ApiError::InvalidRequest(_)
            | ApiError::InvalidEvent(_) => StatusCode::BAD_REQUEST,
            ApiError::WorkflowConflict(_)
            | ApiError::SignalRefused { .. }
            | ApiError::ItemClosed(_)
            | ApiError::ItemUnanswerable { .. }
            | ApiError::WorkspaceConflict(_)
            | ApiError::MemberConflict(_)
            | ApiError::LastAdmin(_) => StatusCode::CONFLICT,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::WorkspaceDeleted => StatusCode::GONE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::WorkflowNotFound { .. }
            | ApiError::RunNotFound(_)
            | ApiError::ItemNotFound(_)
            | ApiError::KeyNotFound(_)
            | ApiError::MemberNotFound(_)
            | ApiError::SecretNotFound(_)
            | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::UnknownTaskReference(_) | ApiError::InvalidResponse { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `type` slug and the title.
    fn kind(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::InvalidDefinition(_) => ("invalid-definition", "the workflow definition is invalid"),
            ApiError::WorkflowConflict(_) => {
                ("workflow-conflict", "this workflow version is already deployed with other content")
            }
            ApiError::WorkflowNotFound { .. } => ("workflow-not-found", "workflow not found"),
            ApiError::UnknownTaskReference(_) => ("unknown-task-reference", "unknown task reference"),
            ApiError::MalformedJson(_) => ("malformed-json", "the request body is not valid JSON"),
            ApiError::InvalidRequest(_) => ("invalid-request", "invalid request"),
            ApiError::PayloadTooLarge => ("payload-too-large", "the request body is too large"),
            ApiError::RequestTimeout => ("request-timeout", "the request body was not received in time"),
            ApiError::RunNotFound(_) => ("run-not-found", "run not found"),
            ApiError::SignalRefused { .. } => ("signal-refused", "the run's status does not allow this signal"),
            ApiError::InvalidEvent(_) => ("invalid-event", "the CloudEvent is not valid"),
            ApiError::ItemNotFound(_) => ("item-not-found", "inbox item not found"),
            ApiError::SecretNotFound(_) => ("secret-not-found", "secret not found"),
            ApiError::ItemClosed(_) => ("item-closed", "the inbox item is no longer open"),
            ApiError::InvalidResponse { .. } => ("invalid-response", "the response does not match the item's form"),
            ApiError::ItemUnanswerable { .. } => {
                ("item-unanswerable", "no event built from a response can satisfy this item's listen task")
            }
            ApiError::Unauthenticated(_) => ("unauthenticated", "a valid API key is required"),
            ApiError::Forbidden(_) => ("forbidden", "the API key's role does not allow this request"),
            ApiError::WorkspaceDeleted => ("workspace-deleted", "the workspace is deleted"),
            ApiError::UnsupportedMediaType { .. } => {
                ("unsupported-media-type", "the request body's content type is not accepted here")
            }
            ApiError::WorkspaceConflict(_) => ("workspace-conflict", "a workspace with this slug exists"),
            ApiError::MemberConflict(_) => ("member-conflict", "a member with this email exists in the workspace"),
            ApiError::LastAdmin(_) => ("last-admin", "a workspace must keep at least one admin"),
            ApiError::KeyNotFound(_) => ("key-not-found", "API key not found"),
            ApiError::MemberNotFound(_) => ("member-not-found", "member not found"),
            ApiError::NotFound => ("not-found", "no such resource"),
            ApiError::MethodNotAllowed => ("method-not-allowed", "method not allowed on this resource"),
            ApiError::Unavailable(_) => ("platform-unavailable", "the database is not available"),
            ApiError::Internal(_) => ("internal-error", "internal server error"),
        }
    }

    /// The problem document sent to the client.
    pub fn problem(&self) -> Problem {
        let (slug, title) = self.kind();
        let mut problem = Problem {
            type_: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: self.status().as_u16(),
            detail: None,
            instance: None,
            diagnostics: None,
            unknown_references: None,
            problems: None,
        };
        match self {
            ApiError::InvalidDefinition(diagnostics) => {
                problem.detail = Some(format!("{} problem(s) found", diagnostics.len()));
                problem.diagnostics = Some(
                    diagnostics
                        .iter()
                        .map(|it| DiagnosticDto { path: it.path.clone(), message: it.message.clone() })
                        .collect(),
                );
            }
            ApiError::WorkflowConflict(detail) | ApiError::MalformedJson(detail) | ApiError::InvalidRequest(detail) => {
                problem.detail = Some(detail.clone());
            }
            ApiError::WorkflowNotFound { namespace, name, version } => {
                problem.detail = Some(format!("no workflow {namespace}/{name} with version {version:?} is deployed"));
            }
            ApiError::UnknownTaskReference(references) => {
                problem.detail = Some(format!("the workflow has no task {}", references.join(", ")));
                problem.unknown_references = Some(references.clone());
            }
            ApiError::RunNotFound(run_id) => {
                problem.detail = Some(format!("no run with id {run_id:?}"));
                problem.instance = Some(format!("/api/v1/runs/{run_id}"));
            }
            ApiError::SignalRefused { run_id, status, signal } => {
                problem.detail = Some(format!("run {run_id} is {status}: cannot {signal} it"));
                problem.instance = Some(format!("/api/v1/runs/{run_id}"));
            }
            ApiError::InvalidEvent(problems) => {
                problem.detail = Some(format!("{} problem(s) found", problems.len()));
                problem.problems = Some(problems.clone());
            }
            ApiError::ItemNotFound(item) => {
                problem.detail = Some(format!("no inbox item with id {item:?}"));
                problem.instance = Some(format!("/api/v1/inbox/{item}"));
            }
            ApiError::SecretNotFound(name) => {
                problem.detail = Some(format!("the workspace has no secret {name:?}"));
                problem.instance = Some(format!("/api/v1/secrets/{name}"));
            }
            ApiError::ItemClosed(item) => {
                problem.detail = Some(format!("the run no longer waits for item {item}: nothing was changed"));
                problem.instance = Some(format!("/api/v1/inbox/{item}"));
            }
            ApiError::InvalidResponse { item, problems } => {
                problem.detail = Some(format!("{} problem(s) found; nothing was consumed", problems.len()));
                problem.instance = Some(format!("/api/v1/inbox/{item}"));
                problem.problems = Some(problems.clone());
            }
            ApiError::ItemUnanswerable { item, detail } => {
                problem.detail = Some(detail.clone());
                problem.instance = Some(format!("/api/v1/inbox/{item}"));
            }
            ApiError::Unauthenticated(detail) | ApiError::Forbidden(detail) => {
                problem.detail = Some((*detail).to_owned());
            }
            ApiError::UnsupportedMediaType { found, accepted } => {
                let found = match found {
                    Some(found) => format!("Content-Type {found:?}"),
                    None => "no Content-Type".to_owned(),
                };
                problem.detail = Some(format!("{found}: this route accepts {}", accepted.join(", ")));
            }
            ApiError::WorkspaceConflict(detail) | ApiError::MemberConflict(detail) | ApiError::LastAdmin(detail) => {
                problem.detail = Some(detail.clone());
            }
            ApiError::KeyNotFound(id) => {
                problem.detail = Some(format!("no API key with id {id:?}"));
                problem.instance = Some(format!("/api/v1/keys/{id}"));
            }
            ApiError::MemberNotFound(id) => {
                problem.detail = Some(format!("no member with id {id:?}"));
                problem.instance = Some(format!("/api/v1/members/{id}"));
            }
            ApiError::WorkspaceDeleted
            | ApiError::PayloadTooLarge
            | ApiError::RequestTimeout
            | ApiError::NotFound
            | ApiError::MethodNotAllowed
            | ApiError::Unavailable(_)
            | ApiError::Internal(_) => {}
        }
        problem
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(message) => tracing::error!(error = %message, "request failed"),
            ApiError::Unavailable(message) => tracing::warn!(error = %message, "database unavailable"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::Unauthenticated(_)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Renders a store error as its full chain (for logs only).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            // The database is closed, unreachable or cannot be written: the platform, not the
            // request (503 `platform-unavailable`).
            err if matches!(err, StoreError::Closed) || err.is_transient() => ApiError::Unavailable(chain(&err)),
            other => ApiError::Internal(chain(&other)),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> ApiError {
        match err {
            EngineError::Definition(err) => ApiError::InvalidDefinition(err.diagnostics()),
            EngineError::Store(err) => err.into(),
            EngineError::RunNotFound(run_id) => ApiError::RunNotFound(run_id),
            EngineError::WorkflowNotFound { namespace, name, version } => {
                ApiError::WorkflowNotFound { namespace, name, version }
            }
            EngineError::SignalRefused { run_id, status, signal } => {
                ApiError::SignalRefused { run_id, status: status.into(), signal: signal.into() }
            }
            EngineError::InvalidEvent(problems) => ApiError::InvalidEvent(problems),
            err @ (EngineError::CorruptRun { .. } | EngineError::Seal(_)) => ApiError::Internal(err.to_string()),
            EngineError::Secrets(err) => err.into(),
            err @ EngineError::ShuttingDown => ApiError::Unavailable(err.to_string()),
        }
    }
}
