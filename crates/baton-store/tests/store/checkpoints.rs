//! `commit`: run update, history numbering, optimistic version check.

use baton_store::{RunStatus, Store, StoreError};
use serde_json::json;

use crate::fixtures::{WS, checkpoint, entry, event, new_run, with_history};

backend_tests!(commit_updates_run_and_numbers_history, stale_commit_writes_nothing, commit_of_unknown_run_is_not_found);

async fn commit_updates_run_and_numbers_history(store: &impl Store) {
    store
        .create_run(with_history(new_run("r1", 100), vec![entry("h1", json!(1)), entry("h2", json!(2))]))
        .await
        .unwrap();

    let mut step = checkpoint("r1", 1);
    step.status = RunStatus::Completed;
    step.state = json!({ "step": "done" });
    step.output = Some(json!({ "total": 3 }));
    step.history = vec![entry("h3", json!(3)), entry("h4", json!(4)), entry("h5", json!(5))];
    step.history[0].task = Some("/do/0/greet".into());
    step.updated_at = 555;
    assert_eq!(store.commit(step).await.unwrap(), 2);

    let run = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!(run.status, "completed");
    assert_eq!(run.state, json!({ "step": "done" }));
    assert_eq!(run.output, Some(json!({ "total": 3 })));
    assert_eq!(run.error, None);
    assert_eq!((run.state_version, run.last_seq, run.created_at, run.updated_at), (2, 5, 100, 555));

    let history = store.history(&WS, "r1", 0, 100).await.unwrap();
    let numbered: Vec<_> = history.iter().map(|it| (it.seq, it.kind.as_str())).collect();
    assert_eq!(numbered, [(1, "h1"), (2, "h2"), (3, "h3"), (4, "h4"), (5, "h5")]);
    assert_eq!(history[2].task.as_deref(), Some("/do/0/greet"));
    assert_eq!(history[4].data, json!(5));
    // Paging by sequence number (SSE re-attach with Last-Event-ID).
    let page: Vec<_> = store.history(&WS, "r1", 2, 2).await.unwrap().into_iter().map(|it| it.seq).collect();
    assert_eq!(page, [3, 4]);

    // Output and error are replaced, not merged.
    let mut fault = checkpoint("r1", 2);
    fault.status = RunStatus::Faulted;
    fault.error = Some(json!({ "type": "timeout", "status": 408 }));
    fault.history = vec![entry("h6", json!(6))];
    assert_eq!(store.commit(fault).await.unwrap(), 3);
    let run = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!((run.output, run.error), (None, Some(json!({ "type": "timeout", "status": 408 }))));
    assert_eq!(store.history(&WS, "r1", 5, 100).await.unwrap()[0].seq, 6);
    assert_eq!(store.get_run(&WS, "r1").await.unwrap().unwrap().last_seq, 6);
}

async fn stale_commit_writes_nothing(store: &impl Store) {
    store.create_run(with_history(new_run("r1", 100), vec![entry("h1", json!(1))])).await.unwrap();
    assert_eq!(store.commit(checkpoint("r1", 1)).await.unwrap(), 2);
    let before = store.get_run(&WS, "r1").await.unwrap().unwrap();

    let mut stale = checkpoint("r1", 1);
    stale.status = RunStatus::Completed;
    stale.output = Some(json!("lost"));
    stale.history = vec![entry("h2", json!(2))];
    stale.timers_set = vec![("t1".into(), 10)];
    stale.events = vec![event("src", "e1", json!(1))];
    let res = store.commit(stale).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");

    assert_eq!(store.get_run(&WS, "r1").await.unwrap().unwrap(), before);
    assert_eq!(store.history(&WS, "r1", 0, 100).await.unwrap().len(), 1);
    assert!(store.timers_of_run("r1").await.unwrap().is_empty());
    assert_eq!(store.get_event(&WS, "src", "e1").await.unwrap(), None);
    // A future version is just as stale.
    let res = store.commit(checkpoint("r1", 7)).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
}

async fn commit_of_unknown_run_is_not_found(store: &impl Store) {
    let res = store.commit(checkpoint("ghost", 1)).await;
    assert!(matches!(res, Err(StoreError::NotFound(_))), "{res:?}");
}
