//! The storage interface the server codes against: one small trait per area, bundled by
//! [`Store`] (the shape of Restate's `storage-api`).
//!
//! Architecture Invariant: every method that reads or writes tenant data takes the workspace
//! explicitly (a `&WorkspaceId` argument, or a request record's `workspace` field). The few
//! node-level scans that must see every workspace (recovery, due timers, the orphan sweep,
//! the overdue-inbox sweep, the retention purge, metrics) say so in their names' docs and
//! return records that carry their workspace.
//!
//! Adding an area: write `src/store/<area>.rs` with `pub trait <Area>Store: Send + Sync +
//! 'static`, add it to the bounds of [`Store`] and of its blanket impl, implement it for
//! `SqliteStore`, `PgStore` and (through `delegate!`) `AnyStore`, and put its statements in
//! `src/sql/<area>.rs`.

mod cluster;
mod events;
mod runs;
mod schedules;
mod workflows;

use std::future::Future;

pub use crate::store::cluster::ClusterStore;
pub use crate::store::events::EventStore;
pub use crate::store::runs::RunStore;
pub use crate::store::schedules::ScheduleStore;
pub use crate::store::workflows::WorkflowStore;

use crate::secrets::SecretStore;

/// Durable storage of workflows, runs, history, timers, events, schedules and cluster state:
/// every area trait at once, for code that needs the whole store (the engine).
///
/// Every method returns a `Send` future so callers can use a store from spawned tasks.
/// Writes are atomic per call; a write that returned `Ok` is durable (as durable as the
/// backend's configured sync level).
pub trait Store:
    StoreLifecycle + WorkflowStore + RunStore + EventStore + ScheduleStore + ClusterStore + SecretStore
{
}

impl<T> Store for T where
    T: StoreLifecycle + WorkflowStore + RunStore + EventStore + ScheduleStore + ClusterStore + SecretStore
{
}

/// The store as a whole: health and shutdown.
pub trait StoreLifecycle: Send + Sync + 'static {
    /// Checks that the database answers and can be written; for readiness probes. PostgreSQL: a
    /// trivial query. SQLite: a trivial query on the read pool, then a write that changes
    /// nothing through the writer ([`crate::StoreError::WriteUnavailable`] while the disk
    /// cannot be written).
    fn ping(&self) -> impl Future<Output = Result<(), crate::StoreError>> + Send;

    /// Finishes the writes under way and closes the connections; later calls fail with
    /// [`crate::StoreError::Closed`].
    fn close(&self) -> impl Future<Output = ()> + Send;
}
