//! `call: http` end to end: core request building and response reading around the executor,
//! against the stand-in.

use serde_json::{Value, json};

use baton_core::http::{Credentials, build_request, expand_uri_template, read_response};
use baton_model::error_types::StandardError;
use baton_model::types::OutputFormat;
use baton_server::outbound::http_client::{HttpExecutor, MAX_BODY_BYTES};

use crate::support::{LOOPBACK, call, expect_failure, expect_response, request, setup};

#[tokio::test]
async fn petstore_pet_as_content_and_response() {
    let (stand_in, executor) = setup().await;
    let uri = expand_uri_template("https://petstore.swagger.io/v2/pet/{petId}", &json!({"petId": 1})).unwrap();
    let request = request("get", &uri);
    let response = expect_response(executor.send(&request, "run-1/getPet/0").await);
    assert_eq!(response.status, 200);

    let content = read_response(&request, &response, OutputFormat::Content).unwrap();
    assert_eq!((content["id"].clone(), content["name"].clone()), (json!(1), json!("doggie-1")));
    assert_eq!(content["status"], "available");

    let output = read_response(&request, &response, OutputFormat::Response).unwrap();
    assert_eq!(output["request"]["method"], "GET");
    // The output names the URI the workflow asked for, not the rewritten one.
    assert_eq!(output["request"]["uri"], "https://petstore.swagger.io/v2/pet/1");
    assert!(output["request"]["headers"].is_object());
    assert_eq!(output["statusCode"], 200);
    assert_eq!(output["headers"]["content-type"], "application/json");
    assert_eq!(output["content"], content);
    assert_eq!(stand_in.request_count(), 1);
}

#[tokio::test]
async fn find_by_status_with_a_uri_template() {
    let (_stand_in, executor) = setup().await;
    let template = "https://petstore.swagger.io/v2/pet/findByStatus?status={status}";
    let request = request("get", &expand_uri_template(template, &json!({"status": "pending"})).unwrap());
    let response = expect_response(executor.send(&request, "k").await);
    let content = read_response(&request, &response, OutputFormat::Content).unwrap();
    let pets = content.as_array().unwrap();
    assert_eq!(pets.len(), 3);
    assert!(pets.iter().all(|pet| pet["status"] == "pending" && pet["id"].is_number() && pet["name"].is_string()));
}

#[tokio::test]
async fn missing_pet_is_a_communication_error_with_status_404() {
    let (_stand_in, executor) = setup().await;
    let request = request("get", "https://petstore.swagger.io/v2/pet/getPetByName/rex");
    let response = expect_response(executor.send(&request, "k").await);
    assert_eq!(response.status, 404);
    let err = read_response(&request, &response, OutputFormat::Content).unwrap_err();
    assert!(err.is(StandardError::Communication));
    assert_eq!(err.status, 404);
    assert_eq!(
        err.title.as_deref(),
        Some("HTTP 404 Not Found from GET https://petstore.swagger.io/v2/pet/getPetByName/rex")
    );
    assert!(err.detail.unwrap().contains("Pet not found"));

    let request = crate::support::request("get", "https://petstore.swagger.io/v2/pet/99");
    let response = expect_response(executor.send(&request, "k").await);
    assert_eq!(read_response(&request, &response, OutputFormat::Content).unwrap_err().status, 404);
}

