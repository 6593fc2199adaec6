//! `baton serve`: the HTTP API (`docs/api.md`) on the embedded SQLite database, or on a
//! PostgreSQL database shared with other nodes.
//!
//! This command maps its flags to a [`ServerConfig`] and hands it to the composition root
//! ([`Server::start`], which documents the start and shutdown order); it adds the banner and
//! the signals. Shutdown on Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use baton_server::auth::bootstrap::{AdminKey, BOOTSTRAP_KEY_ENV};
use baton_server::auth::{AuthConfig, AuthMode};
use baton_server::inbound::InboundLimits;
use baton_server::notify::sinks::RetryPolicy;
use baton_server::outbound::egress::EgressPolicy;
use baton_server::server::{Database, Role, Server, ServerConfig, ServerError};
use baton_store::{PgOptions, SqliteOptions};

use crate::cli::{AuthArg, ServeArgs};
use crate::commands::secrets::{collect_secrets, secret_key};
use crate::commands::{read_folder, server_error};

pub async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config(&args)?;
    let server = Server::start(config).await.map_err(|err| server_error(err, args.workflows.as_deref()))?;
    if let Some(node_id) = server.node_id() {
        eprintln!("node {node_id} joined the cluster on PostgreSQL");
    }
    if let Some(dir) = &args.workflows {
        eprintln!("deployed {} definition(s) from {}", server.deployed().len(), dir.display());
    }
    if server.n_recovered() > 0 {
        eprintln!("recovered {} unfinished run(s)", server.n_recovered());
    }
    let addr = server.local_addr().unwrap_or(args.listen);
    let authorization = match args.auth {
        AuthArg::Keys => Some(show_admin_key(server.admin_key())),
        AuthArg::None => None,
    };
    let example = server.deployed().first().map(|workflow| (workflow.namespace(), workflow.name()));
    print_banner(addr, example, authorization.as_deref());
    if let Some(stand_in) = server.stand_in() {
        eprintln!(
            "stand-in services at {} (petstore, httpbin, /v1/chat/completions, /refunds); \
             petstore.swagger.io and httpbin.org calls go there",
            stand_in.base_url()
        );
    }
    let signal = async {
        shutdown_signal().await;
        eprintln!("shutting down");
    };
    match server.serve(signal).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(ServerError::LeaseLost) => {
            // Another process owns the database now: stop writing at once.
            eprintln!("error: another Baton process took over this database; stopping");
            std::process::exit(1);
        }
        Err(err) => Err(err.into()),
    }
}

/// The flags as the node's configuration.
fn config(args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let database = match args.database_url() {
        Some(url) => Database::Postgres {
            options: PgOptions {
                schema: args.db_schema.clone(),
                max_connections: args.db_connections,
                ..PgOptions::new(url)
            },
            node_lease_ttl_ms: (args.node_lease_ttl.max(1) as i64).saturating_mul(1000),
        },
        None => Database::Sqlite(SqliteOptions::new(&args.db.db)),
    };
    let allow_loopback = args.allow_private_network || args.stand_ins;
    let workflows = match &args.workflows {
        Some(dir) => read_folder(dir)?,
        None => Vec::new(),
    };
    Ok(ServerConfig {
        database,
        role: Role::Serve { listen: args.listen },
        workflows,
        secrets: collect_secrets(&args.secrets.pairs, args.secrets.secret_file.as_deref())?,
        secret_key: secret_key(args.secrets.secret_key_file.as_deref())?,
        egress: EgressPolicy { allow_loopback, allow_private: args.allow_private_network },
        rewrites: Vec::new(),
        stand_ins: args.stand_ins,
        event_retention_ms: (args.event_retention as i64).saturating_mul(1000),
        approval_deadline_ms: (args.approval_deadline as i64).saturating_mul(1000),
        sinks: args.sinks.clone(),
        sink_egress: EgressPolicy { allow_loopback: args.allow_private_sinks, allow_private: args.allow_private_sinks },
        sink_retry: RetryPolicy::default(),
        max_body_bytes: args.max_body_bytes,
        sweep_interval: Duration::from_secs(args.sweep_interval.max(1)),
        inbound: InboundLimits {
            header_read_timeout: Duration::from_secs(args.request_header_timeout.max(1)),
            body_read_timeout: Duration::from_secs(args.request_body_timeout.max(1)),
            max_connections_per_client: args.max_connections_per_client.max(1),
        },
        observer: None,
        auth: AuthConfig {
            mode: match args.auth {
                AuthArg::Keys => AuthMode::Keys,
                AuthArg::None => AuthMode::None,
            },
            metrics_public: args.metrics_public,
        },
        cors_origins: args.cors_origins.clone(),
        bootstrap_key: std::env::var(BOOTSTRAP_KEY_ENV).ok().filter(|key| !key.is_empty()),
        max_value_bytes: args.max_value_bytes,
    })
}

/// Says what the first start created, and returns the text after `Bearer ` of the banner's curl
/// line: the key itself the one time it is shown, else where the shell finds it.
fn show_admin_key(admin_key: &AdminKey) -> String {
    match admin_key {
        AdminKey::Created { key, file } => {
            match file {
                Some(path) => eprintln!(
                    "first start: created workspace `default` and its admin key (shown this once; also in {}, mode 0600):",
                    path.display()
                ),
                None => eprintln!("first start: created workspace `default` and its admin key (shown this once):"),
            }
            eprintln!("  {key}");
            key.clone()
        }
        AdminKey::FromEnvironment => {
            eprintln!("first start: created workspace `default` with the admin key from {BOOTSTRAP_KEY_ENV}");
            format!("${BOOTSTRAP_KEY_ENV}")
        }
        AdminKey::InFile(path) => format!("$(cat {})", path.display()),
        AdminKey::Elsewhere => "$BATON_API_KEY".to_owned(),
    }
}

/// Says where to send requests, with a request (carrying the key) for the first deployed
/// workflow.
fn print_banner(addr: SocketAddr, example: Option<(&str, &str)>, key: Option<&str>) {
    eprintln!("baton listening on http://{addr} (API under /api/v1, described at /api/v1/openapi.json)");
    let (namespace, name) = example.unwrap_or(("NAMESPACE", "NAME"));
    let authorization = key.map(|key| format!(" -H \"Authorization: Bearer {key}\"")).unwrap_or_default();
    eprintln!(
        "  try: curl -s -X POST 'http://{addr}/api/v1/runs?mode=sync'{authorization} -H 'Content-Type: application/json' \
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
