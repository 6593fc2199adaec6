//! PostgreSQL-only behaviour that several nodes on one database rely on: concurrent commits
//! and creates from separate pools, concurrent migrations, atomic failure, closing.

use std::sync::Arc;

use baton_store::{
    ClusterStore, EventStore, PgOptions, PgStore, RunFilter, RunStatus, RunStore, StoreError, StoreLifecycle,
};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::{
    TempPg, TestSchema, WS, checkpoint, entry, event, new_run, open_pg, pg_url, subscription, with_history,
};

/// Two nodes commit the same step of one run at the same moment, round after round: exactly
/// one wins each round, the other gets a conflict and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_committing_one_step_exactly_one_wins() {
    let db = TempPg::open().await;
    let nodes = [db.store.clone(), db.another_node().await];
    nodes[0].create_run(with_history(new_run("r1", 1), vec![entry("created", json!(null))])).await.unwrap();

    let rounds: i64 = 40;
    let mut wins = [0; 2];
    for version in 1..=rounds {
        let barrier = Arc::new(Barrier::new(nodes.len()));
        let mut tasks = JoinSet::new();
        for (idx, node) in nodes.iter().enumerate() {
            let (node, barrier) = (node.clone(), Arc::clone(&barrier));
            tasks.spawn(async move {
                let mut step = checkpoint("r1", version);
                step.state = json!({ "node": idx, "version": version });
                step.history = vec![
                    entry("step", json!({ "node": idx, "part": 1 })),
                    entry("step", json!({ "node": idx, "part": 2 })),
                ];
                step.timers_set = vec![(format!("n{idx}-v{version}"), version)];
                step.events = vec![event("race", &format!("n{idx}-v{version}"), json!(idx))];
                barrier.wait().await;
                (idx, node.commit(step).await)
            });
        }
        let mut winners = Vec::new();
        while let Some(res) = tasks.join_next().await {
            let (idx, res) = res.unwrap();
            match res {
                Ok(new_version) => {
                    assert_eq!(new_version, version + 1);
                    winners.push(idx);
                }
                Err(StoreError::Conflict(_)) => {}
                Err(err) => panic!("round {version}, node {idx}: {err:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {version}: winners {winners:?}");
        let winner = winners[0];
        wins[winner] += 1;
        let loser = 1 - winner;
        let run = nodes[loser].get_run(&WS, "r1").await.unwrap().unwrap();
        assert_eq!(run.state, json!({ "node": winner, "version": version }));
        assert_eq!(run.state_version, version + 1);
        let lost = format!("n{loser}-v{version}");
        assert_eq!(nodes[loser].get_event(&WS, "race", &lost).await.unwrap(), None);
    }
    println!("wins per node: {wins:?}");

    // History: dense, no duplicate or missing seq, each round's two entries from its winner.
    let history = nodes[1].history(&WS, "r1", 0, 1_000).await.unwrap();
    let seqs: Vec<i64> = history.iter().map(|it| it.seq).collect();
    assert_eq!(seqs, (1..=1 + 2 * rounds).collect::<Vec<_>>());
    for pair in history[1..].chunks(2) {
        assert_eq!(pair[0].data["node"], pair[1].data["node"]);
        assert_eq!((pair[0].data["part"].clone(), pair[1].data["part"].clone()), (json!(1), json!(2)));
    }
    let run = nodes[0].get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!((run.state_version, run.last_seq), (rounds + 1, 1 + 2 * rounds));
    let n_timers = nodes[0].timers_of_run("r1").await.unwrap().len();
    assert_eq!(n_timers, usize::try_from(rounds).unwrap());

    nodes[1].close().await;
    db.close().await;
}

/// 20 concurrent creates with one idempotency key, spread over two nodes: one run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_one_key_on_two_nodes_create_one_run() {
    let db = TempPg::open().await;
    let nodes = [db.store.clone(), db.another_node().await];
    let n_tasks = 20;
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut tasks = JoinSet::new();
    for idx in 0..n_tasks {
        let (node, barrier) = (nodes[idx % 2].clone(), Arc::clone(&barrier));
        tasks.spawn(async move {
            let mut run = new_run(&format!("r{idx}"), 100);
            run.idempotency_key = Some("same".into());
            barrier.wait().await;
            let res = node.create_run(with_history(run, vec![entry("created", json!(idx))])).await;
            (idx, res)
        });
    }
    let mut created = Vec::new();
    while let Some(res) = tasks.join_next().await {
        let (idx, res) = res.unwrap();
        match res {
            Ok(_) => created.push(format!("r{idx}")),
            Err(StoreError::Conflict(_)) => {}
            Err(err) => panic!("task {idx}: {err:?}"),
        }
    }
    assert_eq!(created.len(), 1, "created: {created:?}");
    let all = RunFilter { limit: 100, ..RunFilter::default() };
    let ids: Vec<String> = nodes[1].list_runs(&WS, all).await.unwrap().into_iter().map(|run| run.id).collect();
    assert_eq!(ids, created);
    for node in &nodes {
        let found = node.run_by_idempotency_key(&WS, "same").await.unwrap();
        assert_eq!(found.map(|run| run.id).as_ref(), Some(&created[0]));
    }
    // Refused creates left no history behind.
    let mut raw = db.schema.raw_connection().await;
    let n_entries: i64 = sqlx::query_scalar("SELECT count(*) FROM history").fetch_one(&mut raw).await.unwrap();
    assert_eq!(n_entries, 1);

    nodes[1].close().await;
    db.close().await;
}

