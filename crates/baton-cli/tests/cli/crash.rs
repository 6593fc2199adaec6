//! `kill -9` in the middle of a run: the next `baton run --run-id` resumes from the last
//! checkpoint, repeats only the effect that was in flight, and completes the run once.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use baton_server::standin::StandIn;

use crate::support::{baton, runs_show};

#[tokio::test(flavor = "multi_thread")]
async fn killed_run_resumes_from_its_checkpoint_and_completes_once() {
    let standin = StandIn::start().await.expect("stand-in");
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("baton.db");
    let workflow = dir.path().join("slow.yaml");
    let base = standin.base_url();
    std::fs::write(
        &workflow,
        format!(
            r#"
document: {{dsl: '1.0.3', namespace: test, name: slow, version: '1.0.0'}}
do:
  - first:
      set: {{step: 1, order: '${{ .order }}'}}
  - slow:
      call: http
      with:
        method: get
        endpoint: {base}/delay/3000
      output:
        as: '${{ $input }}'
  - record:
      call: http
      with:
        method: post
        endpoint: {base}/echo
        body: {{order: '${{ .order }}'}}
      output:
        as: '${{ {{order: .body.order, recorded: true}} }}'
"#
        ),
    )
    .expect("write workflow");
    let args = |cmd: &mut Command| {
        cmd.arg("run")
            .arg(&workflow)
            .args(["--input", r#"{"order": 42}"#, "--run-id", "crash-1", "--allow-private-network", "--db"])
            .arg(&db);
    };

    let mut first = Command::new(baton());
    args(&mut first);
    let mut child = first.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn baton");
    let deadline = Instant::now() + Duration::from_secs(20);
    while standin.request_count() == 0 {
        assert!(Instant::now() < deadline, "the run never called the stand-in");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");

    let stored = runs_show(&db, "crash-1");
    assert_eq!(stored["status"], "running", "killed mid-call: {stored}");

    let mut second = Command::new(baton());
    args(&mut second);
    let resumed = second.output().expect("resume");
    assert!(resumed.status.success(), "resume failed: {}", String::from_utf8_lossy(&resumed.stderr));
    let output: Value = serde_json::from_slice(&resumed.stdout).expect("output is JSON");
    assert_eq!(output, serde_json::json!({"order": 42, "recorded": true}));

    let history = runs_show(&db, "crash-1")["history"].as_array().cloned().expect("history");
    let count = |kind: &str, task: Option<&str>| {
        history
            .iter()
            .filter(|e| e["type"] == format!("io.serverlessworkflow.{kind}.v1") && e["task"].as_str() == task)
            .count()
    };
    assert_eq!(count("workflow.started", None), 1);
    assert_eq!(count("workflow.completed", None), 1);
    assert_eq!(count("task.completed", Some("/do/0/first")), 1, "a committed task ran again");
    assert_eq!(count("task.completed", Some("/do/1/slow")), 1);
    assert_eq!(count("task.completed", Some("/do/2/record")), 1);

    // The call in flight at the kill was sent again with the same key; nothing else repeated.
    let keys = standin.idempotency_counts();
    let mut counts: Vec<u64> = keys.values().copied().collect();
    counts.sort();
    assert_eq!(counts, [1, 2], "idempotency keys seen: {keys:?}");
    assert!(keys.keys().all(|key| key.starts_with("crash-1:")), "keys: {keys:?}");
}
