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
//! [`Store::commit`] call, atomically and guarded by an optimistic version check
//! (persist, then act). Timestamps are [`Millis`] (unix milliseconds), supplied by the caller.

mod any;
mod auth;
mod error;
mod lease;
mod ownership;
mod postgres;
mod records;
mod rows;
mod rows_schedules;
mod sqlite;
mod store;
mod version;

pub use crate::any::AnyStore;
pub use crate::auth::{
    ADMIN_ROLE, AuditEntry, AuthStore, KeyGrant, KeyRecord, MemberRecord, MemberUpdate, NewAuditEntry, NewWorkspace,
    WorkspaceRecord,
};
pub use crate::error::StoreError;
pub use crate::ownership::NODE_LEASE_PREFIX;
pub use crate::postgres::{PgOptions, PgStore};
pub use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewHistoryEntry, NewRun, ParentLink,
    PutOutcome, RunFilter, RunInput, RunRecord, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord,
    StoredEvent, SubscriptionRecord, TERMINAL_STATUSES, TimerRecord, WorkflowRecord,
};
pub use crate::sqlite::{CommitStats, SqliteOptions, SqliteStore, Synchronous};
pub use crate::store::Store;