/// Nodes starting together on an empty schema: one applies the migrations, all open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_opening_together_migrate_once() {
    let schema = TestSchema::new().await;
    let mut tasks = JoinSet::new();
    for _ in 0..6 {
        let name = schema.name.clone();
        tasks.spawn(async move { open_pg(&name).await });
    }
    let mut stores = Vec::new();
    while let Some(store) = tasks.join_next().await {
        stores.push(store.unwrap());
    }
    let mut raw = schema.raw_connection().await;
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut raw)
        .await
        .unwrap();
    // Each migration file (`NNNN_name.sql`) applied once, successfully.
    let mut expected: Vec<(i64, bool)> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.split('_').next()?.parse().ok())
        .map(|version| (version, true))
        .collect();
    expected.sort();
    assert!(expected.len() >= 2, "migrations folder not found");
    assert_eq!(applied, expected);
    // Every node sees the others' writes.
    stores[0].create_run(new_run("r1", 1)).await.unwrap();
    for store in &stores {
        assert!(store.get_run(&WS, "r1").await.unwrap().is_some());
        store.close().await;
    }
    schema.drop_now().await;
}

/// A commit that fails halfway (here: on its second history entry) writes nothing at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_commit_writes_nothing() {
    let db = TempPg::open().await;
    db.store.create_run(with_history(new_run("r1", 1), vec![entry("created", json!(0))])).await.unwrap();
    let mut raw = db.schema.raw_connection().await;
    for statement in [
        "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'boom'; END $$",
        "CREATE TRIGGER boom BEFORE INSERT ON history FOR EACH ROW \
         WHEN (NEW.kind = 'boom') EXECUTE FUNCTION boom()",
    ] {
        sqlx::query(statement).execute(&mut raw).await.unwrap();
    }

    let mut step = checkpoint("r1", 1);
    step.status = RunStatus::Completed;
    step.history = vec![entry("fine", json!(1)), entry("boom", json!(2))];
    step.timers_set = vec![("t1".into(), 10)];
    step.events = vec![event("src", "e1", json!(1))];
    let res = db.store.commit(step).await;
    assert!(matches!(res, Err(StoreError::Database(_))), "{res:?}");

    let run = db.store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.state_version, run.last_seq), ("running", 1, 1));
    assert_eq!(db.store.history(&WS, "r1", 0, 10).await.unwrap().len(), 1);
    assert!(db.store.timers_of_run("r1").await.unwrap().is_empty());
    assert_eq!(db.store.get_event(&WS, "src", "e1").await.unwrap(), None);

    // The next step numbers its history right after the last stored entry.
    let mut step = checkpoint("r1", 1);
    step.history = vec![entry("fine", json!(1))];
    assert_eq!(db.store.commit(step).await.unwrap(), 2);
    assert_eq!(db.store.history(&WS, "r1", 0, 10).await.unwrap()[1].seq, 2);
    db.close().await;
}

