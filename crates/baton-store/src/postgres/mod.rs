//! The PostgreSQL store: a connection pool shared by any number of nodes.
//!
//! Unlike SQLite there is no writer task: PostgreSQL serializes conflicting writes itself (row
//! locks, unique indexes), so every call runs as its own statement on a pooled connection and
//! concurrent calls, from this process or another node, proceed in parallel. Each write is a
//! single statement (see [`writes`]), hence atomic without an explicit transaction.

mod auth;
mod codec;
mod leases;
mod ownership;
mod reads;
mod schedules;
mod secrets;
mod writes;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use serde_json::Value;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::sync::{mpsc, watch};

use crate::error::StoreError;
use crate::ids::{OwnerEpoch, WorkspaceId};
use crate::records::{
    Checkpoint, HistoryEntry, InboxFilter, InboxItem, Lease, LeaseRequest, Millis, NewRun, PutOutcome, RunFilter,
    RunInput, RunRecord, RunRef, RunSummary, ScheduleClaim, ScheduleKey, ScheduleMatch, ScheduleRecord, StoredEvent,
    SubscriptionRecord, TimerRecord, WorkflowRecord,
};
use crate::status::RunStatus;
use crate::store::{ClusterStore, EventStore, RunStore, ScheduleStore, StoreLifecycle, WorkflowStore};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Advisory lock key held while creating the configured schema, so nodes starting together do
/// not race on `CREATE SCHEMA IF NOT EXISTS` (which can fail with a unique violation then).
/// The migrator takes its own advisory lock afterwards.
const SCHEMA_LOCK: i64 = 0x6261_746f_6e5f_7363; // "baton_sc"

