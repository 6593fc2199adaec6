//! The background loops of a serving node: the stale-wait sweeper and the event purge.

use std::time::Duration;

use tokio::task::JoinHandle;

use baton_store::Store;

use crate::clock::now_ms;
use crate::engine::Engine;

/// Most overdue waits one sweeper pass expires.
const SWEEP_BATCH: u32 = 500;

/// Time between two purges of events past their retention.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the loops; abort the handles to stop them.
pub(crate) fn start<S: Store + Clone>(
    engine: &Engine<S>,
    sweep_interval: Duration,
    event_retention_ms: i64,
) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(sweep_periodically(engine.clone(), sweep_interval.max(Duration::from_secs(1)))),
        tokio::spawn(purge_old_events(engine.clone(), event_retention_ms)),
    ]
}

/// Runs the stale-wait sweeper on a schedule (single-flight inside the engine).
async fn sweep_periodically<S: Store + Clone>(engine: Engine<S>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        if let Err(err) = engine.sweep_overdue(SWEEP_BATCH).await {
            tracing::warn!(error = %err, "sweeper pass failed");
        }
    }
}

/// Deletes events older than the retention window (ms), hourly.
async fn purge_old_events<S: Store + Clone>(engine: Engine<S>, retention_ms: i64) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticks.tick().await;
        let before = now_ms().saturating_sub(retention_ms);
        match engine.store().delete_events_before(before).await {
            Ok(deleted) => tracing::info!(deleted, "purged events past their retention"),
            Err(err) => tracing::warn!(error = %err, "cannot purge old events"),
        }
    }
}