/// Commits of different runs on two nodes carrying the same events, in different orders: all
/// succeed (no deadlock between their event inserts) and each event is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_sharing_events_do_not_deadlock() {
    let db = TempPg::open().await;
    let nodes = [db.store.clone(), db.another_node().await];
    let n_runs: usize = 24;
    let n_events: usize = 8;
    for idx in 0..n_runs {
        db.store.create_run(new_run(&format!("r{idx}"), i64::try_from(idx).unwrap())).await.unwrap();
    }
    let barrier = Arc::new(Barrier::new(n_runs));
    let mut tasks = JoinSet::new();
    for idx in 0..n_runs {
        let (node, barrier) = (nodes[idx % 2].clone(), Arc::clone(&barrier));
        tasks.spawn(async move {
            let mut step = checkpoint(&format!("r{idx}"), 1);
            step.events = (0..n_events)
                .map(|n| (n + idx) % n_events)
                .map(|n| event("shared", &format!("e{n}"), json!(n)))
                .collect();
            if idx % 3 == 0 {
                step.events.reverse();
            }
            barrier.wait().await;
            node.commit(step).await
        });
    }
    while let Some(res) = tasks.join_next().await {
        assert_eq!(res.unwrap().unwrap(), 2);
    }
    let mut raw = db.schema.raw_connection().await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&mut raw).await.unwrap();
    assert_eq!(stored, i64::try_from(n_events).unwrap());
    nodes[1].close().await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_after_close_fail() {
    let db = TempPg::open().await;
    let clone: PgStore = db.store.clone();
    db.store.close().await;
    let res = clone.create_run(new_run("r1", 1)).await;
    assert!(matches!(res, Err(StoreError::Closed)), "{res:?}");
    let res = clone.ping().await;
    assert!(matches!(res, Err(StoreError::Closed)), "{res:?}");
    // Closing twice is harmless.
    clone.close().await;
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_names_needing_quotes_are_refused() {
    for schema in ["Baton", "a-b", "x\"; DROP SCHEMA public; --", "", "1abc"] {
        let options = PgOptions { max_connections: 1, schema: Some(schema.to_owned()), ..PgOptions::new(pg_url()) };
        let res = PgStore::open(options).await;
        assert!(matches!(res, Err(StoreError::Database(sqlx::Error::Configuration(_)))), "{schema:?}: {res:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_go_with_their_run() {
    let db = TempPg::open().await;
    db.store.create_run(new_run("r1", 1)).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![subscription("r1", "s1", Some(&["a"]), 1), subscription("r1", "s2", None, 2)];
    step.events_consumed = vec![("src".into(), "e1".into())];
    db.store.commit(step).await.unwrap();
    let mut raw = db.schema.raw_connection().await;
    sqlx::query("DELETE FROM runs WHERE id = 'r1'").execute(&mut raw).await.unwrap();
    for table in ["subscriptions", "subscription_types", "event_consumptions"] {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut raw)
            .await
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_stored_on_one_node_wakes_its_owner_on_another() {
    let db = TempPg::open().await;
    let other = db.another_node().await;
    let mut owner_wakeups = db.store.input_notifications("owner").await.unwrap().expect("postgres notifies");
    let mut bystander_wakeups = db.store.input_notifications("bystander").await.unwrap().expect("postgres notifies");
    let run = baton_store::NewRun { owner: Some("owner".into()), ..new_run("r1", 1) };
    db.store.create_run(run).await.unwrap();
    other.put_run_input("r1", serde_json::json!({"kind": "cancel"}), 5).await.unwrap();
    let woken = tokio::time::timeout(std::time::Duration::from_secs(5), owner_wakeups.recv()).await;
    assert_eq!(woken.ok().flatten(), Some(()), "the owner was not woken");
    assert_eq!(
        db.store.inputs_for_node("owner", 10).await.unwrap().len(),
        1,
        "the input is visible when the owner wakes"
    );
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(300), bystander_wakeups.recv()).await;
    assert!(quiet.is_err(), "another node is not woken for this owner's input");
    // A step of another run that sends the run an input wakes the owner too.
    other.create_run(new_run("r2", 2)).await.unwrap();
    let mut step = checkpoint("r2", 1);
    step.inputs_sent = vec![("r1".into(), serde_json::json!({"kind": "resume"}))];
    other.commit(step).await.unwrap();
    let woken = tokio::time::timeout(std::time::Duration::from_secs(5), owner_wakeups.recv()).await;
    assert_eq!(woken.ok().flatten(), Some(()), "the owner was not woken by a commit");
    assert_eq!(db.store.inputs_for_node("owner", 10).await.unwrap().len(), 2);
    other.close().await;
    db.close().await;
}

// See: #14
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_14_an_unknown_stored_status_is_an_error() {
    let db = TempPg::open().await;
    db.store.create_run(new_run("r1", 1)).await.unwrap();
    let mut raw = <sqlx::PgConnection as sqlx::Connection>::connect(&pg_url()).await.expect("raw connection");
    let update = format!("UPDATE {}.runs SET status = 'paused' WHERE id = 'r1'", db.schema.name);
    sqlx::query(sqlx::AssertSqlSafe(update)).execute(&mut raw).await.unwrap();
    sqlx::Connection::close(raw).await.unwrap();

    let res = db.store.get_run(&WS, "r1").await;
    assert!(matches!(&res, Err(StoreError::Encoding(message)) if message.contains("paused")), "{res:?}");
    let res = db.store.unfinished_runs().await.map(|runs| runs.len());
    assert_eq!(res.unwrap(), 1, "a scan that does not read the status still lists the run");
    db.close().await;
}
