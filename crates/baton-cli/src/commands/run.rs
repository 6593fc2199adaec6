//! `baton run FILE`: deploy the definition into the embedded database, run it to its end and
//! print its output (stdout) or its error (problem details on stderr).

use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;

use baton_core::state::RunStatus;
use baton_server::api::ApiEngine;
use baton_server::engine::{CreateRun, EngineError, RunOutcome};
use baton_server::outbound::egress::EgressPolicy;
use baton_server::server::{Server, ServerConfig};
use baton_store::WorkspaceId;
use baton_store::prelude::*;

use crate::cli::RunArgs;
use crate::commands::secrets::{collect_secrets, secret_key};
use crate::commands::{UsageError, read_folder, server_error, sqlite_only};

pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", args.file.display())))?;
    let input = parse_input(&args.input)?;
    sqlite_only(&args.db.db)?;
    let mut config = ServerConfig::local(&args.db.db);
    config.secrets = collect_secrets(&args.secrets.pairs, args.secrets.secret_file.as_deref())?;
    config.secret_key = secret_key(args.secrets.secret_key_file.as_deref())?;
    config.egress =
        EgressPolicy { allow_loopback: args.allow_private_network, allow_private: args.allow_private_network };
    config.observer = crate::progress::observer();
    config.max_value_bytes = args.max_value_bytes;
    if let Some(dir) = &args.workflows {
        config.workflows = read_folder(dir)?;
    }
    let server = Server::start(config).await.map_err(|err| server_error(err, args.workflows.as_deref()))?;
    if let Some(dir) = &args.workflows {
        eprintln!("deployed {} definition(s) from {}", server.deployed().len(), dir.display());
    }
    let outcome = drive(&server, &args, &text, input).await;
    server.close().await;
    Ok(report(&outcome?))
}

/// Deploys the file and drives its run (a new one, or `--run-id`'s) to its end.
async fn drive(server: &Server, args: &RunArgs, text: &str, input: Value) -> anyhow::Result<RunOutcome> {
    let engine = server.engine();
    let workflow = deploy(engine, text, &args.file.display().to_string()).await?;
    let run_id = match &args.run_id {
        Some(run_id) if server.store().get_run(&WorkspaceId::DEFAULT, run_id).await?.is_some() => run_id.clone(),
        requested => engine
            .create(CreateRun { run_id: requested.clone(), ..CreateRun::new(&workflow, input) })
            .await
            .map(|created| created.record.id)?,
    };
    tracing::info!(run_id = %run_id, "driving run");
    Ok(engine.drive(&run_id).await?)
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
    engine: &ApiEngine,
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
