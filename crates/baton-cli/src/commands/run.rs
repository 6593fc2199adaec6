//! `baton run FILE`: deploy the definition into the embedded database, run it to its end and
//! print its output (stdout) or its error (problem details on stderr).

use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;

use baton_core::state::RunStatus;
use baton_server::egress::EgressPolicy;
use baton_server::engine::{
    DEFAULT_APPROVAL_DEADLINE_MS, DEFAULT_EVENT_RETENTION_MS, Engine, EngineConfig, EngineError, RunOutcome,
};
use baton_store::{SqliteStore, Store};

use crate::cli::RunArgs;
use crate::commands::{UsageError, deploy_folder, open_store, parse_secrets, take_lease};

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", args.file.display())))?;
    let input = parse_input(&args.input)?;
    let secrets = parse_secrets(&args.secrets)?;
    let store = open_store(&args.db.db).await?;
    let lease = take_lease(&store).await?;
    let egress = EgressPolicy { allow_loopback: args.allow_private_network, allow_private: args.allow_private_network };
    let config = EngineConfig {
        secrets,
        egress,
        rewrites: Vec::new(),
        event_retention_ms: DEFAULT_EVENT_RETENTION_MS,
        approval_deadline_ms: DEFAULT_APPROVAL_DEADLINE_MS,
        cluster: None,
        max_value_bytes: args.max_value_bytes,
    };
    let engine = match crate::progress::observer() {
        Some(observer) => Engine::with_observer(store.clone(), config, observer),
        None => Engine::new(store.clone(), config),
    };
    if let Some(dir) = &args.workflows {
        deploy_folder(&engine, dir).await?;
    }
    let workflow = deploy(&engine, &text, &args.file.display().to_string()).await?;
    let run_id = match &args.run_id {
        Some(run_id) if store.get_run(run_id).await?.is_some() => run_id.clone(),
        requested => engine.create_run(&workflow, input, requested.clone()).await?,
    };
    tracing::info!(run_id = %run_id, "driving run");
    let outcome = engine.drive(&run_id).await?;
    lease.release(&store).await;
    store.close().await;
    Ok(report(&outcome))
}

/// Prints the outcome and returns the exit code: 0 completed, 1 otherwise.
fn report(outcome: &RunOutcome) -> ExitCode {
    eprintln!("run {} {}", outcome.run_id, outcome.status.as_str());
    match outcome.status {
        RunStatus::Completed => {
            let output = outcome.output.clone().unwrap_or(Value::Null);
            crate::commands::print_data(&serde_json::to_string_pretty(&output).unwrap_or_default());
            ExitCode::SUCCESS
        }
        _ => {
            if let Some(error) = &outcome.error {
                eprintln!("{}", serde_json::to_string_pretty(&error.to_value()).unwrap_or_default());
            }
            ExitCode::FAILURE
        }
    }
}

async fn deploy(
    engine: &Engine<SqliteStore>,
    text: &str,
    name: &str,
) -> anyhow::Result<std::sync::Arc<baton_core::compile::CompiledWorkflow>> {
    match engine.deploy(text).await {
        Ok(workflow) => Ok(workflow),
        Err(EngineError::Definition(err)) => {
            for diagnostic in err.diagnostics() {
                eprintln!("{name}:{diagnostic}");
            }
            Err(UsageError(format!("{name} is not a valid workflow definition")).into())
        }
        Err(err) => Err(err).with_context(|| format!("cannot deploy {name}")),
    }
}

/// `--input`: JSON text, or `@FILE` holding JSON or YAML.
fn parse_input(input: &str) -> anyhow::Result<Value> {
    match input.strip_prefix('@') {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|err| UsageError(format!("cannot read input {path}: {err}")))?;
            serde_saphyr::from_str(&text)
                .map_err(|err| UsageError(format!("input {path} is not JSON or YAML: {err}")).into())
        }
        None => {
            serde_json::from_str(input).map_err(|err| UsageError(format!("--input is not valid JSON: {err}")).into())
        }
    }
}
