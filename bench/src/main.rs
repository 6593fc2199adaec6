//! `baton-bench`: measures the performance budget of the design brief on `baton serve` and the
//! same workloads on DBOS 3.4 (Python, SQLite) in one invocation, alternating the two engines
//! per repeat, and prints a Markdown report of medians and Baton/DBOS ratios. It builds nothing:
//! `cargo build --release -p baton-cli -p baton-bench` first, `bash bench/setup.sh` for DBOS.
//! The method is in bench/README.md.

mod engine;
mod inbox;
mod postgres;
mod report;
mod stats;
mod stub;
mod workloads;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use baton_server::standin::StandIn;
use clap::{Parser, ValueEnum};

use crate::engine::{Kind, Programs};
use crate::report::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Workload {
    /// 3-task `set` workflow, synchronous API, one client: p50/p99.
    W1,
    /// 3 `call: http` tasks to the stub, concurrent clients: runs/s, p99.
    W2,
    /// Human input: respond → run completed, warm and after a restart while parked: p50/p99.
    W3,
    /// `kill -9` with runs in flight, restart: time to all completed, lost, twice, requests per key.
    W4,
    /// Many runs parked in the inbox: server RSS, database bytes per run, first inbox page.
    W6,
    /// W2 on PostgreSQL with one and with two nodes (Baton only): runs/s, p99, database CPU.
    W2pg,
}

/// Baton's performance budget against DBOS 3.4, measured in the same run.
#[derive(Debug, Parser)]
#[command(name = "baton-bench")]
pub struct Args {
    /// Trials per workload and engine; the report gives the median over them.
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Workloads to run.
    #[arg(long, value_delimiter = ',', default_value = "w1,w2,w3,w4,w6,w2pg")]
    pub only: Vec<Workload>,
    /// Measure Baton alone.
    #[arg(long)]
    pub skip_dbos: bool,
    /// The `baton` binary (default: `baton` beside this program, i.e. target/release/baton).
    #[arg(long)]
    pub baton: Option<PathBuf>,
    /// Python of the DBOS peer (default: bench/.venv/bin/python, made by bench/setup.sh).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// The DBOS peer application (default: bench/dbos/app.py).
    #[arg(long)]
    pub dbos_app: Option<PathBuf>,
    /// W1: measured requests per trial.
    #[arg(long, default_value_t = 2000)]
    pub w1_requests: usize,
    /// W1: warm-up requests per trial, not measured.
    #[arg(long, default_value_t = 200)]
    pub w1_warmup: usize,
    /// W2: concurrent clients.
    #[arg(long, default_value_t = 64)]
    pub w2_clients: usize,
    /// W2: measured seconds per trial.
    #[arg(long, default_value_t = 10)]
    pub w2_seconds: u64,
    /// W2: warm-up seconds per trial, not measured.
    #[arg(long, default_value_t = 2)]
    pub w2_warmup_seconds: u64,
    /// W2 on PostgreSQL: the server (each trial uses a schema of its own, dropped afterwards).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test", value_name = "URL")]
    pub pg_url: String,
    /// W2 on PostgreSQL: connections per node (`baton serve --db-connections`).
    #[arg(long, default_value_t = 16)]
    pub pg_connections: u32,
    /// W3: runs answered per phase (warm, then after a restart), one at a time.
    #[arg(long, default_value_t = 200)]
    pub w3_runs: usize,
    /// W3: the longest pause before each answer (each pause is spread uniformly below it, and
    /// not timed), so answers do not arrive in step with DBOS's 1 s notification polling.
    #[arg(long, default_value_t = 1000)]
    pub w3_pause_ms: u64,
    /// W3, Baton: runs whose completion is also seen on their history stream (SSE).
    #[arg(long, default_value_t = 20)]
    pub w3_stream_runs: usize,
    /// W4: runs started before the kill.
    #[arg(long, default_value_t = 1000)]
    pub w4_runs: usize,
    /// W4: delay of each stub call.
    #[arg(long, default_value_t = 200)]
    pub w4_delay_ms: u64,
    /// W4: how long runs may take to reach the gate, and after the kill to complete, before they
    /// count as lost.
    #[arg(long, default_value_t = 180)]
    pub w4_timeout_seconds: u64,
    /// W6: runs parked in the inbox on Baton.
    #[arg(long, default_value_t = 100_000)]
    pub w6_runs: usize,
    /// W6: workflows blocked in `recv` on DBOS (each holds a Python thread).
    #[arg(long, default_value_t = 1000)]
    pub w6_dbos_runs: usize,
    /// W6: concurrent clients starting the runs.
    #[arg(long, default_value_t = 64)]
    pub w6_clients: usize,
    /// W6: repeats (at most `--repeats`; W6 runs in the first ones only, as it is long).
    #[arg(long, default_value_t = 1)]
    pub w6_repeats: usize,
    /// W6: requests of the first inbox page, one at a time, for its p50/p99.
    #[arg(long, default_value_t = 20)]
    pub w6_page_requests: usize,
    /// W3 and W6: how long runs may take to start and park, and to park again after a
    /// restart, before the trial fails.
    #[arg(long, default_value_t = 900)]
    pub park_timeout_seconds: u64,
}

