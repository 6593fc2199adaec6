//! Run ownership for several nodes: claims, the orphan sweep, the fencing check on commits and
//! the inputs stored for a run's owner.

use serde_json::json;

use baton_store::{LeaseRequest, NewRun, OwnerEpoch, RunStatus, Store, StoreError};

use crate::fixtures::{WS, checkpoint, new_run};

backend_tests!(
    a_run_is_claimed_only_from_a_dead_or_absent_owner,
    a_stale_owner_cannot_commit,
    the_orphan_sweep_takes_the_runs_of_expired_nodes_only,
    inputs_wait_for_their_owner_until_a_commit_consumes_them,
    leases_are_listed_by_prefix,
    a_commit_sends_inputs_to_other_runs_with_the_step,
);

/// Node `holder`'s lease, valid until `expires_at`.
async fn node_lease(store: &impl Store, holder: &str, expires_at: i64) {
    let request = LeaseRequest {
        name: format!("{}{holder}", baton_store::NODE_LEASE_PREFIX),
        holder: holder.into(),
        now: 0,
        expires_at,
        take_over_from: None,
    };
    store.acquire_lease(request).await.unwrap();
}

fn owned_run(id: &str, created_at: i64, owner: &str) -> NewRun {
    NewRun { owner: Some(owner.into()), ..new_run(id, created_at) }
}

async fn a_run_is_claimed_only_from_a_dead_or_absent_owner(store: &impl Store) {
    node_lease(store, "a", 1_000).await;
    node_lease(store, "b", 5_000).await;
    store.create_run(owned_run("r1", 1, "a")).await.unwrap();
    let created = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!((created.owner.as_deref(), created.owner_epoch), (Some("a"), OwnerEpoch(0)));
    // The owner claims its own run without changing the epoch.
    assert_eq!(store.claim_run("r1", "a", 500).await.unwrap(), Some(OwnerEpoch(0)));
    // Another node is refused while the owner's lease is valid.
    assert_eq!(store.claim_run("r1", "b", 500).await.unwrap(), None);
    // After it expires, the run changes hands and the epoch grows.
    assert_eq!(store.claim_run("r1", "b", 1_000).await.unwrap(), Some(OwnerEpoch(1)));
    let claimed = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!((claimed.owner.as_deref(), claimed.owner_epoch), (Some("b"), OwnerEpoch(1)));
    // An unowned run goes to the first claimant; unknown and ended runs to nobody.
    store.create_run(new_run("r2", 2)).await.unwrap();
    assert_eq!(store.claim_run("r2", "b", 1_000).await.unwrap(), Some(OwnerEpoch(1)));
    assert_eq!(store.claim_run("nope", "b", 1_000).await.unwrap(), None);
    let mut end = checkpoint("r2", 1);
    end.expected_epoch = OwnerEpoch(1);
    end.status = RunStatus::Completed;
    store.commit(end).await.unwrap();
    node_lease(store, "b", 0).await;
    assert_eq!(store.claim_run("r2", "c", 10_000).await.unwrap(), None, "an ended run is never claimed");
}

