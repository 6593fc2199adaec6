//! `/api/v1/runs`: start runs (synchronously or in the background, idempotently), list and read
//! them, and signal them.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize as _;
use serde_json::{Map, Value};

use baton_core::state::{RunState, RunStatus};
use baton_store::{RunFilter, RunRecord, RunStatus as StoreStatus, RunStore, Store, StoreError, WorkspaceId};

use crate::api::dto::{
    ListRunsQuery, RunDetail, RunList, RunListItem, RunResult, RunStatusBody, StartMode, StartRunQuery,
    StartRunRequest, WorkflowId,
};
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::{ApiEngine, AppState, record_run_id};
use crate::auth::Caller;
use crate::auth::access::{Member, Viewer};
use crate::engine::{CreateRun, EngineError, Signal};

/// Default and largest wait of a synchronous start.
const DEFAULT_WAIT_MS: u64 = 30_000;
const MAX_WAIT_MS: u64 = 600_000;

/// How long a signal request waits for the run to take the signal before answering.
const SIGNAL_WAIT: Duration = Duration::from_secs(2);

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

const TASK_COMPLETED: &str = "io.serverlessworkflow.task.completed.v1";

/// Statuses at which a synchronous start answers.
fn settled(status: RunStatus) -> bool {
    status.is_terminal() || matches!(status, RunStatus::Waiting | RunStatus::Suspended)
}

