//! Event intake: `put_event` deduplication, `retained_events` per run, the retention purge.

use std::sync::Arc;

use baton_store::{Store, StoredEvent, WorkspaceId};
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::fixtures::{WS, checkpoint, event, new_run, typed_event};

backend_tests!(
    put_event_tells_new_from_duplicate,
    concurrent_duplicate_posts_store_one_event,
    retained_events_follow_since_types_and_arrival_order,
    retained_events_leave_out_what_this_run_consumed,
    targeted_events_are_retained_for_their_run_only,
    delete_events_before_purges_old_events_and_their_consumptions,
);

async fn put_event_tells_new_from_duplicate(store: &impl Store) {
    let first = event("https://example.com/hr", "e1", json!("first"));
    assert!(store.put_event(&WS, first.clone(), None).await.unwrap());
    let mut again = event("https://example.com/hr", "e1", json!("again"));
    again.received_at = 9_999;
    assert!(!store.put_event(&WorkspaceId::from("other"), again, None).await.unwrap());
    assert_eq!(store.get_event(&WS, "https://example.com/hr", "e1").await.unwrap(), Some(first));
    // Another source is another event; a checkpoint's event with a taken key is skipped.
    assert!(store.put_event(&WS, event("https://example.com/crm", "e1", json!(1)), None).await.unwrap());
    store.create_run(new_run("r1", 1)).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.events = vec![event("https://example.com/hr", "e1", json!("emitted"))];
    store.commit(step).await.unwrap();
    let stored = store.get_event(&WS, "https://example.com/hr", "e1").await.unwrap().unwrap();
    assert_eq!(stored.event["data"], json!("first"));
}

async fn concurrent_duplicate_posts_store_one_event<S: Store + Clone>(store: &S) {
    let n_tasks = 20;
    let barrier = Arc::new(Barrier::new(n_tasks));
    let mut tasks = JoinSet::new();
    for idx in 0..n_tasks {
        let (store, barrier) = (store.clone(), Arc::clone(&barrier));
        tasks.spawn(async move {
            barrier.wait().await;
            store.put_event(&WS, event("src", "same", json!(idx)), None).await
        });
    }
    let mut n_new = 0;
    while let Some(res) = tasks.join_next().await {
        if res.unwrap().unwrap() {
            n_new += 1;
        }
    }
    assert_eq!(n_new, 1);
    let retained = store.retained_events(&WS, "nobody", 0, None, 100).await.unwrap();
    assert_eq!(retained.len(), 1);
}

fn ids(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|it| it.id.as_str()).collect()
}

async fn put_all(store: &impl Store, events: Vec<(StoredEvent, &str)>) {
    for (event, workspace) in events {
        assert!(store.put_event(&WorkspaceId::from(workspace), event, None).await.unwrap());
    }
}

async fn retained_events_follow_since_types_and_arrival_order(store: &impl Store) {
    put_all(
        store,
        vec![
            (typed_event("src", "e2", "b", 200), "default"),
            (typed_event("src", "e1", "a", 100), "default"),
            // Same received_at as e2, stored after it.
            (typed_event("src", "e3", "a", 200), "default"),
            (typed_event("src", "old", "a", 50), "default"),
            (typed_event("src", "elsewhere", "a", 150), "other"),
            // Emitted by a run, into the same intake.
            (typed_event("src", "e0", "a", 199), "default"),
        ],
    )
    .await;
    let all = store.retained_events(&WS, "r1", 100, None, 100).await.unwrap();
    assert_eq!(ids(&all), ["e1", "e0", "e2", "e3"]);
    assert_eq!(all[0], typed_event("src", "e1", "a", 100));
    let a_only = store.retained_events(&WS, "r1", 100, Some(&["a".into()]), 100).await.unwrap();
    assert_eq!(ids(&a_only), ["e1", "e0", "e3"]);
    let a_or_b = store.retained_events(&WS, "r1", 150, Some(&["b".into(), "a".into()]), 100).await.unwrap();
    assert_eq!(ids(&a_or_b), ["e0", "e2", "e3"]);
    let none = store.retained_events(&WS, "r1", 0, Some(&[]), 100).await.unwrap();
    assert!(none.is_empty());
    let page = store.retained_events(&WS, "r1", 0, None, 2).await.unwrap();
    assert_eq!(ids(&page), ["old", "e1"]);
    let other = store.retained_events(&WorkspaceId::from("other"), "r1", 0, None, 100).await.unwrap();
    assert_eq!(ids(&other), ["elsewhere"]);
}

