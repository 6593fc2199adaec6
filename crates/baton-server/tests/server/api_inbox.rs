//! `/api/v1/inbox` through the real router on a real SQLite file: items of runs waiting for a
//! person (evaluated titles, filters, pagination), and answering them (form validation with
//! nothing consumed, the run resuming, idempotent repeats, closed and unknown items).

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use baton_store::prelude::*;

use crate::api_support::{Reply, TestApi, send};
use baton_store::WorkspaceId;

/// A refund approval: correlated on the order, with a form.
const REFUND: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: refund, version: '1.0.0'}
do:
  - approve:
      metadata:
        inbox:
          title: ${ "Refund " + (.amount | tostring) + " EUR for order " + .orderId }
          description: Approve or deny the refund.
          assignees: [finance, alice]
          form:
            type: object
            required: [approved]
            properties:
              approved: {type: boolean}
              note: {type: string}
            additionalProperties: false
      listen:
        to:
          one:
            with: {type: com.example.refund.decision}
            correlate:
              order:
                from: .data.orderId
                expect: ${ .orderId }
  - decide:
      set:
        approved: ${ .[0].approved }
        orderId: ${ .[0].orderId }
"#;

/// A review assigned to bob, from a named source, without a form or a title.
const REVIEW: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: review, version: '1.0.0'}
do:
  - review:
      metadata:
        inbox:
          assignees: [bob]
      listen:
        to:
          one:
            with: {type: com.example.review.done, source: 'https://reviews.example/ui'}
"#;

/// A filter no response event can satisfy (an expression on an attribute the response lacks).
const PICKY: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: picky, version: '1.0.0'}
do:
  - pick:
      metadata:
        inbox: {title: Pick}
      listen:
        to:
          one:
            with: {type: com.example.pick, priority: '${ . == "high" }'}
"#;

/// Starts a run synchronously and asserts it waits; returns its id.
async fn start_waiting(api: &TestApi, name: &str, input: Value) -> String {
    let reply = api.start_run(name, "", input).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let run = reply.json();
    assert_eq!(run["status"], "waiting", "{run}");
    run["id"].as_str().unwrap().to_owned()
}

async fn items(api: &TestApi, query: &str) -> Vec<Value> {
    let reply = api.get(&format!("/api/v1/inbox{query}")).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["items"].as_array().unwrap().clone()
}

/// The id of the only item of `run_id`.
async fn item_of(api: &TestApi, run_id: &str) -> String {
    let all = items(api, "").await;
    let mine: Vec<&Value> = all.iter().filter(|item| item["runId"] == run_id).collect();
    assert_eq!(mine.len(), 1, "{all:?}");
    mine[0]["id"].as_str().unwrap().to_owned()
}

