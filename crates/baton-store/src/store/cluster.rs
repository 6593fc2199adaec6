//! [`ClusterStore`]: what the nodes sharing a database coordinate through: leases, run
//! ownership and the inputs stored for a run's owner. Node-level: none of it is tenant data.

use std::future::Future;

use serde_json::Value;

use crate::error::StoreError;
use crate::ids::OwnerEpoch;
use crate::records::{Lease, LeaseRequest, Millis, RunInput, RunRef};

/// Named leases, run ownership and inputs handed between nodes.
pub trait ClusterStore: Send + Sync + 'static {
    /// Takes or renews the named lease for `request.holder` until `request.expires_at`: granted
    /// when the lease is free, expired at `request.now`, already this holder's, or held by
    /// `request.take_over_from`. Returns the lease as granted (its epoch grows when it changes
    /// hands).
    ///
    /// # Errors
    /// [`crate::ConflictKind::LeaseHeld`] when another holder's lease is still valid.
    fn acquire_lease(&self, request: LeaseRequest) -> impl Future<Output = Result<Lease, StoreError>> + Send;

    /// Extends the lease `name` of `holder` at `epoch` until `expires_at` (unix ms).
    ///
    /// # Errors
    /// [`crate::ConflictKind::LeaseLost`] when the holder lost the lease (another took it over).
    fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        epoch: i64,
        expires_at: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Gives the lease up (it expires at once) if `holder` has it.
    fn release_lease(&self, name: &str, holder: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The named lease as stored, if it was ever taken.
    fn lease(&self, name: &str) -> impl Future<Output = Result<Option<Lease>, StoreError>> + Send;

    /// Leases whose name starts with `prefix`, by name, with their names.
    fn leases_with_prefix(&self, prefix: &str)
    -> impl Future<Output = Result<Vec<(String, Lease)>, StoreError>> + Send;

    /// The crash-loop quarantine: counts one more attempt at stepping run `run_id` from
    /// `state_version` by a node that took the run up from a process that died (a restart, or
    /// an adoption from a dead node), before that step. Returns the attempts at that version so
    /// far, this one included (a step that commits moves the run on and so resets the count):
    /// more than one means an earlier attempt died with its process. `None` when the run is not
    /// at `state_version` (or does not exist).
    fn count_resumed_step(
        &self,
        run_id: &str,
        state_version: i64,
    ) -> impl Future<Output = Result<Option<u32>, StoreError>> + Send;

    /// Makes `node` the owner of run `run_id` if the run is unfinished and unowned, already
    /// `node`'s, or owned by a node whose lease (`node/<owner>`, see
    /// [`crate::NODE_LEASE_PREFIX`]) is missing or expired at `now`. Returns the run's
    /// `owner_epoch` then (grown by one when the owner changed); `None` when another live node
    /// owns it, the run ended, or it does not exist.
    fn claim_run(
        &self,
        run_id: &str,
        node: &str,
        now: Millis,
    ) -> impl Future<Output = Result<Option<OwnerEpoch>, StoreError>> + Send;

    /// The orphan sweep (every workspace): makes `node` the owner of up to `limit` unfinished
    /// runs that are unowned or whose owner's lease expired at `now`, oldest first, and returns
    /// them with their workspaces (each run's `owner_epoch` grows by one). Concurrent sweeps of
    /// several nodes take disjoint runs (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    fn claim_orphan_runs(
        &self,
        node: &str,
        now: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<RunRef>, StoreError>> + Send;

    /// Stores an input for run `run_id`, to be applied by its owner, and returns that owner
    /// (`None`: unowned, or the run ended, and then nothing is stored). PostgreSQL notifies
    /// channel `baton_inputs` with the owner as payload when the write commits. The input stays
    /// until a checkpoint of the run lists it in [`crate::Checkpoint::inputs_consumed`] or ends
    /// the run.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown run.
    fn put_run_input(
        &self,
        run_id: &str,
        input: Value,
        now: Millis,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Up to `limit` stored inputs of the runs `node` owns, oldest first.
    fn inputs_for_node(&self, node: &str, limit: u32)
    -> impl Future<Output = Result<Vec<RunInput>, StoreError>> + Send;

    /// A stream of wake-ups: one item each time an input is stored for a run that `node` owns,
    /// on any node (PostgreSQL `LISTEN baton_inputs`). `None`: the backend has no notifications
    /// (SQLite, where one process drives the database).
    fn input_notifications(
        &self,
        node: &str,
    ) -> impl Future<Output = Result<Option<tokio::sync::mpsc::UnboundedReceiver<()>>, StoreError>> + Send;
}
