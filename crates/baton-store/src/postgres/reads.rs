//! Read queries on PostgreSQL: the shared statements of `sql/reads.rs`, each one statement
//! on the pool.

crate::sql::reads::reads!(sqlx::Postgres);
