//! CPU-heavy steps must not starve the node: `/healthz` and a light run answer while heavy
//! but in-budget runs compute (issue 13, item 2).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::api_support::{HELLO, TestApi};

/// Six `set` tasks of about a million jq steps each (within the evaluation budget): one step of
/// a few seconds of CPU in a debug build.
const HEAVY: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: heavy, version: '1.0.0'}
do:
  - t1: {set: {n1: '${ [range(0; 900000)] | length }'}}
  - t2: {set: {n2: '${ [range(0; 900000)] | length }'}}
  - t3: {set: {n3: '${ [range(0; 900000)] | length }'}}
  - t4: {set: {n4: '${ [range(0; 900000)] | length }'}}
  - t5: {set: {n5: '${ [range(0; 900000)] | length }'}}
  - t6: {set: {n6: '${ [range(0; 900000)] | length }'}}
"#;

/// Heavy runs started at once: twice the async workers of the test's runtime.
const N_HEAVY: usize = 4;

/// Slowest answer tolerated while the heavy runs compute. The issue asks for 50 ms on a quiet
/// machine; the bound is looser so that a loaded CI machine does not flake, and still far
/// below the seconds a blocked runtime takes (a heavy step of one run is seconds of CPU).
const HEALTHZ_BOUND: Duration = Duration::from_millis(300);

/// Slowest sync run of the light workflow tolerated meanwhile (it is three steps of work).
const LIGHT_RUN_BOUND: Duration = Duration::from_millis(600);

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_heavy_steps_leave_healthz_and_light_runs_responsive() {
    let api = TestApi::start().await;
    api.deploy(HEAVY).await;
    api.deploy(HELLO).await;
    let base = crate::support::serve_api(&api.server).await;
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().expect("client");

    let mut heavy_ids = Vec::new();
    for _ in 0..N_HEAVY {
        let reply = api.start_run("heavy", "mode=background", json!({})).await;
        assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
        heavy_ids.push(reply.json()["id"].as_str().expect("a run id").to_owned());
    }

    let mut slowest_healthz = Duration::ZERO;
    let mut slowest_light = Duration::ZERO;
    let window = Instant::now();
    while window.elapsed() < Duration::from_millis(1500) {
        let started = Instant::now();
        let health = client.get(format!("{base}/healthz")).send().await.expect("healthz answers");
        assert_eq!(health.status(), 200);
        slowest_healthz = slowest_healthz.max(started.elapsed());

        let started = Instant::now();
        let light = api.start_run("hello", "mode=sync", json!({"name": "cpu"})).await;
        assert_eq!(light.status, 200, "{}", String::from_utf8_lossy(&light.body));
        assert_eq!(light.json()["output"], json!({"greeting": "hello cpu!"}));
        slowest_light = slowest_light.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The measurement means something only if the heavy runs were computing all along.
    let mut n_unfinished = 0;
    for run_id in &heavy_ids {
        let run = api.get(&format!("/api/v1/runs/{run_id}")).await.json();
        n_unfinished += usize::from(run["status"] != "completed");
    }
    assert!(n_unfinished > 0, "the heavy runs ended before the measurement did");
    assert!(slowest_healthz < HEALTHZ_BOUND, "/healthz took {slowest_healthz:?} while heavy runs computed");
    assert!(slowest_light < LIGHT_RUN_BOUND, "a light run took {slowest_light:?} while heavy runs computed");

    for run_id in &heavy_ids {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run = api.get(&format!("/api/v1/runs/{run_id}")).await.json();
            if run["status"] == "completed" {
                assert_eq!(run["output"]["n6"], 900000, "{run}");
                break;
            }
            assert!(Instant::now() < deadline, "heavy run {run_id} did not complete: {run}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
