//! The workflows of the repository's `examples/` folder, deployed from disk through the real API
//! router on a real SQLite file, run end to end against the stand-in services (an
//! OpenAI-compatible chat model, a refunds API, the petstore) with events and inbox answers
//! posted the way a client would.

use std::path::PathBuf;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use tempfile::TempDir;

use baton_server::engine::DEFAULT_APPROVAL_DEADLINE_MS;
use baton_server::server::Server;
use baton_server::standin::StandIn;

use crate::api_support::{Reply, send};

/// The bearer token the examples' chat model is called with (`$secrets.llm.token`).
const LLM_TOKEN: &str = "sk-test-example";

fn example(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// A server with `$secrets.llm`, loopback egress and the petstore rewritten to the stand-in,
/// with every example of `examples/` deployed.
struct ExampleServer {
    _dir: TempDir,
    server: Server,
    standin: StandIn,
}

impl ExampleServer {
    async fn start() -> ExampleServer {
        let standin = StandIn::start().await.expect("stand-in");
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = crate::support::local_config(&dir.path().join("baton.db"), DEFAULT_APPROVAL_DEADLINE_MS);
        config.secrets = json!({"llm": {"token": LLM_TOKEN}});
        config.rewrites = standin.rewrites();
        let server = ExampleServer { _dir: dir, server: crate::support::start(config).await, standin };
        for file in ["support-triage.yaml", "order-payment.yaml", "daily-digest.yaml"] {
            let reply = server.post("/api/v1/workflows", "application/yaml", example(file)).await;
            assert!(reply.status.is_success(), "deploy {file}: {}", String::from_utf8_lossy(&reply.body));
        }
        server
    }

    async fn post(&self, uri: &str, content_type: &str, body: String) -> Reply {
        let request = Request::post(uri).header("content-type", content_type).body(Body::from(body)).unwrap();
        send(self.server.api().router.clone(), request).await
    }

    async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        self.post(uri, "application/json", body.to_string()).await
    }

    async fn get(&self, uri: &str) -> Value {
        let reply = send(self.server.api().router.clone(), Request::get(uri).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, 200, "{uri}: {}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// Starts `examples/NAME` synchronously; returns the run as answered.
    async fn run(&self, name: &str, input: Value) -> Value {
        let body = json!({"workflow": {"namespace": "examples", "name": name}, "input": input});
        let reply = self.post_json("/api/v1/runs?mode=sync", &body).await;
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        reply.json()
    }

    /// Polls a run until its status is `status` (10 s at most); returns the run.
    async fn wait_status(&self, run_id: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let run = self.get(&format!("/api/v1/runs/{run_id}")).await;
            if run["status"] == status {
                return run;
            }
            assert!(tokio::time::Instant::now() < deadline, "run {run_id} never became {status}: {run}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The open inbox items of `run_id`.
    async fn items_of(&self, run_id: &str) -> Vec<Value> {
        let page = self.get("/api/v1/inbox?assignee=support-leads").await;
        page["items"].as_array().unwrap().iter().filter(|item| item["runId"] == run_id).cloned().collect()
    }

    fn triage_input(&self, ticket_id: &str, customer: &str, text: &str) -> Value {
        json!({
            "ticket": {"id": ticket_id, "customer": customer, "text": text},
            "llm": {"url": self.standin.base_url(), "model": "gpt-4o-mini"},
            "refundsUrl": self.standin.base_url(),
        })
    }

    /// How many requests reached the refunds API with an `Idempotency-Key` of `run_id`.
    fn refund_calls_of(&self, run_id: &str) -> u64 {
        self.standin
            .idempotency_counts()
            .iter()
            .filter(|(key, _)| key.starts_with(run_id) && key.contains("issueRefund"))
            .map(|(_, count)| count)
            .sum()
    }
}

fn id_of(run: &Value) -> String {
    run["id"].as_str().unwrap().to_owned()
}

/// Waits for the inbox item of a big refund and checks what the support lead sees.
async fn approval_item(server: &ExampleServer, run_id: &str) -> String {
    let items = server.items_of(run_id).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    assert_eq!(item["title"], "Approve refund of 250 EUR for Ada Lovelace");
    assert!(item["description"].as_str().unwrap().starts_with("Ticket T-2: "), "{item}");
    assert_eq!(item["assignees"], json!(["support-leads"]));
    assert_eq!(item["workflow"]["name"], "support-triage");
    assert_eq!(item["form"]["required"], json!(["approved"]));
    // The task's own 24-hour timeout is the deadline, not the server's default.
    let created: jiff::Timestamp = item["createdAt"].as_str().unwrap().parse().unwrap();
    let deadline: jiff::Timestamp = item["deadline"].as_str().unwrap().parse().unwrap();
    assert_eq!((deadline - created).get_seconds(), 24 * 3600);
    item["id"].as_str().unwrap().to_owned()
}

const BIG_REFUND: &str = "Hello, the blender from order 7781 arrived broken. I would like a refund of 250 EUR.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_triage_refunds_a_small_amount_without_asking() {
    let server = ExampleServer::start().await;
    let input = server.triage_input("T-1", "Grace Hopper", "Please refund the 40 EUR shipping fee, it arrived late.");
    let run = server.run("support-triage", input).await;
    assert_eq!(run["status"], "completed", "{run}");
    let output = &run["output"];
    assert_eq!(output["ticketId"], "T-1");
    assert_eq!(output["outcome"], "refunded");
    assert_eq!(output["amount"], 40);
    assert_eq!(output["refundId"], "re_0001");
    assert_eq!(output["approvedBy"], "auto (at most 100 EUR)");

    let refunds = server.standin.refunds();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0]["ticketId"], "T-1");
    assert_eq!(refunds[0]["customer"], "Grace Hopper");
    assert_eq!(refunds[0]["amount"], 40);
    assert_eq!(refunds[0]["currency"], "EUR");
    assert_eq!(server.refund_calls_of(&id_of(&run)), 1);
    assert!(server.items_of(&id_of(&run)).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_triage_asks_a_lead_before_a_big_refund_and_refunds_when_approved() {
    let server = ExampleServer::start().await;
    let run = server.run("support-triage", server.triage_input("T-2", "Ada Lovelace", BIG_REFUND)).await;
    assert_eq!(run["status"], "waiting", "{run}");
    let run_id = id_of(&run);
    assert!(server.standin.refunds().is_empty());

    let item = approval_item(&server, &run_id).await;
    // Not what the form asks for: refused, nothing consumed.
    let reply = server.post_json(&format!("/api/v1/inbox/{item}/respond"), &json!({"data": {"approved": "yes"}})).await;
    reply.problem(422, "invalid-response");
    assert_eq!(server.get(&format!("/api/v1/runs/{run_id}")).await["status"], "waiting");

    let answer = json!({"data": {"approved": true, "note": "Customer since 2019, goodwill."}});
    let reply = server.post_json(&format!("/api/v1/inbox/{item}/respond"), &answer).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    let done = server.wait_status(&run_id, "completed").await;
    let output = &done["output"];
    assert_eq!(output["outcome"], "refunded", "{done}");
    assert_eq!(output["amount"], 250);
    assert_eq!(output["approvedBy"], "support-leads");
    assert_eq!(output["note"], "Customer since 2019, goodwill.");
    assert_eq!(output["refundId"], "re_0001");

    assert_eq!(server.standin.refunds().len(), 1);
    assert_eq!(server.refund_calls_of(&run_id), 1);
    assert!(server.items_of(&run_id).await.is_empty());
    // Answering again changes nothing.
    let again = server.post_json(&format!("/api/v1/inbox/{item}/respond"), &answer).await;
    assert!(again.status == 200 || again.status == 409, "{}", String::from_utf8_lossy(&again.body));
    assert_eq!(server.standin.refunds().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_triage_issues_no_refund_when_the_lead_denies_it() {
    let server = ExampleServer::start().await;
    let run = server.run("support-triage", server.triage_input("T-2", "Ada Lovelace", BIG_REFUND)).await;
    assert_eq!(run["status"], "waiting", "{run}");
    let run_id = id_of(&run);
    let item = approval_item(&server, &run_id).await;

    let answer = json!({"data": {"approved": false, "note": "Outside the return window."}});
    let reply = server.post_json(&format!("/api/v1/inbox/{item}/respond"), &answer).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    let done = server.wait_status(&run_id, "completed").await;
    assert_eq!(
        done["output"],
        json!({"ticketId": "T-2", "outcome": "refund-denied", "amount": 250, "note": "Outside the return window."})
    );
    assert!(server.standin.refunds().is_empty());
    assert_eq!(server.refund_calls_of(&run_id), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_triage_routes_a_question_without_a_refund() {
    let server = ExampleServer::start().await;
    let run =
        server.run("support-triage", server.triage_input("T-3", "Alan Turing", "How do I change my address?")).await;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["output"]["outcome"], "routed");
    assert_eq!(run["output"]["category"], "question");
    assert!(server.standin.refunds().is_empty());
}

fn payment(id: &str, order_id: &str, amount: f64) -> Value {
    json!({
        "specversion": "1.0",
        "id": id,
        "source": "https://payments.example",
        "type": "com.example.payment.received",
        "data": {"orderId": order_id, "paymentId": format!("pay_{id}"), "amount": amount},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_payment_is_confirmed_by_its_own_payment_only() {
    let server = ExampleServer::start().await;
    let first = server.run("order-payment", json!({"orderId": "A-1001", "amount": 42.5})).await;
    let second = server.run("order-payment", json!({"orderId": "A-1002", "amount": 10})).await;
    assert_eq!(first["status"], "waiting", "{first}");
    assert_eq!(second["status"], "waiting", "{second}");
    let (first, second) = (id_of(&first), id_of(&second));

    // A payment for another order does not wake A-1001.
    let reply = server.post_json("/api/v1/events", &payment("p1", "B-9999", 42.5)).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.get(&format!("/api/v1/runs/{first}")).await["status"], "waiting");
    assert_eq!(server.get(&format!("/api/v1/runs/{second}")).await["status"], "waiting");

    // Its own payment confirms it, and only it.
    let reply = server.post_json("/api/v1/events", &payment("p2", "A-1001", 42.5)).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    let done = server.wait_status(&first, "completed").await;
    assert_eq!(
        done["output"],
        json!({"orderId": "A-1001", "status": "confirmed", "amount": 42.5, "paymentId": "pay_p2"})
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.get(&format!("/api/v1/runs/{second}")).await["status"], "waiting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_payment_takes_a_payment_that_arrived_before_the_order_waited() {
    let server = ExampleServer::start().await;
    let reply = server.post_json("/api/v1/events", &payment("early", "A-2001", 5.0)).await;
    assert_eq!(reply.status, 202, "{}", String::from_utf8_lossy(&reply.body));
    let run = server.run("order-payment", json!({"orderId": "A-2001", "amount": 5})).await;
    let run = if run["status"] == "completed" { run } else { server.wait_status(&id_of(&run), "completed").await };
    assert_eq!(run["output"]["status"], "confirmed", "{run}");
    assert_eq!(run["output"]["paymentId"], "pay_early");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_digest_emits_a_digest_event_when_run() {
    let server = ExampleServer::start().await;
    let run = server.run("daily-digest", json!({})).await;
    assert_eq!(run["status"], "completed", "{run}");
    let event = &run["output"];
    assert_eq!(event["type"], "com.example.digest.daily", "{event}");
    assert_eq!(event["source"], "https://baton.example/digests");
    assert_eq!(event["data"]["count"], 3);
    assert_eq!(event["data"]["highlights"][0], json!({"id": 1, "name": "doggie-1"}));
    let today = jiff::Timestamp::now().to_string();
    assert_eq!(event["data"]["date"], &today[..10]);
    assert_eq!(event["subject"], &today[..10]);
}

/// Deploys `examples/FILE` again as version 1.0.1 with its deadline `from` shortened to `to`.
async fn deploy_with_short_deadline(server: &ExampleServer, file: &str, from: &str, to: &str) {
    let text = example(file);
    assert!(text.contains(from) && text.contains("version: '1.0.0'"), "{file} changed: update this test");
    let text = text.replace(from, to).replace("version: '1.0.0'", "version: '1.0.1'");
    let reply = server.post("/api/v1/workflows", "application/yaml", text).await;
    assert!(reply.status.is_success(), "{}", String::from_utf8_lossy(&reply.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_approvals_are_denied_and_unpaid_orders_cancelled_at_their_deadline() {
    let server = ExampleServer::start().await;
    deploy_with_short_deadline(&server, "support-triage.yaml", "after: PT24H", "after: PT1S").await;
    deploy_with_short_deadline(&server, "order-payment.yaml", "after: PT1H", "after: PT1S").await;

    let triage = server.run("support-triage", server.triage_input("T-4", "Ada Lovelace", BIG_REFUND)).await;
    let order = server.run("order-payment", json!({"orderId": "A-3001", "amount": 99})).await;
    assert_eq!(triage["status"], "waiting", "{triage}");
    assert_eq!(order["status"], "waiting", "{order}");

    let triage = server.wait_status(&id_of(&triage), "completed").await;
    assert_eq!(triage["output"]["outcome"], "refund-denied", "{triage}");
    assert_eq!(triage["output"]["note"], "No decision within 24 hours; the refund is denied.");
    assert!(server.standin.refunds().is_empty());
    assert!(server.items_of(&id_of(&triage)).await.is_empty());

    let order = server.wait_status(&id_of(&order), "completed").await;
    assert_eq!(order["output"]["status"], "cancelled", "{order}");
    assert_eq!(order["output"]["orderId"], "A-3001");
}
