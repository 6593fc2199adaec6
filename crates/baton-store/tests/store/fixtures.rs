//! Shared helpers: temporary databases and record builders with fixed, readable defaults.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baton_store::{
    Checkpoint, Millis, NewHistoryEntry, NewRun, OwnerEpoch, PgOptions, PgStore, RunStatus, SqliteOptions, SqliteStore,
    StoredEvent, SubscriptionRecord, WorkflowRecord, WorkspaceId,
};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tempfile::TempDir;

/// A SQLite store on a file in its own temporary directory (deleted on drop).
pub struct TempSqlite {
    pub dir: TempDir,
    pub store: SqliteStore,
}

impl TempSqlite {
    pub async fn open() -> TempSqlite {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_sqlite(&dir).await;
        TempSqlite { dir, store }
    }
}

/// Opens (or reopens) the store file `baton.db` inside `dir`.
pub async fn open_sqlite(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(SqliteOptions::new(dir.path().join("baton.db"))).await.expect("open sqlite store")
}

/// The PostgreSQL server of the tests: `BATON_TEST_PG_URL`, or CI's server.
pub fn pg_url() -> String {
    std::env::var("BATON_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Prefix of the test schemas; the rest of the name is `{unix seconds}_{random}`.
const SCHEMA_PREFIX: &str = "baton_t_";

/// Test schemas older than this are left-overs of killed test runs, dropped by the next run.
const STALE_SCHEMA_AGE: Duration = Duration::from_secs(6 * 3600);

/// A schema of its own on the test server (`baton_t_{unix seconds}_{random}`), so tests
/// running at the same time, in this process or another, never see each other's data. Dropped
/// by [`TestSchema::drop_now`], or when the value is dropped (a failing test).
pub struct TestSchema {
    pub name: String,
    dropped: bool,
}

impl TestSchema {
    /// A fresh name; the schema itself is created by the first store opened on it.
    pub async fn new() -> TestSchema {
        sweep_stale_schemas().await;
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_secs();
        TestSchema { name: format!("{SCHEMA_PREFIX}{secs}_{}", uuid::Uuid::new_v4().simple()), dropped: false }
    }

    /// A connection outside any store, with the schema as its `search_path`.
    pub async fn raw_connection(&self) -> PgConnection {
        pg_connect_options().options([("search_path", &self.name)]).connect().await.expect("raw PostgreSQL connection")
    }

    pub async fn drop_now(mut self) {
        drop_schema(&self.name).await;
        self.dropped = true;
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        // A test failed before `drop_now`: drop the schema from a runtime of its own, since
        // this may run inside (or outside) the test's runtime.
        let name = self.name.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("cleanup runtime");
            runtime.block_on(drop_schema(&name));
        });
        let _ = cleanup.join();
    }
}

/// A PostgreSQL store on a [`TestSchema`].
pub struct TempPg {
    pub schema: TestSchema,
    pub store: PgStore,
}

impl TempPg {
    pub async fn open() -> TempPg {
        let schema = TestSchema::new().await;
        let store = open_pg(&schema.name).await;
        TempPg { schema, store }
    }

    /// Another store with its own pool on the same schema: a second node.
    pub async fn another_node(&self) -> PgStore {
        open_pg(&self.schema.name).await
    }

    /// Closes the store and drops the schema.
    pub async fn close(self) {
        self.store.close().await;
        self.schema.drop_now().await;
    }
}

/// Opens a store on `schema` (created when missing); panics with directions when PostgreSQL
/// is not there: the PostgreSQL half of the suite must fail, not skip, without a server.
pub async fn open_pg(schema: &str) -> PgStore {
    let options = PgOptions { max_connections: 4, schema: Some(schema.to_owned()), ..PgOptions::new(pg_url()) };
    match PgStore::open(options).await {
        Ok(store) => store,
        Err(err) => panic!("{}", unreachable_pg(&err)),
    }
}

fn pg_connect_options() -> PgConnectOptions {
    pg_url().parse().unwrap_or_else(|err| panic!("BATON_TEST_PG_URL is not a PostgreSQL URL: {err}"))
}

