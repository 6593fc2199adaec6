//! Helpers shared by the integration tests.

use serde_json::Value;

use baton_core::effects::{EffectResult, HttpRequest, HttpResponse};
use baton_core::error::WorkflowError;
use baton_core::http::{HttpCall, build_request};
use baton_server::egress::EgressPolicy;
use baton_server::http_client::HttpExecutor;
use baton_server::standin::StandIn;

pub const LOOPBACK: EgressPolicy = EgressPolicy { allow_loopback: true, allow_private: false };
pub const STRICT: EgressPolicy = EgressPolicy { allow_loopback: false, allow_private: false };

/// A stand-in and an executor that rewrites the public petstore/httpbin origins to it.
pub async fn setup() -> (StandIn, HttpExecutor) {
    let stand_in = StandIn::start().await.expect("stand-in starts");
    let executor = HttpExecutor::new(LOOPBACK, stand_in.rewrites());
    (stand_in, executor)
}

pub fn call(method: &str, uri: &str) -> HttpCall {
    HttpCall {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers: None,
        query: None,
        body: None,
        redirect: false,
        credentials: None,
    }
}

pub fn request(method: &str, uri: &str) -> HttpRequest {
    build_request(call(method, uri)).expect("valid request")
}

#[track_caller]
pub fn expect_response(res: EffectResult) -> HttpResponse {
    match res {
        EffectResult::Http { response } => response,
        other => panic!("expected an HTTP response, got {other:?}"),
    }
}

#[track_caller]
pub fn expect_failure(res: EffectResult) -> WorkflowError {
    match res {
        EffectResult::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[track_caller]
pub fn expect_document(res: EffectResult) -> Value {
    match res {
        EffectResult::Document { document } => document,
        other => panic!("expected a document, got {other:?}"),
    }
}

/// The engine settings of the tests: calls may reach loopback, no secrets and no URL rewrites,
/// the default event retention, this approval deadline (ms), one process on the database.
pub fn loopback_config(approval_deadline_ms: i64) -> baton_server::engine::EngineConfig {
    baton_server::engine::EngineConfig {
        secrets: serde_json::json!({}),
        egress: LOOPBACK,
        rewrites: Vec::new(),
        event_retention_ms: baton_server::engine::DEFAULT_EVENT_RETENTION_MS,
        approval_deadline_ms,
        cluster: None,
        max_value_bytes: baton_core::expr::DEFAULT_MAX_VALUE_BYTES,
    }
}
