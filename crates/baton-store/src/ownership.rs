//! Run ownership for several nodes on one database: claims, the orphan sweep's query and the
//! inputs stored for a run's owner. The SQL both backends share; see [`crate::Store::claim_run`].

/// Prefix of the lease each node holds while it lives: `node/<holder>`.
pub const NODE_LEASE_PREFIX: &str = "node/";

/// Takes run `$1` for node `$2` at time `$3` when it is unfinished and unowned, already `$2`'s,
/// or owned by a node whose lease is missing or expired; the epoch grows when the owner changes.
pub(crate) const CLAIM_RUN: &str = "UPDATE runs SET owner = $2, \
     owner_epoch = CASE WHEN owner = $2 THEN owner_epoch ELSE owner_epoch + 1 END \
     WHERE id = $1 AND status NOT IN ('completed', 'faulted', 'cancelled') \
       AND (owner IS NULL OR owner = $2 OR NOT EXISTS \
         (SELECT 1 FROM leases WHERE leases.name = 'node/' || runs.owner AND leases.expires_at > $3)) \
     RETURNING owner_epoch";

/// The orphan sweep's statement with the backend's row-locking clause: takes for node `$1` the
/// unfinished runs that are unowned or whose owner's lease expired at time `$2`, oldest first,
/// at most `$3`.
macro_rules! claim_orphans_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE runs SET owner = $1, owner_epoch = owner_epoch + 1 ",
            "WHERE id IN (SELECT id FROM runs ",
            "WHERE status NOT IN ('completed', 'faulted', 'cancelled') ",
            "AND (owner IS NULL OR owner IN ",
            "(SELECT substr(name, 6) FROM leases WHERE name LIKE 'node/%' AND expires_at <= $2)) ",
            "AND (owner IS NULL OR owner <> $1) ",
            "ORDER BY created_at, id LIMIT $3 ",
            $lock,
            ") RETURNING id"
        )
    };
}

/// [`claim_orphans_sql`] on SQLite, where the single writer serializes sweeps.
pub(crate) const CLAIM_ORPHANS_SQLITE: &str = claim_orphans_sql!("");

/// [`claim_orphans_sql`] on PostgreSQL: concurrent sweeps of several nodes skip each other's rows.
pub(crate) const CLAIM_ORPHANS_PG: &str = claim_orphans_sql!("FOR UPDATE SKIP LOCKED");

/// Stored inputs of the unfinished runs node `$1` owns, oldest first, at most `$2` (an input
/// stored while its run was ending is left out; the run's deletion takes it).
pub(crate) const INPUTS_OF_NODE: &str = "SELECT run_inputs.id, run_inputs.run_id, run_inputs.input, \
     run_inputs.created_at FROM run_inputs JOIN runs ON runs.id = run_inputs.run_id \
     WHERE runs.owner = $1 AND runs.status NOT IN ('completed', 'faulted', 'cancelled') \
     ORDER BY run_inputs.id LIMIT $2";

/// Leases whose name starts with `$1`, by name.
pub(crate) const LEASES_WITH_PREFIX: &str = "SELECT name, holder, epoch, expires_at FROM leases \
     WHERE substr(name, 1, length($1)) = $1 ORDER BY name";

/// Why a checkpoint was refused by the fencing check.
pub(crate) fn fenced_message(run_id: &str, stored_epoch: i64, expected_epoch: i64) -> String {
    format!("run {run_id} changed owner (owner epoch {stored_epoch}, expected {expected_epoch}): stale write refused")
}
