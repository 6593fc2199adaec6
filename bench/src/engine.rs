//! The two engines under test as processes on 127.0.0.1, and the HTTP calls the workloads make
//! to each: `baton serve` (the API of docs/api.md) and the DBOS peer (bench/dbos/app.py).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::Workload;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Baton,
    Dbos,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Baton => "Baton",
            Kind::Dbos => "DBOS",
        })
    }
}

/// Where the programs under test are.
#[derive(Debug, Clone)]
pub struct Programs {
    pub baton: PathBuf,
    pub python: PathBuf,
    pub dbos_app: PathBuf,
}

/// A run started to park in the inbox (W3, W6).
#[derive(Debug, Clone)]
pub struct Parked {
    /// Baton run id, DBOS workflow id.
    pub id: String,
    /// Baton, started with `mode=sync`: the run's `historyCursor` once it waits, so a history
    /// stream opened later replays nothing older.
    pub cursor: Option<String>,
}

/// How the harness sees a Baton run complete after answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observe {
    /// `GET /api/v1/runs/{id}` again and again, back to back, until `completed`.
    Poll,
    /// The run's history stream (`Accept: text/event-stream`, after its cursor), opened before
    /// the answer is sent, until the `workflow.completed` entry arrives.
    Stream,
}

/// The history entry type of a completed Baton run.
const COMPLETED: &str = "io.serverlessworkflow.workflow.completed.v1";

/// Where a run stands, as the workloads need it.
#[derive(Debug, PartialEq, Eq)]
pub enum RunState {
    Completed,
    InFlight,
    /// Ended otherwise (Baton `faulted`/`cancelled`, DBOS `ERROR`/`CANCELLED`/...), or unknown.
    Failed(String),
}

/// How to reach a running engine; cheap to clone into client tasks.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub base: String,
    pub http: Client,
}

/// A running engine process with its database. Dropping it kills the process.
pub struct Server {
    pub target: Target,
    /// The database file (Baton: or a PostgreSQL URL, the value of `--db`).
    pub db: PathBuf,
    /// Further `baton serve` arguments (the PostgreSQL schema and pool size).
    serve_args: Vec<String>,
    child: Child,
    log: PathBuf,
    stub: String,
    programs: Programs,
}

