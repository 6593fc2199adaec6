//! SQLite-only behaviour: durability across reopen, group commit, corrupt rows, closing.

use std::time::Duration;

use baton_store::{RunStore, SqliteStore, StoreError};
use serde_json::json;
use sqlx::{Connection, SqliteConnection};
use tokio::task::JoinSet;

use crate::fixtures::{TempSqlite, WS, checkpoint, entry, new_run, open_sqlite, subscription, with_history};

/// A raw connection to the store's file, bypassing the store.
async fn raw_connection(db: &TempSqlite) -> SqliteConnection {
    let url = format!("sqlite://{}", db.dir.path().join("baton.db").display());
    SqliteConnection::connect(&url).await.expect("raw connection")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_reopen() {
    let TempSqlite { dir, store } = TempSqlite::open().await;
    store.create_run(with_history(new_run("r1", 1), vec![entry("h1", json!(1))])).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.history = vec![entry("h2", json!(2))];
    step.timers_set = vec![("t1".into(), 99)];
    store.commit(step).await.unwrap();
    store.close().await;

    // Reopen after an orderly close.
    let store = open_sqlite(&dir).await;
    assert_eq!(store.get_run(&WS, "r1").await.unwrap().unwrap().state_version, 2);
    assert_eq!(store.history(&WS, "r1", 0, 10).await.unwrap().len(), 2);
    assert_eq!(store.due_timers(100, 10).await.unwrap().len(), 1);
    store.commit(checkpoint("r1", 2)).await.unwrap();
    // No close: like a process that went away right after the commit was acknowledged.
    drop(store);

    let store = open_sqlite(&dir).await;
    assert_eq!(store.get_run(&WS, "r1").await.unwrap().unwrap().state_version, 3);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_transactions() {
    let db = TempSqlite::open().await;
    let n_runs = 200;
    let mut tasks = JoinSet::new();
    for idx in 0..n_runs {
        let store = db.store.clone();
        tasks.spawn(async move { store.create_run(new_run(&format!("r{idx}"), idx)).await });
    }
    while let Some(res) = tasks.join_next().await {
        res.unwrap().unwrap();
    }

    let before = db.store.stats();
    let mut tasks = JoinSet::new();
    for idx in 0..n_runs {
        let store = db.store.clone();
        tasks.spawn(async move {
            let mut step = checkpoint(&format!("r{idx}"), 1);
            step.history = vec![entry("step", json!(idx))];
            store.commit(step).await
        });
    }
    while let Some(res) = tasks.join_next().await {
        assert_eq!(res.unwrap().unwrap(), 2);
    }
    let after = db.store.stats();

    let n_requests = after.requests - before.requests;
    let n_commits = after.commits - before.commits;
    assert_eq!(n_requests, 200);
    assert!(n_commits < n_requests, "no batching: {n_commits} commits for {n_requests} requests");
    println!("group commit: {n_requests} requests in {n_commits} transactions");
    for idx in 0..n_runs {
        let id = format!("r{idx}");
        assert_eq!(db.store.get_run(&WS, &id).await.unwrap().unwrap().state_version, 2);
        assert_eq!(db.store.history(&WS, &id, 0, 10).await.unwrap().len(), 1);
    }
    db.store.close().await;
}

/// What a request of `failures_roll_back_only_their_own_request` is made to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Commit,
    /// A stale `expected_version`: refused before anything is written.
    Conflict,
    /// Fails in the middle, after the run row was already updated.
    FailHalfway,
}

fn fate(idx: i64) -> Fate {
    match idx % 3 {
        0 => Fate::Commit,
        1 => Fate::Conflict,
        _ => Fate::FailHalfway,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_roll_back_only_their_own_request() {
    let db = TempSqlite::open().await;
    let n_runs = 30;
    for idx in 0..n_runs {
        db.store.create_run(new_run(&format!("r{idx}"), idx)).await.unwrap();
    }
    let mut blocker = raw_connection(&db).await;
    // History entries of kind "boom" fail on insert, i.e. after the run row was updated.
    sqlx::query(
        "CREATE TRIGGER boom BEFORE INSERT ON history WHEN NEW.kind = 'boom' \
         BEGIN SELECT RAISE(ABORT, 'boom'); END",
    )
    .execute(&mut blocker)
    .await
    .unwrap();
    // Hold the write lock so the writer blocks and the requests pile up into one batch.
    sqlx::query("BEGIN IMMEDIATE").execute(&mut blocker).await.unwrap();

    let before = db.store.stats();
    let mut tasks = JoinSet::new();
    for idx in 0..n_runs {
        let store = db.store.clone();
        tasks.spawn(async move {
            let expected_version = if fate(idx) == Fate::Conflict { 5 } else { 1 };
            let kind = if fate(idx) == Fate::FailHalfway { "boom" } else { "step" };
            let mut step = checkpoint(&format!("r{idx}"), expected_version);
            step.timers_set = vec![("t".into(), 10)];
            step.history = vec![entry(kind, json!(idx))];
            (idx, store.commit(step).await)
        });
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();

    while let Some(res) = tasks.join_next().await {
        let (idx, res) = res.unwrap();
        match fate(idx) {
            Fate::Commit => assert_eq!(res.unwrap(), 2, "run r{idx}"),
            Fate::Conflict => assert!(matches!(res, Err(StoreError::Conflict(_))), "r{idx}: {res:?}"),
            Fate::FailHalfway => assert!(matches!(res, Err(StoreError::Database(_))), "r{idx}: {res:?}"),
        }
    }
    let after = db.store.stats();
    let n_commits = after.commits - before.commits;
    println!("failures in batch: {n_runs} requests in {n_commits} transactions");
    assert!(n_commits < 10, "no batching: {n_commits} transactions for {n_runs} requests");

    for idx in 0..n_runs {
        let id = format!("r{idx}");
        let run = db.store.get_run(&WS, &id).await.unwrap().unwrap();
        let n_entries = db.store.history(&WS, &id, 0, 10).await.unwrap().len();
        let n_timers = db.store.timers_of_run(&id).await.unwrap().len();
        let expected = match fate(idx) {
            Fate::Commit => (2, "running", 1, 1),
            Fate::Conflict | Fate::FailHalfway => (1, "running", 0, 0),
        };
        assert_eq!((run.state_version, run.status.as_str(), n_entries, n_timers), expected, "{id}");
    }
    db.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_encoding_errors() {
    let db = TempSqlite::open().await;
    for id in ["bad-json", "bad-type"] {
        db.store.create_run(with_history(new_run(id, 1), vec![entry("h", json!(1))])).await.unwrap();
    }
    let mut raw = raw_connection(&db).await;
    sqlx::query("UPDATE runs SET state = '{not json' WHERE id = 'bad-json'").execute(&mut raw).await.unwrap();
    sqlx::query("UPDATE runs SET state_version = 'one' WHERE id = 'bad-type'").execute(&mut raw).await.unwrap();
    sqlx::query("UPDATE history SET data = '' WHERE run_id = 'bad-json'").execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();

    for id in ["bad-json", "bad-type"] {
        let res = db.store.get_run(&WS, id).await;
        assert!(matches!(res, Err(StoreError::Encoding(_))), "{id}: {res:?}");
    }
    let res = db.store.history(&WS, "bad-json", 0, 10).await;
    assert!(matches!(res, Err(StoreError::Encoding(_))), "{res:?}");
    db.store.close().await;
}

// See: #14
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_an_unknown_stored_status_is_an_error() {
    let db = TempSqlite::open().await;
    db.store.create_run(new_run("r1", 1)).await.unwrap();
    let mut raw = raw_connection(&db).await;
    sqlx::query("UPDATE runs SET status = 'paused' WHERE id = 'r1'").execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();

    let res = db.store.get_run(&WS, "r1").await;
    assert!(matches!(&res, Err(StoreError::Encoding(message)) if message.contains("paused")), "{res:?}");
    let res = db.store.count_runs_by_status().await;
    assert!(matches!(res, Err(StoreError::Encoding(_))), "{res:?}");
    db.store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_after_close_fail() {
    let db = TempSqlite::open().await;
    let clone: SqliteStore = db.store.clone();
    db.store.close().await;
    let res = clone.create_run(new_run("r1", 1)).await;
    assert!(matches!(res, Err(StoreError::Closed)), "{res:?}");
    // Closing twice is harmless.
    clone.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_go_with_their_run() {
    let db = TempSqlite::open().await;
    db.store.create_run(new_run("r1", 1)).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![subscription("r1", "s1", Some(&["a"]), 1), subscription("r1", "s2", None, 2)];
    step.events_consumed = vec![("src".into(), "e1".into())];
    db.store.commit(step).await.unwrap();
    let mut raw = raw_connection(&db).await;
    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut raw).await.unwrap();
    sqlx::query("DELETE FROM runs WHERE id = 'r1'").execute(&mut raw).await.unwrap();
    for table in ["subscriptions", "subscription_types", "event_consumptions"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut raw)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    raw.close().await.unwrap();
    db.store.close().await;
}

/// Processes opening a new database file at the same moment race to create its schema; every
/// one of them must open it (the loser retries and finds the schema in place).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_opening_a_new_file_together_all_open() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.db");
        let open = || SqliteStore::open(baton_store::SqliteOptions::new(path.clone()));
        // Polled together on this task (sqlx runs SQLite work on its own threads, so the opens
        // overlap); `SqliteStore::open` is not a `Send` future, so it cannot be spawned.
        let opened = tokio::join!(open(), open(), open(), open(), open(), open());
        let stores: Vec<SqliteStore> = [opened.0, opened.1, opened.2, opened.3, opened.4, opened.5]
            .into_iter()
            .map(|store| store.expect("every store opens"))
            .collect();
        stores[0].create_run(new_run("r1", 1)).await.unwrap();
        assert!(stores[5].get_run(&WS, "r1").await.unwrap().is_some(), "the stores share one schema");
        for store in stores {
            store.close().await;
        }
    }
}
