//! Idempotency keys of runs, counting runs by status, and the readiness ping.

use std::collections::HashSet;

use baton_store::{RunStatus, RunStore, Store, StoreError, StoreLifecycle, WorkspaceId};

use crate::fixtures::{WS, checkpoint, new_run};

backend_tests!(idempotency_key_is_unique_per_workspace, runs_are_counted_by_status, ping_answers);

async fn idempotency_key_is_unique_per_workspace(store: &impl Store) {
    let mut first = new_run("r1", 100);
    first.idempotency_key = Some("order-7".into());
    store.create_run(first).await.unwrap();

    let mut second = new_run("r2", 200);
    second.idempotency_key = Some("order-7".into());
    let res = store.create_run(second).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
    assert_eq!(store.get_run(&WS, "r2").await.unwrap(), None);

    let found = store.run_by_idempotency_key(&WS, "order-7").await.unwrap();
    assert_eq!(found.map(|run| run.id).as_deref(), Some("r1"));
    assert_eq!(store.run_by_idempotency_key(&WS, "order-8").await.unwrap(), None);
    assert_eq!(store.run_by_idempotency_key(&WorkspaceId::from("other"), "order-7").await.unwrap(), None);

    // The same key in another workspace, and runs without a key, do not collide.
    let mut elsewhere = new_run("r3", 300);
    elsewhere.workspace = "other".into();
    elsewhere.idempotency_key = Some("order-7".into());
    store.create_run(elsewhere).await.unwrap();
    store.create_run(new_run("r4", 400)).await.unwrap();
    store.create_run(new_run("r5", 500)).await.unwrap();
    let found = store.run_by_idempotency_key(&WorkspaceId::from("other"), "order-7").await.unwrap();
    assert_eq!(found.map(|run| run.id).as_deref(), Some("r3"));
}

async fn runs_are_counted_by_status(store: &impl Store) {
    assert!(store.count_runs_by_status().await.unwrap().is_empty());
    for (id, created_at) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        store.create_run(new_run(id, created_at)).await.unwrap();
    }
    let mut done = checkpoint("r2", 1);
    done.status = RunStatus::Completed;
    store.commit(done).await.unwrap();
    let counts = store.count_runs_by_status().await.unwrap();
    assert_eq!(counts, [(RunStatus::Completed, 1), (RunStatus::Running, 2)]);
}

async fn ping_answers(store: &impl Store) {
    store.ping().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_one_key_create_one_run() {
    let db = crate::fixtures::TempSqlite::open().await;
    let mut tasks = tokio::task::JoinSet::new();
    for idx in 0..20 {
        let store = db.store.clone();
        tasks.spawn(async move {
            let mut run = new_run(&format!("r{idx}"), idx);
            run.idempotency_key = Some("same".into());
            store.create_run(run).await
        });
    }
    let mut n_created = 0;
    while let Some(res) = tasks.join_next().await {
        match res.unwrap() {
            Ok(_) => n_created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(err) => panic!("unexpected error: {err:?}"),
        }
    }
    assert_eq!(n_created, 1);
    let ids: HashSet<String> = db
        .store
        .list_runs(&WS, baton_store::RunFilter { limit: 100, ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|run| run.id)
        .collect();
    assert_eq!(ids.len(), 1);
    db.store.close().await;
    let res = db.store.ping().await;
    assert!(res.is_err(), "a closed store does not answer: {res:?}");
}
