//! Named leases, one statement each, the same SQL on both backends.

/// Expands the lease functions for database `$db`. Writes take any executor (SQLite: the
/// writer's connection; PostgreSQL: the pool).
macro_rules! leases {
    ($db:ty) => {
        use crate::error::{ConflictKind, StoreError};
        use crate::records::{Lease, LeaseRequest, Millis};

        type D = $db;

        fn lease((holder, epoch, expires_at): (String, i64, i64)) -> Lease {
            Lease { holder, epoch, expires_at }
        }

        /// Takes the lease for its holder when it is free, expired at `now`, already the
        /// holder's, or held by `take_over_from` (a holder known to be dead). The epoch grows
        /// when the holder changes.
        pub(crate) async fn acquire<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            request: &LeaseRequest,
        ) -> Result<Lease, StoreError> {
            let granted: Option<(String, i64, i64)> = sqlx::query_as(
                "INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, $4) \
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, \
                 epoch = CASE WHEN leases.holder = excluded.holder THEN leases.epoch ELSE leases.epoch + 1 END \
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= $3 OR leases.holder = CAST($5 AS TEXT) \
                 RETURNING holder, epoch, expires_at",
            )
            .bind(&request.name)
            .bind(&request.holder)
            .bind(request.now)
            .bind(request.expires_at)
            .bind(request.take_over_from.as_deref())
            .fetch_optional(exec)
            .await?;
            granted
                .map(lease)
                .ok_or_else(|| StoreError::Conflict(ConflictKind::LeaseHeld { name: request.name.clone() }))
        }

        /// Extends the lease of `holder` at `epoch`; [`ConflictKind::LeaseLost`] when it was lost.
        pub(crate) async fn renew<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            name: &str,
            holder: &str,
            epoch: i64,
            expires_at: Millis,
        ) -> Result<(), StoreError> {
            let renewed =
                sqlx::query("UPDATE leases SET expires_at = $4 WHERE name = $1 AND holder = $2 AND epoch = $3")
                    .bind(name)
                    .bind(holder)
                    .bind(epoch)
                    .bind(expires_at)
                    .execute(exec)
                    .await?;
            match renewed.rows_affected() {
                0 => Err(StoreError::Conflict(ConflictKind::LeaseLost { name: name.to_owned() })),
                _ => Ok(()),
            }
        }

        /// Gives the lease up if `holder` has it.
        pub(crate) async fn release<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            name: &str,
            holder: &str,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE leases SET expires_at = 0 WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(exec)
                .await?;
            Ok(())
        }

        pub(crate) async fn get(pool: &sqlx::Pool<D>, name: &str) -> Result<Option<Lease>, StoreError> {
            let found: Option<(String, i64, i64)> =
                sqlx::query_as("SELECT holder, epoch, expires_at FROM leases WHERE name = $1")
                    .bind(name)
                    .fetch_optional(pool)
                    .await?;
            Ok(found.map(lease))
        }
    };
}
pub(crate) use leases;
