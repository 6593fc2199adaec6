//! Signals survive `kill -9`: a cancel acknowledged (202) while the run waits in a long call is
//! stored before the answer, so the restarted server applies it, once.

use std::path::Path;
use std::time::{Duration, Instant};

use baton_server::standin::StandIn;

use crate::support::{self, Served, deploy, history, log_text, start_run, wait_status};

async fn serve(db: &Path, log: &Path, http: &reqwest::Client) -> (Served, String) {
    support::serve(&["--db".as_ref(), db.as_os_str()], log, http).await
}

// See: #13
#[tokio::test(flavor = "multi_thread")]
async fn issue_13_a_cancel_acknowledged_before_kill_9_cancels_the_run_once_after_restart() {
    let standin = StandIn::start().await.expect("stand-in");
    let stub = standin.base_url();
    let dir = tempfile::tempdir().unwrap();
    let (db, log) = (dir.path().join("baton.db"), dir.path().join("serve.log"));
    let http = support::http_client(Duration::from_secs(30));

    let (mut server, base) = serve(&db, &log, &http).await;
    let definition = format!(
        r#"
document: {{dsl: '1.0.3', namespace: test, name: held, version: '1.0.0'}}
do:
  - held:
      call: http
      with: {{method: get, endpoint: '{stub}/delay/30000'}}
"#
    );
    deploy(&http, &base, definition).await;
    let id = start_run(&http, &base, "held").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while standin.request_count() < 1 {
        assert!(Instant::now() < deadline, "the run never called the stand-in:\n{}", log_text(&log));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The actor is inside the call: the cancel waits in its mailbox when the process dies.
    let answer = http.post(format!("{base}/api/v1/runs/{id}/cancel")).send().await.unwrap();
    assert_eq!(answer.status(), 202, "{}", answer.text().await.unwrap_or_default());
    server.kill9();

    let (_server, base) = serve(&db, &log, &http).await;
    // Well before the re-issued 30 s call could end.
    wait_status(&http, &base, &id, "cancelled", Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let entries = history(&http, &base, &id).await;
    let cancelled = entries
        .iter()
        .filter(|entry| entry["type"].as_str().is_some_and(|kind| kind.contains("workflow.cancelled")))
        .count();
    assert_eq!(cancelled, 1, "{entries:?}");
}
