//! A local stand-in for `petstore.swagger.io` and `httpbin.org`, so the CTK's `call`, `data-flow`
//! and `try` features and Baton's own tests run without the network (`baton conformance` and the
//! integration tests start one and point [`crate::outbound::http_client::HttpExecutor`] rewrites at it).
//!
//! Petstore: `GET /v2/pet/findByStatus?status=X` (3 pets), `GET /v2/pet/{id}` (ids 1..=10, 404
//! otherwise, `getPetByName/*` included), `POST /v2/pet`, `GET /v2/swagger.json` and `/v2/swagger.yaml`
//! (Swagger 2.0 whose `host` is this server). httpbin: `GET /basic-auth/{user}/{passwd}`.
//! Test helpers: `/echo`, `/status/{code}`, `/flaky/{key}/{n}`, `/delay/{ms}`, `/bytes/{n}`,
//! `/redirect-to?url=..&status_code=..`, `/redirect/{n}`, `GET /_stats/idempotency`.
//! For `examples/`: `POST /v1/chat/completions` (an OpenAI-compatible chat model that triages a
//! support ticket deterministically, bearer token required) and `POST /refunds` (a refund API
//! that issues one refund per `Idempotency-Key`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest `/delay/{ms}` honoured.
const MAX_DELAY_MS: u64 = 30_000;
/// Largest `/bytes/{n}` body.
const MAX_BYTES: usize = 32 * 1024 * 1024;

/// A running stand-in server on `127.0.0.1`; dropping it (or [`StandIn::shutdown`]) stops it.
pub struct StandIn {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    port: u16,
    requests: AtomicU64,
    idempotency: Mutex<HashMap<String, u64>>,
    flaky: Mutex<HashMap<String, u64>>,
    /// Refunds issued by `POST /refunds`, by `Idempotency-Key` (or a generated key), in order.
    refunds: Mutex<Vec<(String, Value)>>,
}

impl StandIn {
    /// Binds `127.0.0.1:0` and serves in a background task.
    pub async fn start() -> std::io::Result<StandIn> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { port: addr.port(), ..Shared::default() });
        let app = router(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(err) = serving.await {
                tracing::warn!(error = %err, "stand-in server stopped");
            }
        });
        Ok(StandIn { addr, shared, stop: Some(stop), task: Some(task) })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Rewrites sending the public petstore and httpbin origins here.
    pub fn rewrites(&self) -> Vec<(String, String)> {
        ["https://petstore.swagger.io", "http://petstore.swagger.io", "https://httpbin.org", "http://httpbin.org"]
            .into_iter()
            .map(|origin| (origin.to_owned(), self.base_url()))
            .collect()
    }

    /// How many requests carried each `Idempotency-Key` value.
    pub fn idempotency_counts(&self) -> HashMap<String, u64> {
        lock(&self.shared.idempotency).clone()
    }

    /// The refunds `POST /refunds` issued, in order (a repeated `Idempotency-Key` issues none).
    pub fn refunds(&self) -> Vec<Value> {
        lock(&self.shared.refunds).iter().map(|(_, refund)| refund.clone()).collect()
    }

    /// How many requests the stand-in received (`/_stats/*` excluded).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Stops accepting connections and waits for the server task to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // Graceful shutdown waits for idle keep-alive connections; do not wait for that here.
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

type SharedState = State<Arc<Shared>>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/pet/findByStatus", get(find_by_status))
        .route("/v2/pet/getPetByName/{name}", get(pet_not_found))
        .route("/v2/pet/{pet_id}", get(get_pet))
        .route("/v2/pet", post(add_pet))
        .route("/v2/swagger.json", get(swagger))
        .route("/v2/swagger.yaml", get(swagger_yaml))
        .route("/basic-auth/{user}/{passwd}", get(basic_auth))
        .route("/echo", any(echo))
        .route("/status/{code}", any(status))
        .route("/flaky/{key}/{n}", any(flaky))
        .route("/delay/{ms}", any(delay))
        .route("/bytes/{n}", get(bytes))
        .route("/redirect-to", any(redirect_to))
        .route("/redirect/{n}", any(redirect_n))
        .route("/_stats/idempotency", get(idempotency_stats))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/refunds", post(refunds))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), count_requests))
        .with_state(shared)
}

