//! Run history: JSON pages, the per-run SSE stream with `Last-Event-ID` re-attach, and the
//! stream of every run.

use serde_json::json;

use crate::api_support::{HELLO, NAPPER, SseEvent, SseReader, TestApi};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_follow_next_cursor() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let run = api.start_run("hello", "", json!({"name": "h"})).await.json();
    let run_id = run["id"].as_str().unwrap();
    let n_entries = run["historyCursor"].as_i64().unwrap();
    assert!(n_entries >= 6, "{run}");

    let mut seqs = Vec::new();
    let mut kinds = Vec::new();
    let mut query = "limit=3".to_owned();
    loop {
        let page = api.get(&format!("/api/v1/runs/{run_id}/history?{query}")).await.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        for item in items {
            seqs.push(item["seq"].as_i64().unwrap());
            kinds.push(item["type"].as_str().unwrap().to_owned());
            let _: jiff::Timestamp = item["at"].as_str().unwrap().parse().expect("RFC 3339");
        }
        match page["nextCursor"].as_i64() {
            Some(cursor) => query = format!("limit=3&after={cursor}"),
            None => break,
        }
    }
    assert_eq!(seqs, (1..=n_entries).collect::<Vec<_>>());
    assert_eq!(kinds.first().map(String::as_str), Some("io.serverlessworkflow.workflow.started.v1"));
    assert_eq!(kinds.last().map(String::as_str), Some("io.serverlessworkflow.workflow.completed.v1"));

    let page = api.get(&format!("/api/v1/runs/{run_id}/history?after=2&limit=1")).await.json();
    assert_eq!(page["items"][0]["seq"], 3);
    assert_eq!(page["nextCursor"], 3);
    let completed =
        page_of(&api, run_id).await.into_iter().find(|it| it["type"] == "io.serverlessworkflow.task.completed.v1");
    let completed = completed.expect("a task.completed entry");
    assert_eq!(completed["task"], "/do/0/first");
    assert_eq!(completed["data"]["output"], json!({"greeting": "hello h"}));

    api.get("/api/v1/runs/ghost/history").await.problem(404, "run-not-found");
    api.get(&format!("/api/v1/runs/{run_id}/history?limit=0")).await.problem(400, "invalid-request");
    api.get(&format!("/api/v1/runs/{run_id}/history?after=x")).await.problem(400, "invalid-request");
}

async fn page_of(api: &TestApi, run_id: &str) -> Vec<serde_json::Value> {
    api.get(&format!("/api/v1/runs/{run_id}/history?limit=1000")).await.json()["items"].as_array().unwrap().clone()
}

fn seqs(events: &[SseEvent]) -> Vec<i64> {
    events.iter().map(|event| event.data["seq"].as_i64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_an_ended_run_replays_and_ends() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let run = api.start_run("hello", "", json!({"name": "s"})).await.json();
    let run_id = run["id"].as_str().unwrap();
    let addr = api.listen().await;
    let url = format!("http://{addr}/api/v1/runs/{run_id}/history");

    let events = SseReader::open(&url, &[]).await.rest().await;
    let stored = page_of(&api, run_id).await;
    assert_eq!(events.len(), stored.len());
    for (event, entry) in events.iter().zip(&stored) {
        assert_eq!(event.data, *entry);
        assert_eq!(event.id.as_deref(), Some(entry["seq"].to_string().as_str()));
        assert_eq!(event.event.as_deref(), entry["type"].as_str());
    }
    // `after` skips what the client has; resuming after the end ends at once.
    let tail = SseReader::open(&format!("{url}?after=3"), &[]).await.rest().await;
    assert_eq!(seqs(&tail), (4..=stored.len() as i64).collect::<Vec<_>>());
    let last = stored.len().to_string();
    assert!(SseReader::open(&url, &[("last-event-id", &last)]).await.rest().await.is_empty());

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let missing = client
        .get(format!("http://{addr}/api/v1/runs/ghost/history"))
        .bearer_auth(crate::auth_support::TEST_KEY)
        .header("accept", "text/event-stream");
    assert_eq!(missing.send().await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_attaching_with_last_event_id_loses_and_repeats_nothing() {
    let api = TestApi::start().await;
    api.deploy(NAPPER).await;
    let addr = api.listen().await;
    let run = api.start_run("napper", "mode=background", json!({})).await.json();
    let run_id = run["id"].as_str().unwrap();
    let url = format!("http://{addr}/api/v1/runs/{run_id}/history");

    // Read two entries, then leave while the run is still waiting.
    let mut first = SseReader::open(&url, &[]).await;
    let mut seen = vec![first.next().await.unwrap(), first.next().await.unwrap()];
    drop(first);
    let last_id = seen.last().unwrap().id.clone().unwrap();
    let rest = SseReader::open(&url, &[("last-event-id", &last_id)]).await.rest().await;
    seen.extend(rest);

    let n_entries = seen.len() as i64;
    assert_eq!(seqs(&seen), (1..=n_entries).collect::<Vec<_>>(), "no loss, no repeat");
    assert_eq!(seen.last().unwrap().event.as_deref(), Some("io.serverlessworkflow.workflow.completed.v1"));
    let stored = page_of(&api, run_id).await;
    assert_eq!(seen.iter().map(|event| event.data.clone()).collect::<Vec<_>>(), stored);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_of_all_runs_carries_run_ids() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    let addr = api.listen().await;
    let mut events = SseReader::open(&format!("http://{addr}/api/v1/events/runs"), &[]).await;
    let run = api.start_run("hello", "", json!({"name": "all"})).await.json();
    let run_id = run["id"].as_str().unwrap();
    let mut received = Vec::new();
    loop {
        let event = events.next().await.expect("stream stays open");
        assert_eq!(event.data["runId"], run_id);
        assert_eq!(event.id, Some(format!("{run_id}:{}", event.data["seq"])));
        let done = event.event.as_deref() == Some("io.serverlessworkflow.workflow.completed.v1");
        received.push(event);
        if done {
            break;
        }
    }
    assert_eq!(seqs(&received), (1..=run["historyCursor"].as_i64().unwrap()).collect::<Vec<_>>());
}