/// A port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Starts the engine on a new database file in `dir` and waits until it answers.
    pub async fn start(
        kind: Kind,
        programs: &Programs,
        dir: &Path,
        stub: &str,
        http: &Client,
    ) -> anyhow::Result<Server> {
        let (db, log) = match kind {
            Kind::Baton => (dir.join("baton.db"), dir.join("baton.log")),
            Kind::Dbos => (dir.join("dbos.sqlite"), dir.join("dbos.log")),
        };
        Self::start_on(kind, programs, db, Vec::new(), log, stub, http).await
    }

    /// Starts `baton serve --db URL SERVE_ARGS…` on a PostgreSQL database, logging to `log`,
    /// and waits until it answers.
    pub async fn start_postgres(
        programs: &Programs,
        url: &str,
        serve_args: Vec<String>,
        log: PathBuf,
        stub: &str,
        http: &Client,
    ) -> anyhow::Result<Server> {
        Self::start_on(Kind::Baton, programs, PathBuf::from(url), serve_args, log, stub, http).await
    }

    async fn start_on(
        kind: Kind,
        programs: &Programs,
        db: PathBuf,
        serve_args: Vec<String>,
        log: PathBuf,
        stub: &str,
        http: &Client,
    ) -> anyhow::Result<Server> {
        let (child, base) = spawn(kind, programs, &db, &serve_args, &log, stub)?;
        let mut server = Server {
            target: Target { kind, base, http: http.clone() },
            db,
            serve_args,
            child,
            log,
            stub: stub.to_owned(),
            programs: programs.clone(),
        };
        server.wait_ready().await?;
        Ok(server)
    }

    /// `kill -9`, then waits for the process to be gone.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("SIGKILL")?;
        self.child.wait().await?;
        Ok(())
    }

    /// Starts the engine again on the same database (on a new port) and waits until it answers.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        let (child, base) = spawn(self.target.kind, &self.programs, &self.db, &self.serve_args, &self.log, &self.stub)?;
        self.child = child;
        self.target.base = base;
        self.wait_ready().await
    }

    /// A figure of the engine process from /proc/PID/status, e.g. `VmRSS` (resident set size) or
    /// `VmHWM` (its peak), in bytes.
    pub fn memory_bytes(&self, field: &str) -> anyhow::Result<u64> {
        let pid = self.child.id().context("the engine process has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status_bytes(&status, field).with_context(|| format!("no {field} in /proc/{pid}/status"))
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = format!("{}/healthz", self.target.base);
        loop {
            if let Ok(response) = self.target.http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited with {status} before answering:\n{}", self.target.kind, self.log_tail());
            }
            if Instant::now() > deadline {
                bail!("{} did not answer {url} within 60 s:\n{}", self.target.kind, self.log_tail());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last lines the process wrote, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Baton: deploys the workload's workflow. DBOS: its workflows are part of app.py.
    pub async fn deploy(&self, workload: Workload, delay_ms: u64) -> anyhow::Result<()> {
        if self.target.kind == Kind::Dbos {
            return Ok(());
        }
        let response = self
            .target
            .http
            .post(format!("{}/api/v1/workflows", self.target.base))
            .header("content-type", "application/yaml")
            .body(baton_definition(workload, &self.stub, delay_ms))
            .send()
            .await?;
        let status = response.status();
        if !status.is_success() {
            bail!("deploy {workload:?}: {status} {}", response.text().await.unwrap_or_default());
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The admin key every benchmarked `baton serve` is bootstrapped with
/// (`BATON_BOOTSTRAP_API_KEY`); the load generator sends it on every request.
pub const BENCH_KEY: &str = "bk_bench-admin-key-000000001";
/// The secret key of the benchmark's PostgreSQL nodes (they keep no secrets worth hiding).
const BENCH_SECRET_KEY: &str = "6261746f6e2d62656e63682d7365637265742d6b65792d303030303030303030";

fn spawn(
    kind: Kind,
    programs: &Programs,
    db: &Path,
    serve_args: &[String],
    log: &Path,
    stub: &str,
) -> anyhow::Result<(Child, String)> {
    let port = free_port()?;
    let mut command = match kind {
        Kind::Baton => {
            let mut command = Command::new(&programs.baton);
            command.arg("serve").arg("--db").arg(db).args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--allow-private-network",
            ]);
            command.args(serve_args).env("BATON_BOOTSTRAP_API_KEY", BENCH_KEY);
            // PostgreSQL nodes need the key sealing secrets at rest, the same on every node.
            if db.to_str().is_some_and(|db| db.starts_with("postgres")) {
                command.env("BATON_SECRET_KEY", BENCH_SECRET_KEY);
            }
            command
        }
        Kind::Dbos => {
            let mut command = Command::new(&programs.python);
            command.arg(&programs.dbos_app).args(["--port", &port.to_string(), "--stub", stub, "--db"]).arg(db);
            // DBOS resolves nothing relative to the working directory, but keep its files together.
            if let Some(dir) = db.parent() {
                command.current_dir(dir);
            }
            command
        }
    };
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    command
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    let child = command.spawn().with_context(|| format!("starting {kind}"))?;
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// The workflow each workload runs on Baton; the DBOS equivalents are in bench/dbos/app.py.
pub fn baton_definition(workload: Workload, stub: &str, delay_ms: u64) -> String {
    let header = |name: &str| format!("document: {{dsl: '1.0.3', namespace: bench, name: {name}, version: '1.0.0'}}\n");
    match workload {
        Workload::W1 => {
            header("w1")
                + "do:\n\
               \x20 - a: {set: {n: '${ (.n // 0) + 1 }'}}\n\
               \x20 - b: {set: {n: '${ .n + 1 }'}}\n\
               \x20 - c: {set: {n: '${ .n + 1 }'}}\n"
        }
        Workload::W2 | Workload::W2pg => {
            let call =
                |task: &str| format!("  - {task}: {{call: http, with: {{method: get, endpoint: '{stub}/echo'}}}}\n");
            header("w2") + "do:\n" + &call("a") + &call("b") + &call("c")
        }
        Workload::W4 => {
            let call = |task: &str, route: &str| {
                format!("  - {task}: {{call: http, with: {{method: get, endpoint: '{stub}/{route}/{delay_ms}'}}}}\n")
            };
            header("w4") + "do:\n" + &call("a", "delay") + &call("b", "gate") + &call("c", "delay")
        }
        // W3 and W6: an inbox item with a form (the run waits up to 2 hours), then a `set`.
        Workload::W3 | Workload::W6 => {
            header("approval")
                + "do:\n\
               \x20 - approve:\n\
               \x20     timeout: {after: PT2H}\n\
               \x20     metadata:\n\
               \x20       inbox:\n\
               \x20         title: Approve\n\
               \x20         assignees: [bench]\n\
               \x20         form: {type: object, required: [approved], properties: {approved: {type: boolean}}}\n\
               \x20     listen: {to: {one: {with: {type: bench.decision}}}}\n\
               \x20 - done: {set: {approved: '${ .[0].approved }'}}\n"
        }
    }
}

async fn json_of(response: reqwest::Response) -> anyhow::Result<(StatusCode, Value)> {
    let status = response.status();
    let text = response.text().await?;
    let value = serde_json::from_str(&text).with_context(|| format!("{status}: not JSON: {text}"))?;
    Ok((status, value))
}

impl Target {
    /// Runs the workload's workflow once and waits for its result (W1, W2).
    pub async fn run_sync(&self, workload: Workload) -> anyhow::Result<()> {
        let request = match self.kind {
            Kind::Baton => {
                let name = match workload {
                    Workload::W1 => "w1",
                    Workload::W2 | Workload::W2pg => "w2",
                    Workload::W3 | Workload::W4 | Workload::W6 => bail!("{workload:?} has no synchronous form"),
                };
                self.http
                    .post(format!("{}/api/v1/runs?mode=sync", self.base))
                    .json(&json!({"workflow": {"namespace": "bench", "name": name}, "input": {}}))
            }
            Kind::Dbos => {
                let path = match workload {
                    Workload::W1 => "w1",
                    Workload::W2 => "w2",
                    Workload::W3 | Workload::W4 | Workload::W6 | Workload::W2pg => {
                        bail!("{workload:?} has no synchronous form on DBOS")
                    }
                };
                self.http.post(format!("{}/{path}", self.base))
            }
        };
        let (status, body) = json_of(request.send().await?).await?;
        let done = match self.kind {
            Kind::Baton => body["status"] == "completed",
            Kind::Dbos => body["status"] == "SUCCESS",
        };
        if !status.is_success() || !done {
            bail!("{status}: {body}");
        }
        Ok(())
    }

    /// Starts W4 run number `n` without waiting for it; returns its id.
    pub async fn start_w4(&self, n: usize, delay_ms: u64) -> anyhow::Result<String> {
        let key = format!("w4-{n}");
        let request = match self.kind {
            Kind::Baton => self
                .http
                .post(format!("{}/api/v1/runs?mode=background", self.base))
                .header("idempotency-key", &key)
                .json(&json!({"workflow": {"namespace": "bench", "name": "w4"}, "input": {}})),
            Kind::Dbos => self.http.post(format!("{}/w4/{key}?delay_ms={delay_ms}", self.base)),
        };
        let (status, body) = json_of(request.send().await?).await?;
        match body["id"].as_str() {
            Some(id) if status.is_success() => Ok(id.to_owned()),
            _ => bail!("start: {status}: {body}"),
        }
    }

    pub async fn run_state(&self, id: &str) -> anyhow::Result<RunState> {
        let url = match self.kind {
            Kind::Baton => format!("{}/api/v1/runs/{id}", self.base),
            Kind::Dbos => format!("{}/runs/{id}", self.base),
        };
        let (status, body) = json_of(self.http.get(url).send().await?).await?;
        if !status.is_success() {
            return Ok(RunState::Failed(format!("{status}: {body}")));
        }
        let state = body["status"].as_str().unwrap_or_default();
        Ok(match (self.kind, state) {
            (Kind::Baton, "completed") | (Kind::Dbos, "SUCCESS") => RunState::Completed,
            (Kind::Baton, "pending" | "running" | "waiting") | (Kind::Dbos, "PENDING" | "ENQUEUED") => {
                RunState::InFlight
            }
            _ => RunState::Failed(state.to_owned()),
        })
    }

    /// Baton: how many `workflow.completed` entries the run's history holds. DBOS keeps no such
    /// history (one status row per workflow): `None`.
    pub async fn completed_entries(&self, id: &str) -> anyhow::Result<Option<usize>> {
        if self.kind == Kind::Dbos {
            return Ok(None);
        }
        let mut count = 0;
        let mut after: Option<String> = None;
        loop {
            let mut url = format!("{}/api/v1/runs/{id}/history?limit=1000", self.base);
            if let Some(after) = &after {
                url.push_str(&format!("&after={after}"));
            }
            let (status, page) = json_of(self.http.get(url).send().await?).await?;
            if !status.is_success() {
                bail!("history of {id}: {status}: {page}");
            }
            let items = page["items"].as_array().map(Vec::as_slice).unwrap_or_default();
            count +=
                items.iter().filter(|entry| entry["type"] == "io.serverlessworkflow.workflow.completed.v1").count();
            after = match &page["nextCursor"] {
                Value::String(cursor) => Some(cursor.clone()),
                Value::Number(cursor) => Some(cursor.to_string()),
                _ => return Ok(Some(count)),
            };
        }
    }

    /// Starts a run that parks in the inbox (Baton: the `approval` workflow, with `key` as
    /// `Idempotency-Key`, `mode=sync` when `sync`, which answers once the run waits, else
    /// `mode=background`; DBOS: `POST /wait/{key}`, which answers once the workflow is recorded).
    pub async fn start_parked(&self, key: &str, sync: bool) -> anyhow::Result<Parked> {
        let request = match self.kind {
            Kind::Baton => self
                .http
                .post(format!("{}/api/v1/runs?mode={}", self.base, if sync { "sync" } else { "background" }))
                .header("idempotency-key", key)
                .json(&json!({"workflow": {"namespace": "bench", "name": "approval"}, "input": {}})),
            Kind::Dbos => self.http.post(format!("{}/wait/{key}", self.base)),
        };
        let (status, body) = json_of(request.send().await?).await?;
        let waiting = self.kind == Kind::Dbos || !sync || body["status"] == "waiting";
        match body["id"].as_str() {
            Some(id) if status.is_success() && waiting => Ok(Parked {
                id: id.to_owned(),
                cursor: match &body["historyCursor"] {
                    Value::String(cursor) => Some(cursor.clone()),
                    Value::Number(cursor) => Some(cursor.to_string()),
                    _ => None,
                },
            }),
            _ => bail!("start: {status}: {body}"),
        }
    }

    /// How many runs wait now: Baton `baton_runs{status="waiting"}` of `GET /metrics`; DBOS the
    /// `recv` calls registered with its notification listener (`GET /waiting`).
    pub async fn parked(&self) -> anyhow::Result<u64> {
        match self.kind {
            Kind::Baton => {
                let response = self.http.get(format!("{}/metrics", self.base)).send().await?;
                waiting_runs(&response.error_for_status()?.text().await?)
            }
            Kind::Dbos => {
                let (status, body) = json_of(self.http.get(format!("{}/waiting", self.base)).send().await?).await?;
                match body["waiting"].as_u64() {
                    Some(waiting) if status.is_success() => Ok(waiting),
                    _ => bail!("waiting: {status}: {body}"),
                }
            }
        }
    }

    /// Baton: the open inbox items by run id (every page of `GET /api/v1/inbox`, 500 a page).
    /// DBOS has no items (a message is sent to the workflow id): empty.
    pub async fn inbox_items(&self) -> anyhow::Result<HashMap<String, String>> {
        let mut items = HashMap::new();
        if self.kind == Kind::Dbos {
            return Ok(items);
        }
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/api/v1/inbox?limit=500", self.base);
            if let Some(cursor) = &cursor {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let (status, page) = json_of(self.http.get(url).send().await?).await?;
            if !status.is_success() {
                bail!("inbox: {status}: {page}");
            }
            for item in page["items"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if let (Some(id), Some(run)) = (item["id"].as_str(), item["runId"].as_str()) {
                    items.insert(run.to_owned(), id.to_owned());
                }
            }
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }

    /// Answers a parked run and returns the time from sending the answer until the run was seen
    /// completed. Baton: `POST /api/v1/inbox/{item}/respond` (`202`), then `observe`. DBOS:
    /// `POST /wait/{id}/respond`, which sends the message and returns the workflow's result
    /// (`observe` does not apply).
    pub async fn respond(&self, run: &Parked, item: Option<&str>, observe: Observe) -> anyhow::Result<Duration> {
        if self.kind == Kind::Dbos {
            let started = Instant::now();
            let response = self.http.post(format!("{}/wait/{}/respond", self.base, run.id)).send().await?;
            let (status, body) = json_of(response).await?;
            if !status.is_success() || body["status"] != "SUCCESS" {
                bail!("respond {}: {status}: {body}", run.id);
            }
            return Ok(started.elapsed());
        }
        let item = item.with_context(|| format!("run {} has no inbox item", run.id))?;
        // The stream is opened before the clock starts.
        let mut stream = match observe {
            Observe::Poll => None,
            Observe::Stream => {
                let mut url = format!("{}/api/v1/runs/{}/history", self.base, run.id);
                if let Some(cursor) = &run.cursor {
                    url.push_str(&format!("?after={cursor}"));
                }
                Some(self.http.get(url).header("accept", "text/event-stream").send().await?.error_for_status()?)
            }
        };
        let started = Instant::now();
        let response = self
            .http
            .post(format!("{}/api/v1/inbox/{item}/respond", self.base))
            .json(&json!({"data": {"approved": true}}))
            .send()
            .await?;
        if response.status() != StatusCode::ACCEPTED {
            let status = response.status();
            bail!("respond {item}: {status}: {}", response.text().await.unwrap_or_default());
        }
        match &mut stream {
            None => loop {
                match self.run_state(&run.id).await? {
                    RunState::Completed => return Ok(started.elapsed()),
                    RunState::InFlight => {}
                    RunState::Failed(status) => bail!("run {} ended {status}", run.id),
                }
            },
            Some(stream) => {
                let mut seen = String::new();
                while let Some(chunk) = stream.chunk().await? {
                    seen.push_str(&String::from_utf8_lossy(&chunk));
                    if seen.contains(&format!("event: {COMPLETED}")) {
                        return Ok(started.elapsed());
                    }
                }
                bail!("the history stream of {} ended without {COMPLETED}: {seen}", run.id)
            }
        }
    }

    /// Requests the first page of waiting items (Baton `GET /api/v1/inbox`, default page of 50;
    /// DBOS `GET /inbox`, 50 pending workflows oldest first); returns how many items it held.
    pub async fn inbox_page(&self) -> anyhow::Result<usize> {
        let url = match self.kind {
            Kind::Baton => format!("{}/api/v1/inbox", self.base),
            Kind::Dbos => format!("{}/inbox", self.base),
        };
        let (status, page) = json_of(self.http.get(url).send().await?).await?;
        match page["items"].as_array() {
            Some(items) if status.is_success() => Ok(items.len()),
            _ => bail!("inbox page: {status}: {page}"),
        }
    }

    /// The DBOS peer's versions and SQLite settings (`GET /info`).
    pub async fn dbos_info(&self) -> anyhow::Result<Value> {
        Ok(json_of(self.http.get(format!("{}/info", self.base)).send().await?).await?.1)
    }
}

/// A `Field:   N kB` line of a /proc/PID/status text, in bytes.
fn status_bytes(status: &str, field: &str) -> Option<u64> {
    let value = status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?;
    let kib: u64 = value.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// The `baton_runs{status="waiting"}` gauge of a `/metrics` text; 0 when absent (no run has
/// waited yet).
fn waiting_runs(metrics: &str) -> anyhow::Result<u64> {
    let value = metrics
        .lines()
        .find(|line| line.starts_with("baton_runs{") && line.contains("status=\"waiting\""))
        .and_then(|line| line.split_whitespace().last());
    Ok(value.map(str::parse::<u64>).transpose()?.unwrap_or(0))
}

/// The journal mode recorded in a SQLite file's header (bytes 18-19: 1 = rollback journal,
/// 2 = WAL), so the report states what the file really used.
pub fn sqlite_journal(db: &Path) -> String {
    match std::fs::read(db) {
        Ok(bytes) if bytes.len() >= 20 && bytes.starts_with(b"SQLite format 3\0") => match (bytes[18], bytes[19]) {
            (2, 2) => "WAL".to_owned(),
            (1, 1) => "rollback journal".to_owned(),
            (write, read) => format!("header versions {write}/{read}"),
        },
        Ok(_) => "not a SQLite file".to_owned(),
        Err(err) => format!("unreadable: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_set_of_this_process() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let rss = status_bytes(&status, "VmRSS").unwrap();
        let peak = status_bytes(&status, "VmHWM").unwrap();
        assert!(rss > 0 && rss.is_multiple_of(1024) && peak >= rss, "{rss} {peak}");
        assert_eq!(status_bytes(&status, "NoSuchField"), None);
        // `VmRS` is a prefix of `VmRSS`, not a field.
        assert_eq!(status_bytes(&status, "VmRS"), None);
    }

    #[test]
    fn reads_the_waiting_runs_of_the_metrics_text() {
        let text = "# HELP baton_runs Runs by status.\n# TYPE baton_runs gauge\n\
                    baton_runs{status=\"completed\"} 7\nbaton_runs{status=\"waiting\"} 100000\n# EOF\n";
        assert_eq!(waiting_runs(text).unwrap(), 100_000);
        assert_eq!(waiting_runs("baton_runs{status=\"completed\"} 7\n# EOF\n").unwrap(), 0);
        assert!(waiting_runs("baton_runs{status=\"waiting\"} many\n").is_err());
    }
}
