//! Named leases on SQLite (see [`crate::Store::acquire_lease`]); writes run in the writer task.

use sqlx::{SqliteConnection, SqlitePool};

use crate::error::StoreError;
use crate::lease::{ACQUIRE, GET, RELEASE, RENEW};
use crate::records::{Lease, LeaseRequest, Millis};

fn lease((holder, epoch, expires_at): (String, i64, i64)) -> Lease {
    Lease { holder, epoch, expires_at }
}

pub(crate) async fn acquire(conn: &mut SqliteConnection, request: &LeaseRequest) -> Result<Lease, StoreError> {
    let granted: Option<(String, i64, i64)> = sqlx::query_as(ACQUIRE)
        .bind(&request.name)
        .bind(&request.holder)
        .bind(request.now)
        .bind(request.expires_at)
        .bind(request.take_over_from.as_deref())
        .fetch_optional(&mut *conn)
        .await?;
    granted.map(lease).ok_or_else(|| StoreError::Conflict(format!("lease {} is held by another holder", request.name)))
}

pub(crate) async fn renew(
    conn: &mut SqliteConnection,
    name: &str,
    holder: &str,
    epoch: i64,
    expires_at: Millis,
) -> Result<(), StoreError> {
    let renewed = sqlx::query(RENEW).bind(name).bind(holder).bind(epoch).bind(expires_at).execute(&mut *conn).await?;
    match renewed.rows_affected() {
        0 => Err(StoreError::Conflict(format!("lease {name} was lost"))),
        _ => Ok(()),
    }
}

pub(crate) async fn release(conn: &mut SqliteConnection, name: &str, holder: &str) -> Result<(), StoreError> {
    sqlx::query(RELEASE).bind(name).bind(holder).execute(&mut *conn).await?;
    Ok(())
}

pub(crate) async fn get(pool: &SqlitePool, name: &str) -> Result<Option<Lease>, StoreError> {
    let found: Option<(String, i64, i64)> = sqlx::query_as(GET).bind(name).fetch_optional(pool).await?;
    Ok(found.map(lease))
}
