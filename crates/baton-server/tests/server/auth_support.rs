//! How the tests authenticate: every test server's `default` workspace is bootstrapped with a
//! known admin key (`support::local_config`), and the test senders add it (and a JSON content type) to requests that
//! carry none, so tests written before keys existed call the API as that admin.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, header};

/// The bootstrap admin key of every test server.
pub const TEST_KEY: &str = "bk_test-suite-admin-key-0001";

/// `request` with `Authorization: Bearer TEST_KEY` unless it has an `Authorization`, and, for a
/// method with a body, `Content-Type: application/json` unless it has a type or is a binary-mode
/// CloudEvent (`ce-specversion`, whose body may be of any type or none).
pub fn authorize(mut request: Request<Body>) -> Request<Body> {
    let headers = request.headers_mut();
    if !headers.contains_key(header::AUTHORIZATION) {
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static(concat!("Bearer ", "bk_test-suite-admin-key-0001")),
        );
    }
    let typed =
        request.headers().contains_key(header::CONTENT_TYPE) || request.headers().contains_key("ce-specversion");
    if request.method() != Method::GET && !typed {
        request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    request
}

/// A PostgreSQL schema of its own for one test on `BATON_TEST_PG_URL` (default
/// `postgres://postgres@127.0.0.1:5432/test`), dropped (with `psql`) when the test ends.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    pub fn new(prefix: &str) -> PgSchema {
        let url =
            std::env::var("BATON_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("baton_t_{prefix}_{}", uuid::Uuid::new_v4().simple());
        PgSchema { url, name }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.url)
            .args(["-q", "-c", &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)])
            .output();
    }
}
