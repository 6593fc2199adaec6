//! The read queries of both backends, each one statement on the backend's pool (on SQLite the
//! read pool, concurrent with the writer under WAL).

/// Columns of a [`crate::records::RunRecord`] (every column of `runs` but `idempotency_key`).
pub(crate) const RUN_COLUMNS: &str = "id, workspace, namespace, name, version, status, input, output, error, state, \
     state_version, last_seq, parent_run_id, parent_effect_id, owner, owner_epoch, created_at, updated_at";

/// Columns of a [`crate::records::RunSummary`].
pub(crate) const SUMMARY_COLUMNS: &str = "id, workspace, namespace, name, version, status, created_at, updated_at";

/// Columns of a [`crate::records::WorkflowRecord`].
pub(crate) const WORKFLOW_COLUMNS: &str =
    "workspace, namespace, name, version, definition, max_concurrency, created_at";

/// Columns of a [`crate::records::SubscriptionRecord`] from `subscriptions s`.
pub(crate) const SUBSCRIPTION_COLUMNS: &str =
    "s.run_id, s.subscription_id, s.workspace, s.types, s.subscription, s.inbox, s.deadline_at, s.created_at";

/// Columns of a [`crate::records::InboxItem`] from `subscriptions s JOIN runs r`.
pub(crate) const INBOX_COLUMNS: &str = "s.run_id, s.workspace, s.subscription_id, r.namespace, r.name, r.version, \
     s.inbox, s.deadline_at, s.created_at, s.subscription";

