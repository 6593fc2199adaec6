//! [`ServerConfig`]: everything a Baton node is assembled from, as one plain struct.
//!
//! Adding a setting is one line here (a field with its docstring), one line where
//! [`crate::server::Server::start`] hands it to the part that uses it, and one line in
//! [`ServerConfig::local`]; the CLI maps its flag to the field.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use baton_store::{PgOptions, SqliteOptions};

use crate::api::DEFAULT_MAX_BODY_BYTES;
use crate::auth::AuthConfig;
use crate::engine::{DEFAULT_APPROVAL_DEADLINE_MS, DEFAULT_EVENT_RETENTION_MS, Observer};
use crate::inbound::InboundLimits;
use crate::notify::sinks::RetryPolicy;
use crate::outbound::egress::EgressPolicy;
use crate::secrets::SecretKey;

/// Where the runs are stored.
#[derive(Debug, Clone)]
pub enum Database {
    /// One SQLite file; this process takes the database lease and drives every run.
    Sqlite(SqliteOptions),
    /// A PostgreSQL database shared by several nodes; this node joins the cluster with a node
    /// lease of `node_lease_ttl_ms` (renewed every third of it) and adopts orphaned runs.
    Postgres { options: PgOptions, node_lease_ttl_ms: i64 },
}

/// What the node does once it is assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `baton serve`: recover the unfinished runs, run the background loops (stale-wait
    /// sweeper, event purge) and serve the API on `listen` (port 0: any free port).
    Serve { listen: SocketAddr },
    /// The engine and the API router without a listener, recovery or background loops: the
    /// caller drives runs itself (`baton run`, the conformance scenarios, the tests).
    Embedded,
}

/// A definition to deploy at start, with the name errors are reported under (a file name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowSource {
    pub label: String,
    pub text: String,
}

/// Everything a Baton node is assembled from. A plain struct passed explicitly: every choice
/// is visible where the config is built.
#[derive(Clone)]
pub struct ServerConfig {
    pub database: Database,
    pub role: Role,
    /// Definitions deployed before recovery, in order; any refused one fails the start.
    pub workflows: Vec<WorkflowSource>,
    /// Process-wide secrets (`--secret`): an object of secret name → value, read by workflows
    /// that declare the name in `use.secrets` when their workspace's store lacks it. Never
    /// stored, never logged.
    pub secrets: Value,
    /// The key sealing secrets at rest. `None`: on SQLite the key file `<database>.secret-key`
    /// beside the database (created on first start, mode 0600); on PostgreSQL the start fails
    /// ([`crate::server::ServerError::NoSecretKey`]), since every node must share one key.
    pub secret_key: Option<SecretKey>,
    /// Where workflow calls may go.
    pub egress: EgressPolicy,
    /// URL prefix rewrites of outbound calls, `(prefix, replacement)`.
    pub rewrites: Vec<(String, String)>,
    /// Start the local stand-ins (`standin.rs`) and send petstore/httpbin calls to them (their
    /// rewrites come before `rewrites`; calls to them need loopback in `egress`).
    pub stand_ins: bool,
    /// How long received events are kept for later `listen`s (ms).
    pub event_retention_ms: i64,
    /// Deadline of a human-input wait without a `timeout` of its own (ms); 0: none.
    pub approval_deadline_ms: i64,
    /// Webhooks that receive every committed lifecycle event, in order.
    pub sinks: Vec<String>,
    /// Where the sinks may be.
    pub sink_egress: EgressPolicy,
    /// How hard each sink delivery is tried.
    pub sink_retry: RetryPolicy,
    /// Largest accepted request body (bytes).
    pub max_body_bytes: usize,
    /// Time between two passes of the stale-wait sweeper ([`Role::Serve`]).
    pub sweep_interval: Duration,
    /// Timeouts and connection limits of the HTTP edge ([`Role::Serve`]).
    pub inbound: InboundLimits,
    /// Called with every committed lifecycle event (the CLI's progress display).
    pub observer: Option<Observer>,
    /// How callers authenticate ([`crate::auth::AuthMode::None`] only with a loopback `listen`).
    pub auth: AuthConfig,
    /// Browser origins allowed to call the API (CORS); empty: CORS off.
    pub cors_origins: Vec<String>,
    /// The first admin key of an empty database (`BATON_BOOTSTRAP_API_KEY`); `None`: one is
    /// generated and, on SQLite, written to `<database file>.admin-key` (mode 0600).
    pub bootstrap_key: Option<String>,
    /// Largest value an expression may build, in estimated bytes of JSON (see
    /// [`EngineConfig::max_value_bytes`](crate::engine::EngineConfig::max_value_bytes)).
    pub max_value_bytes: usize,
}

impl ServerConfig {
    /// An embedded node on the SQLite file `db` with the defaults of `baton serve`: no
    /// secrets (the secret key in the file beside `db`), no workflows, no sinks, no stand-ins, outbound calls to public addresses only.
    pub fn local(db: impl Into<PathBuf>) -> ServerConfig {
        let strict = EgressPolicy { allow_loopback: false, allow_private: false };
        ServerConfig {
            database: Database::Sqlite(SqliteOptions::new(db.into())),
            role: Role::Embedded,
            workflows: Vec::new(),
            secrets: Value::Object(serde_json::Map::new()),
            secret_key: None,
            egress: strict,
            rewrites: Vec::new(),
            stand_ins: false,
            event_retention_ms: DEFAULT_EVENT_RETENTION_MS,
            approval_deadline_ms: DEFAULT_APPROVAL_DEADLINE_MS,
            sinks: Vec::new(),
            sink_egress: strict,
            sink_retry: RetryPolicy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            sweep_interval: Duration::from_secs(60),
            inbound: InboundLimits::DEFAULT,
            observer: None,
            auth: AuthConfig::KEYS,
            cors_origins: Vec::new(),
            bootstrap_key: None,
            max_value_bytes: baton_core::expr::DEFAULT_MAX_VALUE_BYTES,
        }
    }
}