#[tokio::test]
async fn basic_auth_accepts_matching_credentials_only() {
    let (_stand_in, executor) = setup().await;
    let uri = "https://httpbin.org/basic-auth/serverless-workflow/conformance-test";
    let mut good = call("get", uri);
    good.credentials =
        Some(Credentials::Basic { username: "serverless-workflow".into(), password: "conformance-test".into() });
    let request = build_request(good).unwrap();
    let response = expect_response(executor.send(&request, "k").await);
    let content = read_response(&request, &response, OutputFormat::Content).unwrap();
    assert_eq!(content, json!({"authenticated": true, "user": "serverless-workflow"}));
    let output = read_response(&request, &response, OutputFormat::Response).unwrap();
    assert_eq!(output["request"]["headers"]["Authorization"], "***");

    let mut bad = call("get", uri);
    bad.credentials = Some(Credentials::Basic { username: "serverless-workflow".into(), password: "wrong".into() });
    let request = build_request(bad).unwrap();
    let response = expect_response(executor.send(&request, "k").await);
    let err = read_response(&request, &response, OutputFormat::Content).unwrap_err();
    assert_eq!(err.status, 401);
    assert!(err.is(StandardError::Communication));
    let shown = serde_json::to_string(&err).unwrap();
    assert!(!shown.contains("wrong") && !shown.contains("Basic "), "{shown}");

    let request = crate::support::request("get", uri);
    let response = expect_response(executor.send(&request, "k").await);
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn echo_sees_method_headers_query_body_and_idempotency_key() {
    let (stand_in, executor) = setup().await;
    let mut post = call("post", &format!("{}/echo?a=1", stand_in.base_url()));
    post.headers = Some(json!({"X-Trace": "t-1"}));
    post.query = Some(json!({"b": ["x", "y"], "c": true}));
    post.body = Some(json!({"name": "doggie"}));
    let request = build_request(post).unwrap();
    let response = expect_response(executor.send(&request, "run-7/task/1").await);
    let echo = read_response(&request, &response, OutputFormat::Content).unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["query"], json!({"a": "1", "b": ["x", "y"], "c": "true"}));
    assert_eq!(echo["body"], json!({"name": "doggie"}));
    assert_eq!(echo["headers"]["x-trace"], "t-1");
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(echo["headers"]["idempotency-key"], "run-7/task/1");

    let mut text = call("put", &format!("{}/echo", stand_in.base_url()));
    text.body = Some(Value::String("plain words".into()));
    let request = build_request(text).unwrap();
    let echo =
        read_response(&request, &expect_response(executor.send(&request, "k").await), OutputFormat::Content).unwrap();
    assert_eq!((echo["method"].clone(), echo["body"].clone()), (json!("PUT"), json!("plain words")));
    assert_eq!(echo["headers"]["content-type"], "text/plain; charset=utf-8");

    let raw = read_response(&request, &expect_response(executor.send(&request, "k").await), OutputFormat::Raw).unwrap();
    assert!(raw.as_str().is_some_and(|it| !it.is_empty()));
}

#[tokio::test]
async fn idempotency_keys_are_counted() {
    let (stand_in, executor) = setup().await;
    let request = request("get", &format!("{}/status/204", stand_in.base_url()));
    for key in ["run-1/a/0", "run-1/a/0", "run-1/b/0"] {
        assert_eq!(expect_response(executor.send(&request, key).await).status, 204);
    }
    let counts = stand_in.idempotency_counts();
    assert_eq!(counts.get("run-1/a/0"), Some(&2));
    assert_eq!(counts.get("run-1/b/0"), Some(&1));
    assert_eq!(stand_in.request_count(), 3);

    let stats_request = crate::support::request("get", &format!("{}/_stats/idempotency", stand_in.base_url()));
    let response = expect_response(executor.send(&stats_request, "stats").await);
    let stats = read_response(&stats_request, &response, OutputFormat::Content).unwrap();
    assert_eq!(stats.as_object().map(|it| it.len()), Some(2));
    assert_eq!((stats["run-1/a/0"].clone(), stats["run-1/b/0"].clone()), (json!(2), json!(1)));
    // Stats requests are not counted themselves.
    assert_eq!(stand_in.request_count(), 3);
}

