//! Lifecycle events out: every history entry of every run (`io.serverlessworkflow.workflow.*`
//! and `task.*`) delivered as a CloudEvent 1.0 (structured mode, `application/cloudevents+json`)
//! to each configured sink URL.
//!
//! The event: `id` = `{runId}/{seq}` (receivers dedupe on it), `source` = `/baton/runs/{runId}`,
//! `type` = the entry's kind, `time` = the entry's time (RFC 3339), `subject` = the task
//! reference if any, `data` = the entry's data with `runId` added (non-object data is wrapped as
//! `{"runId", "value"}`).
//!
//! Per sink: a forwarder reads [`Engine::subscribe`] into a bounded queue
//! ([`SinkOptions::queue_capacity`]) and one delivery task posts the queue in order. A failed
//! attempt (connection error, timeout, 429 or 5xx) is retried with exponential backoff and
//! jitter ([`RetryPolicy`]); retrying blocks that sink only. Other 4xx, 3xx and refusals by the
//! egress guard are not retried.
//!
//! **Delivery is best-effort**: at least once within the retry budget (a receiver may see an
//! event again if a response is lost, hence the stable `id`), at most once beyond it. Events are
//! dropped (counted in [`SinkStats`] and logged) when the queue is full, when the forwarder
//! falls behind the engine's broadcast (`Lagged`), when the retry budget runs out, and on
//! shutdown. The durable source of truth is the run's history (`GET /api/v1/runs/{id}/history`
//! and its SSE stream).
//!
//! Every request goes through the SSRF guard ([`crate::outbound::egress`]): loopback and private
//! destinations are refused unless the policy allows them (`baton serve --allow-private-sinks`),
//! no proxy from the environment, each redirect re-checked. A sink refused by the guard at
//! startup is a startup error. Logs name a sink by its number and origin only
//! (`#1 https://hooks.example.com`), never its userinfo, path or query: webhook URLs are secrets.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use url::Url;

use baton_core::state::HistoryEvent;
use baton_store::Store;

use crate::engine::{Engine, RunUpdate};
use crate::outbound::egress::{EgressError, EgressPolicy, find_egress_error, guarded_client};

/// The content type of a structured-mode CloudEvent.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

/// Default [`SinkOptions::queue_capacity`].
pub const DEFAULT_QUEUE_CAPACITY: usize = 10_000;

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per event, the first included (at least 1).
    pub attempts: u32,
    /// Delay before the second attempt; doubled for each further one.
    pub base: Duration,
    /// Longest delay between two attempts (also caps a `Retry-After`).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 200 ms base, 10 s cap.
    fn default() -> Self {
        RetryPolicy { attempts: 5, base: Duration::from_millis(200), cap: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based): `min(cap, base * 2^(attempt-1))`,
    /// half of it fixed and half random ("equal jitter"), so retries of many sinks spread out.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponential = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let ceiling = exponential.min(self.cap);
        let half = ceiling / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) from the OS's randomness (through a v4 UUID).
fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// Where sink requests may go and how hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkOptions {
    pub policy: EgressPolicy,
    pub retry: RetryPolicy,
    /// Events queued per sink before new ones are dropped.
    pub queue_capacity: usize,
}

impl SinkOptions {
    /// Default retries and queue with `policy`.
    pub fn new(policy: EgressPolicy) -> SinkOptions {
        SinkOptions { policy, retry: RetryPolicy::default(), queue_capacity: DEFAULT_QUEUE_CAPACITY }
    }
}

/// Why the sinks could not start.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink #{index}: invalid URL")]
    InvalidUrl { index: usize },
    #[error("sink #{index} ({origin}) refused: {error}; loopback and private sinks need --allow-private-sinks")]
    Refused { index: usize, origin: String, error: EgressError },
}

/// Counters of one sink.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Events the sink acknowledged with a 2xx.
    pub delivered: AtomicU64,
    /// Events given up on (retry budget spent, or a response that is not retried).
    pub failed: AtomicU64,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Engine updates (each one or more events) missed because the forwarder fell behind.
    pub lagged: AtomicU64,
    /// Attempts that were retried.
    pub retries: AtomicU64,
}

/// A running sink: its name for logs and its counters.
#[derive(Debug)]
pub struct Sink {
    /// `#N origin`, safe to log.
    pub name: String,
    pub stats: Arc<SinkStats>,
    delivery: JoinHandle<()>,
}

/// The running sinks. Dropping this leaves them running until the engine is gone.
#[derive(Debug, Default)]
pub struct Sinks {
    pub sinks: Vec<Sink>,
}

impl Sinks {
    /// The counters of each sink, in `--sink` order (sink `#N` is at index N-1).
    pub fn stats(&self) -> Vec<Arc<SinkStats>> {
        self.sinks.iter().map(|sink| sink.stats.clone()).collect()
    }

