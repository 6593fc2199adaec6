//! The HTTP API under `/api/v1` (contract: `docs/api.md`), the operations endpoints
//! (`/healthz`, `/readyz`, `/metrics`) and the OpenAPI document that describes them.
//!
//! Handlers are registered through utoipa-axum's `OpenApiRouter`, so the served routes and the
//! OpenAPI document come from the same list. Runs are driven by the engine, never by a request:
//! creating and starting a run happens in a spawned task, so a client that disconnects from a
//! synchronous request or an SSE stream cannot cancel or half-create a run.

mod audit;
mod dto;
mod error;
mod events;
mod extract;
mod history;
mod identity_dto;
mod inbox;
mod keys;
mod members;
mod metrics;
mod ops;
mod runs;
mod schema;
mod secrets;
mod workflows;
mod workspaces;

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use baton_store::AnyStore;

use crate::auth::{Auth, AuthConfig};
use crate::engine::Engine;
use crate::inbound::InboundLimits;

pub use crate::api::error::{ApiError, PROBLEM_JSON, Problem};

/// The engine the API drives.
pub type ApiEngine = Engine<AnyStore>;

/// Default limit of a request body: 4 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Keep-alive comment interval of the SSE streams.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How the API behaves.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body; larger ones get `413 /problems/payload-too-large`.
    pub max_body_bytes: usize,
    /// The lifecycle-event sinks' counters in `--sink` order ([`crate::notify::sinks::Sinks::stats`]),
    /// exposed by `/metrics` labelled `sink="1"`, `sink="2"`, ...; empty without sinks.
    pub sink_stats: Vec<Arc<crate::notify::sinks::SinkStats>>,
    /// How callers authenticate (keys by default; `--auth none`, `--metrics-public`).
    pub auth: AuthConfig,
    /// Origins allowed to call the API from a browser (`--cors-origin`); empty: CORS off, no
    /// CORS headers are sent.
    pub cors_origins: Vec<String>,
}

/// What every handler sees.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) engine: ApiEngine,
    /// Resolves callers; every route but the probes goes through it (see [`crate::auth`]).
    pub(crate) auth: Arc<Auth>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Cancelled when the server shuts down: SSE streams end, synchronous waits answer early.
    pub(crate) shutdown: CancellationToken,
    /// The OpenAPI document as JSON, set once the router is built.
    pub(crate) openapi: Arc<OnceLock<String>>,
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(state: &AppState) -> Arc<Auth> {
        state.auth.clone()
    }
}

/// The API: its router, its OpenAPI document and its shutdown switch.
pub struct Api {
    pub router: Router,
    pub openapi: utoipa::openapi::OpenApi,
    shutdown: CancellationToken,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Baton",
        description = "Durable workflow engine for the Serverless Workflow DSL 1.0.3. \
                       Errors are RFC 7807 problem details (`application/problem+json`)."
    ),
    components(schemas(Problem, error::DiagnosticDto)),
    tags(
        (name = "workflows", description = "Deploy and inspect workflow definitions"),
        (name = "runs", description = "Start, inspect, follow and signal runs"),
        (name = "events", description = "CloudEvents into the runs that wait for them"),
        (name = "inbox", description = "Human input: the items runs wait for, and answering them"),
        (name = "identity", description = "Workspaces, members, API keys and the audit log"),
        (name = "secrets", description = "The workspace's secrets: written and listed, never read back"),
        (name = "operations", description = "Health, readiness, metrics, API description")
    )
)]
struct ApiDoc;

impl Api {
    /// Builds the router on `engine` and starts the metrics collector (needs a tokio runtime).
    pub fn new(engine: ApiEngine, config: ApiConfig) -> Api {
        let shutdown = CancellationToken::new();
        let metrics = Arc::new(metrics::Metrics::new(config.sink_stats));
        tokio::spawn(metrics::collect_task_latencies(engine.subscribe(), metrics.clone(), shutdown.clone()));
        let auth = Auth::new(engine.store().clone(), config.auth);
        let state = AppState { engine, auth, metrics, shutdown: shutdown.clone(), openapi: Arc::new(OnceLock::new()) };
        let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .routes(routes!(workflows::deploy_workflow, workflows::list_workflows))
            .routes(routes!(workflows::get_workflow))
            .routes(routes!(runs::start_run, runs::list_runs))
            .routes(routes!(runs::get_run))
            .routes(routes!(history::run_history))
            .routes(routes!(runs::cancel_run))
            .routes(routes!(runs::suspend_run))
            .routes(routes!(runs::resume_run))
            .routes(routes!(history::all_runs_events))
            .routes(routes!(events::send_events))
            .routes(routes!(inbox::list_inbox))
            .routes(routes!(inbox::respond))
            .routes(routes!(secrets::list_secrets))
            .routes(routes!(secrets::put_secret, secrets::delete_secret))
            .routes(routes!(ops::healthz))
            .routes(routes!(ops::readyz))
            .routes(routes!(ops::metrics))
            .routes(routes!(ops::openapi_json))
            .routes(routes!(workspaces::create_workspace, workspaces::list_workspaces))
            .routes(routes!(members::list_members, members::add_member))
            .routes(routes!(members::update_member))
            .routes(routes!(keys::create_key, keys::list_keys))
            .routes(routes!(keys::revoke_key))
            .routes(routes!(audit::list_audit))
            .split_for_parts();
        schema::complete(&mut openapi, config.max_body_bytes);
        let json = openapi.to_json().unwrap_or_else(|_| "{}".into());
        let _ = state.openapi.set(json);
        let router = router
            .fallback(|| async { ApiError::NotFound })
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .with_state(state);
        let router = match cors(&config.cors_origins) {
            Some(cors) => router.layer(cors),
            None => router,
        };
        Api { router, openapi, shutdown }
    }

    /// Ends the SSE streams and the synchronous waits (they answer with the run's status then),
    /// so that a graceful shutdown does not wait for them.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Serves on `listener` with `limits` until `signal` completes, then stops accepting
    /// connections, ends the streams and waits for the requests in flight.
    pub async fn serve(
        &self,
        listener: TcpListener,
        limits: InboundLimits,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            signal.await;
            shutdown.cancel();
        });
        crate::inbound::serve(listener, self.router.clone(), limits, self.shutdown.clone()).await
    }
}

/// The CORS layer for `origins`: `None` without origins (no CORS headers at all, so browsers
/// refuse cross-origin reads and preflighted requests), else those origins with the methods and
/// headers the API uses. Credentials are a bearer key, never cookies: `allow_credentials` stays
/// off.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::LOCATION, HeaderName::from_static("idempotency-replayed")]);
    Some(layer)
}

/// The span of one request: method, matched route (not the raw path, so ids stay out of the
/// route field) and, on run endpoints, the run id (recorded by the handler).
fn request_span(request: &Request) -> tracing::Span {
    let route = request.extensions().get::<MatchedPath>().map_or("<unmatched>", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        run_id = tracing::field::Empty,
    )
}

/// Records the run id on the current request span.
pub(crate) fn record_run_id(run_id: &str) {
    tracing::Span::current().record("run_id", run_id);
}
