//! `baton serve`: the HTTP API (`docs/api.md`) on the embedded SQLite database.
//!
//! Startup: open the database, deploy `--workflows` (every invalid definition is reported, then
//! exit 2), recover unfinished runs, listen. Shutdown on Ctrl-C or SIGTERM: stop accepting
//! connections, end the event streams, finish the requests in flight, then close the database
//! so the commits under way complete.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::Value;

use baton_server::api::{Api, ApiConfig};
use baton_server::egress::EgressPolicy;
use baton_server::engine::{Engine, EngineConfig, EngineError};
use baton_store::{SqliteStore, StoreError};

use crate::cli::ServeArgs;
use crate::commands::{UsageError, open_store};

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.db.db).await?;
    let egress = EgressPolicy { allow_loopback: args.allow_private_network, allow_private: args.allow_private_network };
    let config = EngineConfig { secrets: Value::Object(serde_json::Map::new()), egress, rewrites: Vec::new() };
    let engine = Engine::new(store.clone(), config);
    if let Some(dir) = &args.workflows {
        deploy_folder(&engine, dir).await?;
    }
    let n_recovered = engine.recover().await.context("cannot recover unfinished runs")?;
    if n_recovered > 0 {
        eprintln!("recovered {n_recovered} unfinished run(s)");
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|err| UsageError(format!("cannot listen on {}: {err}", args.listen)))?;
    let addr = listener.local_addr().unwrap_or(args.listen);
    let api = Api::new(engine, ApiConfig { max_body_bytes: args.max_body_bytes });
    print_banner(addr);
    let served = api.serve(listener, shutdown_signal()).await;
    eprintln!("shutting down");
    store.close().await;
    served.context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

fn print_banner(addr: SocketAddr) {
    eprintln!("baton listening on http://{addr}");
    eprintln!(
        "  try: curl -s -X POST 'http://{addr}/api/v1/runs' -H 'Content-Type: application/json' \
         -d '{{\"workflow\": {{\"namespace\": \"NS\", \"name\": \"NAME\"}}, \"input\": {{}}}}'"
    );
}

/// Deploys every `.yaml`, `.yml` and `.json` file of `dir` (sorted by name); reports every
/// invalid or conflicting one, then fails with a usage error if there was any.
async fn deploy_folder(engine: &Engine<SqliteStore>, dir: &Path) -> anyhow::Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json"))
        .collect();
    files.sort();
    let mut n_refused = 0;
    for file in &files {
        let name = file.display();
        let text = std::fs::read_to_string(file).map_err(|err| UsageError(format!("cannot read {name}: {err}")))?;
        match engine.deploy(&text).await {
            Ok(_) => {}
            Err(EngineError::Definition(err)) => {
                n_refused += 1;
                for diagnostic in err.diagnostics() {
                    eprintln!("{name}:{diagnostic}");
                }
            }
            Err(EngineError::Store(StoreError::Conflict(message))) => {
                n_refused += 1;
                eprintln!("{name}: {message}");
            }
            Err(err) => return Err(err).with_context(|| format!("cannot deploy {name}")),
        }
    }
    if n_refused > 0 {
        return Err(UsageError(format!("{n_refused} definition(s) in {} cannot be deployed", dir.display())).into());
    }
    eprintln!("deployed {} definition(s) from {}", files.len(), dir.display());
    Ok(())
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
