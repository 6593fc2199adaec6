//! A run's history as JSON pages or as a Server-Sent Events stream, and the stream of every
//! run's new history entries.
//!
//! Re-attaching to a run's stream loses and repeats nothing: the follower subscribes to the
//! engine's committed steps first, then reads the store after the last entry the client saw,
//! then follows the live steps, skipping entries it already sent. When it falls behind the live
//! channel (`Lagged`) it reads the store again. The stream ends after the run's terminal event.

use std::convert::Infallible;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use baton_core::state::HistoryEvent;
use baton_store::{HistoryEntry, RunStore, WorkspaceId};

use crate::api::dto::{HistoryItem, HistoryPage, HistoryQuery, RunHistoryItem, rfc3339};
use crate::api::error::{ApiError, Problem};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::api::{ApiEngine, AppState, SSE_KEEP_ALIVE, record_run_id};
use crate::auth::access::Viewer;
use crate::engine::RunUpdate;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1_000;
/// Entries read from the store at a time while catching up.
const CATCH_UP_PAGE: u32 = 500;
/// Events buffered between a follower and the response.
const STREAM_BUFFER: usize = 64;

/// Lifecycle events after which a run never changes.
fn is_terminal_event(kind: &str) -> bool {
    matches!(
        kind,
        "io.serverlessworkflow.workflow.completed.v1"
            | "io.serverlessworkflow.workflow.faulted.v1"
            | "io.serverlessworkflow.workflow.cancelled.v1"
    )
}

/// Read or follow a run's history
///
/// JSON pages by default; with `Accept: text/event-stream` the same entries as Server-Sent
/// Events (`id: <seq>`, `event: <type>`, `data: <entry>`), keep-alive comments every 15 s,
/// resuming after `Last-Event-ID` (or `after`) and ending after the run's terminal event.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/history",
    tag = "runs",
    params(
        ("id" = String, Path, description = "Run id"),
        HistoryQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "SSE: resume after this entry")
    ),
    responses(
        (status = 200, description = "History entries", content(
            (HistoryPage = "application/json"),
            (HistoryItem = "text/event-stream")
        )),
        (status = 400, description = "`invalid-request`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`run-not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn run_history(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    ApiPath(run_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    record_run_id(&run_id);
    let last_event_id =
        match headers.get("last-event-id") {
            Some(value) => {
                Some(value.to_str().ok().and_then(|text| text.trim().parse::<i64>().ok()).ok_or_else(|| {
                    ApiError::InvalidRequest("Last-Event-ID must be a history sequence number".into())
                })?)
            }
            None => None,
        };
    let after = last_event_id.or(query.after).unwrap_or(0).max(0);
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"));
    let store = state.engine.store();
    if wants_stream {
        // Subscribe before checking the run, so nothing committed from here on is missed.
        let updates = state.engine.subscribe();
        if store.get_run(&caller.workspace, &run_id).await?.is_none() {
            return Err(ApiError::RunNotFound(run_id));
        }
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let follower = Follower {
            engine: state.engine.clone(),
            workspace: caller.workspace.clone(),
            run_id,
            last_sent: after,
            sender,
        };
        tokio::spawn(follower.run(updates, state.shutdown.clone()));
        return Ok(sse(receiver).into_response());
    }

    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::InvalidRequest(format!("limit must be between 1 and {MAX_LIMIT}")));
    }
    if store.get_run(&caller.workspace, &run_id).await?.is_none() {
        return Err(ApiError::RunNotFound(run_id));
    }
    let mut entries = store.history(&caller.workspace, &run_id, after, limit + 1).await?;
    let next_cursor = match entries.len() > limit as usize {
        true => {
            entries.truncate(limit as usize);
            entries.last().map(|entry| entry.seq)
        }
        false => None,
    };
    Ok(Json(HistoryPage { items: entries.into_iter().map(HistoryItem::from).collect(), next_cursor }).into_response())
}

/// Every run's new history entries
///
/// Server-Sent Events of the entries committed from now on, for all runs (`id: <runId>:<seq>`,
/// `event: <type>`, `data` with `runId`). A client that falls behind gets an event `lagged`
/// (`{"missed": N}`) and should re-read the runs it cares about.
#[utoipa::path(
    get,
    path = "/api/v1/events/runs",
    tag = "runs",
    responses((status = 200, description = "History entries of every run", content(
        (RunHistoryItem = "text/event-stream")
    )))
)]
pub(crate) async fn all_runs_events(State(state): State<AppState>, Viewer(caller): Viewer) -> Response {
    let updates = state.engine.subscribe();
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    tokio::spawn(forward_all(updates, caller.workspace, sender, state.shutdown.clone()));
    sse(receiver).into_response()
}

/// An SSE response fed by `receiver`; it ends when the sender is dropped.
fn sse(receiver: mpsc::Receiver<Event>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE))
}

fn entry_event(item: &HistoryItem, id: String) -> Event {
    let data = serde_json::to_string(item).unwrap_or_default();
    Event::default().id(id).event(item.kind.clone()).data(data)
}