/// Start a run
///
/// `mode=sync` (default) waits until the run is completed, faulted, cancelled, waiting or
/// suspended, or `wait_ms` passes; `mode=background` answers at once. With an
/// `Idempotency-Key` header, a repeated request returns the run the first one created.
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "runs",
    params(
        StartRunQuery,
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]*[!-~])?$",
            description = "Makes the request idempotent: 1 to 255 visible ASCII characters (spaces inside)")
    ),
    request_body = StartRunRequest,
    responses(
        (status = 200, description = "Where the run stands (`mode=sync`)", body = RunResult,
            headers(("Idempotency-Replayed" = String, description = "`true` when an existing run is returned"))),
        (status = 202, description = "Started (`mode=background`)", body = RunStatusBody,
            headers(
                ("Location" = String, description = "URL of the run"),
                ("Idempotency-Replayed" = String, description = "`true` when an existing run is returned")
            )),
        (status = 400, description = "`malformed-json` or `invalid-request`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`workflow-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload-too-large`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`unknown-task-reference` (no run is created)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn start_run(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiQuery(query): ApiQuery<StartRunQuery>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<StartRunRequest>,
) -> Result<Response, ApiError> {
    let idempotency_key = idempotency_key(&headers)?;
    let reference = &request.workflow;
    for (field, value) in
        [("namespace", &reference.namespace), ("name", &reference.name), ("version", &reference.version)]
    {
        if value.is_empty() {
            return Err(ApiError::InvalidRequest(format!("workflow.{field} must not be empty")));
        }
    }
    let Value::Object(metadata) = request.metadata else {
        return Err(ApiError::InvalidRequest("metadata must be a JSON object".into()));
    };
    if !request.input.is_object() {
        return Err(ApiError::InvalidRequest("input must be a JSON object".into()));
    }
    let deployed =
        state.engine.workflow_in(&caller.workspace, &reference.namespace, &reference.name, &reference.version).await?;
    let include_tasks = parse_include_tasks(query.include_tasks.as_deref());
    let unknown: Vec<String> = include_tasks
        .iter()
        .filter(|reference| deployed.workflow.task_by_reference(reference).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::UnknownTaskReference(unknown));
    }

    // Creating and starting the run must not depend on this request living on: the task runs
    // to its end even if the client disconnects and this handler is dropped.
    let engine = state.engine.clone();
    let input = request.input;
    let workspace = caller.workspace.clone();
    let created = tokio::spawn(async move {
        let request = CreateRun {
            metadata,
            idempotency_key,
            workspace: workspace.clone(),
            ..CreateRun::new(&deployed.workflow, input)
        };
        let created = engine.create(request).await?;
        if created.created {
            engine.start_created(&created.record, &deployed);
        }
        Ok::<_, EngineError>((created.record.id, created.created))
    })
    .await
    .map_err(|err| ApiError::Internal(format!("run creation task failed: {err}")))?;
    let (run_id, created) = created?;
    record_run_id(&run_id);
    tracing::info!(run_id = %run_id, replayed = !created, "run started");

    let mut response = match query.mode.unwrap_or_default() {
        StartMode::Background => {
            let record = load_run(&state.engine, &caller, &run_id).await?;
            let body = RunStatusBody { id: run_id.clone(), status: record.status.to_string() };
            (StatusCode::ACCEPTED, [(header::LOCATION, format!("/api/v1/runs/{run_id}"))], Json(body)).into_response()
        }
        StartMode::Sync => {
            let wait = Duration::from_millis(query.wait_ms.unwrap_or(DEFAULT_WAIT_MS).min(MAX_WAIT_MS));
            tokio::select! {
                waited = tokio::time::timeout(wait, state.engine.wait_for(&run_id, settled)) => {
                    if let Ok(Err(err)) = waited {
                        return Err(err.into());
                    }
                }
                () = state.shutdown.cancelled() => {}
            }
            let record = load_run(&state.engine, &caller, &run_id).await?;
            let tasks = match include_tasks.is_empty() {
                true => None,
                false => Some(task_outputs(state.engine.store(), &caller.workspace, &run_id, &include_tasks).await?),
            };
            let body = RunResult {
                id: record.id,
                status: record.status.to_string(),
                output: record.output,
                error: record.error,
                history_cursor: record.last_seq,
                tasks,
            };
            (StatusCode::OK, Json(body)).into_response()
        }
    };
    if !created {
        response.headers_mut().insert(IDEMPOTENCY_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else { return Ok(None) };
    let key =
        value.to_str().map_err(|_| ApiError::InvalidRequest("Idempotency-Key must be visible ASCII".into()))?.trim();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(ApiError::InvalidRequest(format!(
            "Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters"
        )));
    }
    Ok(Some(key.to_owned()))
}

/// `include_tasks=REF,REF`: distinct, non-empty references.
fn parse_include_tasks(text: Option<&str>) -> BTreeSet<String> {
    text.unwrap_or_default().split(',').map(str::trim).filter(|it| !it.is_empty()).map(str::to_owned).collect()
}

/// The output of each of `references` that completed, from the run's `task.completed` history
/// entries (the last completion wins, e.g. inside a `for`).
async fn task_outputs(
    store: &impl Store,
    workspace: &WorkspaceId,
    run_id: &str,
    references: &BTreeSet<String>,
) -> Result<Map<String, Value>, ApiError> {
    const PAGE: u32 = 1_000;
    let mut outputs = Map::new();
    let mut after = 0;
    loop {
        let page = store.history(workspace, run_id, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let n_entries = page.len();
        for entry in page {
            if entry.kind != TASK_COMPLETED {
                continue;
            }
            if let Some(task) = entry.task.filter(|task| references.contains(task)) {
                let output = entry.data.get("output").cloned().unwrap_or(Value::Null);
                outputs.insert(task, output);
            }
        }
        if n_entries < PAGE as usize {
            break;
        }
    }
    Ok(outputs)
}

/// The run `run_id` of the caller's workspace; a run of another workspace is not found.
async fn load_run(engine: &ApiEngine, caller: &Caller, run_id: &str) -> Result<RunRecord, ApiError> {
    engine.store().get_run(&caller.workspace, run_id).await?.ok_or_else(|| ApiError::RunNotFound(run_id.into()))
}

/// List runs, newest first
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(ListRunsQuery),
    responses(
        (status = 200, description = "One page of runs", body = RunList),
        (status = 400, description = "`invalid-request` (bad filter or cursor)", body = Problem,
            content_type = "application/problem+json"),
    )
)]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    ApiQuery(query): ApiQuery<ListRunsQuery>,
) -> Result<Json<RunList>, ApiError> {
    const DEFAULT_LIMIT: u32 = 50;
    const MAX_LIMIT: u32 = 500;
    let status = match query.status.as_deref().map(StoreStatus::parse) {
        None => None,
        Some(Ok(status)) => Some(status),
        Some(Err(_)) => {
            return Err(ApiError::InvalidRequest(format!(
                "unknown status {:?}: expected pending, running, waiting, suspended, cancelled, faulted or completed",
                query.status.unwrap_or_default()
            )));
        }
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    let filter = RunFilter {
        status,
        namespace: query.namespace,
        name: query.name,
        version: query.version,
        created_after: parse_time("created_after", query.created_after.as_deref())?,
        created_before: parse_time("created_before", query.created_before.as_deref())?,
        // One more than asked: tells whether a next page exists.
        limit: limit + 1,
        before: query.cursor,
    };
    let mut runs = match state.engine.store().list_runs(&caller.workspace, filter).await {
        Ok(runs) => runs,
        Err(StoreError::NotFound(_)) => return Err(ApiError::InvalidRequest("unknown cursor".into())),
        Err(err) => return Err(err.into()),
    };
    let next_cursor = match runs.len() > limit as usize {
        true => {
            runs.truncate(limit as usize);
            runs.last().map(|run| run.id.clone())
        }
        false => None,
    };
    Ok(Json(RunList { items: runs.into_iter().map(RunListItem::from).collect(), next_cursor }))
}

/// An RFC 3339 query parameter as unix ms.
fn parse_time(name: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let at: jiff::Timestamp =
        text.parse().map_err(|err| ApiError::InvalidRequest(format!("{name} is not an RFC 3339 time: {err}")))?;
    Ok(Some(at.as_millisecond()))
}

/// Read a run
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run", body = RunDetail),
        (status = 404, description = "`run-not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Json<RunDetail>, ApiError> {
    record_run_id(&run_id);
    let record = load_run(&state.engine, &caller, &run_id).await?;
    let (current_task, metadata) = match RunState::deserialize(&record.state) {
        Ok(run_state) => (current_task(&run_state), run_state.metadata),
        Err(err) => {
            tracing::warn!(run_id = %record.id, error = %err, "stored run state is unreadable");
            (None, Map::new())
        }
    };
    Ok(Json(RunDetail {
        id: record.id,
        workflow: WorkflowId { namespace: record.namespace, name: record.name, version: record.version },
        status: record.status.to_string(),
        input: record.input,
        metadata,
        output: record.output,
        error: record.error,
        current_task,
        created_at: crate::api::dto::rfc3339(record.created_at),
        updated_at: crate::api::dto::rfc3339(record.updated_at),
        history_cursor: record.last_seq,
    }))
}

/// The most recently started active task: frames are numbered in creation order and a child
/// frame is always newer than its parent, so the highest-numbered frame with a reference is the
/// deepest, most recent one.
fn current_task(state: &RunState) -> Option<String> {
    state.frames.values().rev().find(|frame| !frame.reference.is_empty()).map(|frame| frame.reference.clone())
}

/// Cancel a run
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "Accepted; `status` is the run's status after a short wait", body = RunStatusBody),
        (status = 404, description = "`run-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`signal-refused`: the run has ended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn cancel_run(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    signal(state, caller, run_id, Signal::Cancel).await
}

