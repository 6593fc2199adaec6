//! W3 and W6: runs parked in the inbox (Baton: a `listen` task with `metadata.inbox`; DBOS: a
//! workflow blocked in `DBOS.recv`). W3 answers them one at a time, warm and after a `kill -9`
//! and restart; W6 parks many and measures the server's memory, the database and the first
//! inbox page.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, stream};
use reqwest::Client;
use sqlx::Connection as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::engine::{Kind, Observe, Parked, Programs, Server, Target};
use crate::stats::percentile_ms;
use crate::workloads::Trial;
use crate::{Args, Workload};

/// The workflows of W3 and W6 call nothing; the DBOS peer still wants a stub URL.
const NO_STUB: &str = "http://127.0.0.1:9";

/// How to start parked runs: `clients` concurrent clients, Baton `mode=sync` when `sync`, the
/// count of waiting runs read every `poll` for at most `timeout`.
struct Starts {
    clients: usize,
    sync: bool,
    poll: Duration,
    timeout: Duration,
}

/// Starts `runs` parked runs with keys `{prefix}-{n}`, then waits until the engine counts at
/// least `runs` waiting runs. Returns the runs and the time the starts took.
async fn park(target: &Target, prefix: &str, runs: usize, how: &Starts) -> anyhow::Result<(Vec<Parked>, Duration)> {
    let started = Instant::now();
    let parked: Vec<Parked> = stream::iter(0..runs)
        .map(|n| {
            let target = target.clone();
            let key = format!("{prefix}-{n}");
            async move { target.start_parked(&key, how.sync).await }
        })
        .buffer_unordered(how.clients)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .with_context(|| format!("starting {prefix} runs"))?;
    let start_time = started.elapsed();
    wait_parked(target, runs as u64, how.poll, started + how.timeout).await?;
    Ok((parked, start_time))
}

/// Reads the engine's count of waiting runs every `poll` until it reaches `runs` or `deadline`
/// passes.
async fn wait_parked(target: &Target, runs: u64, poll: Duration, deadline: Instant) -> anyhow::Result<()> {
    loop {
        let parked = target.parked().await?;
        if parked >= runs {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} counts {parked} waiting runs, not {runs}", target.kind);
        }
        tokio::time::sleep(poll).await;
    }
}

/// A pause in `0..max`, uniformly spread (splitmix64 of `n`), so that answers reach the engine at
/// random moments rather than in step with a polling loop of the engine.
fn pause(n: u64, max: Duration) -> Duration {
    let mut z = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    max.mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
}

/// Answers the runs one after the other, each after a `pause` of up to `pause_max` (not timed);
/// returns the sorted respond → completed times.
async fn answer(
    target: &Target,
    runs: &[Parked],
    observe: Observe,
    pause_max: Duration,
) -> anyhow::Result<Vec<Duration>> {
    let items = target.inbox_items().await?;
    let mut latencies = Vec::with_capacity(runs.len());
    for (n, run) in runs.iter().enumerate() {
        tokio::time::sleep(pause(n as u64, pause_max)).await;
        latencies.push(target.respond(run, items.get(&run.id).map(String::as_str), observe).await?);
    }
    latencies.sort();
    Ok(latencies)
}

/// W3: `w3_runs` runs parked and answered one at a time (respond → completed, p50/p99; Baton's
/// completion seen by polling the run); on Baton `w3_stream_runs` more, seen on the run's
/// history stream; then `w3_runs` more parked, `kill -9` of the engine, a restart on the same
/// database, the first answered at once, and the others once the engine counts them all
/// waiting again. Answers are `w3_pause_ms` apart at most (uniformly spread, not timed).
pub async fn w3(kind: Kind, programs: &Programs, dir: &Path, http: &Client, args: &Args) -> anyhow::Result<Trial> {
    let how = Starts {
        clients: 16,
        sync: true,
        poll: Duration::from_millis(20),
        timeout: Duration::from_secs(args.park_timeout_seconds),
    };
    let mut server = Server::start(kind, programs, dir, NO_STUB, http).await?;
    server.deploy(Workload::W3, 0).await?;

    let (warm_runs, _) = park(&server.target, "w3-warm", args.w3_runs, &how).await?;
    let pause_max = Duration::from_millis(args.w3_pause_ms);
    let warm = answer(&server.target, &warm_runs, Observe::Poll, pause_max).await.context("W3 warm")?;
    let mut streamed = Vec::new();
    if kind == Kind::Baton && args.w3_stream_runs > 0 {
        let (runs, _) = park(&server.target, "w3-stream", args.w3_stream_runs, &how).await?;
        streamed = answer(&server.target, &runs, Observe::Stream, pause_max).await.context("W3 stream")?;
    }

    let (parked, _) = park(&server.target, "w3-restart", args.w3_runs, &how).await?;
    server.kill9().await?;
    let killed = Instant::now();
    server.restart().await?;
    let ready = killed.elapsed();
    let (first, rest) = parked.split_first().context("no runs")?;
    let first_latency = answer(&server.target, std::slice::from_ref(first), Observe::Poll, Duration::ZERO)
        .await
        .context("W3 first after restart")?;
    wait_parked(&server.target, rest.len() as u64, how.poll, killed + how.timeout).await.context("W3 after restart")?;
    let parked_again = killed.elapsed();
    let after = answer(&server.target, rest, Observe::Poll, pause_max).await.context("W3 after restart")?;

    let ms = |sorted: &[Duration], q: f64| percentile_ms(sorted, q).unwrap_or(f64::NAN);
    let mut figures = vec![
        ("W3 respond → completed p50 (ms)", ms(&warm, 0.50)),
        ("W3 respond → completed p99 (ms)", ms(&warm, 0.99)),
    ];
    if !streamed.is_empty() {
        figures.push(("W3 respond → completed seen on the history stream p50 (ms)", ms(&streamed, 0.50)));
        figures.push(("W3 respond → completed seen on the history stream p99 (ms)", ms(&streamed, 0.99)));
    }
    figures.extend([
        ("W3 restart: kill -9 → answering again (s)", ready.as_secs_f64()),
        ("W3 restart: first respond → completed (ms)", ms(&first_latency, 0.50)),
        ("W3 restart: kill -9 → all others waiting again (s)", parked_again.as_secs_f64()),
        ("W3 restart: respond → completed p50 (ms)", ms(&after, 0.50)),
        ("W3 restart: respond → completed p99 (ms)", ms(&after, 0.99)),
    ]);
    Ok(Trial { figures, notes: Vec::new() })
}