fn live_item(seq: i64, event: HistoryEvent) -> HistoryItem {
    HistoryItem { seq, at: rfc3339(event.at), kind: event.kind, task: event.task, data: event.data }
}

/// Whether the stream goes on.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Sends one run's history to one client.
struct Follower {
    engine: ApiEngine,
    /// The caller's workspace (the run's).
    workspace: WorkspaceId,
    run_id: String,
    /// Sequence number of the last entry sent (or the one the client resumes after).
    last_sent: i64,
    sender: mpsc::Sender<Event>,
}

impl Follower {
    async fn run(mut self, mut updates: broadcast::Receiver<RunUpdate>, shutdown: CancellationToken) {
        if self.catch_up().await == Flow::Stop {
            return;
        }
        loop {
            let received = tokio::select! {
                () = self.sender.closed() => return,
                () = shutdown.cancelled() => return,
                received = updates.recv() => received,
            };
            let flow = match received {
                Ok(update) if update.run_id == self.run_id => self.live(update).await,
                Ok(_) => Flow::Continue,
                Err(broadcast::error::RecvError::Lagged(n_missed)) => {
                    tracing::debug!(run_id = %self.run_id, n_missed, "history stream lagged; reading the store");
                    self.catch_up().await
                }
                Err(broadcast::error::RecvError::Closed) => Flow::Stop,
            };
            if flow == Flow::Stop {
                return;
            }
        }
    }

    /// Sends what the store holds after `last_sent`. Stops after a terminal event, and also
    /// when the run has ended with nothing more to send (the client already saw its end).
    async fn catch_up(&mut self) -> Flow {
        let engine = self.engine.clone();
        let store = engine.store();
        loop {
            let page = match store.history(&self.workspace, &self.run_id, self.last_sent, CATCH_UP_PAGE).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(run_id = %self.run_id, error = %err, "cannot read history for a stream");
                    return Flow::Stop;
                }
            };
            let n_entries = page.len();
            for entry in page {
                if self.send_stored(entry).await == Flow::Stop {
                    return Flow::Stop;
                }
            }
            if n_entries < CATCH_UP_PAGE as usize {
                break;
            }
        }
        match store.get_run(&self.workspace, &self.run_id).await {
            Ok(Some(record)) if record.status.is_terminal() => {
                // Anything committed before the run ended is in the store; read once more in
                // case the end was committed after the pages above.
                match store.history(&self.workspace, &self.run_id, self.last_sent, CATCH_UP_PAGE).await {
                    Ok(rest) => {
                        for entry in rest {
                            if self.send_stored(entry).await == Flow::Stop {
                                return Flow::Stop;
                            }
                        }
                        Flow::Stop
                    }
                    Err(_) => Flow::Stop,
                }
            }
            Ok(Some(_)) => Flow::Continue,
            Ok(None) | Err(_) => Flow::Stop,
        }
    }

    async fn send_stored(&mut self, entry: HistoryEntry) -> Flow {
        if entry.seq <= self.last_sent {
            return Flow::Continue;
        }
        self.send(HistoryItem::from(entry)).await
    }

    async fn live(&mut self, update: RunUpdate) -> Flow {
        for (seq, event) in update.history {
            if seq <= self.last_sent {
                continue;
            }
            if seq > self.last_sent + 1 {
                // Entries between are missing from what this follower saw: the store has them.
                return self.catch_up().await;
            }
            if self.send(live_item(seq, event)).await == Flow::Stop {
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    async fn send(&mut self, item: HistoryItem) -> Flow {
        let terminal = is_terminal_event(&item.kind);
        let seq = item.seq;
        if self.sender.send(entry_event(&item, seq.to_string())).await.is_err() {
            return Flow::Stop;
        }
        self.last_sent = seq;
        match terminal {
            true => Flow::Stop,
            false => Flow::Continue,
        }
    }
}

/// Forwards every run's committed history entries until the client leaves or the server stops.
async fn forward_all(
    mut updates: broadcast::Receiver<RunUpdate>,
    workspace: WorkspaceId,
    sender: mpsc::Sender<Event>,
    shutdown: CancellationToken,
) {
    loop {
        let received = tokio::select! {
            () = sender.closed() => return,
            () = shutdown.cancelled() => return,
            received = updates.recv() => received,
        };
        match received {
            Ok(update) if update.workspace != workspace => {}
            Ok(update) => {
                for (seq, event) in update.history {
                    let id = format!("{}:{seq}", update.run_id);
                    let item = RunHistoryItem { run_id: update.run_id.clone(), entry: live_item(seq, event) };
                    let data = serde_json::to_string(&item).unwrap_or_default();
                    let event = Event::default().id(id).event(item.entry.kind.clone()).data(data);
                    if sender.send(event).await.is_err() {
                        return;
                    }
                }
            }
            Err(broadcast::error::RecvError::Lagged(n_missed)) => {
                let event = Event::default().event("lagged").data(format!("{{\"missed\":{n_missed}}}"));
                if sender.send(event).await.is_err() {
                    return;
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