fn programs(args: &Args) -> anyhow::Result<Programs> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let baton = match &args.baton {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("baton"),
    };
    if !baton.is_file() {
        bail!("{} not found: run `cargo build --release -p baton-cli -p baton-bench` first", baton.display());
    }
    // Absolute, as the DBOS peer runs in its database's folder (not canonical: a venv's python
    // is a symbolic link that must stay one).
    Ok(Programs {
        baton,
        python: std::path::absolute(args.python.clone().unwrap_or_else(|| manifest.join(".venv/bin/python")))?,
        dbos_app: std::path::absolute(args.dbos_app.clone().unwrap_or_else(|| manifest.join("dbos/app.py")))?,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    if args.w3_runs < 2 || args.w6_runs == 0 || args.w6_dbos_runs == 0 || args.w6_page_requests == 0 {
        bail!("--w3-runs must be at least 2; --w6-runs, --w6-dbos-runs and --w6-page-requests at least 1");
    }
    let programs = programs(&args)?;
    let mut engines = vec![Kind::Baton];
    if !args.skip_dbos {
        if programs.python.is_file() {
            engines.push(Kind::Dbos);
        } else {
            eprintln!("{} not found (run `bash bench/setup.sh`): measuring Baton alone", programs.python.display());
        }
    }
    let mut workloads = args.only.clone();
    workloads.sort();
    workloads.dedup();

    // Every request carries the key, as a real client's would: its check is part of each figure.
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", engine::BENCH_KEY).parse()?);
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(1024)
        .default_headers(headers)
        .build()?;
    // One stub for W1 and W2 (W4 starts its own, for clean idempotency counts).
    let stub = StandIn::start().await.context("starting the stub")?;
    let mut report = Report::new(&programs, &engines).await;

    for repeat in 0..args.repeats {
        // Alternate which engine goes first, so neither always runs on a warmer machine.
        report.repeat_started();
        let mut order = engines.clone();
        if repeat % 2 == 1 {
            order.reverse();
        }
        for &workload in &workloads {
            if workload == Workload::W6 && repeat >= args.w6_repeats {
                continue;
            }
            for &kind in &order {
                if workload == Workload::W2pg && kind != Kind::Baton {
                    continue;
                }
                let dir = tempfile::tempdir()?;
                eprintln!("repeat {}/{}: {workload:?} on {kind}", repeat + 1, args.repeats);
                let trial = match workload {
                    Workload::W1 => workloads::w1(kind, &programs, dir.path(), &stub, &http, &args).await,
                    Workload::W2 => workloads::w2(kind, &programs, dir.path(), &stub, &http, &args).await,
                    Workload::W3 => inbox::w3(kind, &programs, dir.path(), &http, &args).await,
                    Workload::W4 => workloads::w4(kind, &programs, dir.path(), &http, &args).await,
                    Workload::W2pg => postgres::w2_postgres(&programs, dir.path(), &stub, &http, &args).await,
                    Workload::W6 => inbox::w6(kind, &programs, dir.path(), &http, &args).await,
                };
                match trial {
                    Ok(trial) => report.record(kind, trial),
                    Err(err) => {
                        eprintln!("  failed: {err:#}");
                        report.note(format!("repeat {}: {workload:?} on {kind} failed: {err:#}", repeat + 1));
                    }
                }
            }
        }
    }
    report.finish();
    print!("{}", report.render(&args, &engines));
    Ok(())
}
