//! The store test suite.
//!
//! Test functions are generic over [`baton_store::Store`] and are instantiated per backend by
//! `backend_tests!`: every one runs on SQLite (a temporary file) and on PostgreSQL (a schema of
//! its own on the server at `BATON_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/test`;
//! without a server the PostgreSQL tests fail, they do not skip). Backend-specific tests live
//! in `sqlite.rs` (durability across reopen, group commit, corrupt rows) and `postgres.rs`
//! (several nodes on one database).

/// Instantiates generic `async fn name(store: &impl Store)` tests of the calling module once
/// per backend, each on a fresh database: `module::sqlite::name` and `module::postgres::name`.
macro_rules! backend_tests {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = crate::fixtures::TempSqlite::open().await;
                    super::$test(&db.store).await;
                    db.store.close().await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let db = crate::fixtures::TempPg::open().await;
                    super::$test(&db.store).await;
                    db.close().await;
                }
            )*
        }
    };
}

mod checkpoints;
mod conflicts;
mod crashes;
mod disk_faults;
mod events;
mod fixtures;
mod idempotency;
mod identity;
mod inbox;
mod intake;
mod leases;
mod listing;
mod ownership;
mod postgres;
mod runs;
mod schedules;
mod secrets;
mod sqlite;
mod subscriptions;
mod timers;
mod workflows;
