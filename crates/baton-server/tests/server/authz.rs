//! The authorization matrix (`authz_matrix.txt`): every route × {no key, revoked key, another
//! workspace's admin, viewer, member, admin} → the status, against a real server on 127.0.0.1,
//! on SQLite and on PostgreSQL. A route the OpenAPI document lists without a row fails the test.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use baton_server::server::{Database, ServerConfig};
use baton_store::PgOptions;

use crate::auth_support::TEST_KEY;

const MATRIX: &str = include_str!("authz_matrix.txt");

/// The callers, in the table's column order.
const CALLERS: [&str; 6] = ["none", "revoked", "other", "viewer", "member", "admin"];

/// A human-input wait: a run of it waits with one inbox item.
pub const APPROVAL: &str = r#"
document: {dsl: '1.0.3', namespace: test, name: approval, version: '1.0.0'}
do:
  - approve:
      metadata:
        inbox:
          title: Approve
      listen:
        to:
          one:
            with: {type: com.example.approval}
"#;

const HELLO: &str = crate::api_support::HELLO;

/// One row of the table.
struct Row {
    method: reqwest::Method,
    path: String,
    statuses: Vec<u16>,
    body: Option<(String, String)>,
}

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for line in MATRIX.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let mut parts = line.splitn(3, '|');
        let route = parts.next().unwrap();
        let (method, path) = route.trim().split_once(char::is_whitespace).expect("METHOD PATH");
        let statuses: Vec<u16> =
            parts.next().expect("statuses").split_whitespace().map(|it| it.parse().expect("a status")).collect();
        assert_eq!(statuses.len(), CALLERS.len(), "{line}");
        let body = parts.next().map(|body| {
            let (content_type, text) = body.trim().split_once(' ').expect("TYPE BODY");
            (content_type.to_owned(), text.trim().to_owned())
        });
        rows.push(Row { method: method.parse().unwrap(), path: path.trim().to_owned(), statuses, body });
    }
    rows
}

/// A server under test and its callers' keys.
struct Server {
    base: String,
    http: reqwest::Client,
    keys: Vec<(&'static str, Option<String>)>,
    n_fresh: AtomicU32,
}

impl Server {
    async fn start(config: ServerConfig) -> Server {
        let node = crate::support::start(config).await;
        let base = crate::support::serve_api(&node).await;
        // The node lives as long as the test.
        std::mem::forget(node);
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        let mut server = Server { base, http, keys: Vec::new(), n_fresh: AtomicU32::new(0) };
        server.setup().await;
        server
    }

    fn fresh(&self) -> String {
        let n = self.n_fresh.fetch_add(1, Ordering::Relaxed);
        format!("w{}x{n}", std::process::id())
    }

    /// A request as `key` (none: no `Authorization`).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<(&str, String)>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        request.send().await.expect("request")
    }

