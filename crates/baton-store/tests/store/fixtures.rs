//! Shared helpers: temporary databases and record builders with fixed, readable defaults.

use baton_store::{
    Checkpoint, Millis, NewHistoryEntry, NewRun, SqliteOptions, SqliteStore, StoredEvent,
    WorkflowRecord,
};
use serde_json::{Value, json};
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
    SqliteStore::open(SqliteOptions::new(dir.path().join("baton.db")))
        .await
        .expect("open sqlite store")
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
        status: "running".into(),
        input: json!({ "order": id }),
        state: json!({ "step": 0 }),
        parent: None,
        idempotency_key: None,
        created_at,
    }
}

pub fn entry(kind: &str, data: Value) -> NewHistoryEntry {
    NewHistoryEntry {
        at: 1_000,
        kind: kind.into(),
        task: None,
        data,
    }
}

/// A checkpoint that only moves the run to `{"step": expected_version}`; add to it as needed.
pub fn checkpoint(run_id: &str, expected_version: i64) -> Checkpoint {
    Checkpoint {
        run_id: run_id.into(),
        expected_version,
        status: "running".into(),
        state: json!({ "step": expected_version }),
        output: None,
        error: None,
        history: Vec::new(),
        timers_set: Vec::new(),
        timers_cleared: Vec::new(),
        events: Vec::new(),
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
    }
}
