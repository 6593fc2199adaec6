//! Run ownership for several nodes on one database: claims, the orphan sweep and the inputs
//! stored for a run's owner (see [`crate::ClusterStore::claim_run`]). Storing an input differs
//! per backend (PostgreSQL notifies in the same statement) and stays there.

/// Prefix of the lease each node holds while it lives: `node/<holder>`.
pub const NODE_LEASE_PREFIX: &str = "node/";

/// Expands the ownership functions for database `$db`. Writes take any executor.
macro_rules! ownership {
    ($db:ty) => {
        use crate::error::StoreError;
        use crate::ids::OwnerEpoch;
        use crate::records::{Lease, Millis, RunInput, RunRef};
        use crate::rows as record;
        use crate::sql::Dialect;
        use crate::sql::statement;
        use crate::status::terminal_sql_list;

        type D = $db;

        /// Takes run `run_id` for `node` at `now` when it is unfinished and unowned, already
        /// `node`'s, or owned by a node whose lease is missing or expired; the epoch grows when
        /// the owner changes.
        pub(crate) async fn claim_run<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            run_id: &str,
            node: &str,
            now: Millis,
        ) -> Result<Option<OwnerEpoch>, StoreError> {
            let epoch: Option<i64> = sqlx::query_scalar(statement!(
                "UPDATE runs SET owner = $2, \
                 owner_epoch = CASE WHEN owner = $2 THEN owner_epoch ELSE owner_epoch + 1 END \
                 WHERE id = $1 AND status NOT IN ({}) \
                   AND (owner IS NULL OR owner = $2 OR NOT EXISTS \
                     (SELECT 1 FROM leases WHERE leases.name = 'node/' || runs.owner AND leases.expires_at > $3)) \
                 RETURNING owner_epoch",
                terminal_sql_list()
            ))
            .bind(run_id)
            .bind(node)
            .bind(now)
            .fetch_optional(exec)
            .await?;
            Ok(epoch.map(OwnerEpoch))
        }

        /// The orphan sweep: takes for `node` the unfinished runs that are unowned or whose
        /// owner's lease expired at `now`, oldest first, at most `limit`; concurrent sweeps
        /// skip each other's rows ([`Dialect::SKIP_LOCKED`]).
        pub(crate) async fn claim_orphan_runs<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            node: &str,
            now: Millis,
            limit: u32,
        ) -> Result<Vec<RunRef>, StoreError> {
            let rows = sqlx::query(statement!(
                "UPDATE runs SET owner = $1, owner_epoch = owner_epoch + 1 \
                 WHERE id IN (SELECT id FROM runs \
                 WHERE status NOT IN ({terminal}) \
                 AND (owner IS NULL OR owner IN \
                 (SELECT substr(name, 6) FROM leases WHERE name LIKE 'node/%' AND expires_at <= $2)) \
                 AND (owner IS NULL OR owner <> $1) \
                 ORDER BY created_at, id LIMIT $3 {lock}) RETURNING id, workspace",
                terminal = terminal_sql_list(),
                lock = <D as Dialect>::SKIP_LOCKED
            ))
            .bind(node)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(exec)
            .await?;
            rows.iter().map(record::run_ref).collect()
        }

        /// Stored inputs of the unfinished runs `node` owns, oldest first, at most `limit` (an
        /// input stored while its run was ending is left out; the run's deletion takes it).
        pub(crate) async fn inputs_for_node(
            pool: &sqlx::Pool<D>,
            node: &str,
            limit: u32,
        ) -> Result<Vec<RunInput>, StoreError> {
            let rows = sqlx::query(statement!(
                "SELECT run_inputs.id, run_inputs.run_id, run_inputs.input, \
                 run_inputs.created_at FROM run_inputs JOIN runs ON runs.id = run_inputs.run_id \
                 WHERE runs.owner = $1 AND runs.status NOT IN ({}) \
                 ORDER BY run_inputs.id LIMIT $2",
                terminal_sql_list()
            ))
            .bind(node)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::run_input).collect()
        }

        /// Leases whose name starts with `prefix`, by name.
        pub(crate) async fn leases_with_prefix(
            pool: &sqlx::Pool<D>,
            prefix: &str,
        ) -> Result<Vec<(String, Lease)>, StoreError> {
            let rows = sqlx::query(
                "SELECT name, holder, epoch, expires_at FROM leases \
                 WHERE substr(name, 1, length($1)) = $1 ORDER BY name",
            )
            .bind(prefix)
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::named_lease).collect()
        }
    };
}
pub(crate) use ownership;
