//! A database outage under load: a PostgreSQL instance of the test's own (`initdb` in a
//! temporary folder, its own port) is stopped for a few seconds while runs are in flight.
//! Meanwhile `/readyz` answers 503 `platform-unavailable`; afterwards every run completes, once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};

use baton_server::standin::StandIn;

use crate::support::{
    self, assert_keys_at_most_twice, completions, deploy, history, log_text, start_run, wait_completed,
};

/// A PostgreSQL server in a temporary folder, stopped when dropped.
struct TempPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The folder holding `initdb` and `pg_ctl` (Debian: `/usr/lib/postgresql/<major>/bin`).
fn postgres_bin() -> PathBuf {
    let from_config = Command::new("pg_config").arg("--bindir").output().ok().filter(|out| out.status.success());
    if let Some(out) = from_config {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if bin.join("initdb").exists() {
            return bin;
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries (initdb, pg_ctl) are needed: /usr/lib/postgresql is missing")
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates.pop().expect("no initdb under /usr/lib/postgresql/*/bin")
}

/// Runs a PostgreSQL tool, as user `postgres` when the test runs as root (the server refuses
/// to run as root).
fn pg_tool(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let as_root = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.trim_ascii() == b"0");
    let mut command = if as_root {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        command
    } else {
        Command::new(bin.join(tool))
    };
    command.args(args).output().unwrap_or_else(|err| panic!("{tool}: {err}"))
}

impl TempPostgres {
    fn start() -> TempPostgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("chmod").arg("777").arg(dir.path()).status().unwrap();
        assert!(status.success());
        let data = dir.path().join("data");
        let log = dir.path().join("postgres.log");
        let port = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port();
        let out = pg_tool(&bin, "initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let server = TempPostgres { bin, data, port, log, _dir: dir };
        server.run();
        server
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.data.display());
        let out = pg_tool(
            &self.bin,
            "pg_ctl",
            &["-D", self.data.to_str().unwrap(), "-l", self.log.to_str().unwrap(), "-o", &options, "-w", "start"],
        );
        assert!(out.status.success(), "pg_ctl start: {}{}", String::from_utf8_lossy(&out.stderr), log_text(&self.log));
    }

    fn stop(&self) {
        let out = pg_tool(&self.bin, "pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", "fast", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let _ = pg_tool(&self.bin, "pg_ctl", &["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"]);
    }
}

const RUNS: usize = 100;

#[tokio::test(flavor = "multi_thread")]
async fn runs_continue_after_the_database_comes_back() {
    let postgres = TempPostgres::start();
    let standin = StandIn::start().await.expect("stand-in");
    let stub = standin.base_url();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let http = crate::support::http_client(Duration::from_secs(30));
    let url = postgres.url();
    let (_server, base) = support::serve(&["--db".as_ref(), url.as_ref()], &log, &http).await;
    deploy(
        &http,
        &base,
        format!(
            r#"
document: {{dsl: '1.0.3', namespace: test, name: outage, version: '1.0.0'}}
do:
  - first:
      call: http
      with: {{method: get, endpoint: '{stub}/delay/200'}}
  - pause:
      wait: {{seconds: 2}}
  - second:
      call: http
      with: {{method: post, endpoint: '{stub}/echo', body: {{done: true}}}}
"#
        ),
    )
    .await;
    let ids: Vec<String> = stream::iter(0..RUNS)
        .map(|_| {
            let (http, base) = (http.clone(), base.clone());
            async move { start_run(&http, &base, "outage").await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    // Down while the runs wait and call: timers fire and calls answer into the outage.
    postgres.stop();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
        if ready.status() == 503 {
            let problem: serde_json::Value = ready.json().await.unwrap();
            assert!(problem["type"].as_str().unwrap_or_default().ends_with("/platform-unavailable"), "{problem}");
            break;
        }
        assert!(Instant::now() < deadline, "/readyz kept answering {} during the outage", ready.status());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    postgres.run();

    wait_completed(&http, &base, &ids, Duration::from_secs(120), &log).await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again after the outage");
    for id in &ids {
        let entries = history(&http, &base, id).await;
        assert_eq!(completions(&entries), 1, "run {id}");
    }
    assert!(log_text(&log).contains("trying again"), "no step waited for the database:\n{}", log_text(&log));
    assert_keys_at_most_twice(&standin, 2 * RUNS);
}
