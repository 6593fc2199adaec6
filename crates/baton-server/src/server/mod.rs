//! The composition root: [`Server::start`] assembles a Baton node from a [`ServerConfig`]
//! (database, lease, engine, sinks, API, recovery, background loops, listener) and
//! [`Server::serve`] runs it until shutdown, in the manner of Restate's `Node::create`. The
//! CLI, the conformance runner and the tests all start Baton through it; nothing else wires
//! the parts together.
//!
//! Start order: open the database, take the database lease (SQLite) or join the cluster
//! (PostgreSQL), start the stand-ins, build the engine, start the sinks (before recovery, so
//! that the recovered runs' events are delivered too), deploy the configured workflows, build
//! the API; for [`Role::Serve`] also recover, bind the listener and start the loops. Shutdown:
//! stop accepting, end the event streams, finish the requests in flight, release the lease,
//! close the database so the commits under way complete.

mod config;
mod loops;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use baton_core::compile::CompiledWorkflow;
use baton_core::definition::DefinitionError;
use baton_store::{AnyStore, PgStore, SqliteStore, Store, StoreError, StoreLifecycle};

use crate::api::{Api, ApiConfig, ApiEngine};
use crate::auth::AuthMode;
use crate::auth::bootstrap::{self, AdminKey, BootstrapError, FirstStart};
use crate::clock::now_ms;
use crate::engine::{ClusterConfig, Engine, EngineConfig, EngineError};
use crate::inbound::InboundLimits;
use crate::lease::{HeldLease, LeaseError};
use crate::notify::sinks::{self, SinkError, SinkOptions, Sinks};
use crate::secrets::{SecretKey, SecretKeyError, key_file_beside};
use crate::standin::StandIn;

pub use crate::server::config::{Database, Role, ServerConfig, WorkflowSource};

/// How often a node polls for inputs other nodes stored for its runs (ms), besides `NOTIFY`.
const INPUT_POLL_MS: u64 = 1_000;