/// How to open a [`PgStore`]. Its `Debug` output hides the password of the URL.
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database?...` (libpq-style options such as
    /// `sslmode` are understood; this build has no TLS, so `sslmode=require` fails).
    pub url: String,
    /// Most pooled connections of this store (at least 1).
    pub max_connections: u32,
    /// Schema holding Baton's tables (created when missing) and set as the `search_path` of
    /// every connection; `None`: the database's default `search_path` (normally `public`).
    /// Lowercase ASCII letters, digits and `_`, not starting with a digit, at most 63 bytes.
    pub schema: Option<String>,
    /// How long a call waits for a pooled connection before failing (default 5 s): while the
    /// database is unreachable, calls fail within this time instead of hanging.
    pub acquire_timeout: Duration,
}

impl PgOptions {
    /// Options for `url` with 10 connections and the default schema.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions { url: url.into(), max_connections: 10, schema: None, acquire_timeout: Duration::from_secs(5) }
    }
}

impl fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &redacted(&self.url))
            .field("max_connections", &self.max_connections)
            .field("schema", &self.schema)
            .field("acquire_timeout", &self.acquire_timeout)
            .finish()
    }
}

/// `url` with its password, if any, replaced by `***`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// [`Store`] on a PostgreSQL database, safe to share between several nodes. Cheap to clone;
/// clones share the pool.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Set by [`PgStore::close`]: notification listeners give their connections back.
    closing: watch::Sender<bool>,
}

impl fmt::Debug for PgStore {
    /// Without the pool: its connect options hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("connections", &self.pool.size()).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, creates the schema if one is configured, applies the migrations and opens the
    /// pool.
    ///
    /// Safe when several nodes open the same database at once: the migrations run under a
    /// PostgreSQL advisory lock (sqlx's migrator, keyed by database name), so one node applies
    /// them and the others wait, then find them applied.
    ///
    /// # Errors
    /// [`StoreError::Database`] when the URL or schema name is invalid or the database cannot
    /// be reached, [`StoreError::Migrate`] when the schema cannot be brought up to date (for
    /// example a newer, unknown schema).
    pub async fn open(options: PgOptions) -> Result<PgStore, StoreError> {
        let mut connect: PgConnectOptions = options.url.parse()?;
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            connect = connect.options([("search_path", schema)]);
        }
        // A first connection of its own reports an unreachable server or refused login with
        // its cause (a pool would only report a timeout, after 30 s).
        connect.connect().await?.close().await?;
        // Migrate through a one-connection pool of its own, closed afterwards: should a migration
        // fail, sqlx's migrator returns without releasing its session-level advisory lock, and
        // closing the connection releases it. (A pool rather than a bare connection keeps this
        // future `Send`.)
        let setup = PgPoolOptions::new().max_connections(1).connect_with(connect.clone()).await?;
        let migrated = migrate(&setup, options.schema.as_deref()).await;
        setup.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?;
        tracing::debug!(schema = ?options.schema, "postgres store open");
        Ok(PgStore { pool, closing: watch::Sender::new(false) })
    }

    /// Closes all connections; later calls fail with [`StoreError::Closed`]. Idempotent.
    pub async fn close(&self) {
        self.closing.send_replace(true);
        self.pool.close().await;
    }

    /// Runs `operation`, reporting a closed pool as [`StoreError::Closed`].
    async fn call<T>(&self, operation: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        operation.await.map_err(|err| match err {
            StoreError::Database(sqlx::Error::PoolClosed) => StoreError::Closed,
            err => err,
        })
    }
}

/// Refuses schema names that would need quoting, so the name can be used verbatim in SQL and
/// in `search_path` (where an unquoted name is folded to lowercase).
fn check_schema_name(schema: &str) -> Result<(), StoreError> {
    let valid = !schema.is_empty()
        && schema.len() <= 63
        && !schema.starts_with(|c: char| c.is_ascii_digit())
        && schema.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(StoreError::Database(sqlx::Error::Configuration(
            format!(
                "invalid schema name {schema:?}: use lowercase ASCII letters, digits and _, \
                 not starting with a digit, at most 63 bytes"
            )
            .into(),
        )))
    }
}

/// Creates `schema` if one is configured, then applies the migrations.
async fn migrate(pool: &PgPool, schema: Option<&str>) -> Result<(), StoreError> {
    if let Some(schema) = schema {
        create_schema(pool, schema).await?;
    }
    MIGRATOR.run(pool).await?;
    Ok(())
}

async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(SCHEMA_LOCK).execute(&mut *tx).await?;
    // The name was checked by `check_schema_name`: no quoting needed.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}"))).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

impl StoreLifecycle for PgStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.call(reads::ping(&self.pool)).await
    }

    async fn close(&self) {
        PgStore::close(self).await
    }
}

impl WorkflowStore for PgStore {
    async fn put_workflow(&self, record: WorkflowRecord) -> Result<PutOutcome, StoreError> {
        self.call(writes::put_workflow(&self.pool, &record)).await
    }

    async fn get_workflow(
        &self,
        workspace: &WorkspaceId,
        namespace: &str,
        name: &str,
        version: &str,
    ) -> Result<Option<WorkflowRecord>, StoreError> {
        self.call(reads::get_workflow(&self.pool, workspace, namespace, name, version)).await
    }

    async fn list_workflows(&self, workspace: &WorkspaceId) -> Result<Vec<WorkflowRecord>, StoreError> {
        self.call(reads::list_workflows(&self.pool, workspace)).await
    }
}

impl RunStore for PgStore {
    async fn create_run(&self, run: NewRun) -> Result<RunRecord, StoreError> {
        self.call(writes::create_run(&self.pool, run)).await
    }

    async fn commit(&self, checkpoint: Checkpoint) -> Result<i64, StoreError> {
        self.call(writes::commit(&self.pool, &checkpoint)).await
    }

    async fn get_run(&self, workspace: &WorkspaceId, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.call(reads::get_run(&self.pool, workspace, id)).await
    }

    async fn load_run(&self, id: &str) -> Result<Option<RunRecord>, StoreError> {
        self.call(reads::load_run(&self.pool, id)).await
    }

    async fn run_by_idempotency_key(
        &self,
        workspace: &WorkspaceId,
        idempotency_key: &str,
    ) -> Result<Option<RunRecord>, StoreError> {
        self.call(reads::run_by_idempotency_key(&self.pool, workspace, idempotency_key)).await
    }

    async fn count_runs_by_status(&self) -> Result<Vec<(RunStatus, u64)>, StoreError> {
        self.call(reads::count_runs_by_status(&self.pool)).await
    }

    async fn list_runs(&self, workspace: &WorkspaceId, filter: RunFilter) -> Result<Vec<RunSummary>, StoreError> {
        self.call(reads::list_runs(&self.pool, workspace, filter)).await
    }

    async fn history(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.call(reads::history(&self.pool, workspace, run_id, after_seq, limit)).await
    }

    async fn unfinished_runs(&self) -> Result<Vec<RunRef>, StoreError> {
        self.call(reads::unfinished_runs(&self.pool)).await
    }

    async fn child_runs(&self, workspace: &WorkspaceId, parent_run_id: &str) -> Result<Vec<RunSummary>, StoreError> {
        self.call(reads::child_runs(&self.pool, workspace, parent_run_id)).await
    }

    async fn due_timers(&self, now: Millis, limit: u32) -> Result<Vec<TimerRecord>, StoreError> {
        self.call(reads::due_timers(&self.pool, now, limit)).await
    }

    async fn timers_of_run(&self, run_id: &str) -> Result<Vec<TimerRecord>, StoreError> {
        self.call(reads::timers_of_run(&self.pool, run_id)).await
    }
}

impl EventStore for PgStore {
    async fn get_event(
        &self,
        workspace: &WorkspaceId,
        source: &str,
        id: &str,
    ) -> Result<Option<StoredEvent>, StoreError> {
        self.call(reads::get_event(&self.pool, workspace, source, id)).await
    }

    async fn put_event(
        &self,
        workspace: &WorkspaceId,
        event: StoredEvent,
        target_run_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.call(writes::put_event(&self.pool, workspace, &event, target_run_id)).await
    }

    async fn subscriptions_for_type(
        &self,
        workspace: &WorkspaceId,
        kind: &str,
    ) -> Result<Vec<SubscriptionRecord>, StoreError> {
        self.call(reads::subscriptions_for_type(&self.pool, workspace, kind)).await
    }

    async fn retained_events(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        since: Millis,
        types: Option<&[String]>,
        limit: u32,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.call(reads::retained_events(&self.pool, workspace, run_id, since, types, limit)).await
    }

    async fn subscription(
        &self,
        workspace: &WorkspaceId,
        run_id: &str,
        subscription_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.call(reads::subscription(&self.pool, workspace, run_id, subscription_id)).await
    }

    async fn list_inbox(&self, workspace: &WorkspaceId, filter: InboxFilter) -> Result<Vec<InboxItem>, StoreError> {
        self.call(reads::list_inbox(&self.pool, workspace, filter)).await
    }

    async fn overdue_inbox(&self, now: Millis, limit: u32) -> Result<Vec<InboxItem>, StoreError> {
        self.call(reads::overdue_inbox(&self.pool, now, limit)).await
    }

    async fn delete_events_before(&self, received_before: Millis) -> Result<u64, StoreError> {
        self.call(writes::delete_events_before(&self.pool, received_before)).await
    }
}

impl ScheduleStore for PgStore {
    async fn put_schedule(&self, record: ScheduleRecord) -> Result<bool, StoreError> {
        self.call(schedules::put_schedule(&self.pool, &record)).await
    }

    async fn schedules(&self, kind: Option<&str>) -> Result<Vec<ScheduleRecord>, StoreError> {
        self.call(schedules::schedules(&self.pool, kind)).await
    }

    async fn claim_schedule(&self, claim: ScheduleClaim) -> Result<bool, StoreError> {
        self.call(schedules::claim_schedule(&self.pool, &claim)).await
    }

    async fn put_schedule_match(&self, found: ScheduleMatch) -> Result<bool, StoreError> {
        self.call(schedules::put_schedule_match(&self.pool, &found)).await
    }

    async fn schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: Option<&str>,
    ) -> Result<Vec<ScheduleMatch>, StoreError> {
        self.call(schedules::schedule_matches(&self.pool, schedule, group_key)).await
    }

    async fn delete_schedule_matches(
        &self,
        schedule: &ScheduleKey,
        group_key: &str,
        event_keys: &[String],
    ) -> Result<u64, StoreError> {
        self.call(schedules::delete_schedule_matches(&self.pool, schedule, group_key, event_keys)).await
    }
}

impl ClusterStore for PgStore {
    async fn acquire_lease(&self, request: LeaseRequest) -> Result<Lease, StoreError> {
        self.call(leases::acquire(&self.pool, &request)).await
    }

    async fn renew_lease(&self, name: &str, holder: &str, epoch: i64, expires_at: Millis) -> Result<(), StoreError> {
        self.call(leases::renew(&self.pool, name, holder, epoch, expires_at)).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        self.call(leases::release(&self.pool, name, holder)).await
    }

    async fn lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.call(leases::get(&self.pool, name)).await
    }

    async fn leases_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Lease)>, StoreError> {
        self.call(ownership::leases_with_prefix(&self.pool, prefix)).await
    }

    async fn count_resumed_step(&self, run_id: &str, state_version: i64) -> Result<Option<u32>, StoreError> {
        self.call(crate::crashes::count_pg(&self.pool, run_id, state_version)).await
    }

    async fn claim_run(&self, run_id: &str, node: &str, now: Millis) -> Result<Option<OwnerEpoch>, StoreError> {
        self.call(ownership::claim_run(&self.pool, run_id, node, now)).await
    }

    async fn claim_orphan_runs(&self, node: &str, now: Millis, limit: u32) -> Result<Vec<RunRef>, StoreError> {
        self.call(ownership::claim_orphan_runs(&self.pool, node, now, limit)).await
    }

    async fn put_run_input(&self, run_id: &str, input: Value, now: Millis) -> Result<Option<String>, StoreError> {
        self.call(ownership::put_run_input(&self.pool, run_id, &input, now)).await
    }

    async fn inputs_for_node(&self, node: &str, limit: u32) -> Result<Vec<RunInput>, StoreError> {
        self.call(ownership::inputs_for_node(&self.pool, node, limit)).await
    }

    async fn input_notifications(&self, node: &str) -> Result<Option<mpsc::UnboundedReceiver<()>>, StoreError> {
        self.call(ownership::input_notifications(&self.pool, node, self.closing.subscribe())).await.map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let options = PgOptions::new("postgres://baton:s3cret@db:5432/baton?sslmode=disable");
        let shown = format!("{options:?}");
        assert!(shown.contains("postgres://baton:***@db:5432/baton?sslmode=disable"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(redacted("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        for good in ["baton", "t_1", "_x", &"a".repeat(63)] {
            assert!(check_schema_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Baton", "1a", "a-b", "a b", "a\"b", &"a".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }
}
