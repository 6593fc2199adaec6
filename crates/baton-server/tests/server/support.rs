//! Helpers shared by the integration tests.

use serde_json::Value;

use baton_core::effects::{EffectResult, HttpRequest, HttpResponse};
use baton_core::error::WorkflowError;
use baton_core::http::{HttpCall, build_request};
use baton_server::outbound::egress::EgressPolicy;
use baton_server::outbound::http_client::HttpExecutor;
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

/// The node of the tests: embedded on the SQLite file `db`, calls may reach loopback, this
/// approval deadline (ms).
pub fn local_config(db: &std::path::Path, approval_deadline_ms: i64) -> baton_server::server::ServerConfig {
    let mut config = baton_server::server::ServerConfig::local(db);
    config.egress = LOOPBACK;
    config.approval_deadline_ms = approval_deadline_ms;
    config.bootstrap_key = Some(crate::auth_support::TEST_KEY.to_owned());
    config
}

/// Starts a node.
pub async fn start(config: baton_server::server::ServerConfig) -> baton_server::server::Server {
    match baton_server::server::Server::start(config).await {
        Ok(server) => server,
        Err(err) => panic!("the server does not start: {:?}", err),
    }
}

/// Serves `server`'s API on 127.0.0.1 (an ephemeral port, default inbound limits) until the
/// test ends; returns its base URL.
pub async fn serve_api(server: &baton_server::server::Server) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("local addr"));
    let router = server.api().router.clone();
    let limits = baton_server::inbound::InboundLimits::DEFAULT;
    tokio::spawn(baton_server::inbound::serve(listener, router, limits, tokio_util::sync::CancellationToken::new()));
    base
}

/// The engine settings of the tests: calls may reach loopback, no secrets and no URL rewrites,
/// the default event retention, this approval deadline (ms), one process on the database.
pub fn loopback_config(approval_deadline_ms: i64) -> baton_server::engine::EngineConfig {
    baton_server::engine::EngineConfig {
        secrets: serde_json::json!({}),
        secret_key: baton_server::secrets::SecretKey::generate().unwrap(),
        egress: LOOPBACK,
        rewrites: Vec::new(),
        event_retention_ms: baton_server::engine::DEFAULT_EVENT_RETENTION_MS,
        approval_deadline_ms,
        cluster: None,
        max_value_bytes: baton_core::expr::DEFAULT_MAX_VALUE_BYTES,
    }
}