/// Why a node could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the database")]
    Open(#[source] StoreError),
    /// Another live process holds the database ([`LeaseError::Held`]), or the lease table
    /// could not be read.
    #[error(transparent)]
    Lease(LeaseError),
    /// The first start could not create the `default` workspace and its admin key.
    #[error("cannot create the first admin key")]
    Bootstrap(#[source] BootstrapError),
    #[error("cannot write the admin key to {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `--auth none` with a listen address other than loopback.
    #[error("--auth none is for local development: the listen address must be loopback, not {addr}")]
    OpenOffLoopback { addr: SocketAddr },
    #[error("cannot start the stand-in services")]
    StandIns(#[source] std::io::Error),
    #[error("cannot start the event sinks")]
    Sinks(#[source] SinkError),
    /// Definitions of [`ServerConfig::workflows`] that were refused, each with its reason.
    #[error("{} definition(s) cannot be deployed", .0.len())]
    Refused(Vec<RefusedWorkflow>),
    #[error("cannot deploy {label}")]
    Deploy {
        label: String,
        #[source]
        source: Box<EngineError>,
    },
    #[error("cannot recover unfinished runs")]
    Recover(#[source] EngineError),
    #[error("cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// [`Server::serve`] on a node started as [`Role::Embedded`].
    #[error("this node was started without a listener")]
    NotListening,
    #[error("server failed")]
    Serve(#[source] std::io::Error),
    /// Another process took the database lease over: this node stopped writing at once.
    #[error("another Baton process took over this database")]
    LeaseLost,
    /// The secret key file could not be read or created, or holds no key.
    #[error("cannot use the secret key")]
    SecretKey(#[source] SecretKeyError),
    /// PostgreSQL without [`ServerConfig::secret_key`].
    #[error("PostgreSQL needs the secret key every node shares (BATON_SECRET_KEY or a key file)")]
    NoSecretKey,
}

/// A definition of [`ServerConfig::workflows`] the engine refused.
#[derive(Debug)]
pub struct RefusedWorkflow {
    pub label: String,
    pub reason: Refusal,
}

/// Why a definition was refused.
#[derive(Debug)]
pub enum Refusal {
    /// Not a valid definition: every diagnostic.
    Invalid(DefinitionError),
    /// The version is deployed with other content.
    Conflict(String),
}

/// A started Baton node.
pub struct Server {
    store: AnyStore,
    engine: ApiEngine,
    lease: HeldLease,
    api: Api,
    stand_in: Option<StandIn>,
    sinks: Sinks,
    deployed: Vec<Arc<CompiledWorkflow>>,
    admin_key: AdminKey,
    n_recovered: usize,
    /// Bound for [`Role::Serve`]; taken by [`Server::serve`].
    listener: Option<TcpListener>,
    local_addr: Option<SocketAddr>,
    inbound: InboundLimits,
    loops: Vec<JoinHandle<()>>,
}

impl Server {
    /// Assembles and starts a node (see the module docs for the order).
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        if let Role::Serve { listen } = config.role
            && config.auth.mode == AuthMode::None
            && !listen.ip().is_loopback()
        {
            return Err(ServerError::OpenOffLoopback { addr: listen });
        }
        let secret_key = secret_key(&config)?;
        let (store, lease, cluster) = open(&config.database).await?;
        let key_file = match &config.database {
            Database::Sqlite(options) => Some(bootstrap::key_file_for(&options.path)),
            Database::Postgres { .. } => None,
        };
        let admin_key = match first_start(&store, config.bootstrap_key.clone(), key_file).await {
            Ok(admin_key) => admin_key,
            Err(err) => return Err(give_up(store, lease, err).await),
        };
        let stand_in = match config.stand_ins {
            true => match StandIn::start().await {
                Ok(stand_in) => Some(stand_in),
                Err(err) => return Err(give_up(store, lease, ServerError::StandIns(err)).await),
            },
            false => None,
        };
        let mut rewrites = stand_in.as_ref().map(StandIn::rewrites).unwrap_or_default();
        rewrites.extend(config.rewrites);
        let engine_config = EngineConfig {
            secrets: config.secrets,
            secret_key,
            egress: config.egress,
            rewrites,
            event_retention_ms: config.event_retention_ms,
            approval_deadline_ms: config.approval_deadline_ms,
            cluster,
            max_value_bytes: config.max_value_bytes,
        };
        let engine = match config.observer {
            Some(observer) => Engine::with_observer(store.clone(), engine_config, observer),
            None => Engine::new(store.clone(), engine_config),
        };
        let sink_options = SinkOptions { retry: config.sink_retry, ..SinkOptions::new(config.sink_egress) };
        let sinks = match sinks::start(&engine, &config.sinks, sink_options).await {
            Ok(sinks) => sinks,
            Err(err) => return Err(give_up(store, lease, ServerError::Sinks(err)).await),
        };
        let api_config = ApiConfig {
            max_body_bytes: config.max_body_bytes,
            sink_stats: sinks.stats(),
            auth: config.auth,
            cors_origins: config.cors_origins.clone(),
        };
        let api = Api::new(engine.clone(), api_config);
        let mut server = Server {
            store,
            engine,
            lease,
            api,
            stand_in,
            sinks,
            deployed: Vec::new(),
            admin_key,
            n_recovered: 0,
            listener: None,
            local_addr: None,
            inbound: config.inbound,
            loops: Vec::new(),
        };
        let started = async {
            server.deployed = deploy_all(&server.engine, &config.workflows).await?;
            if let Role::Serve { listen } = config.role {
                server.n_recovered = server.engine.recover().await.map_err(ServerError::Recover)?;
                let listener =
                    TcpListener::bind(listen).await.map_err(|source| ServerError::Listen { addr: listen, source })?;
                server.local_addr = Some(listener.local_addr().unwrap_or(listen));
                server.listener = Some(listener);
                server.loops = loops::start(&server.engine, config.sweep_interval, config.event_retention_ms);
            }
            Ok(())
        };
        match started.await {
            Ok(()) => Ok(server),
            Err(err) => {
                server.close().await;
                Err(err)
            }
        }
    }

    /// Serves the API until `signal` completes, then shuts down (module docs). When another
    /// process takes the database lease over, returns [`ServerError::LeaseLost`] at once,
    /// without waiting for anything: the node must stop writing.
    pub async fn serve(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let listener = self.listener.take().ok_or(ServerError::NotListening)?;
        let lost = self.lease.lost();
        let served = tokio::select! {
            served = self.api.serve(listener, self.inbound, signal) => served,
            () = lost => return Err(ServerError::LeaseLost),
        };
        self.close().await;
        served.map_err(ServerError::Serve)
    }

    /// Stops the loops and the sinks, releases the lease and closes the database (for
    /// [`Role::Embedded`] nodes, and after [`Server::serve`]).
    pub async fn close(self) {
        self.api.shutdown();
        for task in &self.loops {
            task.abort();
        }
        self.sinks.abort();
        self.lease.release(&self.store).await;
        self.store.close().await;
        if let Some(stand_in) = self.stand_in {
            stand_in.shutdown().await;
        }
    }

    pub fn engine(&self) -> &ApiEngine {
        &self.engine
    }

    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The API (router and OpenAPI document), e.g. for requests through `tower::ServiceExt`.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// The listener's address ([`Role::Serve`]; the port chosen when it was 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The stand-ins, when [`ServerConfig::stand_ins`] started them.
    pub fn stand_in(&self) -> Option<&StandIn> {
        self.stand_in.as_ref()
    }

    /// The workflows of [`ServerConfig::workflows`], in order.
    pub fn deployed(&self) -> &[Arc<CompiledWorkflow>] {
        &self.deployed
    }

    /// The `default` workspace's admin key as the first start left it (for the banner).
    pub fn admin_key(&self) -> &AdminKey {
        &self.admin_key
    }

    /// How many unfinished runs the start took over ([`Role::Serve`]).
    pub fn n_recovered(&self) -> usize {
        self.n_recovered
    }

    /// This node's id in a cluster (PostgreSQL).
    pub fn node_id(&self) -> Option<&str> {
        self.engine.node_id()
    }
}

/// The configured secret key, else (SQLite) the one in the file beside the database.
fn secret_key(config: &ServerConfig) -> Result<SecretKey, ServerError> {
    match (&config.secret_key, &config.database) {
        (Some(key), _) => Ok(key.clone()),
        (None, Database::Sqlite(options)) => {
            SecretKey::load_or_create(&key_file_beside(&options.path)).map_err(ServerError::SecretKey)
        }
        (None, Database::Postgres { .. }) => Err(ServerError::NoSecretKey),
    }
}

/// Opens the database and takes its lease: the database lease on SQLite, a node lease (and
/// this node's cluster settings) on PostgreSQL.
async fn open(database: &Database) -> Result<(AnyStore, HeldLease, Option<ClusterConfig>), ServerError> {
    match database {
        Database::Sqlite(options) => {
            let store = SqliteStore::open(options.clone()).await.map_err(ServerError::Open)?;
            let lease = match crate::lease::acquire(&store).await {
                Ok(lease) => lease,
                Err(err) => {
                    store.close().await;
                    return Err(ServerError::Lease(err));
                }
            };
            Ok((AnyStore::from(store), lease, None))
        }
        Database::Postgres { options, node_lease_ttl_ms } => {
            let store = PgStore::open(options.clone()).await.map_err(ServerError::Open)?;
            let lease = crate::lease::join_cluster(&store, *node_lease_ttl_ms).await.map_err(ServerError::Lease)?;
            let cluster = ClusterConfig {
                node_id: lease.holder.clone(),
                input_poll_ms: INPUT_POLL_MS,
                lease_ttl_ms: (*node_lease_ttl_ms).max(0) as u64,
            };
            tracing::info!(node_id = %lease.holder, "joined the cluster");
            Ok((AnyStore::from(store), lease, Some(cluster)))
        }
    }
}

/// Creates the `default` workspace and its admin key on an empty database; a generated key is
/// written to `key_file` (SQLite).
async fn first_start(
    store: &AnyStore,
    bootstrap_key: Option<String>,
    key_file: Option<PathBuf>,
) -> Result<AdminKey, ServerError> {
    let started = bootstrap::first_start(store, bootstrap_key, now_ms()).await.map_err(ServerError::Bootstrap)?;
    Ok(match started {
        FirstStart::Created { key, generated: true } => {
            if let Some(path) = &key_file {
                bootstrap::write_key_file(path, &key)
                    .map_err(|source| ServerError::KeyFile { path: path.clone(), source })?;
            }
            tracing::info!(workspace = bootstrap::DEFAULT_WORKSPACE_ID, "first start: created the admin key");
            AdminKey::Created { key, file: key_file }
        }
        FirstStart::Created { generated: false, .. } => AdminKey::FromEnvironment,
        FirstStart::AlreadyDone => match key_file.filter(|path| path.exists()) {
            Some(path) => AdminKey::InFile(path),
            None => AdminKey::Elsewhere,
        },
    })
}

/// A start that failed after the database was opened: gives the lease up and closes the
/// database, so that the next start need not wait for the lease to expire.
async fn give_up(store: AnyStore, lease: HeldLease, err: ServerError) -> ServerError {
    lease.release(&store).await;
    store.close().await;
    err
}

/// Deploys every source in order; collects every refused one before failing.
async fn deploy_all<S: Store + Clone>(
    engine: &Engine<S>,
    sources: &[WorkflowSource],
) -> Result<Vec<Arc<CompiledWorkflow>>, ServerError> {
    let mut deployed = Vec::with_capacity(sources.len());
    let mut refused = Vec::new();
    for source in sources {
        let label = source.label.clone();
        match engine.deploy(&source.text).await {
            Ok(workflow) => deployed.push(workflow),
            Err(EngineError::Definition(err)) => refused.push(RefusedWorkflow { label, reason: Refusal::Invalid(err) }),
            Err(EngineError::Store(StoreError::Conflict(message))) => {
                refused.push(RefusedWorkflow { label, reason: Refusal::Conflict(message.to_string()) });
            }
            Err(source) => return Err(ServerError::Deploy { label, source: Box::new(source) }),
        }
    }
    match refused.is_empty() {
        true => Ok(deployed),
        false => Err(ServerError::Refused(refused)),
    }
}
