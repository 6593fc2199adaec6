//! Events kept by checkpoints: deduplicated by (source, id).

use baton_store::Store;
use serde_json::json;

use crate::fixtures::{WS, checkpoint, event, new_run};

backend_tests!(events_are_deduplicated_by_source_and_id, duplicate_events_in_one_checkpoint_keep_the_first);

async fn events_are_deduplicated_by_source_and_id(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    let first = event("https://example.com/hr", "e1", json!("first"));
    let mut step = checkpoint("r1", 1);
    step.events = vec![first.clone()];
    store.commit(step).await.unwrap();

    let mut step = checkpoint("r1", 2);
    let second = event("https://example.com/hr", "e2", json!("second"));
    let other_source = event("https://example.com/crm", "e1", json!("other source"));
    step.events = vec![event("https://example.com/hr", "e1", json!("duplicate")), second.clone(), other_source.clone()];
    // A duplicate does not fail the checkpoint.
    assert_eq!(store.commit(step).await.unwrap(), 3);

    assert_eq!(store.get_event(&WS, "https://example.com/hr", "e1").await.unwrap(), Some(first));
    assert_eq!(store.get_event(&WS, "https://example.com/hr", "e2").await.unwrap(), Some(second));
    assert_eq!(store.get_event(&WS, "https://example.com/crm", "e1").await.unwrap(), Some(other_source));
    assert_eq!(store.get_event(&WS, "https://example.com/hr", "e3").await.unwrap(), None);
}

async fn duplicate_events_in_one_checkpoint_keep_the_first(store: &impl Store) {
    store.create_run(new_run("r1", 1)).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.events = vec![
        event("src", "e2", json!("other")),
        event("src", "e1", json!("first")),
        event("src", "e1", json!("second")),
    ];
    assert_eq!(store.commit(step).await.unwrap(), 2);
    let stored = store.get_event(&WS, "src", "e1").await.unwrap().unwrap();
    assert_eq!(stored.event["data"], json!("first"));
    assert!(store.get_event(&WS, "src", "e2").await.unwrap().is_some());
}