/// The bytes of the database: Baton's file and its WAL after `PRAGMA wal_checkpoint(TRUNCATE)`
/// from a connection of the harness (the engine keeps running); DBOS's file (rollback journal:
/// no WAL). Returns the bytes and, when the checkpoint could not finish, why.
async fn database_bytes(kind: Kind, db: &Path) -> anyhow::Result<(u64, Option<String>)> {
    let mut incomplete = None;
    if kind == Kind::Baton {
        let options = SqliteConnectOptions::new().filename(db).create_if_missing(false);
        let mut connection = SqliteConnection::connect_with(&options).await?;
        let (busy, log, done): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut connection).await?;
        connection.close().await?;
        if busy != 0 {
            incomplete = Some(format!("checkpoint busy ({done} of {log} WAL pages copied)"));
        }
    }
    let size = |path: &Path| std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    Ok((size(db) + size(Path::new(&wal)), incomplete))
}

/// W6: `w6_runs` (DBOS: `w6_dbos_runs`) runs started in background by `w6_clients` clients and
/// parked; then the server's RSS, the database's bytes and `w6_page_requests` requests of the
/// first inbox page, one at a time.
pub async fn w6(kind: Kind, programs: &Programs, dir: &Path, http: &Client, args: &Args) -> anyhow::Result<Trial> {
    let runs = match kind {
        Kind::Baton => args.w6_runs,
        Kind::Dbos => args.w6_dbos_runs,
    };
    let server = Server::start(kind, programs, dir, NO_STUB, http).await?;
    server.deploy(Workload::W6, 0).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.memory_bytes("VmRSS")?;
    let (idle_db, _) = database_bytes(kind, &server.db).await?;

    let started = Instant::now();
    let how = Starts {
        clients: args.w6_clients,
        sync: false,
        // Baton counts the runs by status with a query on each /metrics request: not too often.
        poll: Duration::from_millis(250),
        timeout: Duration::from_secs(args.park_timeout_seconds),
    };
    let (_, start_time) = park(&server.target, "w6", runs, &how).await?;
    let parked_time = started.elapsed();
    // Let the last commits and timers settle before reading the memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = server.memory_bytes("VmRSS")?;
    let peak = server.memory_bytes("VmHWM")?;

    let mut pages = Vec::with_capacity(args.w6_page_requests);
    let mut items = 0;
    for _ in 0..args.w6_page_requests {
        let sent = Instant::now();
        items = server.target.inbox_page().await?;
        pages.push(sent.elapsed());
    }
    pages.sort();
    let (db, incomplete) = database_bytes(kind, &server.db).await?;

    let mut notes = vec![format!(
        "{kind} W6: {runs} runs; idle (before the runs) RSS {:.1} MB, database {:.2} MB; first page holds {items} items",
        idle_rss as f64 / 1e6,
        idle_db as f64 / 1e6
    )];
    if let Some(incomplete) = incomplete {
        notes.push(format!("{kind} W6: {incomplete}"));
    }
    let ms = |q: f64| percentile_ms(&pages, q).unwrap_or(f64::NAN);
    Ok(Trial {
        figures: vec![
            ("W6 runs parked", runs as f64),
            ("W6 background starts (runs/s)", runs as f64 / start_time.as_secs_f64()),
            ("W6 first start → all waiting (s)", parked_time.as_secs_f64()),
            ("W6 server RSS, all waiting (MB)", rss as f64 / 1e6),
            ("W6 server peak RSS (MB)", peak as f64 / 1e6),
            ("W6 server RSS per waiting run (KB, above idle)", rss.saturating_sub(idle_rss) as f64 / 1e3 / runs as f64),
            ("W6 database size (MB)", db as f64 / 1e6),
            ("W6 database bytes per run (above empty)", db.saturating_sub(idle_db) as f64 / runs as f64),
            ("W6 first inbox page p50 (ms)", ms(0.50)),
            ("W6 first inbox page p99 (ms)", ms(0.99)),
        ],
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_spread_over_the_whole_range() {
        let max = Duration::from_millis(1000);
        let pauses: Vec<Duration> = (0..1000).map(|n| pause(n, max)).collect();
        assert!(pauses.iter().all(|pause| *pause < max));
        // Each tenth of the range holds about a tenth of the pauses.
        for tenth in 0..10 {
            let low = max.mul_f64(tenth as f64 / 10.0);
            let high = max.mul_f64((tenth + 1) as f64 / 10.0);
            let count = pauses.iter().filter(|pause| (low..high).contains(*pause)).count();
            assert!((60..=140).contains(&count), "{count} pauses in tenth {tenth}");
        }
        assert_eq!(pause(7, Duration::ZERO), Duration::ZERO);
    }
}
