//! `baton serve`: the HTTP API (`docs/api.md`) on the embedded SQLite database.
//!
//! Startup: open the database, deploy `--workflows` (every invalid definition is reported, then
//! exit 2), recover unfinished runs, listen. Shutdown on Ctrl-C or SIGTERM: stop accepting
//! connections, end the event streams, finish the requests in flight, then close the database
//! so the commits under way complete.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;

use baton_server::api::{Api, ApiConfig};
use baton_server::egress::EgressPolicy;
use baton_server::engine::{DEFAULT_APPROVAL_DEADLINE_MS, DEFAULT_EVENT_RETENTION_MS, Engine, EngineConfig};

use crate::cli::ServeArgs;
use crate::commands::{UsageError, deploy_folder, open_store};

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.db.db).await?;
    let egress = EgressPolicy { allow_loopback: args.allow_private_network, allow_private: args.allow_private_network };
    let config = EngineConfig {
        secrets: Value::Object(serde_json::Map::new()),
        egress,
        rewrites: Vec::new(),
        event_retention_ms: DEFAULT_EVENT_RETENTION_MS,
        approval_deadline_ms: DEFAULT_APPROVAL_DEADLINE_MS,
    };
    let engine = Engine::new(store.clone(), config);
    let deployed = match &args.workflows {
        Some(dir) => deploy_folder(&engine, dir).await?,
        None => Vec::new(),
    };
    let n_recovered = engine.recover().await.context("cannot recover unfinished runs")?;
    if n_recovered > 0 {
        eprintln!("recovered {n_recovered} unfinished run(s)");
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|err| UsageError(format!("cannot listen on {}: {err}", args.listen)))?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    let api = Api::new(engine, ApiConfig { max_body_bytes: args.max_body_bytes });
    print_banner(addr, deployed.first().map(|workflow| (workflow.namespace(), workflow.name())));
    let served = api.serve(listener, shutdown_signal()).await;
    eprintln!("shutting down");
    store.close().await;
    served.context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Says where to send requests, with a request for the first deployed workflow.
fn print_banner(addr: SocketAddr, example: Option<(&str, &str)>) {
    eprintln!("baton listening on http://{addr} (API under /api/v1, described at /api/v1/openapi.json)");
    let (namespace, name) = example.unwrap_or(("NAMESPACE", "NAME"));
    eprintln!(
        "  try: curl -s -X POST 'http://{addr}/api/v1/runs?mode=sync' -H 'Content-Type: application/json' \
         -d '{{\"workflow\": {{\"namespace\": \"{namespace}\", \"name\": \"{name}\"}}, \"input\": {{}}}}'"
    );
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