async fn retained_events_leave_out_what_this_run_consumed(store: &impl Store) {
    for (id, at) in [("r1", 1), ("r2", 2)] {
        store.create_run(new_run(id, at)).await.unwrap();
    }
    put_all(
        store,
        vec![
            (typed_event("src", "e1", "a", 100), "default"),
            (typed_event("src", "e2", "a", 200), "default"),
            (typed_event("src", "e3", "a", 300), "default"),
        ],
    )
    .await;
    let mut step = checkpoint("r1", 1);
    step.events_consumed = vec![("src".into(), "e1".into()), ("src".into(), "e3".into()), ("src".into(), "e1".into())];
    store.commit(step).await.unwrap();
    let mut step = checkpoint("r1", 2);
    // Consuming again, or consuming an event the store does not have, is harmless.
    step.events_consumed = vec![("src".into(), "e3".into()), ("src".into(), "ghost".into())];
    store.commit(step).await.unwrap();

    let r1 = store.retained_events(&WS, "r1", 0, None, 100).await.unwrap();
    assert_eq!(ids(&r1), ["e2"]);
    let r2 = store.retained_events(&WS, "r2", 0, None, 100).await.unwrap();
    assert_eq!(ids(&r2), ["e1", "e2", "e3"]);
    // Same id from another source is another event.
    put_all(store, vec![(typed_event("other-src", "e1", "a", 400), "default")]).await;
    let r1 = store.retained_events(&WS, "r1", 0, None, 100).await.unwrap();
    assert_eq!(ids(&r1), ["e2", "e1"]);
}

async fn delete_events_before_purges_old_events_and_their_consumptions(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    put_all(
        store,
        vec![
            (typed_event("src", "e1", "a", 100), "default"),
            (typed_event("src", "e2", "a", 200), "other"),
            (typed_event("src", "e3", "a", 300), "default"),
        ],
    )
    .await;
    let mut step = checkpoint("r1", 1);
    step.events_consumed = vec![("src".into(), "e1".into()), ("src".into(), "e3".into())];
    store.commit(step).await.unwrap();

    assert_eq!(store.delete_events_before(300).await.unwrap(), 2);
    assert_eq!(store.get_event(&WS, "src", "e1").await.unwrap(), None);
    assert_eq!(store.get_event(&WS, "src", "e2").await.unwrap(), None);
    assert!(store.get_event(&WS, "src", "e3").await.unwrap().is_some());
    assert_eq!(store.delete_events_before(300).await.unwrap(), 0);
    // After the retention window the same key is a new event, new to every run too.
    assert!(store.put_event(&WS, typed_event("src", "e1", "a", 500), None).await.unwrap());
    let r1 = store.retained_events(&WS, "r1", 0, None, 100).await.unwrap();
    assert_eq!(ids(&r1), ["e1"]);
}

async fn targeted_events_are_retained_for_their_run_only(store: &impl Store) {
    assert!(store.put_event(&WS, typed_event("inbox", "answer", "a", 100), Some("r1")).await.unwrap());
    assert!(store.put_event(&WS, typed_event("src", "broadcast", "a", 110), None).await.unwrap());
    let ids = |events: Vec<StoredEvent>| events.into_iter().map(|event| event.id).collect::<Vec<_>>();
    assert_eq!(ids(store.retained_events(&WS, "r1", 0, None, 100).await.unwrap()), ["answer", "broadcast"]);
    assert_eq!(ids(store.retained_events(&WS, "r2", 0, None, 100).await.unwrap()), ["broadcast"]);
    // A duplicate is still a duplicate, whatever its target.
    assert!(!store.put_event(&WS, typed_event("inbox", "answer", "a", 120), Some("r2")).await.unwrap());
}
