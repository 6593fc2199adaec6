//! Workflow versions: idempotent deploys, conflicting redeploys, "latest", workspaces.

use baton_store::{PutOutcome, Store, StoreError, WorkspaceId};

use crate::fixtures::{WS, workflow};

backend_tests!(put_is_idempotent_and_refuses_changes, latest_is_highest_version, workflows_are_per_workspace);

async fn put_is_idempotent_and_refuses_changes(store: &impl Store) {
    let original = workflow("1.0.0", "do: [a]", 10);
    assert_eq!(store.put_workflow(original.clone()).await.unwrap(), PutOutcome::Created);
    let again = workflow("1.0.0", "do: [a]", 20);
    assert_eq!(store.put_workflow(again).await.unwrap(), PutOutcome::Unchanged);

    let changed = workflow("1.0.0", "do: [b]", 30);
    let res = store.put_workflow(changed).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
    // The concurrency limit is part of a deployment: changing it needs a new version.
    let limited = baton_store::WorkflowRecord { max_concurrency: Some(2), ..workflow("1.0.0", "do: [a]", 40) };
    let res = store.put_workflow(limited).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
    let limited = baton_store::WorkflowRecord { max_concurrency: Some(2), ..workflow("1.1.0", "do: [a]", 50) };
    store.put_workflow(limited).await.unwrap();
    let stored = store.get_workflow(&WS, "test", "flow", "1.1.0").await.unwrap().unwrap();
    assert_eq!(stored.max_concurrency, Some(2));

    let stored = store.get_workflow(&WS, "test", "flow", "1.0.0").await.unwrap();
    assert_eq!(stored, Some(original));
    let missing = store.get_workflow(&WS, "test", "flow", "2.0.0").await.unwrap();
    assert_eq!(missing, None);
}

async fn latest(store: &impl Store) -> Option<String> {
    let record = store.get_workflow(&WS, "test", "flow", "latest").await.unwrap();
    record.map(|it| it.version)
}

async fn latest_is_highest_version(store: &impl Store) {
    assert_eq!(latest(store).await, None);
    for (version, created_at) in [("1.9.2", 1), ("1.10.0", 2), ("1.10.1-rc.1", 3), ("draft", 4)] {
        store.put_workflow(workflow(version, version, created_at)).await.unwrap();
    }
    // A pre-release ranks above lower releases, below its own release.
    assert_eq!(latest(store).await.as_deref(), Some("1.10.1-rc.1"));
    store.put_workflow(workflow("1.10.1", "1.10.1", 5)).await.unwrap();
    assert_eq!(latest(store).await.as_deref(), Some("1.10.1"));
}

async fn workflows_are_per_workspace(store: &impl Store) {
    let mut other = workflow("1.0.0", "other text", 5);
    other.workspace = "other".into();
    store.put_workflow(workflow("1.0.0", "default text", 1)).await.unwrap();
    store.put_workflow(workflow("0.9.0", "older", 2)).await.unwrap();
    // Same key in another workspace is not a conflict.
    assert_eq!(store.put_workflow(other.clone()).await.unwrap(), PutOutcome::Created);

    let listed = store.list_workflows(&WS).await.unwrap();
    let versions: Vec<_> = listed.iter().map(|it| it.version.as_str()).collect();
    assert_eq!(versions, ["1.0.0", "0.9.0"]);
    assert_eq!(store.list_workflows(&WorkspaceId::from("other")).await.unwrap(), [other]);
    assert!(store.list_workflows(&WorkspaceId::from("nobody")).await.unwrap().is_empty());
    let latest = store.get_workflow(&WorkspaceId::from("other"), "test", "flow", "latest").await.unwrap();
    assert_eq!(latest.map(|it| it.definition).as_deref(), Some("other text"));
}
