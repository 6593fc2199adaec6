//! Paths and helpers shared by the CLI tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The `baton` binary built for these tests.
pub fn baton() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

/// The repository's `examples/` folder.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `baton runs show ID` parsed.
pub fn runs_show(db: &Path, run_id: &str) -> Value {
    let out = Command::new(baton()).args(["runs", "show", run_id, "--db"]).arg(db).output().expect("runs show");
    assert!(out.status.success(), "runs show: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("runs show prints JSON")
}

/// A `baton serve` child, killed (`SIGKILL`) when dropped so a failing test leaves none behind.
pub struct Served(pub std::process::Child);

impl Served {
    pub fn kill9(&mut self) {
        self.0.kill().expect("kill -9");
        self.0.wait().expect("reap");
    }

    /// Sends a signal by name (`STOP`, `CONT`) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").arg(format!("-{name}")).arg(self.0.id().to_string()).status().expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bootstrap admin key of every server the tests start (`BATON_BOOTSTRAP_API_KEY`).
pub const TEST_KEY: &str = "bk_cli-suite-admin-key-0001";

/// An HTTP client of the test servers: sends [`TEST_KEY`] on every request.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {TEST_KEY}")).unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().no_proxy().timeout(timeout).default_headers(headers).build().unwrap()
}
/// The secret key of the servers [`serve`] starts (64 hex digits).
pub const TEST_SECRET_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Starts `baton serve --listen 127.0.0.1:PORT --allow-private-network ARGS…` on a free port,
/// appending its output to `log`; returns it and its base URL once `/healthz` answers.
pub async fn serve(args: &[&std::ffi::OsStr], log: &Path, http: &reqwest::Client) -> (Served, String) {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(baton())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--allow-private-network"])
        .args(args)
        .env_remove("BATON_DB")
        .env_remove("BATON_DATABASE_URL")
        .env("BATON_LOG", "warn,baton_server=info")
        .env("BATON_BOOTSTRAP_API_KEY", TEST_KEY)
        // Every node of a PostgreSQL test shares one secret key, as a deployment would.
        .env("BATON_SECRET_KEY", TEST_SECRET_KEY)
        .stdin(std::process::Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("spawn baton serve");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return (Served(child), base);
        }
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none() && std::time::Instant::now() < deadline,
            "serve did not answer ({exited:?}):\n{}",
            log_text(log)
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// GET `url` as JSON; panics unless it answers 2xx.
pub async fn get_json(http: &reqwest::Client, url: String) -> Value {
    let response = http.get(&url).send().await.unwrap_or_else(|err| panic!("GET {url}: {err}"));
    assert!(response.status().is_success(), "GET {url}: {}", response.status());
    response.json().await.unwrap()
}

/// Deploys a YAML definition through `base`'s API.
pub async fn deploy(http: &reqwest::Client, base: &str, definition: String) {
    let deployed = http
        .post(format!("{base}/api/v1/workflows"))
        .header("content-type", "application/yaml")
        .body(definition)
        .send()
        .await
        .unwrap();
    assert!(deployed.status().is_success(), "deploy: {}", deployed.text().await.unwrap());
}

/// Starts a background run of `test/NAME` through `base` and returns its id.
pub async fn start_run(http: &reqwest::Client, base: &str, name: &str) -> String {
    let response = http
        .post(format!("{base}/api/v1/runs?mode=background"))
        .json(&serde_json::json!({"workflow": {"namespace": "test", "name": name}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202, "start a run: {}", response.text().await.unwrap_or_default());
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().expect("run id").to_owned()
}

/// The entries of a run's history (one page of up to 1,000), read through `base`.
pub async fn history(http: &reqwest::Client, base: &str, run_id: &str) -> Vec<Value> {
    let page = get_json(http, format!("{base}/api/v1/runs/{run_id}/history?limit=1000")).await;
    assert!(page.get("nextCursor").is_none_or(Value::is_null), "history of {run_id} longer than a page");
    page["items"].as_array().expect("items").clone()
}

/// How many `workflow.completed` entries a history holds.
pub fn completions(history: &[Value]) -> usize {
    history.iter().filter(|entry| entry["type"] == "io.serverlessworkflow.workflow.completed.v1").count()
}

/// Polls `base` until every run of `ids` completed; panics when one ends otherwise or after
/// `timeout`.
pub async fn wait_completed(
    http: &reqwest::Client,
    base: &str,
    ids: &[String],
    timeout: std::time::Duration,
    log: &Path,
) {
    let deadline = std::time::Instant::now() + timeout;
    let mut pending = ids.to_vec();
    while !pending.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} runs unfinished after {timeout:?} (e.g. {}):\n{}",
            pending.len(),
            pending[0],
            log_text(log)
        );
        let mut still = Vec::new();
        for id in pending {
            let run = get_json(http, format!("{base}/api/v1/runs/{id}")).await;
            match run["status"].as_str() {
                Some("completed") => {}
                Some("pending" | "running" | "waiting") => still.push(id),
                _ => panic!("run {id} ended otherwise: {run}"),
            }
        }
        pending = still;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The PostgreSQL server of the test suite (`BATON_TEST_PG_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`).
pub fn pg_url() -> String {
    std::env::var("BATON_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A schema of its own for one test on [`pg_url`]'s server (the nodes create it), dropped when
/// the test ends so runs of the suite never see each other's data.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    pub fn new(prefix: &str) -> PgSchema {
        let name = format!("baton_{prefix}_{}", uuid::Uuid::new_v4().simple());
        PgSchema { url: pg_url(), name }
    }

    /// `serve` arguments for a node on this schema.
    pub fn serve_args(&self) -> Vec<std::ffi::OsString> {
        ["--db", &self.url, "--db-schema", &self.name].iter().map(Into::into).collect()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.url, "-q", "-c", &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)])
            .output();
    }
}

/// Every stub request per idempotency key at most twice (a call in flight at a crash or a
/// takeover is sent again, with the same key); returns the distribution for the log.
pub fn assert_keys_at_most_twice(
    standin: &baton_server::standin::StandIn,
    calls: usize,
) -> std::collections::BTreeMap<u64, usize> {
    let keys = standin.idempotency_counts();
    let mut distribution = std::collections::BTreeMap::new();
    for count in keys.values() {
        *distribution.entry(*count).or_default() += 1;
    }
    assert!(keys.len() >= calls, "{} idempotency keys for {calls} calls", keys.len());
    assert!(keys.values().all(|&n| n <= 2), "requests per idempotency key: {distribution:?}");
    distribution
}

/// Polls `base` until run `id` has `status`; panics after `timeout`.
pub async fn wait_status(http: &reqwest::Client, base: &str, id: &str, status: &str, timeout: std::time::Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let run = get_json(http, format!("{base}/api/v1/runs/{id}")).await;
        if run["status"] == status {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "run {id} never became {status}: {run}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
