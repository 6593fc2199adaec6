//! Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use baton_store::StoreLifecycle;

use crate::api::AppState;
use crate::api::dto::ProbeStatus;
use crate::api::error::{ApiError, Problem};
use crate::auth::access::{MetricsReader, Viewer};

/// How long readiness waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process runs
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Alive", body = ProbeStatus, example = json!({"status": "ok"})))
)]
pub(crate) async fn healthz() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok".into() })
}

/// Readiness: the database answers
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ProbeStatus, example = json!({"status": "ready"})),
        (status = 503, description = "`platform-unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, state.engine.store().ping()).await {
        Ok(Ok(())) => Ok(Json(ProbeStatus { status: "ready".into() })),
        Ok(Err(err)) => Err(ApiError::Unavailable(err.to_string())),
        Err(_) => Err(ApiError::Unavailable("the database did not answer in time".into())),
    }
}

/// Prometheus metrics (OpenMetrics text)
///
/// `baton_runs{status}`, `baton_task_duration_seconds`, `baton_queue_depth`,
/// `baton_active_runs`, `baton_timers`, `baton_store_commits_total`,
/// `baton_store_write_requests_total`, `baton_store_commit_batch_size`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "application/openmetrics-text"),
        (status = 503, description = "`platform-unavailable`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn metrics(State(state): State<AppState>, _reader: MetricsReader) -> Result<Response, ApiError> {
    let text = state.metrics.render(&state.engine).await?;
    let content_type = HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8");
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// This API's OpenAPI document
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "OpenAPI document", body = Object, content_type = "application/json"))
)]
pub(crate) async fn openapi_json(State(state): State<AppState>, _caller: Viewer) -> Response {
    let json = state.openapi.get().cloned().unwrap_or_else(|| "{}".into());
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], json).into_response()
}
