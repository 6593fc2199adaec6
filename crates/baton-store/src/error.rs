//! The store's error type.

/// Why a store operation failed.
///
/// Messages describe only their own layer; walk [`std::error::Error::source`] for the cause.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed row does not exist (for example a run id given to [`crate::Store::commit`]).
    #[error("not found: {0}")]
    NotFound(String),
    /// An optimistic version check failed or a unique key is already taken with other content.
    /// Nothing of the failed request was written.
    #[error("conflict: {0}")]
    Conflict(String),
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
}
