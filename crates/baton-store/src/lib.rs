//! Durable storage for Baton: workflow definitions, runs, their history, timers and events.
//!
//! The [`Store`] trait is what the server codes against; [`SqliteStore`] is the embedded
//! implementation, [`PgStore`] the one several nodes share. Both pass the same test suite.
//!
//! Architecture Invariant: the store knows nothing about the DSL or the interpreter. It keeps
//! interpreter state, inputs, outputs and events as opaque JSON plus a few indexed columns
//! (workspace, status, timestamps, parent link, due time), so it does not depend on `baton-core`
//! or `baton-model`.
//!
//! Architecture Invariant: everything one interpreter step changes is written by one
//! [`RunStore::commit`] call, atomically and guarded by an optimistic version check
//! (persist, then act). Timestamps are [`Millis`] (unix milliseconds), supplied by the caller.

mod any;
mod auth;
mod crashes;
mod error;
mod ids;
mod postgres;
mod records;
mod rows;
mod rows_schedules;
mod secrets;
mod sql;
mod sqlite;
mod status;
mod store;
mod version;

pub use crate::any::AnyStore;
pub use crate::auth::{
    ADMIN_ROLE, AuditEntry, AuthStore, KeyGrant, KeyRecord, MemberRecord, MemberUpdate, NewAuditEntry, NewWorkspace,
    WorkspaceRecord,
};
pub use crate::error::{ConflictKind, StoreError};
pub use crate::ids::{OwnerEpoch, WorkspaceId};
pub use crate::postgres::{PgOptions, PgStore};
pub use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewHistoryEntry, NewRun, ParentLink,
    PutOutcome, RunFilter, RunInput, RunRecord, RunRef, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch,
    ScheduleRecord, StoredEvent, SubscriptionRecord, TimerRecord, WorkflowRecord,
};
pub use crate::secrets::{SecretRecord, SecretStore, SecretSummary};
pub use crate::sql::ownership::NODE_LEASE_PREFIX;
pub use crate::sqlite::{CommitStats, SqliteOptions, SqliteStore, Synchronous};
pub use crate::status::RunStatus;
pub use crate::store::{ClusterStore, EventStore, RunStore, ScheduleStore, Store, StoreLifecycle, WorkflowStore};

/// Every area trait, for code that calls store methods on a concrete store type
/// (`use baton_store::prelude::*;`); generic code bounded by [`Store`] needs none of it.
pub mod prelude {
    pub use crate::auth::AuthStore;
    pub use crate::secrets::SecretStore;
    pub use crate::store::{ClusterStore, EventStore, RunStore, ScheduleStore, Store, StoreLifecycle, WorkflowStore};
}
