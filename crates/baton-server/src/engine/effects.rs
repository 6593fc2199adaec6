//! Performing effects: HTTP requests, document fetches, child runs.

use serde_json::Value;

use baton_core::effects::{Effect, EffectResult};
use baton_core::error::WorkflowError;
use baton_core::state::{RunState, RunStatus, StepInput};
use baton_model::error_types::StandardError;
use baton_store::{ConflictKind, ParentLink, RunRecord, Store, StoreError};

use crate::engine::{CreateRun, Engine, EngineError, MAX_SUBFLOW_DEPTH};

/// Performs an HTTP request or a fetch and returns its result; never fails (failures become
/// [`EffectResult::Failed`]).
pub(super) async fn perform_call<S: Store + Clone>(
    engine: &Engine<S>,
    effect: &Effect,
    idempotency_key: &str,
) -> EffectResult {
    match effect {
        Effect::Http { request } => engine.inner.http.send(request, idempotency_key).await,
        Effect::FetchDocument { uri, headers } => engine.inner.http.fetch_document(uri, headers).await,
        Effect::Subflow { .. } => EffectResult::Failed {
            error: WorkflowError::standard(StandardError::Runtime, "a subflow is started, not called"),
        },
    }
}

/// The result a finished child run reports to its parent.
pub(super) fn child_result(status: RunStatus, output: Option<Value>, error: Option<WorkflowError>) -> EffectResult {
    match status {
        RunStatus::Completed => EffectResult::Output { output: output.unwrap_or(Value::Null) },
        RunStatus::Faulted => EffectResult::Failed {
            error: error.unwrap_or_else(|| WorkflowError::standard(StandardError::Runtime, "the subflow faulted")),
        },
        status => EffectResult::Failed {
            error: WorkflowError::standard(StandardError::Runtime, format!("the subflow ended {}", status.as_str())),
        },
    }
}

/// Starts (or finds again) the child run of a `run: workflow` effect. Its id derives from the
/// idempotency key, so repeating the effect after a crash finds the same child. The child's
/// end is delivered to the parent as the effect's result; a child that already ended reports
/// again at once.
pub(super) async fn start_subflow<S: Store + Clone>(
    engine: &Engine<S>,
    parent_run_id: &str,
    effect_id: &str,
    effect: Effect,
    idempotency_key: &str,
) -> Result<(), EngineError> {
    let Effect::Subflow { namespace, name, version, input } = effect else { return Ok(()) };
    let report = |result: EffectResult| {
        engine.deliver(parent_run_id, StepInput::EffectCompleted { effect_id: effect_id.to_owned(), result });
    };
    if subflow_depth(engine, parent_run_id).await? + 1 >= MAX_SUBFLOW_DEPTH {
        let error = WorkflowError::standard(StandardError::Runtime, "subflows are nested too deeply")
            .with_detail(format!("more than {MAX_SUBFLOW_DEPTH} levels: is a workflow calling itself?"));
        report(EffectResult::Failed { error });
        return Ok(());
    }
    let Some(parent_run) = engine.inner.store.load_run(parent_run_id).await? else {
        return Err(EngineError::RunNotFound(parent_run_id.into()));
    };
    let workspace = parent_run.workspace;
    let registry = &engine.inner.registry;
    let workflow = match registry.get(&engine.inner.store, &workspace, &namespace, &name, &version).await {
        Ok(deployed) => deployed.workflow.clone(),
        Err(EngineError::WorkflowNotFound { .. }) => {
            let title = format!("workflow {namespace}/{name}:{version} is not known");
            report(EffectResult::Failed { error: WorkflowError::standard(StandardError::Configuration, title) });
            return Ok(());
        }
        Err(err) => return Err(err),
    };
    let child_id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, idempotency_key.as_bytes()).to_string();
    let parent = ParentLink { run_id: parent_run_id.into(), effect_id: effect_id.into() };
    let request = CreateRun {
        run_id: Some(child_id.clone()),
        parent: Some(parent),
        workspace,
        ..CreateRun::new(&workflow, input)
    };
    match engine.create(request).await {
        Ok(created) => engine.start(&created.record.id).await?,
        // The effect ran before (a crash, a takeover): the child exists; its state says what next.
        Err(EngineError::Store(StoreError::Conflict(ConflictKind::RunExists { .. }))) => {
            let Some(child) = engine.inner.store.load_run(&child_id).await? else { return Ok(()) };
            report_or_resume(engine, &child, report).await?;
        }
        Err(err) => return Err(err),
    }
    Ok(())
}

/// A child found again after a crash: report its end, or make sure it runs.
async fn report_or_resume<S: Store + Clone>(
    engine: &Engine<S>,
    child: &RunRecord,
    report: impl Fn(EffectResult),
) -> Result<(), EngineError> {
    let state: RunState = serde_json::from_value(child.state.clone())
        .map_err(|err| EngineError::CorruptRun { run_id: child.id.clone(), message: err.to_string() })?;
    if state.status.is_terminal() {
        report(child_result(state.status, state.output, state.error));
    } else if state.status == RunStatus::Pending {
        engine.start(&child.id).await?;
    } else {
        engine.ensure_actor(&child.id);
    }
    Ok(())
}

/// How many parents the run has.
async fn subflow_depth<S: Store + Clone>(engine: &Engine<S>, run_id: &str) -> Result<usize, EngineError> {
    let mut depth = 0;
    let mut current = engine.inner.store.load_run(run_id).await?.and_then(|run| run.parent);
    while let Some(parent) = current {
        depth += 1;
        if depth >= MAX_SUBFLOW_DEPTH {
            break;
        }
        current = engine.inner.store.load_run(&parent.run_id).await?.and_then(|run| run.parent);
    }
    Ok(depth)
}
