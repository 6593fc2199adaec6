//! Durations and times never overflow (issue 13 item 5): a duration beyond 100 years is refused
//! at deploy with its path, and a huge wait computed at run time faults instead of completing.

use serde_json::json;

use crate::api_support::TestApi;

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_a_huge_every_is_refused_at_deploy_with_its_path() {
    let api = TestApi::start().await;
    let huge = r#"
document: {dsl: '1.0.3', namespace: test, name: huge-every, version: '1.0.0'}
schedule:
  every: {days: 106751991167}
do:
  - pause:
      wait: P36525DT0.001S
"#;
    let problem = api.post("/api/v1/workflows", huge).await.problem(400, "invalid-definition");
    let diagnostics = problem["diagnostics"].as_array().expect("diagnostics");
    let paths: Vec<&str> = diagnostics.iter().map(|it| it["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/schedule/every", "/do/0/pause/wait"], "{problem}");
    assert!(diagnostics.iter().all(|it| it["message"].as_str().unwrap().contains("exceeds 100 years")), "{problem}");
    assert_eq!(api.get("/api/v1/workflows").await.json(), json!({"items": []}));
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_a_huge_wait_cannot_complete_at_once() {
    let api = TestApi::start().await;
    api.deploy(
        r#"
document: {dsl: '1.0.3', namespace: test, name: long-wait, version: '1.0.0'}
do:
  - pause:
      wait: '${ .delay }'
"#,
    )
    .await;
    // Exactly 100 years is a timer far in the future: the run waits.
    let run = api.start_run("long-wait", "", json!({"delay": "P36525D"})).await.json();
    assert_eq!(run["status"], "waiting", "{run}");
    // Beyond it (and beyond what i64 ms can add) the run faults with a clear error.
    let run = api.start_run("long-wait", "", json!({"delay": "P106751991167D"})).await.json();
    let run = api.wait_status(run["id"].as_str().unwrap(), "faulted").await;
    assert!(run["error"]["detail"].as_str().unwrap_or_default().contains("exceeds 100 years"), "{run}");
}
