//! Subscriptions: set and cleared by checkpoints, atomically; indexed by event type.

use baton_store::{Store, StoreError, SubscriptionRecord, WorkspaceId};
use serde_json::json;

use crate::fixtures::{WS, checkpoint, new_run, subscription, typed_event};

backend_tests!(
    subscriptions_are_set_replaced_and_cleared_by_commits,
    subscriptions_for_type_match_listed_types_and_any,
    stale_commit_writes_no_subscription_or_consumption,
    subscription_of_another_run_is_refused,
);

fn keys(records: &[SubscriptionRecord]) -> Vec<(&str, &str)> {
    records.iter().map(|it| (it.run_id.as_str(), it.subscription_id.as_str())).collect()
}

async fn subscriptions_are_set_replaced_and_cleared_by_commits(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    let mut s1 = subscription("r1", "s1", Some(&["a", "b"]), 10);
    s1.inbox = Some(json!({ "title": "Approve", "assignees": ["ann"] }));
    s1.deadline_at = Some(99);
    let s2 = subscription("r1", "s2", None, 11);
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![s1.clone(), s2.clone()];
    store.commit(step).await.unwrap();
    assert_eq!(store.subscription(&WS, "r1", "s1").await.unwrap(), Some(s1.clone()));
    assert_eq!(store.subscription(&WS, "r1", "s2").await.unwrap(), Some(s2.clone()));
    assert_eq!(store.subscription(&WS, "r1", "s3").await.unwrap(), None);

    // Replace s1 (new types, no inbox), clear s2 and an unknown id; a set after a clear of the
    // same id wins.
    let mut s1_new = subscription("r1", "s1", Some(&["c"]), 10);
    s1_new.subscription = json!({ "correlation": { "order": 42 } });
    let s3 = subscription("r1", "s3", Some(&["a"]), 12);
    let mut step = checkpoint("r1", 2);
    step.subscriptions_cleared = vec!["s2".into(), "ghost".into(), "s3".into()];
    step.subscriptions_set = vec![s3.clone(), s1_new.clone()];
    store.commit(step).await.unwrap();
    assert_eq!(store.subscription(&WS, "r1", "s1").await.unwrap(), Some(s1_new));
    assert_eq!(store.subscription(&WS, "r1", "s2").await.unwrap(), None);
    assert_eq!(store.subscription(&WS, "r1", "s3").await.unwrap(), Some(s3));
    assert_eq!(keys(&store.subscriptions_for_type(&WS, "a").await.unwrap()), [("r1", "s3")]);
    assert!(store.subscriptions_for_type(&WS, "b").await.unwrap().is_empty());
    assert_eq!(keys(&store.subscriptions_for_type(&WS, "c").await.unwrap()), [("r1", "s1")]);

    let mut step = checkpoint("r1", 3);
    step.subscriptions_cleared = vec!["s1".into(), "s3".into()];
    store.commit(step).await.unwrap();
    for kind in ["a", "c", "z"] {
        assert!(store.subscriptions_for_type(&WS, kind).await.unwrap().is_empty(), "{kind}");
    }
}

async fn subscriptions_for_type_match_listed_types_and_any(store: &impl Store) {
    for (id, at) in [("r1", 1), ("r2", 2)] {
        store.create_run(new_run(id, at)).await.unwrap();
    }
    let mut elsewhere = subscription("r2", "s-other", None, 1);
    elsewhere.workspace = "other".into();
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![
        subscription("r1", "ab", Some(&["a", "b", "a"]), 30),
        subscription("r1", "any", None, 20),
        subscription("r1", "none", Some(&[]), 10),
    ];
    store.commit(step).await.unwrap();
    let mut step = checkpoint("r2", 1);
    step.subscriptions_set = vec![subscription("r2", "b", Some(&["b"]), 25), elsewhere];
    store.commit(step).await.unwrap();

    assert_eq!(keys(&store.subscriptions_for_type(&WS, "a").await.unwrap()), [("r1", "any"), ("r1", "ab")]);
    assert_eq!(
        keys(&store.subscriptions_for_type(&WS, "b").await.unwrap()),
        [("r1", "any"), ("r2", "b"), ("r1", "ab")]
    );
    assert_eq!(keys(&store.subscriptions_for_type(&WS, "zzz").await.unwrap()), [("r1", "any")]);
    assert_eq!(
        keys(&store.subscriptions_for_type(&WorkspaceId::from("other"), "a").await.unwrap()),
        [("r2", "s-other")]
    );
    assert!(store.subscriptions_for_type(&WorkspaceId::from("nobody"), "a").await.unwrap().is_empty());
    // Types come back as given (the index deduplicates, the record does not change).
    let ab = store.subscription(&WS, "r1", "ab").await.unwrap().unwrap();
    assert_eq!(ab.types, Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]));
}

async fn stale_commit_writes_no_subscription_or_consumption(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    assert!(store.put_event(&WS, typed_event("src", "e1", "a", 100), None).await.unwrap());
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![subscription("r1", "s1", Some(&["a"]), 10)];
    store.commit(step).await.unwrap();

    let mut stale = checkpoint("r1", 1);
    stale.subscriptions_set = vec![subscription("r1", "s2", None, 11), subscription("r1", "s1", Some(&["x"]), 10)];
    stale.subscriptions_cleared = vec!["s1".into()];
    stale.events_consumed = vec![("src".into(), "e1".into())];
    let res = store.commit(stale).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");

    assert_eq!(store.subscription(&WS, "r1", "s1").await.unwrap(), Some(subscription("r1", "s1", Some(&["a"]), 10)));
    assert_eq!(store.subscription(&WS, "r1", "s2").await.unwrap(), None);
    assert_eq!(keys(&store.subscriptions_for_type(&WS, "a").await.unwrap()), [("r1", "s1")]);
    assert!(store.subscriptions_for_type(&WS, "x").await.unwrap().is_empty());
    assert_eq!(store.retained_events(&WS, "r1", 0, None, 10).await.unwrap().len(), 1);
}

async fn subscription_of_another_run_is_refused(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    store.create_run(new_run("r2", 1)).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![subscription("r2", "s1", None, 10)];
    let res = store.commit(step).await;
    assert!(matches!(res, Err(StoreError::Encoding(_))), "{res:?}");
    assert_eq!(store.get_run(&WS, "r1").await.unwrap().unwrap().state_version, 1);
    assert_eq!(store.subscription(&WS, "r2", "s1").await.unwrap(), None);
}