fn unreachable_pg(err: &(dyn std::error::Error + 'static)) -> String {
    let mut message = format!("cannot open a PostgreSQL store at {}: {err}", redacted(&pg_url()));
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.ends_with(&cause_text) {
            message.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    message.push_str(
        "\nThe store tests run on SQLite AND PostgreSQL. Start PostgreSQL (CI: 127.0.0.1:5432, \
         trust auth, user postgres, database test) or point BATON_TEST_PG_URL at a server.",
    );
    message
}

/// The URL without its password.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

async fn drop_schema(schema: &str) {
    let result = async {
        let mut conn = pg_connect_options().connect().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))).execute(&mut conn).await?;
        conn.close().await
    }
    .await;
    if let Err(err) = result {
        eprintln!("warning: dropping test schema {schema} failed: {err}");
    }
}

/// Once per test process: drops test schemas that are older than [`STALE_SCHEMA_AGE`].
async fn sweep_stale_schemas() {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::Relaxed) {
        return;
    }
    let Ok(mut conn) = pg_connect_options().connect().await else {
        return; // `open_pg` reports it.
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(SCHEMA_PREFIX)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |it| it.as_secs());
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| created + STALE_SCHEMA_AGE.as_secs() < now) {
            drop_schema(&name).await;
        }
    }
    let _ = conn.close().await;
}

pub fn workflow(version: &str, definition: &str, created_at: Millis) -> WorkflowRecord {
    WorkflowRecord {
        workspace: "default".into(),
        namespace: "test".into(),
        name: "flow".into(),
        version: version.into(),
        definition: definition.into(),
        max_concurrency: None,
        created_at,
    }
}

/// A running run in workspace `default` created at `created_at`.
pub fn new_run(id: &str, created_at: Millis) -> NewRun {
    NewRun {
        id: id.into(),
        workspace: "default".into(),
        namespace: "test".into(),
        name: "flow".into(),
        version: "1.0.0".into(),
        status: RunStatus::Running,
        input: json!({ "order": id }),
        state: json!({ "step": 0 }),
        parent: None,
        idempotency_key: None,
        owner: None,
        created_at,
        history: Vec::new(),
    }
}

/// `run` with `history` as its first history entries.
pub fn with_history(run: NewRun, history: Vec<NewHistoryEntry>) -> NewRun {
    NewRun { history, ..run }
}

/// The workspace of the fixtures' records.
pub const WS: WorkspaceId = WorkspaceId::DEFAULT;

pub fn entry(kind: &str, data: Value) -> NewHistoryEntry {
    NewHistoryEntry { at: 1_000, kind: kind.into(), task: None, data }
}

/// A checkpoint that only moves the run to `{"step": expected_version}`; add to it as needed.
pub fn checkpoint(run_id: &str, expected_version: i64) -> Checkpoint {
    Checkpoint {
        run_id: run_id.into(),
        expected_version,
        expected_epoch: OwnerEpoch::INITIAL,
        status: RunStatus::Running,
        state: json!({ "step": expected_version }),
        output: None,
        error: None,
        history: Vec::new(),
        timers_set: Vec::new(),
        timers_cleared: Vec::new(),
        events: Vec::new(),
        subscriptions_set: Vec::new(),
        subscriptions_cleared: Vec::new(),
        events_consumed: Vec::new(),
        inputs_consumed: Vec::new(),
        inputs_sent: Vec::new(),
        updated_at: 2_000 + expected_version,
    }
}

pub fn event(source: &str, id: &str, data: Value) -> StoredEvent {
    StoredEvent {
        id: id.into(),
        source: source.into(),
        kind: "com.example.approved".into(),
        time: 1_500,
        event: json!({
            "specversion": "1.0",
            "id": id,
            "source": source,
            "type": "com.example.approved",
            "data": data,
        }),
        received_at: 1_600,
    }
}

/// An event of type `kind` received at `received_at`.
pub fn typed_event(source: &str, id: &str, kind: &str, received_at: Millis) -> StoredEvent {
    StoredEvent {
        id: id.into(),
        source: source.into(),
        kind: kind.into(),
        time: received_at - 1,
        event: json!({ "specversion": "1.0", "id": id, "source": source, "type": kind }),
        received_at,
    }
}

/// A subscription of `run_id` in workspace `default`, created at `created_at`, without inbox.
pub fn subscription(run_id: &str, id: &str, types: Option<&[&str]>, created_at: Millis) -> SubscriptionRecord {
    SubscriptionRecord {
        run_id: run_id.into(),
        subscription_id: id.into(),
        workspace: "default".into(),
        types: types.map(|types| types.iter().map(|it| (*it).to_owned()).collect()),
        subscription: json!({ "task": format!("/do/0/{id}"), "filters": [] }),
        inbox: None,
        deadline_at: None,
        created_at,
    }
}
