//! Named leases on SQLite: the shared statements of `sql/leases.rs`; writes run in the writer
//! task.

crate::sql::leases::leases!(sqlx::Sqlite);