    /// Stops delivery now; queued events are dropped.
    pub fn abort(&self) {
        for sink in &self.sinks {
            sink.delivery.abort();
        }
    }
}

/// One queued CloudEvent.
#[derive(Debug)]
struct Outgoing {
    id: String,
    kind: String,
    body: Vec<u8>,
}

/// Checks every URL against `options.policy`, then starts one dispatcher per sink subscribed
/// to `engine` (events committed after this returns are delivered). A URL the guard refuses
/// (an IP literal, or a name that resolves only to refused addresses) fails the whole start; a
/// name that does not resolve yet is accepted (the guard checks again on every request).
pub async fn start<S: Store + Clone>(
    engine: &Engine<S>,
    urls: &[String],
    options: SinkOptions,
) -> Result<Sinks, SinkError> {
    let mut checked = Vec::with_capacity(urls.len());
    for (position, text) in urls.iter().enumerate() {
        let index = position + 1;
        let url = Url::parse(text).map_err(|_| SinkError::InvalidUrl { index })?;
        let origin = origin(&url);
        let refused = |error| SinkError::Refused { index, origin: origin.clone(), error };
        options.policy.check_url(&url).map_err(refused)?;
        check_resolved(&url, options.policy).await.map_err(refused)?;
        checked.push((format!("#{index} {origin}"), url));
    }
    let client = guarded_client(options.policy, true);
    let mut sinks = Vec::with_capacity(checked.len());
    for (name, url) in checked {
        let stats = Arc::new(SinkStats::default());
        let (queue, queued) = mpsc::channel(options.queue_capacity.max(1));
        tokio::spawn(forward(engine.subscribe(), queue, name.clone(), stats.clone()));
        let delivery = tokio::spawn(deliver_all(
            queued,
            Target { client: client.clone(), url, name: name.clone(), retry: options.retry, stats: stats.clone() },
        ));
        tracing::info!(sink = %name, "lifecycle event sink started");
        sinks.push(Sink { name, stats, delivery });
    }
    Ok(Sinks { sinks })
}

/// `scheme://host[:port]`: how logs name a sink.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Refuses a named host whose addresses are all refused; accepts one that does not resolve.
async fn check_resolved(url: &Url, policy: EgressPolicy) -> Result<(), EgressError> {
    let Some(url::Host::Domain(host)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    match tokio::net::lookup_host((host, port)).await {
        Ok(addresses) => {
            let addresses: Vec<_> = addresses.collect();
            if !addresses.is_empty() && !addresses.iter().any(|addr| policy.allows(addr.ip())) {
                return Err(EgressError::ForbiddenHost(host.to_owned()));
            }
            Ok(())
        }
        Err(err) => {
            tracing::warn!(host, error = %err, "sink host does not resolve yet; it is checked again on every delivery");
            Ok(())
        }
    }
}

/// The CloudEvents of one engine update, in history order.
fn cloud_events(update: &RunUpdate) -> impl Iterator<Item = Outgoing> + '_ {
    update.history.iter().map(|(seq, event)| {
        let id = format!("{}/{seq}", update.run_id);
        let body = cloud_event(&update.run_id, *seq, event);
        Outgoing { id, kind: event.kind.clone(), body: serde_json::to_vec(&body).unwrap_or_default() }
    })
}

/// History entry `seq` of run `run_id` as a structured-mode CloudEvent.
pub fn cloud_event(run_id: &str, seq: i64, event: &HistoryEvent) -> Value {
    let data = match &event.data {
        Value::Object(entries) => {
            let mut entries = entries.clone();
            entries.insert("runId".to_owned(), Value::String(run_id.to_owned()));
            Value::Object(entries)
        }
        other => json!({"runId": run_id, "value": other}),
    };
    let mut envelope = Map::new();
    envelope.insert("specversion".to_owned(), json!("1.0"));
    envelope.insert("id".to_owned(), json!(format!("{run_id}/{seq}")));
    envelope.insert("source".to_owned(), json!(format!("/baton/runs/{run_id}")));
    envelope.insert("type".to_owned(), json!(event.kind));
    if let Ok(time) = jiff::Timestamp::from_millisecond(event.at) {
        envelope.insert("time".to_owned(), json!(time.to_string()));
    }
    if let Some(task) = &event.task {
        envelope.insert("subject".to_owned(), json!(task));
    }
    envelope.insert("datacontenttype".to_owned(), json!("application/json"));
    envelope.insert("data".to_owned(), data);
    Value::Object(envelope)
}

