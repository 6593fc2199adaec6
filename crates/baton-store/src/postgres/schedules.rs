//! Schedules on PostgreSQL: the shared statements of `sql/schedules.rs`, each one statement;
//! the claim is a row-locking compare-and-set, so concurrent nodes claiming one due time see
//! exactly one success. Matches of `schedule.on.all` are decided by unique indexes (one event
//! per slot, an event once per version) and deleted under row locks taken in arrival order.

crate::sql::schedules::schedules!(sqlx::Postgres);
