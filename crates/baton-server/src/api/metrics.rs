//! Prometheus metrics (OpenMetrics text through `prometheus-client`).
//!
//! Gauges that mirror state (runs by status, queue depth, actors, timers, the store's commit
//! counters, the stale-wait sweeper's passes, the lifecycle-event sinks' deliveries) are
//! refreshed when `/metrics` is scraped. Task latency is observed by a background
//! task following the engine's committed steps: `task.started` → `task.completed` of the same
//! run and task reference.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use tokio::sync::{Mutex, broadcast};
use tokio_util::sync::CancellationToken;

use baton_core::state::RunStatus;
use baton_store::RunStore;

use crate::api::ApiEngine;
use crate::api::error::ApiError;
use crate::engine::RunUpdate;
use crate::notify::sinks::SinkStats;

const TASK_STARTED: &str = "io.serverlessworkflow.task.started.v1";
const TASK_COMPLETED: &str = "io.serverlessworkflow.task.completed.v1";

/// Most runs whose open task starts are remembered (tasks of waiting runs can stay open for
/// days); beyond it the remembered starts are dropped and those tasks go unmeasured.
const MAX_OPEN_RUNS: usize = 100_000;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

/// A lifecycle-event sink by its position in `--sink` order (`"1"`, `"2"`, ...): sink URLs can
/// carry secrets, so they are never labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabel {
    sink: String,
}

/// The stale-wait sweeper's counters and its last pass.
struct SweeperMetrics {
    passes: Counter,
    checked: Counter,
    timed_out: Counter,
    failed: Counter,
    last_checked: Gauge,
    last_timed_out: Gauge,
    last_failed: Gauge,
}

impl SweeperMetrics {
    fn register(registry: &mut Registry) -> SweeperMetrics {
        let metrics = SweeperMetrics {
            passes: Counter::default(),
            checked: Counter::default(),
            timed_out: Counter::default(),
            failed: Counter::default(),
            last_checked: Gauge::default(),
            last_timed_out: Gauge::default(),
            last_failed: Gauge::default(),
        };
        registry.register("baton_sweeper_passes", "Stale-wait sweeper passes completed", metrics.passes.clone());
        registry.register("baton_sweeper_checked", "Overdue human-input waits found", metrics.checked.clone());
        registry.register("baton_sweeper_timed_out", "Overdue waits expired", metrics.timed_out.clone());
        registry.register("baton_sweeper_failed", "Overdue waits that could not be expired", metrics.failed.clone());
        registry.register(
            "baton_sweeper_last_checked",
            "Overdue waits found by the last pass",
            metrics.last_checked.clone(),
        );
        registry.register(
            "baton_sweeper_last_timed_out",
            "Waits expired by the last pass",
            metrics.last_timed_out.clone(),
        );
        registry.register(
            "baton_sweeper_last_failed",
            "Waits the last pass could not expire",
            metrics.last_failed.clone(),
        );
        metrics
    }
}

/// The lifecycle-event sinks' counters, by [`SinkLabel`].
struct SinkMetrics {
    stats: Vec<Arc<SinkStats>>,
    delivered: Family<SinkLabel, Counter>,
    retries: Family<SinkLabel, Counter>,
    failed: Family<SinkLabel, Counter>,
    dropped: Family<SinkLabel, Counter>,
    lagged: Family<SinkLabel, Counter>,
}

impl SinkMetrics {
    fn register(registry: &mut Registry, stats: Vec<Arc<SinkStats>>) -> SinkMetrics {
        let metrics = SinkMetrics {
            stats,
            delivered: Family::default(),
            retries: Family::default(),
            failed: Family::default(),
            dropped: Family::default(),
            lagged: Family::default(),
        };
        registry.register("baton_sink_delivered", "Lifecycle events a sink acknowledged", metrics.delivered.clone());
        registry.register("baton_sink_retries", "Delivery attempts retried", metrics.retries.clone());
        registry.register(
            "baton_sink_failed",
            "Lifecycle events given up on (retries spent, or not retried)",
            metrics.failed.clone(),
        );
        registry.register(
            "baton_sink_dropped",
            "Lifecycle events dropped on a full sink queue",
            metrics.dropped.clone(),
        );
        registry.register(
            "baton_sink_lagged",
            "Engine updates a sink missed because it fell behind",
            metrics.lagged.clone(),
        );
        metrics
    }

    /// Advances each counter to its sink's figure.
    fn refresh(&self) {
        for (position, stats) in self.stats.iter().enumerate() {
            let label = SinkLabel { sink: (position + 1).to_string() };
            for (family, figure) in [
                (&self.delivered, &stats.delivered),
                (&self.retries, &stats.retries),
                (&self.failed, &stats.failed),
                (&self.dropped, &stats.dropped),
                (&self.lagged, &stats.lagged),
            ] {
                advance(&family.get_or_create(&label), figure.load(Ordering::Relaxed));
            }
        }
    }
}

/// Moves a counter that mirrors a monotonic figure up to `figure`.
fn advance(counter: &Counter, figure: u64) {
    counter.inc_by(figure.saturating_sub(counter.get()));
}

