//! The Markdown report: settings and machine header, medians with Baton/DBOS ratios, the
//! per-repeat values and what the trials noted.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::engine::{Kind, Programs, Server};
use crate::stats::median;
use crate::workloads::Trial;
use crate::{Args, Workload};

struct Row {
    label: &'static str,
    baton: Vec<f64>,
    dbos: Vec<f64>,
}

pub struct Report {
    date: String,
    load_start: String,
    load_end: String,
    repeat_loads: Vec<String>,
    baton_version: String,
    dbos_info: Option<Value>,
    rows: Vec<Row>,
    notes: Vec<String>,
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn command_output(program: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn number(value: f64) -> String {
    match value.abs() {
        v if v.is_nan() => "—".to_owned(),
        v if v >= 100.0 || v == v.trunc() => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

impl Report {
    /// Reads versions; starts the DBOS peer once to ask its versions and SQLite settings.
    pub async fn new(programs: &Programs, engines: &[Kind]) -> Report {
        let git = Path::new("git");
        let commit = command_output(git, &["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"]);
        let baton_version = format!(
            "{} (commit {})",
            command_output(&programs.baton, &["--version"]).unwrap_or_else(|| "unknown version".to_owned()),
            commit.unwrap_or_else(|| "unknown".to_owned())
        );
        let mut notes = Vec::new();
        let mut dbos_info = None;
        if engines.contains(&Kind::Dbos) {
            let probe = async {
                let dir = tempfile::tempdir()?;
                let http = reqwest::Client::builder().no_proxy().build()?;
                let server = Server::start(Kind::Dbos, programs, dir.path(), "http://127.0.0.1:9", &http).await?;
                server.target.dbos_info().await
            };
            match probe.await {
                Ok(info) => dbos_info = Some(info),
                Err(err) => notes.push(format!("DBOS peer did not start: {err:#}")),
            }
        }
        Report {
            date: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
            load_start: load_average(),
            load_end: String::new(),
            repeat_loads: Vec::new(),
            baton_version,
            dbos_info,
            rows: Vec::new(),
            notes,
        }
    }

    pub fn record(&mut self, kind: Kind, trial: Trial) {
        for (label, value) in trial.figures {
            let index = match self.rows.iter().position(|row| row.label == label) {
                Some(index) => index,
                None => {
                    self.rows.push(Row { label, baton: Vec::new(), dbos: Vec::new() });
                    self.rows.len() - 1
                }
            };
            let row = &mut self.rows[index];
            match kind {
                Kind::Baton => row.baton.push(value),
                Kind::Dbos => row.dbos.push(value),
            }
        }
        for note in trial.notes {
            self.note(note);
        }
    }

    pub fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }

    /// Notes the load average as a repeat begins.
    pub fn repeat_started(&mut self) {
        self.repeat_loads.push(load_average());
    }

    pub fn finish(&mut self) {
        self.load_end = load_average();
    }

    pub fn render(&self, args: &Args, engines: &[Kind]) -> String {
        let mut out = String::new();
        let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(0);
        let _ = writeln!(out, "## Run of {}\n", self.date);
        let _ = writeln!(
            out,
            "- Machine: {cores} cores (nproc), {}; load average (1/5/15 min) {} at start, {} at end.",
            cpu_model(),
            self.load_start,
            self.load_end
        );
        let _ = writeln!(
            out,
            "- Baton: {}, release build; SQLite WAL, `synchronous=FULL` (baton-store default), one writer with group commit.",
            self.baton_version
        );
        if args.only.contains(&crate::Workload::W2pg) {
            let _ = writeln!(
                out,
                "- Baton on PostgreSQL (W2 PostgreSQL rows): {}; the server shares the machine's cores; \
                 `--db-connections {}` per node.",
                crate::postgres::durability(&args.pg_url),
                args.pg_connections
            );
        }
        match (&self.dbos_info, engines.contains(&Kind::Dbos)) {
            (Some(info), _) => {
                let field = |name: &str| info[name].as_str().unwrap_or("?").to_owned();
                let _ = writeln!(
                    out,
                    "- DBOS: dbos {} on Python {} (FastAPI {}, uvicorn {} with 1 worker, httpx {}), SQLite {}: `journal_mode={}`, `synchronous={}` \
                     (DBOS sets neither pragma; it sets `isolation_level=IMMEDIATE`, `busy_timeout=30000`, `foreign_keys=ON` in dbos/_sys_db_sqlite.py); synchronous workflows and steps; DBOS defaults otherwise: on SQLite a `recv` is woken by the notification listener thread, which sleeps `notification_listener_polling_interval_sec` (1 s) and then queries once per waiting `recv`.",
                    field("dbos"),
                    field("python"),
                    field("fastapi"),
                    field("uvicorn"),
                    field("httpx"),
                    field("sqlite"),
                    field("journal_mode"),
                    field("synchronous"),
                );
            }
            (None, true) => {
                let _ = writeln!(out, "- DBOS: did not start (see notes).");
            }
            (None, false) => {
                let _ = writeln!(out, "- DBOS: not measured (`--skip-dbos` or no bench/.venv).");
            }
        }
        let _ = writeln!(
            out,
            "- Load generator, HTTP stub (W2: baton-server's StandIn `/echo`; W4: the harness's gate stub) and the engine share the machine; all on 127.0.0.1; closed loop."
        );
        let mut sizes = Vec::new();
        for workload in &args.only {
            sizes.push(match workload {
                Workload::W1 => format!("W1: {} sequential requests after {} warm-up.", args.w1_requests, args.w1_warmup),
                Workload::W2 => format!(
                    "W2: {} clients, {} s measured after {} s warm-up.",
                    args.w2_clients, args.w2_seconds, args.w2_warmup_seconds
                ),
                Workload::W3 => format!(
                    "W3: {n} runs parked then answered one at a time, each after an untimed pause spread uniformly below {pause} ms; \
                     then {n} more parked, `kill -9`, restart, answered the same way (Baton: respond, then `GET /api/v1/runs/{{id}}` back to back until `completed`; \
                     the history-stream rows: {stream} more runs seen on their SSE history stream instead; DBOS: `DBOS.send`, then `get_result` polling every 5 ms).",
                    n = args.w3_runs,
                    pause = args.w3_pause_ms,
                    stream = args.w3_stream_runs,
                ),
                Workload::W2pg => format!(
                    "W2 PostgreSQL: W2's workflow, {} clients split evenly over 1 then 2 `baton serve` nodes on one PostgreSQL \
                     database (a fresh schema per trial), {} s measured after {} s warm-up; DB CPU = CPU time of the machine's \
                     `postgres` processes over the measured window / its length.",
                    args.w2_clients, args.w2_seconds, args.w2_warmup_seconds
                ),
                Workload::W4 => format!(
                    "W4: {} runs × 3 stub calls of {} ms, `kill -9` once all {} wait in their second call (behind the stub's closed gate).",
                    args.w4_runs, args.w4_delay_ms, args.w4_runs
                ),
                Workload::W6 => format!(
                    "W6: Baton {} runs, DBOS {} workflows, started in background by {} clients and left waiting; first inbox page requested {} times; \
                     {} repeat(s), the first ones.",
                    args.w6_runs,
                    args.w6_dbos_runs,
                    args.w6_clients,
                    args.w6_page_requests,
                    args.w6_repeats.min(args.repeats)
                ),
            });
        }
        sizes.dedup();
        let _ = writeln!(
            out,
            "- {}\n\
             - {} repeats per workload and engine, the engine that goes first alternating per repeat; each figure is the median over the repeats; \
             ratio = Baton median / DBOS median (below 1 is better for latencies and times, above 1 for throughput).\n",
            sizes.join(" "),
            args.repeats,
        );
        let _ = writeln!(out, "| Figure | Baton | DBOS | Baton/DBOS |\n|---|---:|---:|---:|");
        for row in &self.rows {
            let baton = median(&row.baton);
            let dbos = median(&row.dbos);
            let ratio = match (baton, dbos) {
                (Some(baton), Some(dbos)) if dbos != 0.0 && !baton.is_nan() && !dbos.is_nan() => {
                    format!("{:.2}", baton / dbos)
                }
                _ => "—".to_owned(),
            };
            let cell = |value: Option<f64>| value.map(number).unwrap_or_else(|| "n/a".to_owned());
            let _ = writeln!(out, "| {} | {} | {} | {ratio} |", row.label, cell(baton), cell(dbos));
        }
        let _ = writeln!(
            out,
            "\nPer repeat (in order; load average 1/5/15 min as each began: {}):\n\n| Figure | Engine | Values |\n|---|---|---|",
            self.repeat_loads.join("; ")
        );
        for row in &self.rows {
            for (kind, values) in [(Kind::Baton, &row.baton), (Kind::Dbos, &row.dbos)] {
                if !values.is_empty() {
                    let values: Vec<String> = values.iter().map(|v| number(*v)).collect();
                    let _ = writeln!(out, "| {} | {kind} | {} |", row.label, values.join(", "));
                }
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {}", note.replace('\n', "\n  "));
            }
        }
        out
    }
}
