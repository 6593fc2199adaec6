//! `baton serve`: the HTTP API (`docs/api.md`) on the embedded SQLite database, or on a
//! PostgreSQL database shared with other nodes.
//!
//! Startup: open the database, take the database lease (SQLite: this process drives every run)
//! or join the cluster (PostgreSQL: a node lease; the node adopts orphaned runs), deploy
//! `--workflows` (every invalid definition is reported, then exit 2), recover, listen. Shutdown on Ctrl-C or SIGTERM: stop accepting
//! connections, end the event streams, finish the requests in flight, then close the database
//! so the commits under way complete.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;

use baton_server::api::{Api, ApiConfig};
use baton_server::auth::{AuthConfig, AuthMode};
use baton_server::egress::EgressPolicy;
use baton_server::engine::{ClusterConfig, Engine, EngineConfig, now_ms};
use baton_server::lease::HeldLease;
use baton_server::sinks;
use baton_server::standin::StandIn;

use baton_store::{AnyStore, PgOptions, PgStore, Store};

use crate::cli::{AuthArg, ServeArgs};
use crate::commands::first_start::{AdminKey, first_start};
use crate::commands::{UsageError, deploy_folder, open_store, parse_secrets, take_lease};

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.auth == AuthArg::None && !args.listen.ip().is_loopback() {
        return Err(UsageError(format!(
            "--auth none is for local development: --listen must be a loopback address, not {}",
            args.listen
        ))
        .into());
    }
    match args.database_url() {
        Some(url) => {
            let options = PgOptions {
                schema: args.db_schema.clone(),
                max_connections: args.db_connections,
                ..PgOptions::new(url.clone())
            };
            let store = PgStore::open(options).await.context("cannot open the PostgreSQL database")?;
            let ttl_ms = (args.node_lease_ttl.max(1) as i64).saturating_mul(1000);
            let lease = baton_server::lease::join_cluster(&store, ttl_ms).await.context("cannot join the cluster")?;
            let cluster =
                ClusterConfig { node_id: lease.holder.clone(), input_poll_ms: 1_000, lease_ttl_ms: ttl_ms as u64 };
            eprintln!("node {} joined the cluster on PostgreSQL", lease.holder);
            serve_on(AnyStore::from(store), lease, Some(cluster), args).await
        }
        None => {
            let store = open_store(&args.db.db).await?;
            let lease = take_lease(&store).await?;
            serve_on(AnyStore::from(store), lease, None, args).await
        }
    }
}

async fn serve_on(
    store: AnyStore,
    lease: HeldLease,
    cluster: Option<ClusterConfig>,
    args: ServeArgs,
) -> anyhow::Result<ExitCode> {
    let secrets = parse_secrets(&args.secrets)?;
    let key_file = match args.database_url() {
        Some(_) => None,
        None => Some(baton_server::auth::bootstrap::key_file_for(&args.db.db)),
    };
    let admin_key = first_start(&store, key_file.as_deref()).await?;
    let stand_in = match args.stand_ins {
        true => Some(StandIn::start().await.context("cannot start the stand-in services")?),
        false => None,
    };
    let allow_loopback = args.allow_private_network || stand_in.is_some();
    let egress = EgressPolicy { allow_loopback, allow_private: args.allow_private_network };
    let config = EngineConfig {
        secrets,
        egress,
        rewrites: stand_in.as_ref().map(StandIn::rewrites).unwrap_or_default(),
        event_retention_ms: (args.event_retention as i64).saturating_mul(1000),
        approval_deadline_ms: (args.approval_deadline as i64).saturating_mul(1000),
        cluster,
    };
    let engine = Engine::new(store.clone(), config);
    let sink_policy =
        EgressPolicy { allow_loopback: args.allow_private_sinks, allow_private: args.allow_private_sinks };
    // Started before recovery so that the recovered runs' events are delivered too.
    let event_sinks = sinks::start(&engine, &args.sinks, sinks::SinkOptions::new(sink_policy))
        .await
        .map_err(|err| UsageError(format!("cannot start the event sinks: {err}")))?;
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
    tokio::spawn(sweep_periodically(engine.clone(), Duration::from_secs(args.sweep_interval.max(1))));
    tokio::spawn(purge_old_events(engine.clone(), args.event_retention));
    let auth = AuthConfig {
        mode: match args.auth {
            AuthArg::Keys => AuthMode::Keys,
            AuthArg::None => AuthMode::None,
        },
        metrics_public: args.metrics_public,
    };
    let api = Api::new(
        engine,
        ApiConfig {
            max_body_bytes: args.max_body_bytes,
            sink_stats: event_sinks.stats(),
            auth,
            cors_origins: args.cors_origins.clone(),
        },
    );
    let admin_key = match args.auth {
        AuthArg::Keys => admin_key,
        AuthArg::None => AdminKey::NotNeeded,
    };
    print_banner(addr, deployed.first().map(|workflow| (workflow.namespace(), workflow.name())), &admin_key);
    if let Some(stand_in) = &stand_in {
        eprintln!(
            "stand-in services at {} (petstore, httpbin, /v1/chat/completions, /refunds); \
             petstore.swagger.io and httpbin.org calls go there",
            stand_in.base_url()
        );
    }
    let lost = lease.lost();
    let shutdown = async {
        tokio::select! {
            () = shutdown_signal() => {}
            () = lost => {
                // Another process owns the database now: stop writing at once.
                eprintln!("error: another Baton process took over this database; stopping");
                std::process::exit(1);
            }
        }
    };
    let served = api.serve(listener, shutdown).await;
    eprintln!("shutting down");
    lease.release(&store).await;
    store.close().await;
    served.context("server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Says where to send requests, with a request (carrying the key) for the first deployed
/// workflow.
fn print_banner(addr: SocketAddr, example: Option<(&str, &str)>, admin_key: &AdminKey) {
    eprintln!("baton listening on http://{addr} (API under /api/v1, described at /api/v1/openapi.json)");
    let (namespace, name) = example.unwrap_or(("NAMESPACE", "NAME"));
    let authorization = match admin_key.shell_text() {
        Some(key) => format!(" -H \"Authorization: Bearer {key}\""),
        None => String::new(),
    };
    eprintln!(
        "  try: curl -s -X POST 'http://{addr}/api/v1/runs?mode=sync'{authorization} -H 'Content-Type: application/json' \
         -d '{{\"workflow\": {{\"namespace\": \"{namespace}\", \"name\": \"{name}\"}}, \"input\": {{}}}}'"
    );
}

/// Most overdue waits one sweeper pass expires.
const SWEEP_BATCH: u32 = 500;

/// Runs the stale-wait sweeper on a schedule (single-flight inside the engine).
async fn sweep_periodically<S: Store + Clone>(engine: Engine<S>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        if let Err(err) = engine.sweep_overdue(SWEEP_BATCH).await {
            tracing::warn!(error = %err, "sweeper pass failed");
        }
    }
}

/// Deletes events older than the retention window, hourly.
async fn purge_old_events<S: Store + Clone>(engine: Engine<S>, retention_secs: u64) {
    let mut ticks = tokio::time::interval(Duration::from_secs(3600));
    loop {
        ticks.tick().await;
        let before = now_ms() - (retention_secs as i64).saturating_mul(1000);
        match engine.store().delete_events_before(before).await {
            Ok(deleted) => tracing::info!(deleted, "purged events past their retention"),
            Err(err) => tracing::warn!(error = %err, "cannot purge old events"),
        }
    }
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