async fn count_requests(State(shared): SharedState, request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/_stats/") {
        shared.requests.fetch_add(1, Ordering::SeqCst);
        if let Some(key) = request.headers().get("idempotency-key").and_then(|value| value.to_str().ok()) {
            *lock(&shared.idempotency).entry(key.to_owned()).or_insert(0) += 1;
        }
    }
    next.run(request).await
}

fn json_response(status: StatusCode, value: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

fn pet(id: i64, status: &str) -> Value {
    json!({
        "id": id,
        "category": {"id": 1, "name": "dogs"},
        "name": format!("doggie-{id}"),
        "photoUrls": [format!("https://example.com/pets/{id}.png")],
        "tags": [{"id": 1, "name": "friendly"}],
        "status": status,
    })
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect()
}

async fn find_by_status(RawQuery(query): RawQuery) -> Response {
    let mut statuses: Vec<String> = query_pairs(query.as_deref())
        .into_iter()
        .filter(|(name, _)| name == "status")
        .flat_map(|(_, value)| value.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    if statuses.is_empty() {
        statuses.push("available".to_owned());
    }
    let pets: Vec<Value> = (1..=3).map(|id| pet(id, &statuses[(id as usize - 1) % statuses.len()])).collect();
    json_response(StatusCode::OK, Value::Array(pets))
}

async fn pet_not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({"code": 1, "type": "error", "message": "Pet not found"}))
}

async fn get_pet(Path(pet_id): Path<String>) -> Response {
    match pet_id.parse::<i64>() {
        Ok(id) if (1..=10).contains(&id) => json_response(StatusCode::OK, pet(id, "available")),
        _ => pet_not_found().await,
    }
}

async fn add_pet(body: Bytes) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut pet)) => {
            pet.entry("id").or_insert(json!(11));
            json_response(StatusCode::OK, Value::Object(pet))
        }
        _ => json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"code": 405, "type": "unknown", "message": "Invalid input"}),
        ),
    }
}

async fn swagger(State(shared): SharedState) -> Response {
    json_response(StatusCode::OK, swagger_document(shared.port))
}

async fn swagger_yaml(State(shared): SharedState) -> Response {
    match serde_saphyr::to_string(&swagger_document(shared.port)) {
        Ok(yaml) => ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response(),
        Err(err) => json_response(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": err.to_string()})),
    }
}

/// A trimmed Swagger 2.0 petstore description whose host is the stand-in.
fn swagger_document(port: u16) -> Value {
    let pet_ref = json!({"$ref": "#/definitions/Pet"});
    json!({
        "swagger": "2.0",
        "info": {"title": "Swagger Petstore (Baton stand-in)", "version": "1.0.7"},
        "host": format!("127.0.0.1:{port}"),
        "basePath": "/v2",
        "schemes": ["http"],
        "paths": {
            "/pet": {
                "post": {
                    "tags": ["pet"],
                    "summary": "Add a new pet to the store",
                    "operationId": "addPet",
                    "consumes": ["application/json"],
                    "produces": ["application/json"],
                    "parameters": [{"in": "body", "name": "body", "required": true, "schema": pet_ref}],
                    "responses": {"200": {"description": "successful operation", "schema": pet_ref}, "405": {"description": "Invalid input"}}
                }
            },
            "/pet/findByStatus": {
                "get": {
                    "tags": ["pet"],
                    "summary": "Finds Pets by status",
                    "operationId": "findPetsByStatus",
                    "produces": ["application/json"],
                    "parameters": [{
                        "name": "status", "in": "query", "required": true, "type": "array",
                        "items": {"type": "string", "enum": ["available", "pending", "sold"], "default": "available"},
                        "collectionFormat": "multi"
                    }],
                    "responses": {"200": {"description": "successful operation", "schema": {"type": "array", "items": pet_ref}}}
                }
            },
            "/pet/{petId}": {
                "get": {
                    "tags": ["pet"],
                    "summary": "Find pet by ID",
                    "operationId": "getPetById",
                    "produces": ["application/json"],
                    "parameters": [{"name": "petId", "in": "path", "required": true, "type": "integer", "format": "int64"}],
                    "responses": {"200": {"description": "successful operation", "schema": pet_ref}, "404": {"description": "Pet not found"}}
                }
            }
        },
        "definitions": {
            "Pet": {
                "type": "object",
                "required": ["name", "photoUrls"],
                "properties": {
                    "id": {"type": "integer", "format": "int64"},
                    "name": {"type": "string", "example": "doggie"},
                    "photoUrls": {"type": "array", "items": {"type": "string"}},
                    "status": {"type": "string", "enum": ["available", "pending", "sold"]}
                }
            }
        }
    })
}

async fn basic_auth(Path((user, passwd)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let expected = format!("{user}:{passwd}");
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| BASE64.decode(encoded.trim()).ok());
    if given.as_deref() == Some(expected.as_bytes()) {
        json_response(StatusCode::OK, json!({"authenticated": true, "user": user}))
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"Fake Realm\"")], Body::empty())
            .into_response()
    }
}