/// Expands the read functions for database `$db` (which implements [`crate::sql::Dialect`]).
macro_rules! reads {
    ($db:ty) => {
        use sqlx::QueryBuilder;

        use crate::error::StoreError;
        use crate::ids::WorkspaceId;
        use crate::records::{
            HistoryEntry, InboxFilter, InboxItem, Millis, RunFilter, RunRecord, RunRef, RunSummary, StoredEvent,
            SubscriptionRecord, TimerRecord, WorkflowRecord,
        };
        use crate::rows::{self as record, ANY_TYPE};
        use crate::sql::Dialect;
        use crate::sql::reads::{INBOX_COLUMNS, RUN_COLUMNS, SUBSCRIPTION_COLUMNS, SUMMARY_COLUMNS, WORKFLOW_COLUMNS};
        use crate::sql::statement;
        use crate::status::{RunStatus, terminal_sql_list};
        use crate::version;

        type Pool = sqlx::Pool<$db>;

        pub(crate) async fn get_workflow(
            pool: &Pool,
            workspace: &WorkspaceId,
            namespace: &str,
            name: &str,
            version: &str,
        ) -> Result<Option<WorkflowRecord>, StoreError> {
            if version == version::LATEST {
                let rows = sqlx::query(statement!(
                    "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE workspace = $1 AND namespace = $2 AND name = $3"
                ))
                .bind(workspace.as_str())
                .bind(namespace)
                .bind(name)
                .fetch_all(pool)
                .await?;
                let records = rows.iter().map(record::workflow).collect::<Result<Vec<_>, _>>()?;
                return Ok(version::latest(records));
            }
            let row = sqlx::query(statement!(
                "SELECT {WORKFLOW_COLUMNS} FROM workflows \
                 WHERE workspace = $1 AND namespace = $2 AND name = $3 AND version = $4"
            ))
            .bind(workspace.as_str())
            .bind(namespace)
            .bind(name)
            .bind(version)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(record::workflow).transpose()
        }

        pub(crate) async fn list_workflows(
            pool: &Pool,
            workspace: &WorkspaceId,
        ) -> Result<Vec<WorkflowRecord>, StoreError> {
            let rows = sqlx::query(statement!(
                "SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE workspace = $1 \
                 ORDER BY namespace, name, created_at, version"
            ))
            .bind(workspace.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::workflow).collect()
        }

        pub(crate) async fn get_run(
            pool: &Pool,
            workspace: &WorkspaceId,
            id: &str,
        ) -> Result<Option<RunRecord>, StoreError> {
            let row = sqlx::query(statement!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND workspace = $2"))
                .bind(id)
                .bind(workspace.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(record::run).transpose()
        }

        pub(crate) async fn load_run(pool: &Pool, id: &str) -> Result<Option<RunRecord>, StoreError> {
            let row = sqlx::query(statement!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(record::run).transpose()
        }

        pub(crate) async fn run_by_idempotency_key(
            pool: &Pool,
            workspace: &WorkspaceId,
            idempotency_key: &str,
        ) -> Result<Option<RunRecord>, StoreError> {
            let row =
                sqlx::query(statement!("SELECT {RUN_COLUMNS} FROM runs WHERE workspace = $1 AND idempotency_key = $2"))
                    .bind(workspace.as_str())
                    .bind(idempotency_key)
                    .fetch_optional(pool)
                    .await?;
            row.as_ref().map(record::run).transpose()
        }

        pub(crate) async fn count_runs_by_status(pool: &Pool) -> Result<Vec<(RunStatus, u64)>, StoreError> {
            let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status")
                .fetch_all(pool)
                .await?;
            rows.into_iter()
                .map(|(status, count)| Ok((RunStatus::parse(&status)?, u64::try_from(count).unwrap_or(0))))
                .collect()
        }

        pub(crate) async fn ping(pool: &Pool) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        }

        pub(crate) async fn list_runs(
            pool: &Pool,
            workspace: &WorkspaceId,
            filter: RunFilter,
        ) -> Result<Vec<RunSummary>, StoreError> {
            let mut query = QueryBuilder::<$db>::new(format!("SELECT {SUMMARY_COLUMNS} FROM runs WHERE workspace = "));
            query.push_bind(workspace.as_str().to_owned());
            if let Some(status) = filter.status {
                query.push(" AND status = ").push_bind(status.as_str());
            }
            if let Some(namespace) = filter.namespace {
                query.push(" AND namespace = ").push_bind(namespace);
            }
            if let Some(name) = filter.name {
                query.push(" AND name = ").push_bind(name);
            }
            if let Some(version) = filter.version {
                query.push(" AND version = ").push_bind(version);
            }
            if let Some(created_after) = filter.created_after {
                query.push(" AND created_at >= ").push_bind(created_after);
            }
            if let Some(created_before) = filter.created_before {
                query.push(" AND created_at < ").push_bind(created_before);
            }
            if let Some(before) = filter.before {
                let cursor_created_at: Option<Millis> =
                    sqlx::query_scalar("SELECT created_at FROM runs WHERE id = $1 AND workspace = $2")
                        .bind(&before)
                        .bind(workspace.as_str())
                        .fetch_optional(pool)
                        .await?;
                let Some(cursor_created_at) = cursor_created_at else {
                    return Err(StoreError::NotFound(format!("cursor run {before:?}")));
                };
                query
                    .push(" AND (created_at < ")
                    .push_bind(cursor_created_at)
                    .push(" OR (created_at = ")
                    .push_bind(cursor_created_at)
                    .push(" AND id < ")
                    .push_bind(before)
                    .push("))");
            }
            query.push(" ORDER BY created_at DESC, id DESC LIMIT ").push_bind(i64::from(filter.limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(record::summary).collect()
        }

        pub(crate) async fn history(
            pool: &Pool,
            workspace: &WorkspaceId,
            run_id: &str,
            after_seq: i64,
            limit: u32,
        ) -> Result<Vec<HistoryEntry>, StoreError> {
            let rows = sqlx::query(
                "SELECT h.seq, h.at, h.kind, h.task, h.data FROM history h \
                 WHERE h.run_id = $1 AND h.seq > $2 \
                   AND EXISTS (SELECT 1 FROM runs r WHERE r.id = h.run_id AND r.workspace = $4) \
                 ORDER BY h.seq LIMIT $3",
            )
            .bind(run_id)
            .bind(after_seq)
            .bind(i64::from(limit))
            .bind(workspace.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::history_entry).collect()
        }

        pub(crate) async fn unfinished_runs(pool: &Pool) -> Result<Vec<RunRef>, StoreError> {
            let rows = sqlx::query(statement!(
                "SELECT id, workspace FROM runs WHERE status NOT IN ({}) ORDER BY created_at, id",
                terminal_sql_list()
            ))
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::run_ref).collect()
        }

        pub(crate) async fn child_runs(
            pool: &Pool,
            workspace: &WorkspaceId,
            parent_run_id: &str,
        ) -> Result<Vec<RunSummary>, StoreError> {
            let rows = sqlx::query(statement!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE parent_run_id = $1 AND workspace = $2 ORDER BY created_at, id"
            ))
            .bind(parent_run_id)
            .bind(workspace.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::summary).collect()
        }

        pub(crate) async fn due_timers(pool: &Pool, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError> {
            let rows = sqlx::query(
                "SELECT t.run_id, r.workspace, t.timer_id, t.due_at FROM timers t JOIN runs r ON r.id = t.run_id \
                 WHERE t.due_at <= $1 ORDER BY t.due_at, t.run_id, t.timer_id LIMIT $2",
            )
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::timer).collect()
        }

        pub(crate) async fn timers_of_run(pool: &Pool, run_id: &str) -> Result<Vec<TimerRecord>, StoreError> {
            let rows = sqlx::query(
                "SELECT t.run_id, r.workspace, t.timer_id, t.due_at FROM timers t JOIN runs r ON r.id = t.run_id \
                 WHERE t.run_id = $1 ORDER BY t.due_at, t.timer_id",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::timer).collect()
        }

        pub(crate) async fn get_event(
            pool: &Pool,
            workspace: &WorkspaceId,
            source: &str,
            id: &str,
        ) -> Result<Option<StoredEvent>, StoreError> {
            let row = sqlx::query(
                "SELECT id, source, type, time, event, received_at FROM events \
                 WHERE source = $1 AND id = $2 AND workspace = $3",
            )
            .bind(source)
            .bind(id)
            .bind(workspace.as_str())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(record::event).transpose()
        }

        pub(crate) async fn subscriptions_for_type(
            pool: &Pool,
            workspace: &WorkspaceId,
            kind: &str,
        ) -> Result<Vec<SubscriptionRecord>, StoreError> {
            let rows = sqlx::query(statement!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s \
                 WHERE (s.run_id, s.subscription_id) IN (SELECT run_id, subscription_id FROM subscription_types \
                   WHERE workspace = $1 AND type IN ($2, $3)) \
                 ORDER BY s.created_at, s.run_id, s.subscription_id"
            ))
            .bind(workspace.as_str())
            .bind(kind)
            .bind(ANY_TYPE)
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::subscription).collect()
        }

        pub(crate) async fn retained_events(
            pool: &Pool,
            workspace: &WorkspaceId,
            run_id: &str,
            since: Millis,
            types: Option<&[String]>,
            limit: u32,
        ) -> Result<Vec<StoredEvent>, StoreError> {
            if types.is_some_and(<[String]>::is_empty) {
                return Ok(Vec::new());
            }
            let mut query = QueryBuilder::<$db>::new(
                "SELECT e.id, e.source, e.type, e.time, e.event, e.received_at FROM events e WHERE e.workspace = ",
            );
            query.push_bind(workspace.as_str().to_owned()).push(" AND e.received_at >= ").push_bind(since);
            if let Some(types) = types {
                query
                    .push(" AND e.type")
                    .push(<$db as Dialect>::IN_LIST_OPEN)
                    .push_bind(<$db as Dialect>::text_list(types)?)
                    .push(<$db as Dialect>::IN_LIST_CLOSE);
            }
            query
                .push(
                    " AND NOT EXISTS (SELECT 1 FROM event_consumptions c \
                     WHERE c.source = e.source AND c.id = e.id AND c.run_id = ",
                )
                .push_bind(run_id.to_owned())
                .push(") AND (e.target_run_id IS NULL OR e.target_run_id = ")
                .push_bind(run_id.to_owned())
                .push(") ORDER BY e.received_at, e.")
                .push(<$db as Dialect>::EVENT_SEQ)
                .push(" LIMIT ")
                .push_bind(i64::from(limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(record::event).collect()
        }

        pub(crate) async fn subscription(
            pool: &Pool,
            workspace: &WorkspaceId,
            run_id: &str,
            subscription_id: &str,
        ) -> Result<Option<SubscriptionRecord>, StoreError> {
            let row = sqlx::query(statement!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions s \
                 WHERE s.run_id = $1 AND s.subscription_id = $2 AND s.workspace = $3"
            ))
            .bind(run_id)
            .bind(subscription_id)
            .bind(workspace.as_str())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(record::subscription).transpose()
        }

        pub(crate) async fn list_inbox(
            pool: &Pool,
            workspace: &WorkspaceId,
            filter: InboxFilter,
        ) -> Result<Vec<InboxItem>, StoreError> {
            let mut query = QueryBuilder::<$db>::new(format!(
                "SELECT {INBOX_COLUMNS} FROM subscriptions s JOIN runs r ON r.id = s.run_id \
                 WHERE s.inbox IS NOT NULL AND s.workspace = "
            ));
            query.push_bind(workspace.as_str().to_owned());
            if let Some(assignee) = filter.assignee {
                query.push(" AND ").push(<$db as Dialect>::ASSIGNEE_EXISTS).push_bind(assignee).push(")");
            }
            if let Some(namespace) = filter.namespace {
                query.push(" AND r.namespace = ").push_bind(namespace);
            }
            if let Some(name) = filter.name {
                query.push(" AND r.name = ").push_bind(name);
            }
            if let Some(overdue_at) = filter.overdue_at {
                query.push(" AND s.deadline_at <= ").push_bind(overdue_at);
            }
            if let Some((created_at, run_id, subscription_id)) = filter.after {
                query
                    .push(" AND (s.created_at, s.run_id, s.subscription_id) > (")
                    .push_bind(created_at)
                    .push(", ")
                    .push_bind(run_id)
                    .push(", ")
                    .push_bind(subscription_id)
                    .push(")");
            }
            query.push(" ORDER BY s.created_at, s.run_id, s.subscription_id LIMIT ").push_bind(i64::from(filter.limit));
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(record::inbox_item).collect()
        }

        pub(crate) async fn overdue_inbox(pool: &Pool, now: Millis, limit: u32) -> Result<Vec<InboxItem>, StoreError> {
            let rows = sqlx::query(statement!(
                "SELECT {INBOX_COLUMNS} FROM subscriptions s JOIN runs r ON r.id = s.run_id \
                 WHERE s.inbox IS NOT NULL AND s.deadline_at IS NOT NULL AND s.deadline_at <= $1 \
                 ORDER BY s.deadline_at, s.run_id, s.subscription_id LIMIT $2"
            ))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(record::inbox_item).collect()
        }
    };
}
pub(crate) use reads;
