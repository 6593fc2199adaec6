//! Redirects of outbound calls between two stub servers on 127.0.0.1 (two ports: two origins):
//! a cross-origin hop carries none of the workflow's headers, no hop carries `Referer`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::any;
use serde_json::json;

use baton_core::http::build_request;
use baton_server::outbound::http_client::HttpExecutor;

use crate::support::{LOOPBACK, call, expect_response};

/// A stub on an ephemeral port: `/to?url=U&status=S` redirects to `U`, `/land` answers 200;
/// every request's headers are recorded.
struct Stub {
    base_url: String,
    seen: Arc<Mutex<Vec<(String, HeaderMap)>>>,
}

impl Stub {
    async fn start() -> Stub {
        let seen: Arc<Mutex<Vec<(String, HeaderMap)>>> = Arc::default();
        let record = seen.clone();
        let router = Router::new().fallback(any(move |uri: axum::http::Uri, headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push((uri.path().to_owned(), headers));
                let query: Vec<(String, String)> =
                    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()).into_owned().collect();
                let get = |name: &str| query.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
                match (uri.path(), get("url")) {
                    ("/to", Some(location)) => {
                        let status = get("status").and_then(|it| it.parse().ok()).unwrap_or(302);
                        (StatusCode::from_u16(status).unwrap(), [(header::LOCATION, location)]).into_response()
                    }
                    _ => StatusCode::OK.into_response(),
                }
            }
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Stub { base_url, seen }
    }

    /// The headers of the request to `path`.
    #[track_caller]
    fn headers_of(&self, path: &str) -> HeaderMap {
        let seen = self.seen.lock().unwrap();
        let (_, headers) = seen.iter().find(|(seen_path, _)| seen_path == path).expect("the stub saw the request");
        headers.clone()
    }
}

/// A followed call to `uri` with a secret-bearing custom header, a bearer token and a cookie.
fn call_with_credentials(method: &str, uri: &str) -> baton_core::effects::HttpRequest {
    let mut call = call(method, uri);
    call.redirect = true;
    call.headers = Some(json!({
        "X-Api-Key": "s3cr3t",
        "Authorization": "Bearer t0ken",
        "Cookie": "session=abc",
        "Proxy-Authorization": "Basic eHg6eXk=",
    }));
    call.body = Some(json!({"refund": 1}));
    build_request(call).unwrap()
}

// See: #13
#[tokio::test]
async fn issue_13_cross_origin_redirects_drop_every_workflow_header() {
    let (first, second) = (Stub::start().await, Stub::start().await);
    let executor = HttpExecutor::new(LOOPBACK, Vec::new());
    for status in [302, 307] {
        let target = format!("{}/land", second.base_url);
        let uri = format!("{}/to?status={status}&url={}", first.base_url, urlencode(&target));
        let response = expect_response(executor.send(&call_with_credentials("post", &uri), "k/1").await);
        assert_eq!(response.status, 200, "{status}");

        let sent = first.headers_of("/to");
        assert_eq!(sent["x-api-key"], "s3cr3t", "the first origin gets what the workflow set");
        let landed = second.headers_of("/land");
        for name in ["x-api-key", "authorization", "cookie", "proxy-authorization", "referer"] {
            assert!(landed.get(name).is_none(), "{status}: {name} reached the other origin: {landed:?}");
        }
        assert_eq!(landed["idempotency-key"], "k/1", "{status}");
        second.seen.lock().unwrap().clear();
        first.seen.lock().unwrap().clear();
    }
}

// See: #13
#[tokio::test]
async fn issue_13_same_origin_redirects_keep_headers_but_send_no_referer() {
    let stub = Stub::start().await;
    let executor = HttpExecutor::new(LOOPBACK, Vec::new());
    let uri = format!("{}/to?status=307&url=/land", stub.base_url);
    let response = expect_response(executor.send(&call_with_credentials("post", &uri), "k/2").await);
    assert_eq!(response.status, 200);
    let landed = stub.headers_of("/land");
    assert_eq!(landed["x-api-key"], "s3cr3t");
    assert_eq!(landed["authorization"], "Bearer t0ken");
    assert!(landed.get("referer").is_none(), "{landed:?}");
}

// See: #13
#[tokio::test]
async fn issue_13_headers_stay_dropped_when_the_chain_returns_to_the_first_origin() {
    let (first, second) = (Stub::start().await, Stub::start().await);
    let executor = HttpExecutor::new(LOOPBACK, Vec::new());
    let back = format!("{}/land", first.base_url);
    let via_second = format!("{}/to?url={}", second.base_url, urlencode(&back));
    let uri = format!("{}/to?url={}", first.base_url, urlencode(&via_second));
    let response = expect_response(executor.send(&call_with_credentials("get", &uri), "k/3").await);
    assert_eq!(response.status, 200);
    let landed = first.headers_of("/land");
    assert!(landed.get("x-api-key").is_none(), "{landed:?}");
    assert!(landed.get("authorization").is_none(), "{landed:?}");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
