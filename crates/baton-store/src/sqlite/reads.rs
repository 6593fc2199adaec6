//! Read queries on SQLite: the shared statements of `sql/reads.rs` on the read pool, which
//! runs concurrently with the writer (WAL).

crate::sql::reads::reads!(sqlx::Sqlite);
