//! The CLI as a client of a live `baton serve` child process on 127.0.0.1: `deploy`,
//! `runs list|show|cancel|suspend|resume|watch`, including `watch` re-attaching across a server
//! restart.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{baton, examples};

/// How long a server may take to answer `/healthz`, and a run to reach a status.
const PATIENCE: Duration = Duration::from_secs(30);

/// A `baton serve` child on a free port with its own database; killed when dropped.
struct Server {
    child: Child,
    url: String,
    listen: String,
    db: PathBuf,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let listen = format!("127.0.0.1:{}", free_port());
        let mut server = Server::spawn(&listen, &dir.path().join("baton.db"), &dir.path().join("serve.log"));
        server._dir = Some(dir);
        server
    }

    /// Starts a server on `listen` over `db` (also a restart of a killed one).
    fn spawn(listen: &str, db: &Path, log: &Path) -> Server {
        let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = clean(Command::new(baton()))
            .args(["serve", "--listen", listen, "--allow-private-network", "--db"])
            .arg(db)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("spawn baton serve");
        let mut server = Server {
            child,
            url: format!("http://{listen}"),
            listen: listen.to_owned(),
            db: db.to_owned(),
            log: log.to_owned(),
            _dir: None,
        };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("baton serve exited with {status}:\n{}", self.log_text());
            }
            if matches!(http(Method::Get, &format!("{}/healthz", self.url), None), Ok((200, _))) {
                return;
            }
            assert!(Instant::now() < deadline, "baton serve never answered /healthz:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `baton ARGS --server URL`.
    fn baton(&self, args: &[&str]) -> Output {
        clean(Command::new(baton())).args(args).args(["--server", &self.url]).output().expect("run baton")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a run in the background through the API; returns its id.
    fn start_run(&self, workflow: Value, input: Value) -> String {
        let (status, body) = http(
            Method::Post,
            &format!("{}/api/v1/runs?mode=background", self.url),
            Some(json!({"workflow": workflow, "input": input})),
        )
        .expect("POST /api/v1/runs");
        assert_eq!(status, 202, "{body}");
        body["id"].as_str().expect("run id").to_owned()
    }

    /// The run resource, through the CLI.
    fn show(&self, id: &str) -> Value {
        let out = self.baton(&["runs", "show", id, "--json"]);
        assert!(out.status.success(), "runs show: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("runs show prints JSON")
    }

    /// Waits until the run's status is `status`.
    fn wait_status(&self, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let run = self.show(id);
            if run["status"] == status {
                return run;
            }
            assert!(Instant::now() < deadline, "run {id} never became {status}: {run:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A command without the caller's `BATON_*` or proxy variables.
fn clean(mut command: Command) -> Command {
    for name in
        ["BATON_SERVER", "BATON_DB", "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    {
        command.env_remove(name);
    }
    command.env("BATON_BOOTSTRAP_API_KEY", crate::support::TEST_KEY).env("BATON_API_KEY", crate::support::TEST_KEY);
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

enum Method {
    Get,
    Post,
}

/// One JSON request through reqwest (a dependency of the CLI itself).
fn http(method: Method, url: &str, body: Option<Value>) -> Result<(u16, Value), reqwest::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let client = crate::support::http_client(Duration::from_secs(10));
        let mut request = match method {
            Method::Get => client.get(url),
            Method::Post => client.post(url),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
    })
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A workflow that sets, waits `duration`, then sets again.
fn waiting_workflow(name: &str, duration: &str) -> String {
    format!(
        "document: {{dsl: '1.0.3', namespace: test, name: {name}, version: '1.0.0'}}\n\
         do:\n  - first:\n      set: {{n: '${{ .n + 1 }}'}}\n  - pause:\n      wait: {duration}\n  - last:\n      set: {{n: '${{ .n * 10 }}', done: true}}\n"
    )
}

#[test]
fn deploy_reports_created_unchanged_invalid_and_conflict() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let greeting = examples().join("greeting.yaml");
    let greeting = greeting.to_str().unwrap();

    let out = server.baton(&["deploy", greeting]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "examples/greeting:1.0.0 created\n");

    let json_file = write(
        dir.path(),
        "limited.json",
        r#"{"document": {"dsl": "1.0.3", "namespace": "test", "name": "limited", "version": "1.0.0"}, "do": [{"a": {"set": {"x": 1}}}]}"#,
    );
    let out = server.baton(&["deploy", greeting, &json_file]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "examples/greeting:1.0.0 unchanged\ntest/limited:1.0.0 created\n");
    let capped = write(dir.path(), "capped.yaml", &waiting_workflow("capped", "PT1S"));
    for outcome in ["created", "unchanged"] {
        let out = server.baton(&["deploy", &capped, "--concurrency", "2"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), format!("test/capped:1.0.0 {outcome}\n"));
    }

    let bad = write(
        dir.path(),
        "bad.yaml",
        "document: {dsl: '1.0.3', namespace: t, name: bad, version: '1.0.0'}\ndo:\n  - a:\n      set: {x: '${ .x | }'}\n      then: nowhere\n  - a:\n      wait: PT1S\n",
    );
    let out = server.baton(&["deploy", &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains(&format!("{bad}:/do/0/a/then: ")), "{err}");
    assert!(err.contains(&format!("{bad}:/do/1/a")), "{err}");
    assert!(err.lines().any(|line| line.starts_with("error: ")), "{err}");

    let conflicting = write(
        dir.path(),
        "conflict.yaml",
        "document: {dsl: '1.0.3', namespace: examples, name: greeting, version: '1.0.0'}\ndo:\n  - other:\n      set: {x: 1}\n",
    );
    let out = server.baton(&["deploy", &conflicting]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.starts_with("error: ") && err.contains(": "), "{err}");
    assert!(err.contains("examples") || err.contains("greeting"), "the detail names the workflow: {err}");

    // Every file is tried; the worst outcome decides the exit code.
    let out = server.baton(&["deploy", &bad, greeting]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "examples/greeting:1.0.0 unchanged\n");
}

#[test]
fn runs_list_show_signals_and_watch_over_http() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let short = write(dir.path(), "short.yaml", &waiting_workflow("short", "PT0.3S"));
    let long = write(dir.path(), "long.yaml", &waiting_workflow("long", "PT1H"));
    let out = server.baton(&["deploy", &short, &long]);
    assert!(out.status.success(), "{}", stderr(&out));

    // watch: progress on stderr, output on stdout, exit 0.
    let done = server.start_run(json!({"namespace": "test", "name": "short"}), json!({"n": 1}));
    let out = server.baton(&["runs", "watch", &done]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap(), json!({"n": 20, "done": true}));
    let err = stderr(&out);
    for line in ["  ▶ /do/0/first", "  ✓ /do/0/first", "  ▶ /do/1/pause", "  ✓ /do/2/last", "✓ run completed"]
    {
        assert_eq!(err.lines().filter(|l| *l == line).count(), 1, "{line:?} once in:\n{err}");
    }
    // Watching a finished run replays its history and ends the same way.
    let again = server.baton(&["runs", "watch", &done]);
    assert!(again.status.success());
    assert_eq!(again.stdout, out.stdout);

    // signals: suspend, resume, cancel; a refused signal exits 1.
    let waiting = server.start_run(json!({"namespace": "test", "name": "long", "version": "1.0.0"}), json!({"n": 0}));
    server.wait_status(&waiting, "waiting");
    let out = server.baton(&["runs", "suspend", &waiting]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(&format!("{waiting}\t")), "{}", stdout(&out));
    server.wait_status(&waiting, "suspended");
    let out = server.baton(&["runs", "resume", &waiting]);
    assert!(out.status.success(), "{}", stderr(&out));
    server.wait_status(&waiting, "waiting");
    let out = server.baton(&["runs", "cancel", &waiting]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cancelled = server.wait_status(&waiting, "cancelled");
    assert!(
        cancelled["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"].as_str().unwrap().contains("workflow.cancelled"))
    );
    let out = server.baton(&["runs", "cancel", &waiting]);
    assert!(out.status.success(), "cancel is idempotent: {}", stderr(&out));
    let out = server.baton(&["runs", "resume", &waiting]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    let out = server.baton(&["runs", "watch", &waiting]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("⊘ run cancelled"), "{}", stderr(&out));

    // show: the run resource plus its history.
    let shown = server.show(&done);
    assert_eq!(shown["status"], "completed");
    assert_eq!(shown["workflow"], json!({"namespace": "test", "name": "short", "version": "1.0.0"}));
    assert_eq!(shown["output"], json!({"n": 20, "done": true}));
    let seqs: Vec<u64> = shown["history"].as_array().unwrap().iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.len() > 4 && seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // list: text, JSON, filters.
    let out = server.baton(&["runs", "list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with(&format!("{waiting}\tcancelled\ttest/long:1.0.0\t")), "newest first: {text}");
    assert!(lines[1].starts_with(&format!("{done}\tcompleted\ttest/short:1.0.0\t")), "{text}");
    let out = server.baton(&["runs", "list", "--json", "--status", "completed"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], done.as_str());
    let out = server.baton(&["runs", "list", "--workflow", "test/long:1.0.0"]);
    assert!(stdout(&out).starts_with(&waiting), "{}", stdout(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
    let out = server.baton(&["runs", "list", "--limit", "1"]);
    assert_eq!(stdout(&out).lines().count(), 1);
    let out = server.baton(&["runs", "list", "--workflow", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));

    // An unknown run is a usage error, as with a local database.
    let out = server.baton(&["runs", "show", "no-such-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
    let out = server.baton(&["runs", "watch", "no-such-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // BATON_SERVER selects the server for `runs list` as --server does.
    let out = clean(Command::new(baton()))
        .args(["runs", "list", "--limit", "1"])
        .env("BATON_SERVER", &server.url)
        .output()
        .unwrap();
    assert_eq!(stdout(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn watch_reattaches_after_the_server_restarts() {
    let mut server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "slow.yaml", &waiting_workflow("slow", "PT2S"));
    assert!(server.baton(&["deploy", &file]).status.success());
    let id = server.start_run(json!({"namespace": "test", "name": "slow"}), json!({"n": 4}));

    let mut watch = clean(Command::new(baton()))
        .args(["runs", "watch", &id, "--server", &server.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the wait has started, kill the server and bring it back on the same port and database.
    let mut progress = BufReader::new(watch.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("▶ /do/1/pause") {
        assert!(progress.read_line(&mut seen).unwrap() > 0, "watch ended early: {seen}");
    }
    server.kill();
    let restarted = Server::spawn(&server.listen, &server.db, &server.log);
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut progress, &mut rest).unwrap();
        rest
    });
    let out = watch.wait_with_output().unwrap();
    let err = seen + &rest.join().unwrap();
    assert!(out.status.success(), "{err}\n{}", restarted.log_text());
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), json!({"n": 50, "done": true}));
    assert!(err.contains("re-attach"), "{err}");
    for line in ["  ▶ /do/0/first", "  ▶ /do/1/pause", "  ✓ /do/1/pause", "  ✓ /do/2/last"] {
        assert_eq!(err.lines().filter(|l| *l == line).count(), 1, "{line:?} once in:\n{err}");
    }
}

#[test]
fn unreachable_server_is_named() {
    let url = format!("http://127.0.0.1:{}", free_port());
    for args in [&["deploy", "x.yaml"][..], &["runs", "list"], &["runs", "watch", "r1"], &["runs", "cancel", "r1"]] {
        let out = clean(Command::new(baton())).args(args).args(["--server", &url]).output().unwrap();
        assert_eq!(out.status.code(), Some(if args[0] == "deploy" { 2 } else { 1 }), "{args:?}: {}", stderr(&out));
        if args[0] != "deploy" {
            let err = stderr(&out);
            assert!(err.starts_with(&format!("error: cannot connect to the Baton server at {url}")), "{err}");
        }
    }
    // `deploy` reads the file before calling; with a real file the connection fails.
    let out = clean(Command::new(baton()))
        .args(["deploy", examples().join("greeting.yaml").to_str().unwrap(), "--server", &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&url), "{}", stderr(&out));
}

#[test]
fn events_send_and_inbox_list_and_respond_over_http() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let ping = write(
        dir.path(),
        "ping.yaml",
        "document: {dsl: '1.0.3', namespace: test, name: ping, version: '1.0.0'}\n\
         do:\n  - wait:\n      listen:\n        to:\n          one:\n            with: {type: com.example.ping}\n",
    );
    let approve = write(
        dir.path(),
        "approve.yaml",
        "document: {dsl: '1.0.3', namespace: test, name: approve, version: '1.0.0'}\n\
         do:\n  - approve:\n      metadata:\n        inbox:\n          title: '${ \"Approve \" + .orderId }'\n          assignees: [finance]\n          form: {type: object, required: [approved], properties: {approved: {type: boolean}}}\n      listen:\n        to:\n          one:\n            with: {type: com.example.decision}\n            correlate:\n              order: {from: .data.orderId, expect: '${ .orderId }'}\n",
    );
    let out = server.baton(&["deploy", &ping, &approve]);
    assert!(out.status.success(), "{}", stderr(&out));

    // events send: from flags, then the same id again (a duplicate), then from a file.
    let run = server.start_run(json!({"namespace": "test", "name": "ping"}), json!({}));
    server.wait_status(&run, "waiting");
    let send = ["events", "send", "--type", "com.example.ping", "--id", "e1", "--data", r#"{"n": 1}"#];
    let out = server.baton(&send);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap(), json!({"accepted": 1, "duplicates": 0}));
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["output"], json!([{"n": 1}]));
    let out = server.baton(&send);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(serde_json::from_str::<Value>(&stdout(&out)).unwrap(), json!({"accepted": 0, "duplicates": 1}));
    let batch = write(
        dir.path(),
        "batch.json",
        r#"[{"specversion": "1.0", "id": "b1", "source": "s", "type": "t"}, {"specversion": "1.0", "source": "s"}]"#,
    );
    let out = server.baton(&["events", "send", "--file", &batch]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("[1] id: required") && stderr(&out).contains("[1] type: required"),
        "{}",
        stderr(&out)
    );
    let out = server.baton(&["events", "send"]);
    assert_eq!(out.status.code(), Some(2));

    // inbox list and respond.
    let run = server.start_run(json!({"namespace": "test", "name": "approve"}), json!({"orderId": "A-7"}));
    server.wait_status(&run, "waiting");
    let out = server.baton(&["inbox", "list", "--assignee", "finance"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out);
    let fields: Vec<&str> = line.trim_end().split('\t').collect();
    assert_eq!(fields.len(), 4, "{line}");
    assert!(fields[0].starts_with(&format!("{run}~")), "{line}");
    assert_eq!(&fields[1..3], ["test/approve:1.0.0", "Approve A-7"]);
    let item = fields[0].to_owned();
    let out = server.baton(&["inbox", "list", "--workflow", "test/approve", "--json"]);
    let items: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(items[0]["id"], item.as_str());
    let out = server.baton(&["inbox", "list", "--assignee", "nobody"]);
    assert!(out.status.success() && out.stdout.is_empty());

    let out = server.baton(&["inbox", "respond", &item, "--data", r#"{"approved": "yes"}"#]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("/approved: "), "{}", stderr(&out));
    let out = server.baton(&["inbox", "respond", &item, "--data", r#"{"approved": true}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{item}\t{run}\taccepted\n"));
    let done = server.wait_status(&run, "completed");
    assert_eq!(done["output"], json!([{"approved": true, "orderId": "A-7"}]));
    let out = server.baton(&["inbox", "respond", &item, "--data", r#"{"approved": true}"#]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{item}\t{run}\talready answered\n"));
    let out = server.baton(&["inbox", "respond", &item, "--data", r#"{"approved": false}"#]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = server.baton(&["inbox", "respond", "nope~s1", "--data", "{}"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