#[tokio::test]
async fn flaky_endpoint_fails_n_times_then_succeeds() {
    let (stand_in, executor) = setup().await;
    let request = request("get", &format!("{}/flaky/job-1/2", stand_in.base_url()));
    let mut statuses = Vec::new();
    for attempt in 0..3 {
        statuses.push(expect_response(executor.send(&request, &format!("k/{attempt}")).await).status);
    }
    assert_eq!(statuses, [503, 503, 200]);
    let response = expect_response(executor.send(&request, "k/3").await);
    assert_eq!(read_response(&request, &response, OutputFormat::Content).unwrap(), json!({"calls": 4}));

    // Keys are independent, and a 503 is a communication error with that status.
    let other = crate::support::request("get", &format!("{}/flaky/job-2/1", stand_in.base_url()));
    let response = expect_response(executor.send(&other, "k/5").await);
    let err = read_response(&other, &response, OutputFormat::Content).unwrap_err();
    assert_eq!(err.status, 503);
}

#[tokio::test]
async fn redirects_follow_only_when_asked() {
    let (stand_in, executor) = setup().await;
    let uri = format!("{}/redirect-to?url=/echo&status_code=307", stand_in.base_url());

    let not_following = request("get", &uri);
    let response = expect_response(executor.send(&not_following, "k").await);
    assert_eq!(response.status, 307);
    let err = read_response(&not_following, &response, OutputFormat::Content).unwrap_err();
    assert_eq!(err.status, 307);

    let mut following = call("get", &uri);
    following.redirect = true;
    let following = build_request(following).unwrap();
    let response = expect_response(executor.send(&following, "k").await);
    assert_eq!(response.status, 200);
    let echo = read_response(&following, &response, OutputFormat::Content).unwrap();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["headers"]["idempotency-key"], "k");

    // Five hops are fine, six are too many.
    let mut five = call("get", &format!("{}/redirect/5", stand_in.base_url()));
    five.redirect = true;
    let five = build_request(five).unwrap();
    assert_eq!(expect_response(executor.send(&five, "k").await).status, 200);
    let mut six = call("get", &format!("{}/redirect/6", stand_in.base_url()));
    six.redirect = true;
    let err = expect_failure(executor.send(&build_request(six).unwrap(), "k").await);
    assert!(err.is(StandardError::Communication));
    assert_eq!(err.status, 502);
}

#[tokio::test]
async fn connection_failures_are_communication_errors_with_status_503() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let executor = HttpExecutor::new(LOOPBACK, Vec::new());
    let request = request("get", &format!("http://user:hunter2@127.0.0.1:{port}/x"));
    let err = expect_failure(executor.send(&request, "k").await);
    assert!(err.is(StandardError::Communication));
    assert_eq!(err.status, 503);
    let title = err.title.clone().unwrap();
    assert!(title.starts_with(&format!("GET http://127.0.0.1:{port}/x")), "{title}");
    assert!(!serde_json::to_string(&err).unwrap().contains("hunter2"));
}

#[tokio::test]
async fn oversized_bodies_fail() {
    let (stand_in, executor) = setup().await;
    let ok = request("get", &format!("{}/bytes/1024", stand_in.base_url()));
    let response = expect_response(executor.send(&ok, "k").await);
    let raw = read_response(&ok, &response, OutputFormat::Raw).unwrap();
    assert_eq!(raw.as_str().unwrap().len(), 1368);
    let too_big = request("get", &format!("{}/bytes/{}", stand_in.base_url(), MAX_BODY_BYTES + 1));
    let err = expect_failure(executor.send(&too_big, "k").await);
    assert!(err.is(StandardError::Communication));
    assert_eq!(err.status, 502);
}

#[tokio::test]
async fn stand_in_stops_on_shutdown() {
    let (stand_in, executor) = setup().await;
    let uri = format!("{}/status/200", stand_in.base_url());
    assert_eq!(expect_response(executor.send(&request("get", &uri), "k").await).status, 200);
    stand_in.shutdown().await;
    // A fresh client: the old one may still hold a pooled connection.
    let fresh = HttpExecutor::new(LOOPBACK, Vec::new());
    let err = expect_failure(fresh.send(&request("get", &uri), "k").await);
    assert_eq!(err.status, 503);
}