async fn echo(method: Method, headers: HeaderMap, RawQuery(query): RawQuery, body: Bytes) -> Response {
    let mut header_object = Map::new();
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match header_object.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                header_object.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let mut query_object = Map::new();
    for (name, value) in query_pairs(query.as_deref()) {
        match query_object.get_mut(&name) {
            Some(Value::Array(items)) => items.push(Value::String(value)),
            Some(existing) => *existing = json!([existing.clone(), value]),
            None => {
                query_object.insert(name, Value::String(value));
            }
        }
    }
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    json_response(
        StatusCode::OK,
        json!({"method": method.as_str(), "headers": header_object, "query": query_object, "body": body}),
    )
}

async fn status(Path(code): Path<u16>) -> Response {
    match StatusCode::from_u16(code) {
        Ok(status) => json_response(status, json!({"status": code})),
        Err(_) => json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid status"})),
    }
}

async fn flaky(State(shared): SharedState, Path((key, n)): Path<(String, u64)>) -> Response {
    let calls = {
        let mut flaky = lock(&shared.flaky);
        let calls = flaky.entry(key).or_insert(0);
        *calls += 1;
        *calls
    };
    if calls <= n {
        json_response(StatusCode::SERVICE_UNAVAILABLE, json!({"calls": calls}))
    } else {
        json_response(StatusCode::OK, json!({"calls": calls}))
    }
}

async fn delay(Path(ms): Path<u64>) -> Response {
    let ms = ms.min(MAX_DELAY_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    json_response(StatusCode::OK, json!({"delayed_ms": ms}))
}

async fn bytes(Path(n): Path<usize>) -> Response {
    let body = vec![b'x'; n.min(MAX_BYTES)];
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

fn redirect(status_code: u16, location: &str) -> Response {
    let status = StatusCode::from_u16(status_code).ok().filter(StatusCode::is_redirection).unwrap_or(StatusCode::FOUND);
    match axum::http::HeaderValue::from_str(location) {
        Ok(location) => (status, [(header::LOCATION, location)], Body::empty()).into_response(),
        Err(_) => json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid url"})),
    }
}

async fn redirect_to(RawQuery(query): RawQuery) -> Response {
    let pairs = query_pairs(query.as_deref());
    let find = |key: &str| pairs.iter().find(|(name, _)| name == key).map(|(_, value)| value.clone());
    let Some(location) = find("url") else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "missing url"}));
    };
    let status_code = find("status_code").and_then(|code| code.parse().ok()).unwrap_or(302);
    redirect(status_code, &location)
}

async fn redirect_n(Path(n): Path<u32>) -> Response {
    if n <= 1 { redirect(302, "/echo") } else { redirect(302, &format!("/redirect/{}", n - 1)) }
}

async fn idempotency_stats(State(shared): SharedState) -> Response {
    let counts = lock(&shared.idempotency).clone();
    json_response(StatusCode::OK, json!(counts))
}