/// Moves engine updates into the sink's queue without ever waiting on the sink.
async fn forward(
    mut updates: broadcast::Receiver<RunUpdate>,
    queue: mpsc::Sender<Outgoing>,
    name: String,
    stats: Arc<SinkStats>,
) {
    loop {
        match updates.recv().await {
            Ok(update) => {
                for outgoing in cloud_events(&update) {
                    match queue.try_send(outgoing) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(outgoing)) => {
                            let dropped = stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                            if dropped.is_power_of_two() || dropped.is_multiple_of(1000) {
                                tracing::warn!(sink = %name, event = %outgoing.id, dropped, "sink queue full; lifecycle event dropped");
                            }
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return,
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                let lagged = stats.lagged.fetch_add(missed, Ordering::Relaxed) + missed;
                tracing::warn!(sink = %name, missed, lagged, "sink fell behind the engine; lifecycle events dropped");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Where one sink's events go.
struct Target {
    client: reqwest::Client,
    url: Url,
    name: String,
    retry: RetryPolicy,
    stats: Arc<SinkStats>,
}

/// Delivers the queue in order, one event at a time.
async fn deliver_all(mut queued: mpsc::Receiver<Outgoing>, target: Target) {
    while let Some(outgoing) = queued.recv().await {
        target.deliver(&outgoing).await;
    }
}

/// What one attempt came to.
enum Attempt {
    Delivered(StatusCode),
    /// Worth another try, after at least the given delay (`Retry-After`).
    Retry(String, Option<Duration>),
    GiveUp(String),
}

impl Target {
    async fn deliver(&self, outgoing: &Outgoing) {
        let attempts = self.retry.attempts.max(1);
        let mut attempt = 1;
        loop {
            let (last, retry_after) = match self.attempt(outgoing).await {
                Attempt::Delivered(status) => {
                    self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(sink = %self.name, event = %outgoing.id, kind = %outgoing.kind, status = status.as_u16(), attempts = attempt, "lifecycle event delivered");
                    return;
                }
                Attempt::GiveUp(reason) => {
                    self.stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(sink = %self.name, event = %outgoing.id, kind = %outgoing.kind, status = %reason, attempts = attempt, "lifecycle event not delivered (not retried)");
                    return;
                }
                Attempt::Retry(reason, retry_after) => (reason, retry_after),
            };
            if attempt >= attempts {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(sink = %self.name, event = %outgoing.id, kind = %outgoing.kind, status = %last, attempts = attempt, "lifecycle event not delivered (retries exhausted)");
                return;
            }
            let mut delay = self.retry.delay(attempt);
            if let Some(wanted) = retry_after {
                delay = delay.max(wanted.min(self.retry.cap));
            }
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(sink = %self.name, event = %outgoing.id, status = %last, attempts = attempt, delay_ms = delay.as_millis() as u64, "retrying lifecycle event");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, outgoing: &Outgoing) -> Attempt {
        let sent = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, CLOUDEVENTS_JSON)
            .body(outgoing.body.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(err) => {
                if let Some(egress) = find_egress_error(&err) {
                    return Attempt::GiveUp(format!("refused: {egress}"));
                }
                let what = if err.is_timeout() {
                    "timed out"
                } else if err.is_connect() {
                    "connection failed"
                } else {
                    "transport error"
                };
                return Attempt::Retry(what.to_owned(), None);
            }
        };
        let status = response.status();
        if status.is_success() {
            return Attempt::Delivered(status);
        }
        let reason = status.as_u16().to_string();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|text| text.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            return Attempt::Retry(reason, retry_after);
        }
        Attempt::GiveUp(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_under_the_cap() {
        let retry = RetryPolicy::default();
        for attempt in 1..=10 {
            let ceiling = (retry.base * 2u32.pow(attempt - 1)).min(retry.cap);
            let delay = retry.delay(attempt);
            assert!(delay >= ceiling / 2 && delay <= ceiling, "{attempt}: {delay:?}");
        }
        assert!(retry.delay(100) <= retry.cap);
    }

    #[test]
    fn entries_become_cloud_events() {
        let event = HistoryEvent {
            at: 0,
            kind: "io.serverlessworkflow.task.completed.v1".to_owned(),
            task: Some("/do/0/first".to_owned()),
            data: json!({"output": 1}),
        };
        let ce = cloud_event("r1", 7, &event);
        assert_eq!(
            ce,
            json!({
                "specversion": "1.0", "id": "r1/7", "source": "/baton/runs/r1",
                "type": "io.serverlessworkflow.task.completed.v1", "time": "1970-01-01T00:00:00Z",
                "subject": "/do/0/first", "datacontenttype": "application/json",
                "data": {"output": 1, "runId": "r1"}
            })
        );
        let bare = HistoryEvent { task: None, data: json!(3), ..event };
        let ce = cloud_event("r1", 8, &bare);
        assert!(ce.get("subject").is_none());
        assert_eq!(ce["data"], json!({"runId": "r1", "value": 3}));
    }
}
