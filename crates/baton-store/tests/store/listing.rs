//! `list_runs`: filters, newest-first order and cursor paging.

use baton_store::{RunFilter, RunStatus, Store, StoreError, WorkspaceId};

use crate::fixtures::{WS, checkpoint, new_run};

backend_tests!(list_runs_filters_and_pages, list_runs_by_workflow_and_time);

async fn ids(store: &impl Store, filter: (WorkspaceId, RunFilter)) -> Vec<String> {
    let (workspace, filter) = filter;
    store.list_runs(&workspace, filter).await.unwrap().into_iter().map(|it| it.id).collect()
}

/// A filter of workspace `workspace`; listing is per workspace.
fn filter(workspace: &str, status: Option<RunStatus>, limit: u32, before: Option<&str>) -> (WorkspaceId, RunFilter) {
    let filter = RunFilter { status, limit, before: before.map(str::to_owned), ..RunFilter::default() };
    (WorkspaceId::from(workspace), filter)
}

async fn list_runs_filters_and_pages(store: &impl Store) {
    // r3 and r4 share a creation time: the id breaks the tie.
    for (id, created_at) in [("r1", 10), ("r2", 20), ("r3", 30), ("r4", 30), ("r5", 50)] {
        store.create_run(new_run(id, created_at)).await.unwrap();
    }
    for (id, created_at) in [("x1", 15), ("x2", 60)] {
        let mut run = new_run(id, created_at);
        run.workspace = "other".into();
        store.create_run(run).await.unwrap();
    }
    let mut done = checkpoint("r2", 1);
    done.status = RunStatus::Completed;
    store.commit(done).await.unwrap();

    let summary = &store.list_runs(&WS, filter("default", None, 1, None).1).await.unwrap()[0];
    assert_eq!(
        (summary.id.as_str(), summary.workspace.as_str(), summary.status.as_str()),
        ("r5", "default", "running")
    );
    assert_eq!((summary.created_at, summary.updated_at), (50, 50));

    assert_eq!(ids(store, filter("default", None, 2, None)).await, ["r5", "r4"]);
    assert_eq!(ids(store, filter("default", None, 2, Some("r4"))).await, ["r3", "r2"]);
    assert_eq!(ids(store, filter("default", None, 2, Some("r2"))).await, ["r1"]);
    assert!(ids(store, filter("default", None, 2, Some("r1"))).await.is_empty());

    // Each workspace lists its own runs only.
    assert_eq!(ids(store, filter("default", None, 100, None)).await, ["r5", "r4", "r3", "r2", "r1"]);
    assert_eq!(ids(store, filter("other", None, 100, None)).await, ["x2", "x1"]);
    assert_eq!(ids(store, filter("default", Some(RunStatus::Completed), 100, None)).await, ["r2"]);
    assert_eq!(ids(store, filter("default", Some(RunStatus::Running), 3, Some("r4"))).await, ["r3", "r1"]);

    let res = store.list_runs(&WS, filter("default", None, 10, Some("ghost")).1).await;
    assert!(matches!(res, Err(StoreError::NotFound(_))), "{res:?}");
}

async fn list_runs_by_workflow_and_time(store: &impl Store) {
    for (id, name, version, created_at) in [
        ("a1", "flow", "1.0.0", 10),
        ("a2", "flow", "2.0.0", 20),
        ("b1", "other", "1.0.0", 30),
        ("a3", "flow", "1.0.0", 40),
    ] {
        let mut run = new_run(id, created_at);
        run.name = name.into();
        run.version = version.into();
        store.create_run(run).await.unwrap();
    }
    let mut other_ns = new_run("n1", 25);
    other_ns.namespace = "elsewhere".into();
    store.create_run(other_ns).await.unwrap();

    let by = |f: fn(&mut RunFilter)| {
        let mut filter = RunFilter { limit: 100, ..RunFilter::default() };
        f(&mut filter);
        (WS, filter)
    };
    assert_eq!(ids(store, by(|f| f.name = Some("flow".into()))).await, ["a3", "n1", "a2", "a1"]);
    assert_eq!(
        ids(
            store,
            by(|f| {
                f.namespace = Some("test".into());
                f.name = Some("flow".into());
                f.version = Some("1.0.0".into());
            })
        )
        .await,
        ["a3", "a1"]
    );
    assert_eq!(ids(store, by(|f| f.namespace = Some("elsewhere".into()))).await, ["n1"]);
    // `created_after` is inclusive, `created_before` exclusive.
    assert_eq!(
        ids(
            store,
            by(|f| {
                f.created_after = Some(20);
                f.created_before = Some(40);
            })
        )
        .await,
        ["b1", "n1", "a2"]
    );
    assert_eq!(
        ids(
            store,
            by(|f| {
                f.namespace = Some("test".into());
                f.created_after = Some(20);
                f.limit = 2;
                f.before = Some("a3".into());
            })
        )
        .await,
        ["b1", "a2"]
    );
}
