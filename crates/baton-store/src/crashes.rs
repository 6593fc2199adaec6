//! The crash-loop quarantine's counter ([`crate::ClusterStore::count_resumed_step`]), the same SQL on
//! both backends.

use sqlx::{PgPool, SqliteConnection};

use crate::error::StoreError;

/// Counts one more attempt at stepping run `$1` from state version `$2`: one when the last
/// counted attempt was at another version (a step committed since), one more otherwise. No row
/// when the run is not at version `$2`.
const COUNT: &str = "UPDATE runs SET \
     crash_count = CASE WHEN crash_version = $2 THEN crash_count + 1 ELSE 1 END, crash_version = $2 \
     WHERE id = $1 AND state_version = $2 RETURNING crash_count";

fn attempts(count: Option<i64>) -> Option<u32> {
    count.map(|count| u32::try_from(count).unwrap_or(u32::MAX))
}

/// [`COUNT`] on SQLite, inside the writer's transaction.
pub(crate) async fn count_sqlite(
    conn: &mut SqliteConnection,
    run_id: &str,
    state_version: i64,
) -> Result<Option<u32>, StoreError> {
    let count: Option<i64> =
        sqlx::query_scalar(COUNT).bind(run_id).bind(state_version).fetch_optional(&mut *conn).await?;
    Ok(attempts(count))
}

/// [`COUNT`] on PostgreSQL: one statement, atomic under the row lock.
pub(crate) async fn count_pg(pool: &PgPool, run_id: &str, state_version: i64) -> Result<Option<u32>, StoreError> {
    let count: Option<i64> = sqlx::query_scalar(COUNT).bind(run_id).bind(state_version).fetch_optional(pool).await?;
    Ok(attempts(count))
}
