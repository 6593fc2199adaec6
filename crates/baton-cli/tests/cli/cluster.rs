//! Several `baton serve` nodes on one PostgreSQL database (a schema of its own per test): a node
//! killed with `kill -9` loses no run and runs none twice; a node paused past its lease cannot
//! write the runs another node took over.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use baton_server::standin::StandIn;

use crate::support::{
    self, PgSchema, Served, assert_keys_at_most_twice, completions, deploy, history, log_text, start_run,
    wait_completed, wait_status,
};

/// Starts a node on `schema` with a node lease of `ttl_secs`.
async fn node(schema: &PgSchema, ttl_secs: u64, log: &Path, http: &reqwest::Client) -> (Served, String) {
    let mut args = schema.serve_args();
    args.extend(["--node-lease-ttl".into(), OsString::from(ttl_secs.to_string())]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(OsString::as_os_str).collect();
    support::serve(&args, log, http).await
}

fn client() -> reqwest::Client {
    crate::support::http_client(Duration::from_secs(60))
}

const RUNS: usize = 1_000;

#[tokio::test(flavor = "multi_thread")]
async fn three_nodes_lose_no_run_when_one_is_killed() {
    let standin = StandIn::start().await.expect("stand-in");
    let stub = standin.base_url();
    let schema = PgSchema::new("cluster");
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<_> = (0..3).map(|n| dir.path().join(format!("node{n}.log"))).collect();
    let http = client();
    let mut nodes = Vec::new();
    for log in &logs {
        nodes.push(node(&schema, 3, log, &http).await);
    }
    let bases: Vec<String> = nodes.iter().map(|(_, base)| base.clone()).collect();
    deploy(
        &http,
        &bases[0],
        format!(
            r#"
document: {{dsl: '1.0.3', namespace: test, name: mixed, version: '1.0.0'}}
do:
  - slow:
      call: http
      with: {{method: get, endpoint: '{stub}/delay/1000'}}
  - pause:
      wait: {{seconds: 5}}
  - record:
      call: http
      with: {{method: post, endpoint: '{stub}/echo', body: {{done: true}}}}
"#
        ),
    )
    .await;

    // The first half of the runs is started round-robin through the three nodes (each node runs
    // what it starts); node 1 is killed while its runs are in their 1 s call or their 5 s wait;
    // the second half goes to the two nodes left, while they adopt node 1's runs.
    let start = |nodes: Vec<String>, range: std::ops::Range<usize>| {
        let http = http.clone();
        stream::iter(range)
            .map(move |n| {
                let (http, base) = (http.clone(), nodes[n % nodes.len()].clone());
                async move { start_run(&http, &base, "mixed").await }
            })
            .buffer_unordered(32)
            .collect::<Vec<String>>()
    };
    let mut ids = start(bases.clone(), 0..RUNS / 2).await;
    nodes[1].0.kill9();
    let requests_at_kill = standin.request_count();
    ids.extend(start(vec![bases[0].clone(), bases[2].clone()], RUNS / 2..RUNS).await);

    wait_completed(&http, &bases[0], &ids, Duration::from_secs(240), &logs[0]).await;
    for id in &ids {
        let entries = history(&http, &bases[2], id).await;
        assert_eq!(completions(&entries), 1, "run {id} completed {} times", completions(&entries));
        let seqs: Vec<i64> = entries.iter().map(|entry| entry["seq"].as_i64().unwrap_or(-1)).collect();
        assert!(seqs.windows(2).all(|pair| pair[1] == pair[0] + 1), "run {id}: history with gaps {seqs:?}");
    }
    let distribution = assert_keys_at_most_twice(&standin, 2 * RUNS);
    let adopted: usize =
        [&logs[0], &logs[2]].iter().map(|log| log_text(log).matches("adopted orphaned runs").count()).sum();
    assert!(adopted > 0, "no node adopted the killed node's runs:\n{}", log_text(&logs[0]));
    eprintln!("requests at the kill: {requests_at_kill}; requests per idempotency key: {distribution:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_paused_past_its_lease_cannot_write_a_run_taken_over() {
    let standin = StandIn::start().await.expect("stand-in");
    let stub = standin.base_url();
    let schema = PgSchema::new("fencing");
    let dir = tempfile::tempdir().unwrap();
    let (paused_log, live_log) = (dir.path().join("paused.log"), dir.path().join("live.log"));
    let http = client();
    let (paused, paused_base) = node(&schema, 2, &paused_log, &http).await;
    let (_live, live_base) = node(&schema, 2, &live_log, &http).await;
    deploy(
        &http,
        &paused_base,
        format!(
            r#"
document: {{dsl: '1.0.3', namespace: test, name: fenced, version: '1.0.0'}}
do:
  - slow:
      call: http
      with: {{method: get, endpoint: '{stub}/delay/1500'}}
  - after:
      set: {{done: true}}
"#
        ),
    )
    .await;
    let run_id = start_run(&http, &paused_base, "fenced").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while standin.request_count() < 1 {
        assert!(Instant::now() < deadline, "the run never called the stub:\n{}", log_text(&paused_log));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The owner stops while its call is in flight; its lease expires, the live node takes the
    // run over, calls again (same idempotency key) and completes it.
    paused.signal("STOP");
    wait_completed(&http, &live_base, std::slice::from_ref(&run_id), Duration::from_secs(30), &live_log).await;
    // The paused node wakes up with its call's answer and tries to commit the step it had.
    paused.signal("CONT");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log_text(&paused_log).contains("stale write refused") {
        assert!(Instant::now() < deadline, "the paused node never tried its stale write:\n{}", log_text(&paused_log));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entries = history(&http, &live_base, &run_id).await;
    assert_eq!(completions(&entries), 1);
    let mut transitions: BTreeMap<(String, String), usize> = BTreeMap::new();
    for entry in &entries {
        let kind = entry["type"].as_str().unwrap_or_default().to_owned();
        let task = entry["task"].as_str().unwrap_or_default().to_owned();
        *transitions.entry((kind, task)).or_default() += 1;
    }
    let repeated: Vec<_> = transitions.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "repeated transitions: {repeated:?}");
    let run = support::get_json(&http, format!("{paused_base}/api/v1/runs/{run_id}")).await;
    assert_eq!(run["output"], serde_json::json!({"done": true}), "{run}");
    assert_keys_at_most_twice(&standin, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn events_and_signals_sent_to_any_node_reach_the_run() {
    let schema = PgSchema::new("inputs");
    let dir = tempfile::tempdir().unwrap();
    let (owner_log, other_log) = (dir.path().join("owner.log"), dir.path().join("other.log"));
    let http = client();
    let (_owner, owner_base) = node(&schema, 15, &owner_log, &http).await;
    let (_other, other_base) = node(&schema, 15, &other_log, &http).await;
    deploy(
        &http,
        &owner_base,
        r#"
document: {dsl: '1.0.3', namespace: test, name: approval, version: '1.0.0'}
do:
  - waitForApproval:
      listen:
        to:
          one:
            with: {type: com.example.approved}
  - done:
      set: {approved: '${ .[0].ok }'}
"#
        .to_owned(),
    )
    .await;
    let answered = start_run(&http, &owner_base, "approval").await;
    let cancelled = start_run(&http, &owner_base, "approval").await;
    for id in [&answered, &cancelled] {
        wait_status(&http, &owner_base, id, "waiting", Duration::from_secs(20)).await;
    }
    // Both sent to the node that does not own the runs (the cancel first, so that the event
    // finds only one run waiting).
    let cancel = http.post(format!("{other_base}/api/v1/runs/{cancelled}/cancel")).send().await.unwrap();
    assert!(cancel.status().is_success(), "cancel: {}", cancel.status());
    wait_status(&http, &owner_base, &cancelled, "cancelled", Duration::from_secs(20)).await;
    let event = serde_json::json!({
        "specversion": "1.0", "id": "approval-1", "source": "/test", "type": "com.example.approved",
        "data": {"ok": true}
    });
    let posted = http.post(format!("{other_base}/api/v1/events")).json(&event).send().await.unwrap();
    assert!(posted.status().is_success(), "post event: {}", posted.status());
    wait_completed(&http, &owner_base, std::slice::from_ref(&answered), Duration::from_secs(20), &owner_log).await;
    let run = support::get_json(&http, format!("{other_base}/api/v1/runs/{answered}")).await;
    assert_eq!(run["output"], serde_json::json!({"approved": true}), "{run}");
    // The other node passed both inputs on; it did not take the runs.
    assert!(!log_text(&other_log).contains("claimed a run"), "{}", log_text(&other_log));
}
