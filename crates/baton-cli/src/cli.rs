//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Baton: a durable workflow engine for Serverless Workflow 1.0.3.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a workflow to its end on the embedded SQLite database and print its output.
    Run(RunArgs),
    /// Check definitions; print every problem with its path.
    Validate(ValidateArgs),
    /// Serve the HTTP API (docs/api.md) on the embedded SQLite database.
    Serve(ServeArgs),
    /// Deploy definitions to a running server (`baton serve`).
    Deploy(DeployArgs),
    /// Inspect and steer runs: of a server with `--server` (or `BATON_SERVER`), else of a database.
    Runs {
        #[command(subcommand)]
        command: RunsCommand,
    },
    /// Send CloudEvents to a server: they wake the runs waiting for them.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Human input: the items runs wait for on a server, and answering them.
    Inbox {
        #[command(subcommand)]
        command: InboxCommand,
    },
    /// API keys of the workspace (admin): create, list, revoke.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Workspaces: create one (server admin) or list them.
    Workspaces {
        #[command(subcommand)]
        command: WorkspacesCommand,
    },
    /// Run the conformance kit's `.feature` files of a folder, offline; print PASS/FAIL per scenario.
    Conformance(ConformanceArgs),
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, newest first.
    List(ListArgs),
    /// Show one run: status, input, output or error, and history.
    Show(ShowArgs),
    /// Cancel a run (server only).
    Cancel(SignalArgs),
    /// Suspend a run (server only).
    Suspend(SignalArgs),
    /// Resume a suspended run (server only).
    Resume(SignalArgs),
    /// Follow a run's progress until it ends; print its output (server only).
    Watch(WatchArgs),
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Send one CloudEvent (built from flags, or read from a file: an object, or an array for a batch).
    Send(SendEventArgs),
}

