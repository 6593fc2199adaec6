//! Creating runs: round trip, duplicates, parent links, unfinished runs.

use baton_store::{ParentLink, RunStatus, Store, StoreError};
use serde_json::json;

use crate::fixtures::{WS, checkpoint, entry, new_run, with_history};

backend_tests!(
    create_and_get_run,
    duplicate_run_id_conflicts,
    children_and_unfinished_runs,
    documents_keep_their_key_order
);

async fn create_and_get_run(store: &impl Store) {
    let mut run = new_run("r1", 100);
    run.parent = Some(ParentLink { run_id: "p1".into(), effect_id: "e7".into() });
    let history = vec![
        entry("io.serverlessworkflow.workflow.started.v1", json!({})),
        entry("io.serverlessworkflow.task.started.v1", json!({ "n": 2 })),
    ];
    store.create_run(with_history(run.clone(), history.clone())).await.unwrap();

    let stored = store.get_run(&WS, "r1").await.unwrap().expect("run stored");
    assert_eq!(stored.id, "r1");
    assert_eq!(stored.workspace, "default");
    assert_eq!((stored.namespace.as_str(), stored.name.as_str()), ("test", "flow"));
    assert_eq!(stored.version, "1.0.0");
    assert_eq!(stored.status, "running");
    assert_eq!(stored.input, run.input);
    assert_eq!(stored.state, run.state);
    assert_eq!((stored.output, stored.error), (None, None));
    assert_eq!(stored.state_version, 1);
    assert_eq!(stored.parent, run.parent);
    assert_eq!((stored.created_at, stored.updated_at), (100, 100));

    let entries = store.history(&WS, "r1", 0, 100).await.unwrap();
    let seqs: Vec<_> = entries.iter().map(|it| it.seq).collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(entries[1].kind, history[1].kind);
    assert_eq!(entries[1].data, history[1].data);
    assert_eq!(store.get_run(&WS, "nope").await.unwrap(), None);
    assert!(store.history(&WS, "nope", 0, 100).await.unwrap().is_empty());
}

async fn duplicate_run_id_conflicts(store: &impl Store) {
    store.create_run(with_history(new_run("r1", 100), vec![entry("a", json!(1))])).await.unwrap();
    let mut impostor = new_run("r1", 200);
    impostor.status = RunStatus::Pending;
    let res = store.create_run(with_history(impostor, vec![entry("b", json!(2))])).await;
    assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");

    let stored = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.created_at), ("running", 100));
    let kinds: Vec<_> = store.history(&WS, "r1", 0, 10).await.unwrap().into_iter().map(|it| it.kind).collect();
    assert_eq!(kinds, ["a"]);
}

async fn children_and_unfinished_runs(store: &impl Store) {
    store.create_run(new_run("parent", 10)).await.unwrap();
    for (id, created_at) in [("child-b", 30), ("child-a", 20)] {
        let mut child = new_run(id, created_at);
        child.parent = Some(ParentLink { run_id: "parent".into(), effect_id: id.into() });
        store.create_run(child).await.unwrap();
    }
    let mut waiting = new_run("waiting", 5);
    waiting.status = RunStatus::Waiting;
    store.create_run(waiting).await.unwrap();

    let children: Vec<_> = store.child_runs(&WS, "parent").await.unwrap().into_iter().map(|it| it.id).collect();
    assert_eq!(children, ["child-a", "child-b"]);
    assert!(store.child_runs(&WS, "child-a").await.unwrap().is_empty());

    for (id, status) in [("child-a", "completed"), ("child-b", "faulted"), ("parent", "cancelled")] {
        let mut done = checkpoint(id, 1);
        done.status = RunStatus::parse(status).unwrap();
        store.commit(done).await.unwrap();
    }
    assert_eq!(unfinished_ids(store).await, ["waiting"]);
    let mut suspended = new_run("suspended", 1);
    suspended.status = RunStatus::Suspended;
    store.create_run(suspended).await.unwrap();
    assert_eq!(unfinished_ids(store).await, ["suspended", "waiting"]);
}

/// JSON documents come back as they went in, object keys in their order (the interpreter and
/// the API keep key order; PostgreSQL's `jsonb` would sort the keys).
async fn documents_keep_their_key_order(store: &impl Store) {
    let doc = json!({ "zeta": 1, "alpha": { "b": [1, 2.5, "x"], "a": null }, "mid": true, "": "" });
    let text = |value: &serde_json::Value| serde_json::to_string(value).unwrap();
    let mut run = new_run("r1", 1);
    run.input = doc.clone();
    run.state = json!({ "data": doc, "step": 0 });
    store.create_run(with_history(run, vec![entry("created", doc.clone())])).await.unwrap();
    let mut step = checkpoint("r1", 1);
    step.state = json!({ "step": 1, "data": doc });
    step.output = Some(doc.clone());
    step.error = Some(json!({ "type": "t", "status": 500, "detail": "d" }));
    step.history = vec![entry("step", doc.clone())];
    step.events = vec![crate::fixtures::event("src", "e1", doc.clone())];
    store.commit(step).await.unwrap();

    let stored = store.get_run(&WS, "r1").await.unwrap().unwrap();
    assert_eq!(text(&stored.input), text(&doc));
    assert_eq!(text(&stored.state), format!(r#"{{"step":1,"data":{}}}"#, text(&doc)));
    assert_eq!(text(&stored.output.unwrap()), text(&doc));
    assert_eq!(text(&stored.error.unwrap()), r#"{"type":"t","status":500,"detail":"d"}"#);
    for item in store.history(&WS, "r1", 0, 10).await.unwrap() {
        assert_eq!(text(&item.data), text(&doc));
    }
    let event = store.get_event(&WS, "src", "e1").await.unwrap().unwrap();
    assert_eq!(text(&event.event["data"]), text(&doc));
}

async fn unfinished_ids(store: &impl Store) -> Vec<String> {
    store.unfinished_runs().await.unwrap().into_iter().map(|it| it.id).collect()
}
