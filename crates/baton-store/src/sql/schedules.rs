//! Schedules and `schedule.on.all` matches on both backends; the statements differ only in
//! null-safe comparisons, casts, how a list is bound and the row lock of a deletion.

/// Expands the schedule functions for database `$db`. Writes take any executor (SQLite: the
/// writer's connection; PostgreSQL: the pool), each runs one statement.
macro_rules! schedules {
    ($db:ty) => {
        use crate::error::StoreError;
        use crate::records::{ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord};
        use crate::rows::encode_json;
        use crate::rows_schedules::{MatchRow, ScheduleRow, decode_match, decode_schedule};
        use crate::sql::Dialect;
        use crate::sql::statement;

        type D = $db;

        pub(crate) async fn put_schedule<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            record: &ScheduleRecord,
        ) -> Result<bool, StoreError> {
            let inserted = sqlx::query(
                "INSERT INTO schedules (workspace, namespace, name, version, kind, spec, \
                 next_due_at, last_fired_at, last_run_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (workspace, namespace, name, version) DO NOTHING",
            )
            .bind(record.workspace.as_str())
            .bind(&record.namespace)
            .bind(&record.name)
            .bind(&record.version)
            .bind(&record.kind)
            .bind(encode_json(&record.spec)?)
            .bind(record.next_due_at)
            .bind(record.last_fired_at)
            .bind(record.last_run_id.as_deref())
            .bind(record.created_at)
            .execute(exec)
            .await?
            .rows_affected();
            Ok(inserted == 1)
        }

        /// The compare-and-set of [`crate::ScheduleStore::claim_schedule`].
        pub(crate) async fn claim_schedule<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            claim: &ScheduleClaim,
        ) -> Result<bool, StoreError> {
            let (fired_at, run_id) = claim.fired.clone().unzip();
            let updated = sqlx::query(statement!(
                "UPDATE schedules SET next_due_at = $6, \
                 last_fired_at = COALESCE($7, last_fired_at), last_run_id = COALESCE($8, last_run_id) \
                 WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 AND next_due_at {} $5{}",
                <D as Dialect>::NULL_SAFE_EQ,
                <D as Dialect>::BIGINT
            ))
            .bind(claim.workspace.as_str())
            .bind(&claim.namespace)
            .bind(&claim.name)
            .bind(&claim.version)
            .bind(claim.expected_due_at)
            .bind(claim.next_due_at)
            .bind(fired_at)
            .bind(run_id)
            .execute(exec)
            .await?
            .rows_affected();
            Ok(updated == 1)
        }

        /// Every schedule of every workspace, of kind `kind` unless it is `None`.
        pub(crate) async fn schedules(
            pool: &sqlx::Pool<D>,
            kind: Option<&str>,
        ) -> Result<Vec<ScheduleRecord>, StoreError> {
            let rows: Vec<ScheduleRow> = sqlx::query_as(statement!(
                "SELECT workspace, namespace, name, version, kind, spec{json}, next_due_at, \
                 last_fired_at, last_run_id, created_at FROM schedules WHERE ($1{text} IS NULL OR kind = $1{text}) \
                 ORDER BY next_due_at IS NULL, next_due_at, namespace, name, version",
                json = <D as Dialect>::JSON_AS_TEXT,
                text = <D as Dialect>::TEXT
            ))
            .bind(kind)
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(decode_schedule).collect()
        }

        pub(crate) async fn put_schedule_match<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            found: &ScheduleMatch,
        ) -> Result<bool, StoreError> {
            let key = &found.schedule;
            let inserted = sqlx::query(statement!(
                "INSERT INTO schedule_matches (workspace, namespace, name, version, \
                 group_key, filter_index, event_key, event, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8{}, $9) \
                 ON CONFLICT DO NOTHING",
                <D as Dialect>::JSON
            ))
            .bind(key.workspace.as_str())
            .bind(&key.namespace)
            .bind(&key.name)
            .bind(&key.version)
            .bind(&found.group_key)
            .bind(found.filter_index)
            .bind(&found.event_key)
            .bind(encode_json(&found.event)?)
            .bind(found.received_at)
            .execute(exec)
            .await?
            .rows_affected();
            Ok(inserted == 1)
        }

        /// The pending matches of one version (of group `group_key` unless it is `None`), by
        /// group, then in arrival order.
        pub(crate) async fn schedule_matches(
            pool: &sqlx::Pool<D>,
            key: &ScheduleKey,
            group_key: Option<&str>,
        ) -> Result<Vec<ScheduleMatch>, StoreError> {
            let rows: Vec<MatchRow> = sqlx::query_as(statement!(
                "SELECT group_key, filter_index, event_key, event{json}, received_at \
                 FROM schedule_matches WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 \
                 AND ($5{text} IS NULL OR group_key = $5{text}) ORDER BY group_key, seq",
                json = <D as Dialect>::JSON_AS_TEXT,
                text = <D as Dialect>::TEXT
            ))
            .bind(key.workspace.as_str())
            .bind(&key.namespace)
            .bind(&key.name)
            .bind(&key.version)
            .bind(group_key)
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(|row| decode_match(key, row)).collect()
        }

        /// Deletes the listed events of one group. The rows are locked in arrival order first
        /// (PostgreSQL), so concurrent deletions of one group never deadlock and exactly one of
        /// them deletes the rows.
        pub(crate) async fn delete_schedule_matches<'e>(
            exec: impl sqlx::Executor<'e, Database = D>,
            key: &ScheduleKey,
            group_key: &str,
            event_keys: &[String],
        ) -> Result<u64, StoreError> {
            let deleted = sqlx::query(statement!(
                "DELETE FROM schedule_matches WHERE seq IN (SELECT seq \
                 FROM schedule_matches WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4 \
                 AND group_key = $5 AND event_key{open}$6{close} ORDER BY seq {lock})",
                open = <D as Dialect>::IN_LIST_OPEN,
                close = <D as Dialect>::IN_LIST_CLOSE,
                lock = <D as Dialect>::LOCK_ROWS
            ))
            .bind(key.workspace.as_str())
            .bind(&key.namespace)
            .bind(&key.name)
            .bind(&key.version)
            .bind(group_key)
            .bind(<D as Dialect>::text_list(event_keys)?)
            .execute(exec)
            .await?
            .rows_affected();
            Ok(deleted)
        }
    };
}
pub(crate) use schedules;
