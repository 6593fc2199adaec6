//! W2 on PostgreSQL: the W2 workload against one and against two `baton serve` nodes sharing
//! one PostgreSQL database (`--pg-url`, a fresh schema per trial), clients split evenly across
//! the nodes. PostgreSQL's CPU time over the measured window is read from `/proc` (the server's
//! `postgres` processes on this machine).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::Client;

use baton_server::standin::StandIn;

use crate::engine::{Programs, Server, Target};
use crate::stats::percentile_ms;
use crate::workloads::{Trial, closed_loop};
use crate::{Args, Workload};

/// Node counts W2 on PostgreSQL is measured with.
const NODE_COUNTS: [usize; 2] = [1, 2];

/// CPU time (s) of this machine's `postgres` processes so far (utime + stime from
/// `/proc/PID/stat`); `None` without `/proc`.
fn postgres_cpu_seconds() -> Option<f64> {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((head, rest)) = stat.rsplit_once(')') else { continue };
        if !head.ends_with("(postgres") {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
        let (Some(utime), Some(stime)) = (fields.get(11), fields.get(12)) else { continue };
        ticks += utime.parse::<u64>().unwrap_or(0) + stime.parse::<u64>().unwrap_or(0);
    }
    Some(ticks as f64 / ticks_per_second)
}

/// Runs `sql` on `--pg-url` with psql; returns its output.
fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new("psql").args([url, "-At", "-c", sql]).output().context("running psql")?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The PostgreSQL durability settings, for the report.
pub fn durability(url: &str) -> String {
    match psql(url, "SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit')") {
        Ok(settings) => {
            let (fsync, synchronous_commit) = settings.split_once('/').unwrap_or((&settings, ""));
            format!("PostgreSQL fsync={fsync}, synchronous_commit={synchronous_commit}")
        }
        Err(err) => format!("PostgreSQL settings unknown ({err:#})"),
    }
}

/// W2 with one and with two nodes on PostgreSQL (Baton only).
pub async fn w2_postgres(
    programs: &Programs,
    dir: &Path,
    stub: &StandIn,
    http: &Client,
    args: &Args,
) -> anyhow::Result<Trial> {
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    for nodes in NODE_COUNTS {
        let schema = format!("bench_{}", uuid_like());
        let result = w2_on_nodes(programs, dir, stub, http, args, &schema, nodes).await;
        if let Err(err) = psql(&args.pg_url, &format!("DROP SCHEMA IF EXISTS {schema} CASCADE")) {
            notes.push(format!("cannot drop schema {schema}: {err:#}"));
        }
        let (throughput, p99, cpu, errors) = result?;
        let [rate, p99_name, cpu_name] = match nodes {
            1 => [
                "W2 PostgreSQL, 1 node (runs/s)",
                "W2 PostgreSQL, 1 node p99 (ms)",
                "W2 PostgreSQL, 1 node: DB CPU (cores)",
            ],
            _ => [
                "W2 PostgreSQL, 2 nodes (runs/s)",
                "W2 PostgreSQL, 2 nodes p99 (ms)",
                "W2 PostgreSQL, 2 nodes: DB CPU (cores)",
            ],
        };
        figures.extend([(rate, throughput), (p99_name, p99), (cpu_name, cpu)]);
        if errors > 0 {
            notes.push(format!("W2 PostgreSQL, {nodes} node(s): {errors} failed requests"));
        }
    }
    Ok(Trial { figures, notes })
}

/// One W2 trial on `nodes` nodes: (runs/s, p99 ms, PostgreSQL CPU in cores, failed requests).
async fn w2_on_nodes(
    programs: &Programs,
    dir: &Path,
    stub: &StandIn,
    http: &Client,
    args: &Args,
    schema: &str,
    nodes: usize,
) -> anyhow::Result<(f64, f64, f64, usize)> {
    let serve_args: Vec<String> =
        ["--db-schema", schema, "--db-connections", &args.pg_connections.to_string()].map(str::to_owned).into();
    let mut started = Vec::new();
    for n in 0..nodes {
        let log = dir.join(format!("{schema}-node{n}.log"));
        let stub = stub.base_url();
        started.push(Server::start_postgres(programs, &args.pg_url, serve_args.clone(), log, &stub, http).await?);
    }
    started[0].deploy(Workload::W2, 0).await?;
    let targets: Vec<Target> = started.iter().map(|node| node.target.clone()).collect();
    closed_loop(&targets, args.w2_clients, Duration::from_secs(args.w2_warmup_seconds)).await;
    let cpu_before = postgres_cpu_seconds();
    let (latencies, errors, elapsed, first_error) =
        closed_loop(&targets, args.w2_clients, Duration::from_secs(args.w2_seconds)).await;
    let cpu = match (cpu_before, postgres_cpu_seconds()) {
        (Some(before), Some(after)) => (after - before) / elapsed.as_secs_f64(),
        _ => f64::NAN,
    };
    if latencies.is_empty() {
        bail!("no run completed ({errors} errors; first: {})", first_error.unwrap_or_default());
    }
    let throughput = latencies.len() as f64 / elapsed.as_secs_f64();
    Ok((throughput, percentile_ms(&latencies, 0.99).unwrap_or(f64::NAN), cpu, errors))
}

/// A fresh lowercase name part (time and process id), valid in a schema name.
fn uuid_like() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("{}_{}", now.as_nanos(), std::process::id())
}
