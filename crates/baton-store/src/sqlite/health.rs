//! Whether the database file can be written (issue 13, item 7): which errors are disk faults,
//! the writer's health as [`crate::StoreLifecycle::ping`] reports it, and the probe write.
//!
//! A disk fault (the file or its WAL read-only or immutable, the disk full, I/O errors) is not
//! an answer about a request: the same write succeeds once the disk is writable again. The
//! writer therefore rolls back, reopens its connection and retries with backoff; when the fault
//! outlasts [`RETRY_DELAYS`] it fails the waiting callers with [`StoreError::WriteUnavailable`]
//! (transient) and marks itself failing, so that `ping` (the `/readyz` probe) reports it until a
//! write succeeds again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::SqliteConnection;

use crate::error::StoreError;

/// Pauses between the attempts at a batch that met a disk fault while the writer was healthy
/// (about 0.75 s in all). While the writer is failing, a batch gets one attempt: its callers
/// (the engine retries commits with backoff of its own) learn at once that writes fail.
pub(crate) const RETRY_DELAYS: [Duration; 4] =
    [Duration::from_millis(50), Duration::from_millis(100), Duration::from_millis(200), Duration::from_millis(400)];

/// SQLite primary result codes that mean "the file cannot be written now", not "this request
/// is wrong": BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL.
const FAULT_CODES: [i64; 7] = [5, 6, 8, 10, 13, 14, 15];

/// Whether `err`, met while writing, is a disk fault (see the module doc) rather than an answer.
pub(crate) fn is_disk_fault(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) => true,
        // SQLite reports extended result codes; the primary code is the low byte.
        sqlx::Error::Database(db) => {
            db.code().and_then(|code| code.parse::<i64>().ok()).is_some_and(|code| FAULT_CODES.contains(&(code & 0xff)))
        }
        _ => false,
    }
}

/// The writer's health, shared with the store's `ping`.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Set when a batch failed on a disk fault after its retries; cleared by the next commit.
    failing: AtomicBool,
}

impl Health {
    pub(crate) fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Marks the writer failing; logs the change once.
    pub(crate) fn set_failing(&self, cause: &str) {
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = cause, "the database cannot be written; writes fail until it can");
        }
    }

    /// Marks the writer healthy after a commit; logs the change once.
    pub(crate) fn set_writable(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("the database can be written again");
        }
    }
}

/// A real write that changes nothing: rewrites the header's `user_version` with its own value,
/// which dirties the first page, so committing it appends to the WAL and syncs like any write.
/// Unused by the schema (migrations are tracked in `_sqlx_migrations`).
pub(crate) async fn probe(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
    // An integer read from the database: nothing to escape.
    sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA user_version = {version}"))).execute(&mut *conn).await?;
    Ok(())
}
