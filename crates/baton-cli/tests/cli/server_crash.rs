//! `kill -9` of `baton serve` with 200 runs in flight: restarted on the same database, the server
//! completes every run exactly once and repeats at most the call each run had in flight.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use baton_server::standin::StandIn;

use crate::support::{self, Served, get_json, log_text};

const RUNS: usize = 200;

async fn serve(db: &Path, log: &Path, http: &reqwest::Client) -> (Served, String) {
    support::serve(&["--db".as_ref(), db.as_os_str()], log, http).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_server_completes_every_run_once_after_restart() {
    let standin = StandIn::start().await.expect("stand-in");
    let stub = standin.base_url();
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("baton.db"), dir.path().join("serve.log"));
    let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();

    let (mut server, base) = serve(&db, &log, &http).await;
    let definition = format!(
        r#"
document: {{dsl: '1.0.3', namespace: test, name: crash, version: '1.0.0'}}
do:
  - slow:
      call: http
      with: {{method: get, endpoint: '{stub}/delay/500'}}
  - pause:
      wait: {{milliseconds: 100}}
  - record:
      call: http
      with: {{method: post, endpoint: '{stub}/echo', body: {{done: true}}}}
"#
    );
    let deployed = http
        .post(format!("{base}/api/v1/workflows"))
        .header("content-type", "application/yaml")
        .body(definition)
        .send()
        .await
        .unwrap();
    assert!(deployed.status().is_success(), "deploy: {}", deployed.text().await.unwrap());

    let ids: Vec<String> = stream::iter(0..RUNS)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                let response = http
                    .post(format!("{base}/api/v1/runs?mode=background"))
                    .json(&json!({"workflow": {"namespace": "test", "name": "crash"}}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 202);
                let body: Value = response.json().await.unwrap();
                body["id"].as_str().expect("run id").to_owned()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let deadline = Instant::now() + Duration::from_secs(20);
    while standin.request_count() < 20 {
        assert!(Instant::now() < deadline, "the runs never called the stand-in:\n{}", log_text(&log));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill9();
    let requests_at_kill = standin.request_count();
    assert!(requests_at_kill < 2 * RUNS as u64, "every run had finished before the kill");

    let (_server, base) = serve(&db, &log, &http).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pending = ids.clone();
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "{} runs unfinished 60 s after restart:\n{}", pending.len(), log_text(&log));
        let mut still = Vec::new();
        for id in pending {
            let run = get_json(&http, format!("{base}/api/v1/runs/{id}")).await;
            match run["status"].as_str() {
                Some("completed") => {}
                Some("pending" | "running" | "waiting") => still.push(id),
                _ => panic!("run {id} ended otherwise: {run}"),
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for id in &ids {
        let history = get_json(&http, format!("{base}/api/v1/runs/{id}/history?limit=1000")).await;
        assert!(history.get("nextCursor").is_none_or(Value::is_null), "history of {id} longer than a page");
        let completed = history["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|entry| entry["type"] == "io.serverlessworkflow.workflow.completed.v1")
            .count();
        assert_eq!(completed, 1, "run {id}: {completed} workflow.completed entries");
    }

    let keys = standin.idempotency_counts();
    let mut distribution: BTreeMap<u64, usize> = BTreeMap::new();
    for count in keys.values() {
        *distribution.entry(*count).or_default() += 1;
    }
    eprintln!("stand-in requests at the kill: {requests_at_kill}; requests per idempotency key: {distribution:?}");
    assert!(keys.len() >= 2 * RUNS, "{} keys for {RUNS} runs of 2 calls", keys.len());
    assert!(keys.values().all(|&n| n <= 2), "requests per idempotency key: {distribution:?}");
}