/// Suspend a run
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/suspend",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "Accepted; `status` is the run's status after a short wait", body = RunStatusBody),
        (status = 404, description = "`run-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`signal-refused`: the run has ended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn suspend_run(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    signal(state, caller, run_id, Signal::Suspend).await
}

/// Resume a suspended run
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/resume",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "Accepted; `status` is the run's status after a short wait", body = RunStatusBody),
        (status = 404, description = "`run-not-found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`signal-refused`: the run has ended", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn resume_run(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiPath(run_id): ApiPath<String>,
) -> Result<Response, ApiError> {
    signal(state, caller, run_id, Signal::Resume).await
}

/// Applies a signal, then waits briefly for the run to take it so the answer usually shows the
/// new status.
async fn signal(state: AppState, caller: Caller, run_id: String, signal: Signal) -> Result<Response, ApiError> {
    record_run_id(&run_id);
    load_run(&state.engine, &caller, &run_id).await?;
    let before = state.engine.signal(&run_id, signal).await?;
    tracing::info!(run_id = %run_id, ?signal, "signal accepted");
    let taken = move |status: RunStatus| match signal {
        Signal::Cancel => status.is_terminal(),
        Signal::Suspend => status == RunStatus::Suspended || status.is_terminal(),
        Signal::Resume => status != RunStatus::Suspended || before != RunStatus::Suspended,
    };
    let _ = tokio::time::timeout(SIGNAL_WAIT, state.engine.wait_for(&run_id, taken)).await;
    let record = load_run(&state.engine, &caller, &run_id).await?;
    Ok((StatusCode::ACCEPTED, Json(RunStatusBody { id: record.id, status: record.status.to_string() })).into_response())
}