    /// A JSON call as the admin that must succeed.
    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<(&str, String)>) -> Value {
        let response = self.call(method.clone(), path, Some(TEST_KEY), body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn setup(&mut self) {
        self.admin(reqwest::Method::POST, "/api/v1/workflows", Some(("application/yaml", APPROVAL.into()))).await;
        let mut keys = vec![("none", None)];
        let revoked = self.new_key("viewer").await;
        let revoked_id = self.key_id(&revoked).await;
        self.admin(reqwest::Method::DELETE, &format!("/api/v1/keys/{revoked_id}"), None).await;
        keys.push(("revoked", Some(revoked)));
        let other = self
            .admin(
                reqwest::Method::POST,
                "/api/v1/workspaces",
                Some(("application/json", json!({"name": "Other", "slug": "other"}).to_string())),
            )
            .await;
        keys.push(("other", Some(other["adminKey"].as_str().unwrap().to_owned())));
        keys.push(("viewer", Some(self.new_key("viewer").await)));
        keys.push(("member", Some(self.new_key("member").await)));
        keys.push(("admin", Some(TEST_KEY.to_owned())));
        self.keys = keys;
    }

    /// A key of a new member with `role`.
    async fn new_key(&self, role: &str) -> String {
        let member_id = self.new_member(role).await;
        let body = json!({"name": format!("{role} key"), "memberId": member_id}).to_string();
        let created = self.admin(reqwest::Method::POST, "/api/v1/keys", Some(("application/json", body))).await;
        created["key"].as_str().unwrap().to_owned()
    }

    async fn new_member(&self, role: &str) -> String {
        let name = self.fresh();
        let body = json!({"name": name, "email": format!("{name}@example.com"), "role": role}).to_string();
        let member = self.admin(reqwest::Method::POST, "/api/v1/members", Some(("application/json", body))).await;
        member["id"].as_str().unwrap().to_owned()
    }

    async fn key_id(&self, key: &str) -> String {
        let keys = self.admin(reqwest::Method::GET, "/api/v1/keys", None).await;
        let prefix = baton_server::auth::keys::shown_prefix(key);
        let found = keys["items"].as_array().unwrap().iter().find(|it| it["prefix"] == prefix.as_str()).unwrap();
        found["id"].as_str().unwrap().to_owned()
    }

    /// A new run of `test/approval`, waiting on its inbox item; returns (run id, item id).
    async fn waiting_run(&self) -> (String, String) {
        let body = json!({"workflow": {"namespace": "test", "name": "approval"}, "input": {}}).to_string();
        let run = self.admin(reqwest::Method::POST, "/api/v1/runs", Some(("application/json", body))).await;
        assert_eq!(run["status"], "waiting", "{run}");
        let run_id = run["id"].as_str().unwrap().to_owned();
        let inbox = self.admin(reqwest::Method::GET, "/api/v1/inbox?limit=500", None).await;
        let item = inbox["items"].as_array().unwrap().iter().find(|it| it["runId"] == run_id.as_str()).unwrap();
        (run_id, item["id"].as_str().unwrap().to_owned())
    }

    /// The row's path and body for one cell, with fresh resources in place of the placeholders.
    async fn instantiate(&self, row: &Row) -> (String, Option<(String, String)>) {
        let unique = self.fresh();
        let mut path = row.path.clone();
        if path.contains("{run}") || path.contains("{item}") {
            let (run_id, item) = self.waiting_run().await;
            path = path.replace("{run}", &run_id).replace("{item}", &item);
        }
        if path.contains("{member}") {
            path = path.replace("{member}", &self.new_member("viewer").await);
        }
        if path.contains("{secret}") {
            let name = format!("s_{}", self.fresh());
            let body = Some(("application/json", json!("stored").to_string()));
            self.admin(reqwest::Method::PUT, &format!("/api/v1/secrets/{name}"), body).await;
            path = path.replace("{secret}", &name);
        }
        if path.contains("{key}") {
            let key = self.new_key("viewer").await;
            path = path.replace("{key}", &self.key_id(&key).await);
        }
        let body = row.body.as_ref().map(|(content_type, text)| {
            let text = match text.as_str() {
                "@approval" => APPROVAL.to_owned(),
                "@hello" => HELLO.to_owned(),
                other => other.replace("{unique}", &unique),
            };
            (content_type.clone(), text)
        });
        (path, body)
    }
}

/// Every route of the OpenAPI document as (METHOD, path template).
async fn documented(server: &Server) -> BTreeSet<(String, String)> {
    let doc = server.admin(reqwest::Method::GET, "/api/v1/openapi.json", None).await;
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    routes
}

/// A table path as the template it stands for (`/api/v1/runs/{run}` → `/api/v1/runs/{id}`).
fn template(path: &str) -> String {
    let path = path
        .replace("{run}", "{id}")
        .replace("{member}", "{id}")
        .replace("{key}", "{id}")
        .replace("{secret}", "{name}");
    match path.strip_prefix("/api/v1/workflows/") {
        Some(_) => "/api/v1/workflows/{namespace}/{name}/{version}".to_owned(),
        None => path,
    }
}

async fn check_matrix(config: ServerConfig) {
    let server = Server::start(config).await;
    let rows = rows();
    let tabled: BTreeSet<(String, String)> =
        rows.iter().map(|row| (row.method.to_string(), template(&row.path))).collect();
    let documented = documented(&server).await;
    let missing: Vec<_> = documented.difference(&tabled).collect();
    assert!(missing.is_empty(), "routes without a row in authz_matrix.txt: {missing:?}");
    let unknown: Vec<_> = tabled.difference(&documented).collect();
    assert!(unknown.is_empty(), "rows for routes that do not exist: {unknown:?}");

    let mut wrong = Vec::new();
    for row in &rows {
        for ((caller, key), expected) in server.keys.iter().zip(&row.statuses) {
            let (path, body) = server.instantiate(row).await;
            let body = body.as_ref().map(|(content_type, text)| (content_type.as_str(), text.clone()));
            let response = server.call(row.method.clone(), &path, key.as_deref(), body).await;
            let status = response.status().as_u16();
            let www_authenticate = response.headers().get("www-authenticate").cloned();
            if status != *expected {
                // The body of a stream never ends: read it only for a mismatch of a plain answer.
                let text = match path.ends_with("/events/runs") {
                    true => String::new(),
                    false => response.text().await.unwrap_or_default(),
                };
                wrong.push(format!("{} {path} as {caller}: {status}, expected {expected} {text}", row.method));
                continue;
            }
            // Refusals are problem documents; a 401 says how to authenticate, never the key.
            if matches!(status, 401 | 403) {
                let text = response.text().await.unwrap();
                let problem: Value = serde_json::from_str(&text).unwrap();
                if let Some(key) = key {
                    assert!(!text.contains(key.as_str()), "a problem echoes the key: {text}");
                }
                if status == 401 {
                    assert_eq!(www_authenticate.as_ref().and_then(|it| it.to_str().ok()), Some("Bearer"), "{path}");
                    assert_eq!(problem["type"], "/problems/unauthenticated", "{text}");
                } else {
                    assert_eq!(problem["type"], "/problems/forbidden", "{text}");
                    let detail = problem["detail"].as_str().unwrap();
                    let named = ["viewer", "member", "admin", "server admin"].iter().any(|role| detail.contains(role));
                    assert!(named, "{detail}");
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} cell(s) differ from authz_matrix.txt:\n{}", wrong.len(), wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    check_matrix(crate::support::local_config(&dir.path().join("baton.db"), 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_on_postgres() {
    let schema = crate::auth_support::PgSchema::new("authz");
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::support::local_config(&dir.path().join("unused.db"), 0);
    let options = PgOptions { schema: Some(schema.name.clone()), ..PgOptions::new(schema.url.clone()) };
    config.database = Database::Postgres { options, node_lease_ttl_ms: 15_000 };
    config.secret_key = Some(baton_server::secrets::SecretKey::generate().unwrap());
    check_matrix(config).await;
}
