//! Schedules on SQLite: the shared statements of `sql/schedules.rs`; reads from the pool,
//! writes through the writer task.

crate::sql::schedules::schedules!(sqlx::Sqlite);
