//! The workspace secret store: named values per workspace, kept sealed.
//!
//! The store holds only what the server hands it: `sealed` is an AEAD ciphertext (nonce
//! included) that the server encrypts and decrypts; the store never sees a plain value and
//! knows nothing of the cipher. One SQL text serves both backends.

use std::future::Future;

use crate::any::AnyStore;
use crate::error::StoreError;
use crate::ids::WorkspaceId;
use crate::records::Millis;

/// One stored secret, sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub workspace: String,
    /// The name a workflow reads it by (`$secrets.NAME`), unique per workspace.
    pub name: String,
    /// The sealed value (nonce and ciphertext, as the server's cipher lays them out).
    pub sealed: Vec<u8>,
    /// When the secret was first stored (unix ms).
    pub created_at: Millis,
    /// When its value was last replaced (unix ms).
    pub updated_at: Millis,
}

/// A secret as listed: its name and times, never its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSummary {
    pub name: String,
    /// Unix ms.
    pub created_at: Millis,
    /// Unix ms.
    pub updated_at: Millis,
}

/// Named secrets per workspace.
pub trait SecretStore: Send + Sync + 'static {
    /// Stores `record` under (workspace, name), replacing the sealed value of an existing one
    /// (whose `created_at` is kept). Returns whether the secret is new.
    fn put_secret(&self, record: SecretRecord) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes one secret; returns whether it existed.
    fn delete_secret(
        &self,
        workspace: &WorkspaceId,
        name: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The secrets of a workspace by name (code-point order), without values.
    fn list_secrets(
        &self,
        workspace: &WorkspaceId,
    ) -> impl Future<Output = Result<Vec<SecretSummary>, StoreError>> + Send;

    /// The stored secrets of `workspace` among `names` (missing names are left out), in name
    /// order.
    fn get_secrets(
        &self,
        workspace: &WorkspaceId,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<SecretRecord>, StoreError>> + Send;
}

/// Upsert of `($1 workspace, $2 name, $3 sealed, $4 now)`; returns the row's `created_at`, which
/// equals `$4` exactly when the row is new.
pub(crate) const PUT: &str = "INSERT INTO secrets (workspace, name, sealed, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $4) \
     ON CONFLICT (workspace, name) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at \
     RETURNING created_at";

pub(crate) const DELETE: &str = "DELETE FROM secrets WHERE workspace = $1 AND name = $2";

pub(crate) const LIST: &str = "SELECT name, created_at, updated_at FROM secrets WHERE workspace = $1 ORDER BY name";

/// Every secret of workspace `$1`; the caller keeps the names it asked for (a workspace holds
/// few secrets, and one text serves both backends without an array parameter).
pub(crate) const GET_ALL: &str =
    "SELECT workspace, name, sealed, created_at, updated_at FROM secrets WHERE workspace = $1 ORDER BY name";

/// A row of [`GET_ALL`].
pub(crate) type SecretRow = (String, String, Vec<u8>, i64, i64);

/// The rows of `rows` whose name is in `names`.
pub(crate) fn select(rows: Vec<SecretRow>, names: &[String]) -> Vec<SecretRecord> {
    rows.into_iter()
        .filter(|(_, name, ..)| names.iter().any(|wanted| wanted == name))
        .map(|(workspace, name, sealed, created_at, updated_at)| SecretRecord {
            workspace,
            name,
            sealed,
            created_at,
            updated_at,
        })
        .collect()
}

/// A row of [`LIST`].
pub(crate) fn summary((name, created_at, updated_at): (String, i64, i64)) -> SecretSummary {
    SecretSummary { name, created_at, updated_at }
}

/// Runs `$call` on the backend `$self` holds, bound as `$store`.
macro_rules! dispatch {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

impl SecretStore for AnyStore {
    async fn put_secret(&self, record: SecretRecord) -> Result<bool, StoreError> {
        dispatch!(self, store => store.put_secret(record).await)
    }

    async fn delete_secret(&self, workspace: &WorkspaceId, name: &str) -> Result<bool, StoreError> {
        dispatch!(self, store => store.delete_secret(workspace, name).await)
    }

    async fn list_secrets(&self, workspace: &WorkspaceId) -> Result<Vec<SecretSummary>, StoreError> {
        dispatch!(self, store => store.list_secrets(workspace).await)
    }

    async fn get_secrets(&self, workspace: &WorkspaceId, names: &[String]) -> Result<Vec<SecretRecord>, StoreError> {
        dispatch!(self, store => store.get_secrets(workspace, names).await)
    }
}