#[derive(Debug, Subcommand)]
pub enum InboxCommand {
    /// List the open items, oldest first.
    List(InboxListArgs),
    /// Answer an item: its run resumes.
    Respond(RespondArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (shown this once) on stdout.
    Create(KeyCreateArgs),
    /// List the workspace's keys (prefix, name, role, created, last used; never the key).
    List(JsonListArgs),
    /// Revoke a key: every node refuses it within 2 s.
    Revoke(KeyRevokeArgs),
}

#[derive(Debug, Subcommand)]
pub enum WorkspacesCommand {
    /// Create a workspace with its first admin; print that admin's key (shown this once) on stdout.
    Create(WorkspaceCreateArgs),
    /// List the workspaces (a server admin sees all, others their own).
    List(JsonListArgs),
}

#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    /// A name to recognise the key by.
    #[arg(long)]
    pub name: String,
    /// admin, member or viewer [default: the member's role].
    #[arg(long)]
    pub role: Option<String>,
    /// The member the key acts for [default: the caller].
    #[arg(long, value_name = "ID")]
    pub member: Option<String>,
    /// RFC 3339 time after which the key is refused.
    #[arg(long, value_name = "TIME")]
    pub expires_at: Option<String>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    /// Key id (`baton keys list`).
    pub id: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct WorkspaceCreateArgs {
    #[arg(long)]
    pub name: String,
    /// Lowercase letters, digits and `-`; unique.
    #[arg(long)]
    pub slug: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct JsonListArgs {
    /// Print the JSON array instead of one tab-separated line per item.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct SendEventArgs {
    /// Event `type`.
    #[arg(long = "type", value_name = "TYPE", required_unless_present = "file", conflicts_with = "file")]
    pub kind: Option<String>,
    /// Event `source`.
    #[arg(long, default_value = "baton/cli", conflicts_with = "file")]
    pub source: String,
    /// Event `id` [default: a new UUID].
    #[arg(long, conflicts_with = "file")]
    pub id: Option<String>,
    /// Event `subject`.
    #[arg(long, conflicts_with = "file")]
    pub subject: Option<String>,
    /// Event `data`: JSON text, or @FILE to read JSON or YAML from a file.
    #[arg(long, conflicts_with = "file")]
    pub data: Option<String>,
    /// A whole CloudEvent in JSON (an array: a batch); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct InboxListArgs {
    /// Only items of this workflow: NAMESPACE/NAME.
    #[arg(long, value_name = "NS/NAME")]
    pub workflow: Option<String>,
    /// Only items assigned to this name.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Only items past their deadline.
    #[arg(long)]
    pub overdue: bool,
    /// Maximum number of items.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print a JSON array instead of one tab-separated line per item.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct RespondArgs {
    /// Item id (`baton inbox list`).
    pub item: String,
    /// The response: JSON text, or @FILE to read JSON or YAML from a file.
    #[arg(long)]
    pub data: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Secrets for `$secrets` and the key that seals secrets at rest. Secrets also come from
/// `BATON_SECRET_<NAME>` environment variables; the key from `BATON_SECRET_KEY`.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// A secret as NAME=VALUE (VALUE is JSON when it parses as JSON, text otherwise), read by
    /// workflows that declare NAME in `use.secrets`. Repeatable. Visible to other users in
    /// `ps`: prefer --secret-file or BATON_SECRET_<NAME>.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub pairs: Vec<String>,
    /// Secrets from a file: a JSON object, or `.env` lines NAME=VALUE.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// The key sealing secrets at rest (32 bytes as 64 hex digits or base64). Default:
    /// BATON_SECRET_KEY, else `<db>.secret-key` beside a SQLite database (created, mode 0600);
    /// PostgreSQL needs BATON_SECRET_KEY or this file.
    #[arg(long, value_name = "FILE")]
    pub secret_key_file: Option<PathBuf>,
}

/// Where the SQLite database lives.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// SQLite database file (created when missing).
    #[arg(long, default_value = "baton.db", env = "BATON_DB")]
    pub db: PathBuf,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Workflow definition (YAML or JSON).
    pub file: PathBuf,
    /// Workflow input: JSON text, or @FILE to read JSON or YAML from a file.
    #[arg(long, default_value = "{}")]
    pub input: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// Folder of further definitions (subflows for `run: workflow`), deployed first.
    #[arg(long)]
    pub workflows: Option<PathBuf>,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Run id: resumes that run when it is unfinished, prints its result when it has ended,
    /// starts a new run with this id otherwise.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Allow calls to loopback and private addresses (local development and tests).
    #[arg(long)]
    pub allow_private_network: bool,
    /// Largest value a workflow expression may build, in bytes (estimated size of its JSON);
    /// beyond it the run faults with a `runtime` error.
    #[arg(long, default_value_t = baton_core::expr::DEFAULT_MAX_VALUE_BYTES, value_name = "BYTES")]
    pub max_value_bytes: usize,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Definitions to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// Folder of CTK `.feature` files (e.g. `ctk/features`).
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Only runs with this status (pending, running, waiting, suspended, cancelled, faulted, completed).
    #[arg(long)]
    pub status: Option<String>,
    /// Only runs of this workflow: NAMESPACE/NAME or NAMESPACE/NAME:VERSION.
    #[arg(long, value_name = "NS/NAME[:VERSION]")]
    pub workflow: Option<String>,
    /// Maximum number of runs.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print a JSON array instead of one tab-separated line per run.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Run id.
    pub id: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Print JSON (the only format of `show`; accepted for symmetry with `runs list`).
    #[arg(long)]
    pub json: bool,
}

/// Where `runs list|show` read runs: a server, or a SQLite database.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Ask the server at this URL [env: BATON_SERVER]; without it, read the database.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// SQLite database file read when no server is given [env: BATON_DB] [default: baton.db].
    #[arg(long, value_name = "PATH", conflicts_with = "server")]
    pub db: Option<PathBuf>,
    /// API key for the server (see `baton deploy --help`).
    #[arg(long, value_name = "KEY", env = "BATON_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// The server a client command talks to.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// URL of a running `baton serve`.
    #[arg(long, value_name = "URL", env = "BATON_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API key sent as `Authorization: Bearer KEY` [default for a local server: the key file
    /// `baton serve` wrote beside its database, `$BATON_DB.admin-key` or `baton.db.admin-key`].
    #[arg(long, value_name = "KEY", env = "BATON_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Definitions to deploy (YAML or JSON).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Most runs of these workflows executing at once (others wait, pending, in order).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct SignalArgs {
    /// Run id.
    pub id: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Run id.
    pub id: String,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Folder of definitions (.yaml, .yml, .json) deployed at startup; an invalid one stops the
    /// server from starting (exit code 2).
    #[arg(long, value_name = "DIR")]
    pub workflows: Option<PathBuf>,
    /// Allow calls to loopback and private addresses (local development and tests).
    #[arg(long)]
    pub allow_private_network: bool,
    /// Largest accepted request body in bytes.
    #[arg(long, default_value_t = baton_server::api::DEFAULT_MAX_BODY_BYTES, value_name = "N")]
    pub max_body_bytes: usize,
    /// Largest value a workflow expression may build, in bytes (estimated size of its JSON);
    /// beyond it the run faults with a `runtime` error.
    #[arg(long, default_value_t = baton_core::expr::DEFAULT_MAX_VALUE_BYTES, value_name = "BYTES")]
    pub max_value_bytes: usize,
    /// Deadline of a human-input wait (a `listen` with `metadata.inbox`) that has no `timeout`
    /// of its own, in seconds; 0 disables it.
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    pub approval_deadline: u64,
    /// How long received events are kept for `listen`s that start later, in seconds.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    pub event_retention: u64,
    #[command(flatten)]
    pub secrets: SecretArgs,
    /// Start the built-in stand-in services on 127.0.0.1 (petstore, httpbin, an
    /// OpenAI-compatible /v1/chat/completions, /refunds) and send calls to petstore.swagger.io and
    /// httpbin.org to them; allows calls to loopback. For demos and local development.
    #[arg(long)]
    pub stand_ins: bool,
    /// Seconds between two passes of the stale-wait sweeper.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub sweep_interval: u64,
    /// Webhook URL that receives every run's lifecycle events as CloudEvents (repeatable).
    /// Delivery is best-effort (retried with backoff); the run history is the source of truth.
    #[arg(long = "sink", value_name = "URL")]
    pub sinks: Vec<String>,
    /// Allow sinks on loopback and private addresses (local development and tests).
    #[arg(long)]
    pub allow_private_sinks: bool,
    /// Seconds a client has to send a request's header; then the connection is closed.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub request_header_timeout: u64,
    /// Seconds a client has to send a request's body; then it is answered 408 (event streams,
    /// which have no request body, are not limited).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub request_body_timeout: u64,
    /// Concurrent connections from one client address; further ones are closed at once.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections_per_client: usize,
    /// PostgreSQL database shared by several nodes (`postgres://user@host:port/db`); overrides
    /// `--db`, which also accepts such a URL.
    #[arg(long, env = "BATON_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// PostgreSQL schema holding Baton's tables (created when missing; default: the
    /// database's `search_path`).
    #[arg(long, env = "BATON_DATABASE_SCHEMA", value_name = "NAME")]
    pub db_schema: Option<String>,
    /// PostgreSQL connections this node opens at most.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub db_connections: u32,
    /// PostgreSQL: how long a node's lease lasts without a heartbeat, in seconds; other nodes
    /// adopt the runs of a node whose lease expired (at once when its process is gone on the same
    /// host). Heartbeats and orphan sweeps run every third of it.
    #[arg(long, default_value_t = 15, value_name = "SECONDS")]
    pub node_lease_ttl: u64,
    /// `keys`: every route but /healthz and /readyz needs `Authorization: Bearer KEY`; `none`:
    /// no keys, every request acts as the default workspace's admin (local development only:
    /// refused unless --listen is a loopback address).
    #[arg(long, value_enum, default_value_t = AuthArg::Keys)]
    pub auth: AuthArg,
    /// Serve /metrics without a key.
    #[arg(long)]
    pub metrics_public: bool,
    /// Browser origin allowed to call the API (CORS; repeatable). Without it CORS is off.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
}

/// `baton serve --auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthArg {
    Keys,
    None,
}

impl ServeArgs {
    /// The PostgreSQL URL to serve from, if any: `--database-url`, or `--db` when it is a URL.
    pub fn database_url(&self) -> Option<String> {
        let db = self.db.db.to_str().filter(|db| db.starts_with("postgres://") || db.starts_with("postgresql://"));
        self.database_url.clone().or(db.map(str::to_owned))
    }
}
