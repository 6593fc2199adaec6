//! `/api/v1/workflows`: deploy, list and read workflow definitions.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use baton_store::{ConflictKind, PutOutcome, StoreError, WorkflowStore};

use crate::api::AppState;
use crate::api::dto::{DeployQuery, WorkflowDetail, WorkflowInfo, WorkflowList};
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiPath, ApiQuery, ApiText};
use crate::auth::access::{Member, Viewer};
use crate::engine::EngineError;

/// Deploy a workflow definition
///
/// The body is the definition text (YAML or JSON). Deploying the same text (and limit) again is
/// a no-op answered with `200`.
#[utoipa::path(
    post,
    path = "/api/v1/workflows",
    tag = "workflows",
    params(DeployQuery),
    request_body(
        description = "The definition text",
        content(("application/yaml"), ("text/yaml"), ("application/json"))
    ),
    responses(
        (status = 201, description = "Deployed", body = WorkflowInfo,
            headers(("Location" = String, description = "URL of the workflow version"))),
        (status = 200, description = "This exact deployment already exists", body = WorkflowInfo),
        (status = 400, description = "`invalid-definition` (with `diagnostics`) or `invalid-request`",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`workflow-conflict`: the version holds other content",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload-too-large`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn deploy_workflow(
    State(state): State<AppState>,
    Member(caller): Member,
    ApiQuery(query): ApiQuery<DeployQuery>,
    ApiText(text): ApiText,
) -> Result<Response, ApiError> {
    // The upper bound is what the stores' INTEGER column holds (and what the document states).
    if query.concurrency.is_some_and(|limit| limit == 0 || limit > i32::MAX as u32) {
        return Err(ApiError::InvalidRequest(format!("concurrency must be between 1 and {}", i32::MAX)));
    }
    let (deployed, outcome) = match state.engine.deploy_in(&caller.workspace, &text, query.concurrency).await {
        Ok(deployed) => deployed,
        Err(EngineError::Store(StoreError::Conflict(kind @ ConflictKind::WorkflowRedefined { .. }))) => {
            return Err(ApiError::WorkflowConflict(kind.to_string()));
        }
        Err(err) => return Err(err.into()),
    };
    let workflow = &deployed.workflow;
    let (namespace, name, version) = (workflow.namespace(), workflow.name(), workflow.version());
    let record =
        state.engine.store().get_workflow(&caller.workspace, namespace, name, version).await?.ok_or_else(|| {
            ApiError::Internal(format!("deployed workflow {namespace}/{name}:{version} is not stored"))
        })?;
    let body = Json(WorkflowInfo::from(&record));
    tracing::info!(namespace, name, version, created = outcome == PutOutcome::Created, "workflow deployed");
    Ok(match outcome {
        PutOutcome::Created => {
            let location = format!("/api/v1/workflows/{namespace}/{name}/{version}");
            (StatusCode::CREATED, [(header::LOCATION, location)], body).into_response()
        }
        PutOutcome::Unchanged => (StatusCode::OK, body).into_response(),
    })
}

/// List deployed workflow versions
#[utoipa::path(
    get,
    path = "/api/v1/workflows",
    tag = "workflows",
    responses((status = 200, description = "Every deployed version", body = WorkflowList))
)]
pub(crate) async fn list_workflows(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
) -> Result<Json<WorkflowList>, ApiError> {
    let records = state.engine.store().list_workflows(&caller.workspace).await?;
    Ok(Json(WorkflowList { items: records.iter().map(WorkflowInfo::from).collect() }))
}

/// Read a deployed workflow version with its definition
#[utoipa::path(
    get,
    path = "/api/v1/workflows/{namespace}/{name}/{version}",
    tag = "workflows",
    params(
        ("namespace" = String, Path, description = "`document.namespace`"),
        ("name" = String, Path, description = "`document.name`"),
        ("version" = String, Path, description = "`document.version`, or `latest`")
    ),
    responses(
        (status = 200, description = "The workflow version", body = WorkflowDetail),
        (status = 404, description = "`workflow-not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn get_workflow(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    ApiPath((namespace, name, version)): ApiPath<(String, String, String)>,
) -> Result<Json<WorkflowDetail>, ApiError> {
    let record = state
        .engine
        .store()
        .get_workflow(&caller.workspace, &namespace, &name, &version)
        .await?
        .ok_or(ApiError::WorkflowNotFound { namespace, name, version })?;
    let info = WorkflowInfo::from(&record);
    Ok(Json(WorkflowDetail { info, definition: record.definition }))
}
