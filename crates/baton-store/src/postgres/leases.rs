//! Named leases on PostgreSQL: the shared statements of `sql/leases.rs`, one statement each.

crate::sql::leases::leases!(sqlx::Postgres);
