//! W1, W2 and W4: one trial of a workload against one engine, on a fresh database.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use baton_server::standin::StandIn;
use futures_util::{StreamExt, stream};
use reqwest::Client;

use crate::engine::{Kind, Programs, RunState, Server, Target};
use crate::stats::percentile_ms;
use crate::stub::GateStub;
use crate::{Args, Workload};

/// One figure of one trial: label (with unit) and value.
pub type Figures = Vec<(&'static str, f64)>;

/// What a trial measured, and what it observed besides the figures.
pub struct Trial {
    pub figures: Figures,
    pub notes: Vec<String>,
}

/// W1: one client, sequential synchronous runs of the 3-task `set` workflow.
pub async fn w1(
    kind: Kind,
    programs: &Programs,
    dir: &Path,
    stub: &StandIn,
    http: &Client,
    args: &Args,
) -> anyhow::Result<Trial> {
    let server = Server::start(kind, programs, dir, &stub.base_url(), http).await?;
    server.deploy(Workload::W1, 0).await?;
    let target = &server.target;
    for _ in 0..args.w1_warmup {
        target.run_sync(Workload::W1).await.context("W1 warm-up")?;
    }
    let mut latencies = Vec::with_capacity(args.w1_requests);
    for _ in 0..args.w1_requests {
        let started = Instant::now();
        target.run_sync(Workload::W1).await.context("W1")?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let mut notes = Vec::new();
    if kind == Kind::Baton {
        notes.push(format!("Baton database journal (file header): {}", crate::engine::sqlite_journal(&server.db)));
    }
    Ok(Trial {
        figures: vec![
            ("W1 p50 latency (ms)", percentile_ms(&latencies, 0.50).unwrap_or(f64::NAN)),
            ("W1 p99 latency (ms)", percentile_ms(&latencies, 0.99).unwrap_or(f64::NAN)),
        ],
        notes,
    })
}

/// Closed loop: `clients` tasks each start a synchronous run as soon as their last one returned,
/// until `duration` has passed; client `i` talks to `targets[i % targets.len()]`. Returns the sorted latencies, the error count and the wall time
/// until the last client finished.
pub async fn closed_loop(
    targets: &[Target],
    clients: usize,
    duration: Duration,
) -> (Vec<Duration>, usize, Duration, Option<String>) {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let target = targets[client % targets.len()].clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                let mut first_error = None;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match target.run_sync(Workload::W2).await {
                        Ok(()) => latencies.push(sent.elapsed()),
                        Err(err) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{err:#}"));
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for task in tasks {
        let (latencies, task_errors, task_first) = task.await.unwrap_or_default();
        all.extend(latencies);
        errors += task_errors;
        first_error = first_error.or(task_first);
    }
    let elapsed = started.elapsed();
    all.sort();
    (all, errors, elapsed, first_error)
}

/// W2: `w2_clients` concurrent clients running the workflow of 3 `call: http` tasks to the stub.
pub async fn w2(
    kind: Kind,
    programs: &Programs,
    dir: &Path,
    stub: &StandIn,
    http: &Client,
    args: &Args,
) -> anyhow::Result<Trial> {
    let server = Server::start(kind, programs, dir, &stub.base_url(), http).await?;
    server.deploy(Workload::W2, 0).await?;
    closed_loop(std::slice::from_ref(&server.target), args.w2_clients, Duration::from_secs(args.w2_warmup_seconds))
        .await;
    let (latencies, errors, elapsed, first_error) =
        closed_loop(std::slice::from_ref(&server.target), args.w2_clients, Duration::from_secs(args.w2_seconds)).await;
    if latencies.is_empty() {
        bail!("W2: no run completed ({errors} errors; first: {})", first_error.unwrap_or_default());
    }
    let mut notes = Vec::new();
    if errors > 0 {
        notes.push(format!("{kind} W2: {errors} failed requests (first: {})", first_error.unwrap_or_default()));
    }
    Ok(Trial {
        figures: vec![
            ("W2 throughput (runs/s)", latencies.len() as f64 / elapsed.as_secs_f64()),
            ("W2 p50 latency (ms)", percentile_ms(&latencies, 0.50).unwrap_or(f64::NAN)),
            ("W2 p99 latency (ms)", percentile_ms(&latencies, 0.99).unwrap_or(f64::NAN)),
            ("W2 failed requests", errors as f64),
        ],
        notes,
    })
}

/// W4: start `w4_runs` runs of 3 stub calls (`/delay`, `/gate`, `/delay`, each `w4_delay_ms`);
/// once every run waits in its second call behind the closed gate, `kill -9` the engine, open the
/// gate, restart the engine on the same database and wait until every run has completed.
pub async fn w4(kind: Kind, programs: &Programs, dir: &Path, http: &Client, args: &Args) -> anyhow::Result<Trial> {
    let stub = GateStub::start().await?;
    let mut server = Server::start(kind, programs, dir, &stub.base_url(), http).await?;
    server.deploy(Workload::W4, args.w4_delay_ms).await?;

    let target = server.target.clone();
    let started = Instant::now();
    let ids: Vec<String> = stream::iter(0..args.w4_runs)
        .map(|n| {
            let target = target.clone();
            async move { target.start_w4(n, args.w4_delay_ms).await }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("starting W4 runs")?;
    let start_seconds = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(args.w4_timeout_seconds);
    while stub.at_gate() < ids.len() as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let in_flight = stub.at_gate();
    server.kill9().await?;
    let killed = Instant::now();
    stub.open();
    server.restart().await?;
    let ready_seconds = killed.elapsed().as_secs_f64();

    let target = server.target.clone();
    let mut pending: HashSet<String> = ids.iter().cloned().collect();
    let mut failed: BTreeMap<String, String> = BTreeMap::new();
    let deadline = killed + Duration::from_secs(args.w4_timeout_seconds);
    while !pending.is_empty() && Instant::now() < deadline {
        let states: Vec<(String, anyhow::Result<RunState>)> = stream::iter(pending.iter().cloned())
            .map(|id| {
                let target = target.clone();
                async move {
                    let state = target.run_state(&id).await;
                    (id, state)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        for (id, state) in states {
            match state {
                Ok(RunState::Completed) => {
                    pending.remove(&id);
                }
                Ok(RunState::Failed(status)) => {
                    pending.remove(&id);
                    failed.insert(id, status);
                }
                Ok(RunState::InFlight) | Err(_) => {}
            }
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let recovery_seconds = killed.elapsed().as_secs_f64();
    let lost = pending.len() + failed.len();

    // Completed twice: more than one workflow.completed entry in the run's history (Baton).
    let entries: Vec<anyhow::Result<Option<usize>>> = stream::iter(ids.iter().filter(|id| !pending.contains(*id)))
        .map(|id| {
            let target = target.clone();
            async move { target.completed_entries(id).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let entries = entries.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    let twice: Option<usize> = entries.into_iter().map(|n| n.map(|n| usize::from(n > 1))).sum();

    let counts = stub.key_counts();
    let mut distribution: BTreeMap<u64, usize> = BTreeMap::new();
    for count in counts.values() {
        *distribution.entry(*count).or_default() += 1;
    }
    let distribution: Vec<String> = distribution.iter().map(|(times, keys)| format!("{keys} keys ×{times}")).collect();
    let mut notes = vec![format!("{kind} W4: stub requests per idempotency key: {}", distribution.join(", "))];
    if !failed.is_empty() || !pending.is_empty() {
        let examples: Vec<String> = failed.iter().take(3).map(|(id, status)| format!("{id}: {status}")).collect();
        notes.push(format!(
            "{kind} W4: {} runs still in flight {} s after the kill, {} ended otherwise (e.g. {})\n{}",
            pending.len(),
            args.w4_timeout_seconds,
            failed.len(),
            examples.join("; "),
            server.log_tail()
        ));
    }
    let mut figures = vec![
        ("W4 background starts (runs/s, 64 clients)", ids.len() as f64 / start_seconds),
        ("W4 runs in flight at the kill", in_flight as f64),
        ("W4 kill -9 → answering again (s)", ready_seconds),
        ("W4 kill -9 → all completed (s)", if lost == 0 { recovery_seconds } else { f64::NAN }),
        ("W4 runs lost", lost as f64),
        ("W4 max stub requests per idempotency key", counts.values().copied().max().unwrap_or(0) as f64),
    ];
    if let Some(twice) = twice {
        figures.insert(5, ("W4 runs completed twice", twice as f64));
    }
    Ok(Trial { figures, notes })
}
