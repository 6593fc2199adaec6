//! The stale-wait sweeper seen through the HTTP API of a real server on 127.0.0.1 (real SQLite
//! file, real webhook receivers): a run's metadata is kept and gets `reason: approval_timeout`
//! when its human-input wait expires, and `/metrics` shows the sweeper's passes and the
//! lifecycle-event sinks' deliveries, retries and failures per sink.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use baton_server::engine::SweepReport;
use baton_server::notify::sinks::RetryPolicy;

use crate::support::LOOPBACK;

/// An approval without a `timeout`: it gets the server's approval deadline.
const APPROVAL: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: approval, version: '1.0.0'}
do:
  - approve:
      metadata:
        inbox: {title: Approve}
      listen:
        to:
          one:
            with: {type: com.example.approved}
"#;

/// A webhook receiver on 127.0.0.1 answering every request with `status`; counts requests.
async fn receiver(status: StatusCode) -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let counted = count.clone();
    let router = Router::new().route(
        "/hook",
        post(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                status
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/hook?token=secret"), count)
}

/// Polls `condition` every 10 ms for 10 s at most.
async fn eventually(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened");
}

/// The value of the sample `name` (with its labels, as printed) in an OpenMetrics text.
#[track_caller]
fn sample(text: &str, name: &str) -> u64 {
    let line = text
        .lines()
        .find(|line| line.split_once(' ').is_some_and(|(sample, _)| sample == name))
        .unwrap_or_else(|| panic!("no sample {name} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap_or_else(|err| panic!("{line}: {err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_wait_keeps_the_metadata_adds_the_reason_and_is_counted_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    // Every human-input wait is overdue 1 ms after it starts.
    let mut config = crate::support::local_config(&dir.path().join("baton.db"), 1);
    let (up_url, up_count) = receiver(StatusCode::OK).await;
    let (down_url, down_count) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
    config.sinks = vec![up_url, down_url];
    config.sink_egress = LOOPBACK;
    config.sink_retry = RetryPolicy { attempts: 2, base: Duration::from_millis(1), cap: Duration::from_millis(5) };
    let server = crate::support::start(config).await;
    let engine = server.engine().clone();
    let base = crate::support::serve_api(&server).await;
    let http = reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_static(concat!("Bearer ", "bk_test-suite-admin-key-0001")),
        )]))
        .build()
        .unwrap();

    let deployed = http
        .post(format!("{base}/api/v1/workflows"))
        .header("content-type", "application/yaml")
        .body(APPROVAL)
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let start = |metadata: Value| {
        let body = json!({"workflow": {"namespace": "test", "name": "approval"}, "metadata": metadata});
        http.post(format!("{base}/api/v1/runs")).json(&body).send()
    };
    // Metadata must be an object.
    for bad in [json!("ticket"), json!(["T-7"]), json!(null), json!(7)] {
        let refused = start(bad.clone()).await.unwrap();
        assert_eq!(refused.status(), 400, "{bad}");
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["type"], "/problems/invalid-request", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("metadata"), "{problem}");
    }
    let metadata = json!({"ticket": "T-7", "requester": {"name": "ana"}, "tags": ["vip"]});
    let run: Value = start(metadata.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(run["status"], "waiting", "{run}");
    let run_url = format!("{base}/api/v1/runs/{}", run["id"].as_str().unwrap());
    let shown: Value = http.get(&run_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["metadata"], metadata, "{shown}");

    tokio::time::sleep(Duration::from_millis(5)).await;
    let report = engine.sweep_overdue(100).await.unwrap().expect("no other pass runs");
    assert_eq!(report, SweepReport { checked: 1, timed_out: 1, failed: 0 });
    let mut ended = Value::Null;
    for _ in 0..1_000 {
        ended = http.get(&run_url).send().await.unwrap().json().await.unwrap();
        if ended["status"] == "faulted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(ended["status"], "faulted", "{ended}");
    assert_eq!(ended["error"]["detail"], "reason: approval_timeout", "{ended}");
    assert_eq!(
        ended["metadata"],
        json!({"ticket": "T-7", "requester": {"name": "ana"}, "tags": ["vip"], "reason": "approval_timeout"})
    );

    // Every history entry reaches the working sink once, and fails twice (one retry) at the
    // other.
    let n_events = ended["historyCursor"].as_u64().unwrap();
    eventually("delivery to the working sink", || up_count.load(Ordering::SeqCst) == n_events).await;
    eventually("both attempts at the failing sink", || down_count.load(Ordering::SeqCst) == 2 * n_events).await;
    let scrape = || async { http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap() };
    let mut text = scrape().await;
    for _ in 0..100 {
        // The last failure is counted once the failing sink gives up after its answer.
        if sample(&text, r#"baton_sink_failed_total{sink="2"}"#) == n_events {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        text = scrape().await;
    }
    assert_eq!(sample(&text, "baton_sweeper_passes_total"), 1);
    assert_eq!(sample(&text, "baton_sweeper_checked_total"), 1);
    assert_eq!(sample(&text, "baton_sweeper_timed_out_total"), 1);
    assert_eq!(sample(&text, "baton_sweeper_failed_total"), 0);
    assert_eq!(sample(&text, "baton_sweeper_last_timed_out"), 1);
    assert_eq!(sample(&text, r#"baton_sink_delivered_total{sink="1"}"#), n_events);
    assert_eq!(sample(&text, r#"baton_sink_retries_total{sink="1"}"#), 0);
    assert_eq!(sample(&text, r#"baton_sink_failed_total{sink="1"}"#), 0);
    assert_eq!(sample(&text, r#"baton_sink_delivered_total{sink="2"}"#), 0);
    assert_eq!(sample(&text, r#"baton_sink_retries_total{sink="2"}"#), n_events);
    assert_eq!(sample(&text, r#"baton_sink_failed_total{sink="2"}"#), n_events);
    assert_eq!(sample(&text, r#"baton_sink_dropped_total{sink="2"}"#), 0);
    assert!(!text.contains("token=secret") && !text.contains("127.0.0.1"), "sink URLs stay out of metrics");

    // A second pass finds nothing: the totals stay, the last pass's figures are its own.
    let report = engine.sweep_overdue(100).await.unwrap().expect("no other pass runs");
    assert_eq!(report, SweepReport::default());
    let text = scrape().await;
    assert_eq!(sample(&text, "baton_sweeper_passes_total"), 2);
    assert_eq!(sample(&text, "baton_sweeper_timed_out_total"), 1);
    assert_eq!(sample(&text, "baton_sweeper_last_timed_out"), 0);
    assert_eq!(sample(&text, "baton_sweeper_last_checked"), 0);
}
