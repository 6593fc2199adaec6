//! The OpenAPI document states the limits the server enforces, and the server enforces the
//! limits the document states (issue 13 item 10): page sizes, enums, string lengths, object
//! bodies, CloudEvent attributes. `.ci/run` checks the same with schemathesis against a real
//! `baton serve`; these tests pin each limit.

use serde_json::{Value, json};

use crate::api_support::{HELLO, TestApi};

/// The schema of the query parameter `name` of `GET path`.
fn query_parameter<'a>(document: &'a Value, path: &str, name: &str) -> &'a Value {
    let parameters = document["paths"][path]["get"]["parameters"].as_array().expect("parameters");
    let parameter = parameters.iter().find(|it| it["name"] == name && it["in"] == "query");
    &parameter.unwrap_or_else(|| panic!("GET {path} has no query parameter {name}"))["schema"]
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_the_document_states_the_enforced_limits() {
    let api = TestApi::start().await;
    let document = api.get("/api/v1/openapi.json").await.json();
    for (path, maximum) in [("/api/v1/runs", 500), ("/api/v1/inbox", 500), ("/api/v1/runs/{id}/history", 1000)] {
        let limit = query_parameter(&document, path, "limit");
        assert_eq!((limit["minimum"].clone(), limit["maximum"].clone()), (json!(1), json!(maximum)), "{path}");
    }
    let status = query_parameter(&document, "/api/v1/runs", "status");
    assert_eq!(
        status["enum"],
        json!(["pending", "running", "waiting", "suspended", "cancelled", "faulted", "completed"])
    );
    assert_eq!(query_parameter(&document, "/api/v1/runs", "created_after")["format"], "date-time");
    assert_eq!(query_parameter(&document, "/api/v1/inbox", "workflow")["pattern"], "^[^/]+/[^/]+$");

    let deploy = &document["paths"]["/api/v1/workflows"]["post"]["parameters"][0]["schema"];
    assert_eq!((deploy["minimum"].clone(), deploy["maximum"].clone()), (json!(1), json!(i32::MAX)));
    let start = document["paths"]["/api/v1/runs"]["post"]["parameters"].as_array().unwrap();
    let key = &start.iter().find(|it| it["name"] == "Idempotency-Key").unwrap()["schema"];
    assert_eq!(
        (key["type"].clone(), key["minLength"].clone(), key["maxLength"].clone()),
        (json!("string"), json!(1), json!(255))
    );

    let secret = &document["paths"]["/api/v1/secrets/{name}"]["put"]["parameters"][0]["schema"];
    assert_eq!(
        (secret["pattern"].clone(), secret["maxLength"].clone()),
        (json!("^[A-Za-z_][A-Za-z0-9_-]*$"), json!(128))
    );

    for (path, method) in [("/api/v1/workflows", "post"), ("/api/v1/runs", "post"), ("/api/v1/events", "post")] {
        assert_eq!(document["paths"][path][method]["requestBody"]["required"], true, "{method} {path}");
    }
    let schemas = &document["components"]["schemas"];
    assert_eq!(schemas["StartRunRequest"]["properties"]["input"]["type"], "object");
    assert_eq!(schemas["StartRunRequest"]["properties"]["metadata"]["type"], "object");
    assert_eq!(schemas["WorkflowRef"]["properties"]["name"]["minLength"], 1);
    let event = &schemas["CloudEventDoc"];
    assert_eq!(event["properties"]["specversion"]["enum"], json!(["1.0"]));
    assert_eq!(event["properties"]["dataschema"]["format"], "uri");
    assert_eq!(event["properties"]["time"]["format"], "date-time");
    assert_eq!(event["properties"]["id"]["minLength"], 1);
    assert_eq!(event["propertyNames"]["pattern"], "^([a-z0-9]+|data_base64)$");
    assert_eq!(event["not"]["required"], json!(["data", "data_base64"]));
    let description = document["info"]["description"].as_str().unwrap();
    assert!(description.contains(&format!("at most {} bytes", baton_server::api::DEFAULT_MAX_BODY_BYTES)));
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_every_stated_query_bound_is_enforced() {
    let api = TestApi::start().await;
    let document = api.get("/api/v1/openapi.json").await.json();
    let mut n_probed = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        let Some(parameters) = item["get"]["parameters"].as_array() else { continue };
        let uri = path.replace("{id}", "no-such-run");
        for parameter in parameters.iter().filter(|it| it["in"] == "query") {
            let (name, schema) = (parameter["name"].as_str().unwrap(), &parameter["schema"]);
            let mut refused = Vec::new();
            if let Some(maximum) = schema["maximum"].as_i64() {
                let allowed = api.get(&format!("{uri}?{name}={maximum}")).await;
                assert_ne!(allowed.status, 400, "{path} {name}={maximum} is allowed by the document");
                refused.push((maximum + 1).to_string());
            }
            if let Some(minimum) = schema["minimum"].as_i64() {
                refused.push((minimum - 1).to_string());
            }
            if schema["enum"].is_array() {
                refused.push("no-such-value".to_owned());
            }
            for value in refused {
                api.get(&format!("{uri}?{name}={value}")).await.problem(400, "invalid-request");
                n_probed += 1;
            }
        }
    }
    assert!(n_probed >= 7, "only {n_probed} bounds probed");
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_run_input_must_be_an_object() {
    let api = TestApi::start().await;
    api.deploy(HELLO).await;
    for input in [json!([]), json!("text"), json!(1), Value::Null] {
        let body = json!({"workflow": {"namespace": "test", "name": "hello"}, "input": input});
        let problem = api.post_json("/api/v1/runs", &body).await.problem(400, "invalid-request");
        assert_eq!(problem["detail"], "input must be a JSON object", "{input}");
    }
    let body = json!({"workflow": {"namespace": "test", "name": "hello"}, "input": {"name": "x"}});
    assert_eq!(api.post_json("/api/v1/runs", &body).await.json()["status"], "completed");
    // No run was created by the refused requests.
    assert_eq!(api.get("/api/v1/runs").await.json()["items"].as_array().unwrap().len(), 1);
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_concurrency_beyond_the_stated_maximum_is_refused() {
    let api = TestApi::start().await;
    let problem = api.post("/api/v1/workflows?concurrency=2147483648", HELLO).await.problem(400, "invalid-request");
    assert_eq!(problem["detail"], "concurrency must be between 1 and 2147483647");
    assert_eq!(api.post("/api/v1/workflows?concurrency=2147483647", HELLO).await.status, 201);
}

fn event(extra: Value) -> Value {
    let mut event = json!({"specversion": "1.0", "id": "e1", "source": "test", "type": "com.example.t"});
    event.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    event
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_event_dataschema_is_checked() {
    let api = TestApi::start().await;
    for dataschema in ["", "not a uri", "relative/schema.json", "http://exa mple.com/"] {
        let reply = api.post_json("/api/v1/events", &event(json!({"dataschema": dataschema}))).await;
        let problem = reply.problem(400, "invalid-event");
        assert_eq!(problem["problems"], json!(["dataschema: must be an absolute URI (RFC 3986)"]), "{dataschema:?}");
    }
    let reply = api.post_json("/api/v1/events", &event(json!({"dataschema": 7}))).await;
    assert_eq!(reply.problem(400, "invalid-event")["problems"], json!(["dataschema: must be a string"]));
    let valid = event(json!({"dataschema": "https://example.com/schemas/order.json"}));
    assert_eq!(api.post_json("/api/v1/events", &valid).await.status, 202);
}

// See: #13
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_13_null_event_attributes_count_as_absent() {
    let api = TestApi::start().await;
    // What the document allows: `data_base64: null` beside `data`, null optional attributes.
    let nulls = event(json!({"data": null, "data_base64": null, "subject": null, "time": null, "dataschema": null}));
    assert_eq!(api.post_json("/api/v1/events", &nulls).await.status, 202);
    let alone = event(json!({"id": "e2", "data_base64": null}));
    assert_eq!(api.post_json("/api/v1/events", &alone).await.status, 202);
    // What it forbids: a `data_base64` string beside `data`, a time that is not RFC 3339.
    let both = event(json!({"id": "e3", "data": null, "data_base64": "QQ=="}));
    let problem = api.post_json("/api/v1/events", &both).await.problem(400, "invalid-event");
    assert_eq!(problem["problems"], json!(["data_base64: not allowed together with data"]));
    let time = event(json!({"id": "e4", "time": "2026-01-01T00:00Z"}));
    let problem = api.post_json("/api/v1/events", &time).await.problem(400, "invalid-event");
    assert_eq!(problem["problems"], json!(["time: must be an RFC 3339 timestamp"]));
}
