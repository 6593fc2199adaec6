//! `StoreError::Conflict` says which check refused a write (`ConflictKind`), on both backends.

use baton_store::{ConflictKind, LeaseRequest, OwnerEpoch, Store, StoreError};
use serde_json::json;

use crate::fixtures::{checkpoint, new_run, workflow};

backend_tests!(
    issue_14_workflow_redefined_is_its_kind,
    issue_14_run_exists_and_idempotency_key_taken_are_told_apart,
    issue_14_stale_version_and_fenced_are_told_apart,
    issue_14_lease_held_and_lease_lost_are_their_kinds
);

// See: #14
async fn issue_14_workflow_redefined_is_its_kind(store: &impl Store) {
    store.put_workflow(workflow("1.0.0", "a: 1", 10)).await.unwrap();
    let res = store.put_workflow(workflow("1.0.0", "a: 2", 20)).await;
    let Err(StoreError::Conflict(ConflictKind::WorkflowRedefined { workspace, namespace, name, version })) = res else {
        panic!("{res:?}")
    };
    assert_eq!(
        (workspace.as_str(), namespace.as_str(), name.as_str(), version.as_str()),
        ("default", "test", "flow", "1.0.0")
    );
}

// See: #14
async fn issue_14_run_exists_and_idempotency_key_taken_are_told_apart(store: &impl Store) {
    let mut first = new_run("r1", 10);
    first.idempotency_key = Some("k".into());
    let created = store.create_run(first.clone()).await.unwrap();
    assert_eq!((created.id.as_str(), created.state_version, created.owner_epoch), ("r1", 1, OwnerEpoch::INITIAL));
    assert_eq!(created.input, first.input);

    let res = store.create_run(new_run("r1", 20)).await;
    assert!(matches!(&res, Err(StoreError::Conflict(ConflictKind::RunExists { run_id })) if run_id == "r1"), "{res:?}");

    let mut second = new_run("r2", 20);
    second.idempotency_key = Some("k".into());
    let res = store.create_run(second).await;
    let Err(StoreError::Conflict(ConflictKind::IdempotencyKeyTaken { key, existing_run_id })) = res else {
        panic!("{res:?}")
    };
    assert_eq!((key.as_str(), existing_run_id.as_str()), ("k", "r1"));
}

// See: #14
async fn issue_14_stale_version_and_fenced_are_told_apart(store: &impl Store) {
    store.create_run(new_run("r1", 10)).await.unwrap();
    store.commit(checkpoint("r1", 1)).await.unwrap();
    let res = store.commit(checkpoint("r1", 1)).await;
    assert!(
        matches!(&res, Err(StoreError::Conflict(ConflictKind::StaleVersion { run_id, stored: 2, expected: 1 })) if run_id == "r1"),
        "{res:?}"
    );
    let mut stale_owner = checkpoint("r1", 2);
    stale_owner.expected_epoch = OwnerEpoch(3);
    let res = store.commit(stale_owner).await;
    assert!(
        matches!(
            &res,
            Err(StoreError::Conflict(ConflictKind::Fenced { stored: OwnerEpoch(0), expected: OwnerEpoch(3), .. }))
        ),
        "{res:?}"
    );
    let stored = store.load_run("r1").await.unwrap().unwrap();
    assert_eq!((stored.state_version, stored.state.clone()), (2, json!({ "step": 1 })));
}

// See: #14
async fn issue_14_lease_held_and_lease_lost_are_their_kinds(store: &impl Store) {
    let request = |holder: &str, now| LeaseRequest {
        name: "engine".into(),
        holder: holder.into(),
        now,
        expires_at: now + 100,
        take_over_from: None,
    };
    let lease = store.acquire_lease(request("a", 0)).await.unwrap();
    let res = store.acquire_lease(request("b", 50)).await;
    assert!(matches!(&res, Err(StoreError::Conflict(ConflictKind::LeaseHeld { name })) if name == "engine"), "{res:?}");
    store.acquire_lease(request("b", 200)).await.unwrap();
    let res = store.renew_lease("engine", "a", lease.epoch, 300).await;
    assert!(matches!(&res, Err(StoreError::Conflict(ConflictKind::LeaseLost { name })) if name == "engine"), "{res:?}");
}
