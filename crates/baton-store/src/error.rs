//! The store's error type.

use crate::ids::OwnerEpoch;

/// Why a store operation failed.
///
/// Messages describe only their own layer; walk [`std::error::Error::source`] for the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist (for example a run id given to [`crate::Store::commit`]).
    #[error("not found: {0}")]
    NotFound(String),
    /// An optimistic version check failed or a unique key is already taken with other content;
    /// the kind says which. Nothing of the failed request was written.
    #[error("conflict: {0}")]
    Conflict(ConflictKind),
    /// The database reported an error (I/O, locking, constraint, closed pool, ...).
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed while opening the store.
    #[error("schema migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value cannot be decoded (corrupt JSON, unexpected column type) or a value
    /// cannot be encoded.
    #[error("encoding error: {0}")]
    Encoding(String),
    /// The store was closed; no request is accepted any more.
    #[error("store is closed")]
    Closed,
    /// SQLite: the database file cannot be written now (read-only or immutable, disk full,
    /// I/O errors; the writer logged the cause). Nothing of the request was written. Transient:
    /// the writer tries again with every later request and recovers by itself once the disk is
    /// writable.
    #[error("the database cannot be written")]
    WriteUnavailable,
}

impl StoreError {
    /// Whether trying again later may succeed: the database was unreachable or went away
    /// (I/O, pool timeout, a connection cut mid-message, a server shutting down or refusing
    /// connections), as opposed to an
    /// answer about the request itself (conflict, not found, constraint, encoding).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::WriteUnavailable => true,
            StoreError::Database(err) => match err {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
                // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash
                // shutdown, cannot connect now), and SQLite's busy/locked.
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "5" | "6")
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Which check refused a write ([`StoreError::Conflict`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConflictKind {
    /// [`crate::WorkflowStore::put_workflow`]: the version is stored with another definition or
    /// concurrency limit.
    #[error(
        "workflow {namespace}/{name}:{version} in workspace {workspace} is already deployed with another definition or concurrency limit"
    )]
    WorkflowRedefined { workspace: String, namespace: String, name: String, version: String },
    /// [`crate::RunStore::create_run`]: a run with this id exists.
    #[error("run {run_id} already exists")]
    RunExists { run_id: String },
    /// [`crate::RunStore::create_run`]: the idempotency key is taken in the workspace, by run
    /// `existing_run_id`.
    #[error("a run with idempotency key {key:?} already exists: run {existing_run_id}")]
    IdempotencyKeyTaken { key: String, existing_run_id: String },
    /// [`crate::RunStore::commit`]: the run is at another state version (optimistic concurrency).
    #[error("run {run_id} is at state version {stored}, expected {expected}")]
    StaleVersion { run_id: String, stored: i64, expected: i64 },
    /// [`crate::RunStore::commit`]: the run changed owner since the committing node loaded or
    /// claimed it (the fencing check).
    #[error("run {run_id} changed owner (owner epoch {stored}, expected {expected}): stale write refused")]
    Fenced { run_id: String, stored: OwnerEpoch, expected: OwnerEpoch },
    /// [`crate::ClusterStore::acquire_lease`]: another holder's lease is still valid.
    #[error("lease {name} is held by another holder")]
    LeaseHeld { name: String },
    /// [`crate::ClusterStore::renew_lease`]: the holder lost the lease to another.
    #[error("lease {name} was lost")]
    LeaseLost { name: String },
    /// [`crate::AuthStore`]: a unique identity is taken (`what`: a workspace's id or slug, a
    /// member's id or email in its workspace, a key's id or hash).
    #[error("{what} is taken")]
    IdentityTaken { what: String },
    /// [`crate::AuthStore::update_member`]: the change would leave the workspace without an admin.
    #[error("member {member_id} is the last admin of workspace {workspace}")]
    LastAdmin { workspace: String, member_id: String },
}
