//! The crash-loop quarantine end to end (issue 13, item 1): a run whose step was in progress
//! when `baton serve` died twice in a row is faulted at the third start instead of being
//! stepped again, and the server goes on answering.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{self, Served, deploy, get_json, log_text, start_run};

/// One step of many seconds of CPU (thirty `set` tasks of about a million jq steps each): the
/// test kills the server while it computes, as an abort in the interpreter would.
fn heavy() -> String {
    let mut definition =
        String::from("document: {dsl: '1.0.3', namespace: test, name: heavy, version: '1.0.0'}\ndo:\n");
    for idx in 0..30 {
        definition.push_str(&format!("  - t{idx}: {{set: {{n: '${{ [range(0; 900000)] | length }}'}}}}\n"));
    }
    definition
}

const HELLO: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: hello, version: '1.0.0'}
do:
  - greet:
      set:
        greeting: ${ "hello " + .name }
"#;

async fn serve(db: &Path, log: &Path, http: &reqwest::Client) -> (Served, String) {
    support::serve(&["--db".as_ref(), db.as_os_str()], log, http).await
}

// See: #13
#[tokio::test(flavor = "multi_thread")]
async fn issue_13_run_that_killed_the_server_twice_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("baton.db"), dir.path().join("serve.log"));
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();

    let (mut server, base) = serve(&db, &log, &http).await;
    deploy(&http, &base, heavy()).await;
    deploy(&http, &base, HELLO.to_owned()).await;
    let run_id = start_run(&http, &base, "heavy").await;
    // First crash: in the middle of the run's first step.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.kill9();

    // Second crash: in the middle of the same step, resumed after the restart (the server
    // resumes runs before it answers).
    let (mut server, base) = serve(&db, &log, &http).await;
    let run = get_json(&http, format!("{base}/api/v1/runs/{run_id}")).await;
    // The step never committed: the run is still as created.
    assert_eq!(run["status"], "pending", "{run}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    server.kill9();

    // Third start: the run is not stepped again.
    let (_server, base) = serve(&db, &log, &http).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let run = loop {
        let run = get_json(&http, format!("{base}/api/v1/runs/{run_id}")).await;
        if run["status"] != "pending" {
            break run;
        }
        assert!(Instant::now() < deadline, "the run was not quarantined: {run}\n{}", log_text(&log));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run["status"], "faulted", "{run}");
    assert_eq!(run["error"]["detail"], "quarantined after 2 crashes", "{run}");
    assert_eq!(run["error"]["type"], "https://serverlessworkflow.io/spec/1.0.0/errors/runtime", "{run}");

    // The server goes on.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let reply = http
        .post(format!("{base}/api/v1/runs?mode=sync"))
        .json(&json!({"workflow": {"namespace": "test", "name": "hello"}, "input": {"name": "again"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_eq!(body["output"], json!({"greeting": "hello again"}), "{body}");
}
