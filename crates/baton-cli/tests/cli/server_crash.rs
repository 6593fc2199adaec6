//! `kill -9` of `baton serve` with 200 runs in flight: restarted on the same database, the server
//! completes every run exactly once and repeats at most the call each run had in flight.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use baton_server::standin::StandIn;

use crate::support::{
    self, Served, assert_keys_at_most_twice, completions, deploy, history, log_text, start_run, wait_completed,
};

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
    let http = crate::support::http_client(Duration::from_secs(30));

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
    deploy(&http, &base, definition).await;

    let ids: Vec<String> = stream::iter(0..RUNS)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            async move { start_run(&http, &base, "crash").await }
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
    wait_completed(&http, &base, &ids, Duration::from_secs(60), &log).await;
    for id in &ids {
        let entries = history(&http, &base, id).await;
        assert_eq!(completions(&entries), 1, "run {id}: {} workflow.completed entries", completions(&entries));
    }
    let distribution = assert_keys_at_most_twice(&standin, 2 * RUNS);
    eprintln!("stand-in requests at the kill: {requests_at_kill}; requests per idempotency key: {distribution:?}");
}