async fn respond(api: &TestApi, item: &str, data: Value) -> Reply {
    api.post_json(&format!("/api/v1/inbox/{item}/respond"), &json!({"data": data})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_lists_waiting_items_with_evaluated_titles_and_filters() {
    let api = TestApi::start().await;
    api.deploy(REFUND).await;
    api.deploy(REVIEW).await;
    api.deploy(crate::api_support::HELLO).await;
    let first = start_waiting(&api, "refund", json!({"orderId": "A-1", "amount": 120})).await;
    let second = start_waiting(&api, "refund", json!({"orderId": "B-2", "amount": 80})).await;
    let review = start_waiting(&api, "review", json!({})).await;
    assert_eq!(api.start_run("hello", "", json!({"name": "x"})).await.json()["status"], "completed");

    let all = items(&api, "").await;
    assert_eq!(all.len(), 3, "{all:?}");
    let item = &all[0];
    assert_eq!(item["runId"], first.as_str());
    let id = item["id"].as_str().unwrap();
    assert!(id.starts_with(&format!("{first}~")), "{id}");
    assert_eq!(item["workflow"], json!({"namespace": "test", "name": "refund", "version": "1.0.0"}));
    assert_eq!(item["task"], "/do/0/approve");
    assert_eq!(item["title"], "Refund 120 EUR for order A-1");
    assert_eq!(item["description"], "Approve or deny the refund.");
    assert_eq!(item["assignees"], json!(["finance", "alice"]));
    assert_eq!(item["form"]["required"], json!(["approved"]));
    let created: jiff::Timestamp = item["createdAt"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = item["deadline"].as_str().unwrap().parse().unwrap();
    // No timeout of its own: the default approval deadline (30 minutes).
    assert_eq!((deadline - created).get_seconds(), 30 * 60);
    assert_eq!(all[1]["title"], "Refund 80 EUR for order B-2");
    // Without a title: the task's name; without a form: none.
    assert_eq!(all[2]["runId"], review.as_str());
    assert_eq!(all[2]["title"], "review");
    assert!(all[2].get("form").is_none() && all[2].get("description").is_none(), "{}", all[2]);

    // Filters.
    let runs =
        |items: Vec<Value>| items.iter().map(|item| item["runId"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(runs(items(&api, "?workflow=test/refund").await), vec![first.clone(), second.clone()]);
    assert_eq!(runs(items(&api, "?workflow=test/review").await), vec![review.clone()]);
    assert!(items(&api, "?workflow=other/refund").await.is_empty());
    assert_eq!(runs(items(&api, "?assignee=bob").await), vec![review.clone()]);
    assert_eq!(runs(items(&api, "?assignee=alice&workflow=test/refund").await), vec![first.clone(), second.clone()]);
    assert!(items(&api, "?assignee=carol").await.is_empty());
    assert!(items(&api, "?overdue=true").await.is_empty());
    assert_eq!(items(&api, "?overdue=false").await.len(), 3);

    // Pages.
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = api.get(&format!("/api/v1/inbox{query}")).await.json();
        seen.extend(runs(page["items"].as_array().unwrap().clone()));
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![first, second, review]);

    // Bad filters.
    for query in ["?workflow=refund", "?workflow=a/b/c", "?limit=0", "?limit=501", "?cursor=nope", "?overdue=maybe"] {
        api.get(&format!("/api/v1/inbox{query}")).await.problem(400, "invalid-request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_lists_the_items_past_their_deadline() {
    // A server whose default approval deadline has passed as soon as a run waits.
    let dir = tempfile::tempdir().unwrap();
    let server = crate::support::start(crate::support::local_config(&dir.path().join("baton.db"), 1)).await;
    let call = |request: Request<Body>| send(server.api().router.clone(), request);
    let post = |uri: &str, body: String| Request::post(uri).body(Body::from(body)).unwrap();
    assert!(call(post("/api/v1/workflows", REFUND.to_owned())).await.status.is_success());
    let start = json!({"workflow": {"namespace": "test", "name": "refund"}, "input": {"orderId": "A", "amount": 1}});
    let run = call(post("/api/v1/runs", start.to_string())).await.json();
    assert_eq!(run["status"], "waiting", "{run}");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let page = call(Request::get("/api/v1/inbox?overdue=true").body(Body::empty()).unwrap()).await.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["runId"], run["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_that_does_not_match_the_form_is_refused_and_consumes_nothing() {
    let api = TestApi::start().await;
    api.deploy(REFUND).await;
    let run_id = start_waiting(&api, "refund", json!({"orderId": "A-1", "amount": 120})).await;
    let item = item_of(&api, &run_id).await;

    let problem = respond(&api, &item, json!({"approved": "yes", "extra": 1})).await.problem(422, "invalid-response");
    let problems: Vec<&str> = problem["problems"].as_array().unwrap().iter().map(|it| it.as_str().unwrap()).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|it| it.starts_with("/approved: ")), "{problems:?}");
    assert!(problems.iter().any(|it| it.starts_with("/: ") && it.contains("extra")), "{problems:?}");
    assert_eq!(problem["instance"], format!("/api/v1/inbox/{item}"));
    let problem = respond(&api, &item, json!("approve")).await.problem(422, "invalid-response");
    assert_eq!(problem["problems"].as_array().unwrap().len(), 1, "{problem}");

    // Nothing consumed: the run still waits and the item is still open.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(api.get(&format!("/api/v1/runs/{run_id}")).await.json()["status"], "waiting");
    assert_eq!(item_of(&api, &run_id).await, item);

    // The body must be {data}.
    api.post_json(&format!("/api/v1/inbox/{item}/respond"), &json!({"approved": true}))
        .await
        .problem(400, "invalid-request");
    api.post(&format!("/api/v1/inbox/{item}/respond"), "{").await.problem(400, "malformed-json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responding_resumes_the_run_once_and_a_closed_item_is_409() {
    let api = TestApi::start().await;
    api.deploy(REFUND).await;
    let run_a = start_waiting(&api, "refund", json!({"orderId": "A-1", "amount": 120})).await;
    let run_b = start_waiting(&api, "refund", json!({"orderId": "B-2", "amount": 80})).await;
    let item_b = item_of(&api, &run_b).await;

    let reply = respond(&api, &item_b, json!({"note": "ok", "approved": true})).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    let answer = reply.json();
    assert_eq!(answer["item"], item_b.as_str());
    assert_eq!(answer["runId"], run_b.as_str());
    assert_eq!(answer["accepted"], true);
    // The correlation value is written where the filter reads it: the run gets its order id.
    let run = api.wait_status(&run_b, "completed").await;
    assert_eq!(run["output"], json!({"approved": true, "orderId": "B-2"}));
    // The other order's run still waits.
    assert_eq!(api.get(&format!("/api/v1/runs/{run_a}")).await.json()["status"], "waiting");
    let open = items(&api, "").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["runId"], run_a.as_str());

    // The event that resumed the run.
    let event_id = answer["eventId"].as_str().unwrap();
    let stored = api
        .store
        .get_event(&WorkspaceId::DEFAULT, "baton/inbox", event_id)
        .await
        .unwrap()
        .expect("response event stored");
    assert_eq!(stored.event["type"], "com.example.refund.decision");
    assert_eq!(stored.event["data"], json!({"approved": true, "note": "ok", "orderId": "B-2"}));

    // The same response again (keys in another order): idempotent.
    let reply = respond(&api, &item_b, json!({"approved": true, "note": "ok"})).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("idempotency-replayed"), Some("true"));
    assert_eq!(reply.json()["accepted"], false);
    assert_eq!(reply.json()["eventId"], event_id);

    // Another response to the closed item: 409, nothing changes.
    let problem = respond(&api, &item_b, json!({"approved": false})).await.problem(409, "item-closed");
    assert_eq!(problem["instance"], format!("/api/v1/inbox/{item_b}"));
    let run = api.get(&format!("/api/v1/runs/{run_b}")).await.json();
    assert_eq!(run["output"], json!({"approved": true, "orderId": "B-2"}));

    // Unknown items.
    respond(&api, "no-such-run~s1", json!({"approved": true})).await.problem(404, "item-not-found");
    respond(&api, "garbage", json!({"approved": true})).await.problem(404, "item-not-found");
    respond(&api, &format!("{run_a}~s999"), json!({"approved": true})).await.problem(409, "item-closed");

    // The first run too.
    let item_a = item_of(&api, &run_a).await;
    assert_eq!(respond(&api, &item_a, json!({"approved": false})).await.status, 202);
    let run = api.wait_status(&run_a, "completed").await;
    assert_eq!(run["output"], json!({"approved": false, "orderId": "A-1"}));
    assert!(items(&api, "").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_responses_resume_the_run_once() {
    let api = TestApi::start().await;
    api.deploy(REVIEW).await;
    let run_id = start_waiting(&api, "review", json!({})).await;
    let item = item_of(&api, &run_id).await;

    let posts: Vec<_> = (0..10)
        .map(|_| {
            let router = api.router();
            let uri = format!("/api/v1/inbox/{item}/respond");
            tokio::spawn(async move {
                let request = Request::post(uri).body(Body::from(json!({"data": {"ok": 1}}).to_string())).unwrap();
                send(router, request).await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap().status.as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|status| **status == 202).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|status| [200, 202].contains(status)), "{statuses:?}");
    let run = api.wait_status(&run_id, "completed").await;
    assert_eq!(run["output"], json!([{"ok": 1}]));

    // The event carries the filter's literal source; a replay after the item closed finds it.
    let reply = respond(&api, &item, json!({"ok": 1})).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let event_id = reply.json()["eventId"].as_str().unwrap().to_owned();
    let stored = api
        .store
        .get_event(&WorkspaceId::DEFAULT, "https://reviews.example/ui", &event_id)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.event["type"], "com.example.review.done");
    respond(&api, &item, json!({"ok": 2})).await.problem(409, "item-closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_no_response_can_satisfy_is_409_and_keeps_waiting() {
    let api = TestApi::start().await;
    api.deploy(PICKY).await;
    let run_id = start_waiting(&api, "picky", json!({})).await;
    let item = item_of(&api, &run_id).await;
    let problem = respond(&api, &item, json!({"x": 1})).await.problem(409, "item-unanswerable");
    assert!(problem["detail"].as_str().unwrap().contains("/do/0/pick"), "{problem}");
    assert_eq!(api.get(&format!("/api/v1/runs/{run_id}")).await.json()["status"], "waiting");
}

/// An approval without `correlate`.
const APPROVE: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: approve, version: '1.0.0'}
do:
  - approve:
      metadata:
        inbox: {title: Approve}
      listen:
        to:
          one:
            with: {type: com.example.approved}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncorrelated_response_resumes_only_its_own_run() {
    let api = TestApi::start().await;
    api.deploy(APPROVE).await;
    let run_a = start_waiting(&api, "approve", json!({})).await;
    let run_b = start_waiting(&api, "approve", json!({})).await;
    let item_a = item_of(&api, &run_a).await;
    assert_eq!(respond(&api, &item_a, json!({"ok": true})).await.status, 202);
    api.wait_status(&run_a, "completed").await;
    // A run waiting at the same task, and one that gets there later, are not answered by it.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(api.get(&format!("/api/v1/runs/{run_b}")).await.json()["status"], "waiting");
    start_waiting(&api, "approve", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(items(&api, "").await.len(), 2);
}