async fn a_stale_owner_cannot_commit(store: &impl Store) {
    node_lease(store, "a", 1_000).await;
    store.create_run(owned_run("r1", 1, "a")).await.unwrap();
    // Node a commits at epoch 0, then stalls past its lease; node b takes the run over.
    store.commit(checkpoint("r1", 1)).await.unwrap();
    assert_eq!(store.claim_run("r1", "b", 2_000).await.unwrap(), Some(OwnerEpoch(1)));
    // a comes back and writes from what it had: refused, even though the state version matches.
    let refused = store.commit(checkpoint("r1", 2)).await;
    match refused {
        Err(StoreError::Conflict(kind)) => assert!(kind.to_string().contains("stale write refused"), "{kind}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let run = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!(run.state_version, 2, "nothing of the stale write was applied");
    // The new owner's commit at the new epoch goes through.
    let mut current = checkpoint("r1", 2);
    current.expected_epoch = OwnerEpoch(1);
    assert_eq!(store.commit(current).await.unwrap(), 3);
}

async fn the_orphan_sweep_takes_the_runs_of_expired_nodes_only(store: &impl Store) {
    node_lease(store, "dead", 1_000).await;
    node_lease(store, "alive", 10_000).await;
    node_lease(store, "me", 10_000).await;
    for (id, created_at, owner) in
        [("d1", 1, "dead"), ("d2", 2, "dead"), ("d3", 3, "dead"), ("l1", 4, "alive"), ("m1", 5, "me")]
    {
        store.create_run(owned_run(id, created_at, owner)).await.unwrap();
    }
    store.create_run(new_run("u1", 6)).await.unwrap();
    // Before the dead node's lease expires, only the unowned run is an orphan.
    assert_eq!(
        store.claim_orphan_runs("me", 500, 10).await.unwrap().into_iter().map(|it| it.id).collect::<Vec<_>>(),
        vec!["u1".to_owned()]
    );
    // After: oldest first, in batches.
    assert_eq!(
        store.claim_orphan_runs("me", 2_000, 2).await.unwrap().into_iter().map(|it| it.id).collect::<Vec<_>>(),
        vec!["d1".to_owned(), "d2".to_owned()]
    );
    assert_eq!(
        store.claim_orphan_runs("other", 2_000, 10).await.unwrap().into_iter().map(|it| it.id).collect::<Vec<_>>(),
        vec!["d3".to_owned()]
    );
    assert!(store.claim_orphan_runs("me", 2_000, 10).await.unwrap().is_empty());
    for (id, owner, epoch) in [("d1", "me", 1), ("d3", "other", 1), ("l1", "alive", 0), ("m1", "me", 0)] {
        let run = store.get_run(&WS, id).await.unwrap().unwrap();
        assert_eq!((run.owner.as_deref(), run.owner_epoch), (Some(owner), OwnerEpoch(epoch)), "{id}");
    }
}

async fn inputs_wait_for_their_owner_until_a_commit_consumes_them(store: &impl Store) {
    node_lease(store, "a", 10_000).await;
    store.create_run(owned_run("r1", 1, "a")).await.unwrap();
    store.create_run(owned_run("r2", 2, "a")).await.unwrap();
    let owner = store.put_run_input("r1", json!({"kind": "cancel"}), 10).await.unwrap();
    assert_eq!(owner.as_deref(), Some("a"));
    store.put_run_input("r1", json!({"kind": "suspend"}), 11).await.unwrap();
    store.put_run_input("r2", json!({"kind": "resume"}), 12).await.unwrap();
    let missing = store.put_run_input("nope", json!({}), 13).await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    assert!(store.inputs_for_node("b", 10).await.unwrap().is_empty());
    let inputs = store.inputs_for_node("a", 10).await.unwrap();
    let kinds: Vec<_> = inputs.iter().map(|input| (input.run_id.as_str(), input.input["kind"].clone())).collect();
    assert_eq!(kinds, vec![("r1", json!("cancel")), ("r1", json!("suspend")), ("r2", json!("resume"))]);
    assert!(inputs[0].id < inputs[1].id && inputs[1].id < inputs[2].id);
    // A commit removes the inputs it applied; a refused one removes nothing.
    let mut stale = checkpoint("r1", 7);
    stale.inputs_consumed = vec![inputs[0].id];
    assert!(store.commit(stale).await.is_err());
    assert_eq!(store.inputs_for_node("a", 10).await.unwrap().len(), 3);
    let mut applied = checkpoint("r1", 1);
    applied.inputs_consumed = vec![inputs[0].id, inputs[2].id];
    store.commit(applied).await.unwrap();
    let left: Vec<_> = store.inputs_for_node("a", 10).await.unwrap().into_iter().map(|input| input.id).collect();
    assert_eq!(left, vec![inputs[1].id, inputs[2].id], "another run's input is not consumed by this one");
    // Ending the run drops every input it had left.
    let mut end = checkpoint("r1", 2);
    end.status = RunStatus::Cancelled;
    store.commit(end).await.unwrap();
    let left: Vec<_> = store.inputs_for_node("a", 10).await.unwrap().into_iter().map(|input| input.run_id).collect();
    assert_eq!(left, vec!["r2".to_owned()]);
    // An input for an ended run is not stored.
    assert_eq!(store.put_run_input("r1", json!({"kind": "resume"}), 14).await.unwrap(), None);
    assert_eq!(store.inputs_for_node("a", 10).await.unwrap().len(), 1);
    // Inputs follow their run to a new owner.
    node_lease(store, "a", 0).await;
    store.claim_run("r2", "b", 20_000).await.unwrap();
    assert!(store.inputs_for_node("a", 10).await.unwrap().is_empty());
    assert_eq!(store.inputs_for_node("b", 10).await.unwrap().len(), 1);
}

async fn leases_are_listed_by_prefix(store: &impl Store) {
    node_lease(store, "b", 100).await;
    node_lease(store, "a", 200).await;
    let engine =
        LeaseRequest { name: "engine".into(), holder: "x".into(), now: 0, expires_at: 50, take_over_from: None };
    store.acquire_lease(engine).await.unwrap();
    let listed: Vec<_> = store
        .leases_with_prefix(baton_store::NODE_LEASE_PREFIX)
        .await
        .unwrap()
        .into_iter()
        .map(|(name, lease)| (name, lease.holder, lease.expires_at))
        .collect();
    assert_eq!(listed, vec![("node/a".to_owned(), "a".to_owned(), 200), ("node/b".to_owned(), "b".to_owned(), 100)]);
}

async fn a_commit_sends_inputs_to_other_runs_with_the_step(store: &impl Store) {
    node_lease(store, "a", 10_000).await;
    node_lease(store, "b", 10_000).await;
    store.create_run(owned_run("parent", 1, "b")).await.unwrap();
    store.create_run(owned_run("ended", 2, "b")).await.unwrap();
    store.create_run(owned_run("child", 3, "a")).await.unwrap();
    let mut end = checkpoint("ended", 1);
    end.status = RunStatus::Completed;
    store.commit(end).await.unwrap();
    // A refused step sends nothing.
    let mut stale = checkpoint("child", 9);
    stale.inputs_sent = vec![("parent".into(), json!({"kind": "effect_completed"}))];
    assert!(store.commit(stale).await.is_err());
    assert!(store.inputs_for_node("b", 10).await.unwrap().is_empty());
    let mut last = checkpoint("child", 1);
    last.status = RunStatus::Completed;
    last.inputs_sent =
        vec![("parent".into(), json!({"kind": "effect_completed"})), ("ended".into(), json!({"kind": "cancel"}))];
    store.commit(last).await.unwrap();
    let sent = store.inputs_for_node("b", 10).await.unwrap();
    let sent: Vec<_> = sent.iter().map(|input| (input.run_id.as_str(), input.input.clone())).collect();
    assert_eq!(sent, vec![("parent", json!({"kind": "effect_completed"}))], "nothing for an ended run");
}
