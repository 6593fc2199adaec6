//! The inbox: subscriptions with an inbox document, listed with filters and a cursor; the
//! overdue sweep.

use baton_store::{InboxFilter, InboxItem, Millis, Store, SubscriptionRecord, WorkspaceId};
use serde_json::{Value, json};

use crate::fixtures::{WS, checkpoint, new_run, subscription};

backend_tests!(list_inbox_filters_and_pages, overdue_inbox_is_oldest_deadline_first);

fn item(run_id: &str, id: &str, created_at: Millis, deadline_at: Option<Millis>, inbox: Value) -> SubscriptionRecord {
    SubscriptionRecord { inbox: Some(inbox), deadline_at, ..subscription(run_id, id, Some(&["approved"]), created_at) }
}

fn keys(items: &[InboxItem]) -> Vec<(&str, &str)> {
    items.iter().map(|it| (it.run_id.as_str(), it.subscription_id.as_str())).collect()
}

/// r1 (test/flow): a (t=10, ann+bob, due 100), b (t=20, no assignees), plain (no inbox);
/// r2 (test/other): c (t=10, bob, due 50), d (t=30, assignees not an array, due 500);
/// r3 (billing/flow, workspace other): e.
async fn seed(store: &impl Store) {
    let mut other = new_run("r2", 2);
    other.name = "other".into();
    let mut billing = new_run("r3", 3);
    billing.namespace = "billing".into();
    billing.workspace = "other".into();
    for run in [new_run("r1", 1), other, billing] {
        store.create_run(run).await.unwrap();
    }
    let mut step = checkpoint("r1", 1);
    step.subscriptions_set = vec![
        item("r1", "a", 10, Some(100), json!({ "title": "A", "assignees": ["ann", "bob", 7] })),
        item("r1", "b", 20, None, json!({ "title": "B" })),
        subscription("r1", "plain", None, 5),
    ];
    step.subscriptions_set[2].deadline_at = Some(1);
    store.commit(step).await.unwrap();
    let mut step = checkpoint("r2", 1);
    step.subscriptions_set = vec![
        item("r2", "c", 10, Some(50), json!({ "title": "C", "assignees": ["bob"] })),
        item("r2", "d", 30, Some(500), json!({ "title": "D", "assignees": "ann" })),
    ];
    store.commit(step).await.unwrap();
    let mut step = checkpoint("r3", 1);
    let mut e = item("r3", "e", 1, Some(10), json!({ "title": "E", "assignees": ["ann"] }));
    e.workspace = "other".into();
    step.subscriptions_set = vec![e];
    store.commit(step).await.unwrap();
}

async fn list_inbox_filters_and_pages(store: &impl Store) {
    seed(store).await;
    let all = InboxFilter { limit: 100, ..InboxFilter::default() };
    let items = store.list_inbox(&WS, all.clone()).await.unwrap();
    assert_eq!(keys(&items), [("r1", "a"), ("r2", "c"), ("r1", "b"), ("r2", "d")]);
    assert_eq!(
        items[0],
        InboxItem {
            run_id: "r1".into(),
            workspace: WS,
            subscription_id: "a".into(),
            namespace: "test".into(),
            name: "flow".into(),
            version: "1.0.0".into(),
            inbox: json!({ "title": "A", "assignees": ["ann", "bob", 7] }),
            deadline_at: Some(100),
            created_at: 10,
            subscription: subscription("r1", "a", None, 0).subscription,
        }
    );

    let by = |assignee: &str| InboxFilter { assignee: Some(assignee.into()), ..all.clone() };
    assert_eq!(keys(&store.list_inbox(&WS, by("ann")).await.unwrap()), [("r1", "a")]);
    assert_eq!(keys(&store.list_inbox(&WS, by("bob")).await.unwrap()), [("r1", "a"), ("r2", "c")]);
    assert!(store.list_inbox(&WS, by("7")).await.unwrap().is_empty());
    assert!(store.list_inbox(&WS, by("carol")).await.unwrap().is_empty());

    let named = InboxFilter { name: Some("other".into()), ..all.clone() };
    assert_eq!(keys(&store.list_inbox(&WS, named).await.unwrap()), [("r2", "c"), ("r2", "d")]);
    let in_ns = InboxFilter { namespace: Some("test".into()), name: Some("flow".into()), ..all.clone() };
    assert_eq!(keys(&store.list_inbox(&WS, in_ns).await.unwrap()), [("r1", "a"), ("r1", "b")]);
    let wrong_ns = InboxFilter { namespace: Some("billing".into()), ..all.clone() };
    assert!(store.list_inbox(&WS, wrong_ns).await.unwrap().is_empty());
    let overdue = InboxFilter { overdue_at: Some(100), ..all.clone() };
    assert_eq!(keys(&store.list_inbox(&WS, overdue).await.unwrap()), [("r1", "a"), ("r2", "c")]);
    assert_eq!(keys(&store.list_inbox(&WorkspaceId::from("other"), all.clone()).await.unwrap()), [("r3", "e")]);

    // Pages of two, each starting after the last item of the previous one.
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_inbox(&WS, InboxFilter { limit: 2, after: after.clone(), ..all.clone() }).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.run_id.clone(), last.subscription_id.clone()));
        pages.push(keys(&page).into_iter().map(|(run, id)| format!("{run}/{id}")).collect::<Vec<_>>());
    }
    assert_eq!(pages, [vec!["r1/a", "r2/c"], vec!["r1/b", "r2/d"]]);
    let page = store
        .list_inbox(&WS, InboxFilter { after: Some((10, "r1".into(), "zzz".into())), ..all.clone() })
        .await
        .unwrap();
    assert_eq!(keys(&page), [("r2", "c"), ("r1", "b"), ("r2", "d")]);

    // Answered: the engine clears the subscription and the item is gone.
    let mut step = checkpoint("r1", 2);
    step.subscriptions_cleared = vec!["a".into()];
    store.commit(step).await.unwrap();
    assert!(store.list_inbox(&WS, by("ann")).await.unwrap().is_empty());
}

async fn overdue_inbox_is_oldest_deadline_first(store: &impl Store) {
    seed(store).await;
    let overdue = store.overdue_inbox(100, 10).await.unwrap();
    assert_eq!(keys(&overdue), [("r3", "e"), ("r2", "c"), ("r1", "a")]);
    assert_eq!((overdue[0].namespace.as_str(), overdue[0].deadline_at), ("billing", Some(10)));
    assert_eq!(keys(&store.overdue_inbox(100, 2).await.unwrap()), [("r3", "e"), ("r2", "c")]);
    assert_eq!(keys(&store.overdue_inbox(99, 10).await.unwrap()), [("r3", "e"), ("r2", "c")]);
    assert!(store.overdue_inbox(9, 10).await.unwrap().is_empty());
    assert_eq!(store.overdue_inbox(1_000, 10).await.unwrap().len(), 4);
}
