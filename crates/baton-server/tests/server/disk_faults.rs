//! A node whose database cannot be written (issue 13, item 7): `/readyz` and writes answer 503
//! `platform-unavailable` instead of hanging, runs pause instead of failing, and the node
//! recovers by itself once the disk is writable again. The fault is real: the SQLite file and its
//! WAL made immutable (`chattr +i`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use serde_json::json;

use baton_server::engine::DEFAULT_APPROVAL_DEADLINE_MS;

use crate::api_support::{HELLO, NAPPER, Reply, send};

/// The database files of `dir` made immutable until dropped (also when the test fails, so the
/// temporary directory can be removed).
struct Immutable {
    files: Vec<PathBuf>,
}

impl Immutable {
    fn set(dir: &Path) -> Immutable {
        let files: Vec<PathBuf> = ["baton.db", "baton.db-wal"].iter().map(|name| dir.join(name)).collect();
        for file in &files {
            chattr("+i", file);
        }
        Immutable { files }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for file in &self.files {
            chattr("-i", file);
        }
    }
}

#[track_caller]
fn chattr(flag: &str, file: &Path) {
    let status = std::process::Command::new("chattr").arg(flag).arg(file).status();
    assert!(
        matches!(status, Ok(status) if status.success()),
        "chattr {flag} {} failed ({status:?}): this test needs root and a filesystem with file attributes \
         (ext4, xfs, btrfs) under CARGO_TARGET_TMPDIR",
        file.display()
    );
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_unwritable_database_is_unavailable_then_recovers() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let config = crate::support::local_config(&dir.path().join("baton.db"), DEFAULT_APPROVAL_DEADLINE_MS);
    let server = crate::support::start(config).await;
    let router = server.api().router.clone();
    let get = |uri: &str| send(router.clone(), Request::get(uri).body(Body::empty()).unwrap());
    let post = |uri: &str, body: String| {
        let request = Request::post(uri).header("content-type", "application/json").body(Body::from(body)).unwrap();
        send(router.clone(), request)
    };
    let start_run = |name: &str, mode: &str| {
        let body = json!({"workflow": {"namespace": "test", "name": name}, "input": {"name": "disk"}});
        post(&format!("/api/v1/runs?mode={mode}"), body.to_string())
    };
    for definition in [HELLO, NAPPER] {
        let reply =
            send(router.clone(), Request::post("/api/v1/workflows").body(Body::from(definition)).unwrap()).await;
        assert!(reply.status.is_success(), "{}", String::from_utf8_lossy(&reply.body));
    }
    // Sets, then waits one second on a timer: its next commit falls into the fault.
    let napper: Reply = start_run("napper", "background").await;
    assert_eq!(napper.status, 202);
    let napper_id = napper.json()["id"].as_str().expect("a run id").to_owned();
    assert_eq!(get("/readyz").await.status, 200);

    let fault = Immutable::set(dir.path());
    let started = Instant::now();
    get("/readyz").await.problem(503, "platform-unavailable");
    start_run("hello", "sync").await.problem(503, "platform-unavailable");
    assert!(started.elapsed() < Duration::from_secs(10), "answers took {:?}", started.elapsed());
    // The napper's timer fires meanwhile; its commit fails and is retried.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    get("/readyz").await.problem(503, "platform-unavailable");
    let paused = get(&format!("/api/v1/runs/{napper_id}")).await.json();
    assert_ne!(paused["status"], "completed", "{paused}");

    drop(fault);
    let reply = get("/readyz").await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let hello = start_run("hello", "sync").await;
    assert_eq!(hello.status, 200, "{}", String::from_utf8_lossy(&hello.body));
    assert_eq!(hello.json()["output"], json!({"greeting": "hello disk!"}));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let run = get(&format!("/api/v1/runs/{napper_id}")).await.json();
        if run["status"] == "completed" {
            assert_eq!(run["output"], json!({"step": 2}));
            break;
        }
        assert!(Instant::now() < deadline, "the paused run did not go on: {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.close().await;
}
