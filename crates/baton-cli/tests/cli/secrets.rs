//! Secrets end to end: a secret stored through `/api/v1/secrets`, used by a run in a header
//! and in a query string, leaves no trace of its value in the database files, the server log
//! or any API answer, also while the call is in flight and after the run failed; `baton run`
//! reads secrets from `--secret-file` and `BATON_SECRET_<NAME>`; `validate` names undeclared
//! secrets.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::support::{Served, baton, log_text};

/// The secret's value: distinctive, so a match anywhere is a leak.
const SECRET: &str = "sk-live-7f3a9c2e1bd04e55";

/// A loopback HTTP server that records each request's head, holds the answer until released,
/// then answers 500 with a body quoting the request's head (as a careless server would).
struct Upstream {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    release: Arc<Notify>,
}

impl Upstream {
    async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let (seen, gate) = (requests.clone(), release.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (seen, gate) = (seen.clone(), gate.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    seen.lock().unwrap().push(head.clone());
                    gate.notified().await;
                    let body = format!("upstream refused: {head}");
                    let answer = format!(
                        "HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\
                         connection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Upstream { port, requests, release }
    }
}

fn leaky_workflow(port: u16) -> String {
    format!(
        r#"document: {{dsl: '1.0.3', namespace: test, name: leaky, version: '1.0.0'}}
use:
  secrets: [api]
do:
  - callUpstream:
      call: http
      with:
        method: get
        endpoint:
          uri: http://127.0.0.1:{port}/things
          authentication:
            bearer:
              token: ${{ $secrets.api.token }}
        headers:
          X-Api-Key: ${{ $secrets.api.token }}
        query:
          key: ${{ $secrets.api.token }}
"#
    )
}

/// Every file of the database (main file, `-wal`, `-shm`) that exists, with its bytes.
fn database_files(db: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", db.display()))
        .filter_map(|path| std::fs::read(&path).ok().map(|bytes| (path, bytes)))
        .collect()
}

#[track_caller]
fn assert_absent(what: &str, bytes: &[u8]) {
    let found = bytes.windows(SECRET.len()).any(|window| window == SECRET.as_bytes());
    assert!(!found, "the secret's value appears in {what}");
}

/// GETs `url` and returns the body, checking it holds no secret.
async fn fetch(http: &reqwest::Client, url: String, answers: &mut usize) -> String {
    let response = http.get(&url).send().await.unwrap_or_else(|err| panic!("GET {url}: {err}"));
    let body = response.text().await.unwrap();
    assert_absent(&format!("the answer to GET {url}"), body.as_bytes());
    *answers += 1;
    body
}

// See: #11
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_11_secret_value_absent_after_failed_run() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("baton.db");
    let log = dir.path().join("serve.log");
    let http = crate::support::http_client(Duration::from_secs(30));
    let upstream = Upstream::start().await;

    let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
    let child = Command::new(baton())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--allow-private-network", "--db"])
        .arg(&db)
        .env_remove("BATON_DB")
        .env_remove("BATON_DATABASE_URL")
        .env_remove("BATON_SECRET_KEY")
        // Everything the server logs, debug included, is searched.
        .env("BATON_LOG", "debug")
        .env("BATON_BOOTSTRAP_API_KEY", crate::support::TEST_KEY)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("spawn baton serve");
    let _served = Served(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "serve did not answer:\n{}", log_text(&log));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut answers = 0;

    // The secret goes in through the API, and never comes back out of it.
    let put = http.put(format!("{base}/api/v1/secrets/api")).json(&json!({"token": SECRET})).send().await.unwrap();
    assert_eq!(put.status(), 201);
    assert_absent("the PUT answer", put.text().await.unwrap().as_bytes());
    let listed: Value =
        serde_json::from_str(&fetch(&http, format!("{base}/api/v1/secrets"), &mut answers).await).unwrap();
    assert_eq!(listed["items"][0]["name"], "api");

    let deployed = http
        .post(format!("{base}/api/v1/workflows"))
        .header("content-type", "application/yaml")
        .body(leaky_workflow(upstream.port))
        .send()
        .await
        .unwrap();
    assert!(deployed.status().is_success(), "deploy: {}", deployed.text().await.unwrap());
    let started = http
        .post(format!("{base}/api/v1/runs?mode=background"))
        .json(&json!({"workflow": {"namespace": "test", "name": "leaky"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let started = started.text().await.unwrap();
    assert_absent("the start answer", started.as_bytes());
    let run_id = serde_json::from_str::<Value>(&started).unwrap()["id"].as_str().unwrap().to_owned();

    // While the call is in flight its request is part of the stored run state: sealed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while upstream.requests.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the call never arrived:\n{}", log_text(&log));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let head = upstream.requests.lock().unwrap()[0].clone();
    assert!(head.contains(&format!("key={SECRET}")), "the secret went out in the query: {head}");
    assert!(head.contains(&format!("Bearer {SECRET}")), "and in the Authorization header: {head}");
    let run = fetch(&http, format!("{base}/api/v1/runs/{run_id}"), &mut answers).await;
    assert_eq!(serde_json::from_str::<Value>(&run).unwrap()["status"], "running");
    let files = database_files(&db);
    assert!(files.iter().any(|(path, _)| path.ends_with("-wal")), "the database runs in WAL mode");
    for (path, bytes) in &files {
        assert_absent(&format!("{path} while the call is in flight"), bytes);
    }

    // The upstream fails, quoting the request; the run faults.
    upstream.release.notify_one();
    let deadline = Instant::now() + Duration::from_secs(30);
    let detail = loop {
        let run: Value =
            serde_json::from_str(&fetch(&http, format!("{base}/api/v1/runs/{run_id}"), &mut answers).await).unwrap();
        if run["status"] == "faulted" {
            break run;
        }
        assert!(Instant::now() < deadline, "the run did not fault: {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let error = &detail["error"];
    assert_eq!(error["status"], 500, "{detail}");
    assert!(error["title"].as_str().unwrap().contains("key=***"), "{error}");
    assert!(error["detail"].as_str().unwrap().contains("Bearer ***"), "the echoed token is masked: {error}");

    for url in [
        format!("{base}/api/v1/runs"),
        format!("{base}/api/v1/runs/{run_id}/history?limit=1000"),
        format!("{base}/api/v1/workflows"),
        format!("{base}/api/v1/workflows/test/leaky/1.0.0"),
        format!("{base}/api/v1/inbox"),
        format!("{base}/api/v1/secrets"),
        format!("{base}/api/v1/openapi.json"),
        format!("{base}/metrics"),
    ] {
        fetch(&http, url, &mut answers).await;
    }
    assert!(answers >= 10);

    drop(_served);
    let files = database_files(&db);
    assert!(files.iter().any(|(path, _)| path.ends_with("baton.db")));
    for (path, bytes) in &files {
        assert_absent(path, bytes);
    }
    let log_bytes = std::fs::read(&log).unwrap();
    assert!(log_text(&log).contains("secret stored"), "the log is the server's debug log");
    assert_absent("the server log", &log_bytes);
}

// See: #11
#[test]
fn issue_11_run_reads_secret_file_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("echo.yaml");
    std::fs::write(
        &file,
        r#"document: {dsl: '1.0.3', namespace: test, name: echo, version: '1.0.0'}
use:
  secrets: [fromFile, fromEnv, fromFlag, shadowed]
do:
  - read:
      set:
        file: ${ $secrets.fromFile.user }
        env: ${ $secrets.fromEnv }
        flag: ${ $secrets.fromFlag }
        shadowed: ${ $secrets.shadowed }
        undeclared: ${ $secrets | has("other") }
"#,
    )
    .unwrap();
    let secrets = dir.path().join("secrets.env");
    std::fs::write(&secrets, "# local secrets\nfromFile={\"user\": \"ada\"}\nshadowed=from-file\n").unwrap();
    let out = Command::new(baton())
        .args(["run", file.to_str().unwrap(), "--secret-file", secrets.to_str().unwrap(), "--secret", "fromFlag=f"])
        .arg("--db")
        .arg(dir.path().join("baton.db"))
        .env_remove("BATON_SECRET_KEY")
        .env("BATON_SECRET_fromEnv", "e")
        .env("BATON_SECRET_shadowed", "from-env")
        .env("BATON_SECRET_other", "not declared")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let output: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(output, json!({"file": "ada", "env": "e", "flag": "f", "shadowed": "from-file", "undeclared": false}));
    // The key that seals secrets at rest was created beside the database, for its owner only.
    let key = dir.path().join("baton.db.secret-key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

// See: #11
#[test]
fn issue_11_validate_names_undeclared_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("undeclared.yaml");
    std::fs::write(
        &file,
        r#"document: {dsl: '1.0.3', namespace: test, name: undeclared, version: '1.0.0'}
use:
  secrets: [api]
do:
  - read:
      set:
        ok: ${ $secrets.api }
        leak: ${ $secrets.database.password }
"#,
    )
    .unwrap();
    let out = Command::new(baton()).args(["validate", file.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "validate exits 1 when a file is invalid");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"/do/0/read/set/leak: secret "database" is not declared in use.secrets (declared: "api")"#),
        "{stderr}"
    );
}
