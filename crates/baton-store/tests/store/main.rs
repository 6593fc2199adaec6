//! The store test suite.
//!
//! Test functions are generic over [`baton_store::Store`] and are instantiated per backend by
//! `backend_tests!`, so the PostgreSQL store can run the same suite. Backend-specific tests
//! (durability across reopen, group commit, corrupt rows) live in `sqlite.rs`.

/// Instantiates generic `async fn name(store: &impl Store)` tests of the calling module once
/// per backend, each on a fresh database.
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
    };
}

mod checkpoints;
mod events;
mod fixtures;
mod idempotency;
mod listing;
mod runs;
mod sqlite;
mod timers;
mod workflows;