/// An OpenAI-compatible chat model that triages the last user message: a message mentioning
/// "refund" is `{"category":"refund","amount":N,"summary":..}` with N the amount of money it
/// mentions (0 when none), one mentioning an error, a crash or a bug is `"bug"`, anything else `"question"`.
async fn chat_completions(State(shared): SharedState, headers: HeaderMap, body: Bytes) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| !token.trim().is_empty());
    if !authorized {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"message": "missing bearer token", "type": "invalid_request_error"}}),
        );
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": {"message": "body is not JSON", "type": "invalid_request_error"}}),
        );
    };
    let text = request["messages"]
        .as_array()
        .and_then(|messages| messages.iter().rev().find(|message| message["role"] == "user"))
        .and_then(|message| message["content"].as_str())
        .unwrap_or("")
        .to_owned();
    let lower = text.to_lowercase();
    let summary: String = text.chars().take(80).collect();
    let answer = if lower.contains("refund") {
        json!({"category": "refund", "amount": money_amount(&text).unwrap_or(json!(0)), "summary": summary})
    } else if ["error", "crash", "bug"].iter().any(|word| lower.contains(word)) {
        json!({"category": "bug", "amount": null, "summary": summary})
    } else {
        json!({"category": "question", "amount": null, "summary": summary})
    };
    let n = shared.requests.load(Ordering::SeqCst);
    json_response(
        StatusCode::OK,
        json!({
            "id": format!("chatcmpl-standin-{n}"),
            "object": "chat.completion",
            "created": 0,
            "model": request["model"].as_str().unwrap_or("standin"),
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": answer.to_string()},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        }),
    )
}

/// The amount of money in `text`: the first number written next to a currency (`250 EUR`,
/// `€99.50`, `$12`), else the first number (`"order 7781, refund 149.90 EUR"` → 149.9).
fn money_amount(text: &str) -> Option<Value> {
    let chars: Vec<char> = text.chars().collect();
    let mut numbers = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        if !chars[index].is_ascii_digit() {
            index += 1;
            continue;
        }
        let start = index;
        let mut number = String::new();
        while index < chars.len() {
            let c = chars[index];
            let decimal_point =
                c == '.' && !number.contains('.') && chars.get(index + 1).is_some_and(char::is_ascii_digit);
            if !(c.is_ascii_digit() || decimal_point) {
                break;
            }
            number.push(c);
            index += 1;
        }
        let before: String = chars[..start].iter().rev().take(2).collect();
        let after: String = chars[index..].iter().take(5).collect::<String>().trim_start().to_lowercase();
        let currency = before.contains(['€', '$', '£'])
            || ["eur", "usd", "gbp", "€", "$", "£", "euro", "dollar"].iter().any(|unit| after.starts_with(unit));
        numbers.push((currency, number));
    }
    let (_, number) = numbers.iter().find(|(currency, _)| *currency).or(numbers.first())?;
    match number.parse::<i64>() {
        Ok(integer) => Some(json!(integer)),
        Err(_) => number.parse::<f64>().ok().map(|float| json!(float)),
    }
}

/// Issues a refund: `201 {refundId, status: "issued", ..body}`; a request with an
/// `Idempotency-Key` already seen answers `200` with the same refund and issues none.
async fn refunds(State(shared): SharedState, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(Value::Object(request)) = serde_json::from_slice::<Value>(&body) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "body must be a JSON object"}));
    };
    let key = headers.get("idempotency-key").and_then(|value| value.to_str().ok()).map(str::to_owned);
    let mut issued = lock(&shared.refunds);
    if let Some(key) = &key
        && let Some((_, refund)) = issued.iter().find(|(seen, _)| seen == key)
    {
        return json_response(StatusCode::OK, refund.clone());
    }
    let number = issued.len() + 1;
    let mut refund = request;
    refund.insert("refundId".to_owned(), json!(format!("re_{number:04}")));
    refund.insert("status".to_owned(), json!("issued"));
    let refund = Value::Object(refund);
    issued.push((key.unwrap_or_else(|| format!("none-{number}")), refund.clone()));
    json_response(StatusCode::CREATED, refund)
}

async fn not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({"error": "not found"}))
}