pub(crate) struct Metrics {
    registry: Registry,
    runs: Family<StatusLabel, Gauge>,
    task_duration: Histogram,
    queue_depth: Gauge,
    active_runs: Gauge,
    timers: Gauge,
    commits: Counter,
    write_requests: Counter,
    batch_size: Gauge<f64, AtomicU64>,
    sweeper: SweeperMetrics,
    sinks: SinkMetrics,
    /// Serializes scrapes so the counters advance by exact deltas.
    scrape: Mutex<()>,
}

impl Metrics {
    /// The metrics, with a counter family over `sinks` (the sinks' counters in `--sink` order).
    pub(crate) fn new(sinks: Vec<Arc<SinkStats>>) -> Metrics {
        let mut registry = Registry::default();
        let runs = Family::<StatusLabel, Gauge>::default();
        registry.register("baton_runs", "Runs by status", runs.clone());
        // 1 ms to ~65 s.
        let task_duration = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        registry.register(
            "baton_task_duration_seconds",
            "Task latency from task.started to task.completed",
            task_duration.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("baton_queue_depth", "Runs waiting pending behind a concurrency limit", queue_depth.clone());
        let active_runs = Gauge::default();
        registry.register("baton_active_runs", "Runs with work in flight on this node", active_runs.clone());
        let timers = Gauge::default();
        registry.register("baton_timers", "Timers waiting to fire on this node", timers.clone());
        let commits = Counter::default();
        registry.register("baton_store_commits", "Store transactions committed", commits.clone());
        let write_requests = Counter::default();
        registry.register("baton_store_write_requests", "Store write requests handled", write_requests.clone());
        let batch_size = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "baton_store_commit_batch_size",
            "Average write requests per committed transaction (group commit)",
            batch_size.clone(),
        );
        let sweeper = SweeperMetrics::register(&mut registry);
        let sinks = SinkMetrics::register(&mut registry, sinks);
        Metrics {
            registry,
            runs,
            task_duration,
            queue_depth,
            active_runs,
            timers,
            commits,
            write_requests,
            batch_size,
            sweeper,
            sinks,
            scrape: Mutex::new(()),
        }
    }

    /// Refreshes the state gauges and renders every metric.
    pub(crate) async fn render(&self, engine: &ApiEngine) -> Result<String, ApiError> {
        let _scrape = self.scrape.lock().await;
        let counts: HashMap<String, u64> = engine
            .store()
            .count_runs_by_status()
            .await?
            .into_iter()
            .map(|(status, n)| (status.to_string(), n))
            .collect();
        for status in RunStatus::ALL {
            let count = counts.get(status.as_str()).copied().unwrap_or(0);
            self.runs.get_or_create(&StatusLabel { status: status.as_str().into() }).set(saturating_i64(count));
        }
        let load = engine.load();
        self.queue_depth.set(saturating_i64(load.queued as u64));
        self.active_runs.set(saturating_i64(load.actors as u64));
        self.timers.set(saturating_i64(load.timers as u64));
        if let Some(stats) = engine.store().commit_stats() {
            advance(&self.commits, stats.commits);
            advance(&self.write_requests, stats.requests);
            if stats.commits > 0 {
                self.batch_size.set(stats.requests as f64 / stats.commits as f64);
            }
        }
        let sweeps = engine.sweep_totals();
        advance(&self.sweeper.passes, sweeps.passes);
        advance(&self.sweeper.checked, sweeps.checked);
        advance(&self.sweeper.timed_out, sweeps.timed_out);
        advance(&self.sweeper.failed, sweeps.failed);
        let last = sweeps.last.unwrap_or_default();
        self.sweeper.last_checked.set(saturating_i64(last.checked as u64));
        self.sweeper.last_timed_out.set(saturating_i64(last.timed_out as u64));
        self.sweeper.last_failed.set(saturating_i64(last.failed as u64));
        self.sinks.refresh();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map_err(|err| ApiError::Internal(format!("cannot encode metrics: {err}")))?;
        Ok(text)
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Observes task latencies from the engine's committed steps until `shutdown`.
pub(crate) async fn collect_task_latencies(
    mut updates: broadcast::Receiver<RunUpdate>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    // Run id → task reference → start time (ms).
    let mut open: HashMap<String, HashMap<String, i64>> = HashMap::new();
    loop {
        let received = tokio::select! {
            () = shutdown.cancelled() => return,
            received = updates.recv() => received,
        };
        let update = match received {
            Ok(update) => update,
            // Missed starts simply go unmeasured.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if update.status.is_terminal() {
            // Nothing of an ended run is kept.
            let mut started = open.remove(&update.run_id).unwrap_or_default();
            observe_step(&metrics, &update, &mut started);
            continue;
        }
        if open.len() >= MAX_OPEN_RUNS && !open.contains_key(&update.run_id) {
            open.clear();
        }
        observe_step(&metrics, &update, open.entry(update.run_id.clone()).or_default());
    }
}

/// Remembers the step's task starts and observes its task completions.
fn observe_step(metrics: &Metrics, update: &RunUpdate, started: &mut HashMap<String, i64>) {
    for (_, event) in &update.history {
        let Some(task) = &event.task else { continue };
        match event.kind.as_str() {
            TASK_STARTED => {
                started.insert(task.clone(), event.at);
            }
            TASK_COMPLETED => {
                if let Some(started_at) = started.remove(task) {
                    let seconds = (event.at - started_at).max(0) as f64 / 1000.0;
                    metrics.task_duration.observe(seconds);
                }
            }
            _ => {}
        }
    }
}
