//! W4's HTTP stub on 127.0.0.1: `/delay/{ms}` answers after `ms`; `/gate/{ms}` first waits until
//! the gate is open, then answers after `ms`. With the gate closed, every run of W4 stops inside
//! its second call, so the kill finds all of them in flight, whatever each engine's start rate.
//! Counts requests per `Idempotency-Key`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Shared {
    open: watch::Sender<bool>,
    at_gate: AtomicU64,
    keys: Mutex<HashMap<String, u64>>,
}

pub struct GateStub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl GateStub {
    /// Serves on a free port with the gate closed.
    pub async fn start() -> std::io::Result<GateStub> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            open: watch::Sender::new(false),
            at_gate: AtomicU64::new(0),
            keys: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/delay/{ms}", get(delay))
            .route("/gate/{ms}", get(gate))
            .layer(middleware::from_fn_with_state(shared.clone(), count_keys))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(GateStub { addr, shared, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests that reached `/gate` so far.
    pub fn at_gate(&self) -> u64 {
        self.shared.at_gate.load(Ordering::SeqCst)
    }

    pub fn open(&self) {
        self.shared.open.send_replace(true);
    }

    /// Requests per `Idempotency-Key` value.
    pub fn key_counts(&self) -> HashMap<String, u64> {
        self.shared.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl Drop for GateStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn count_keys(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(key) = request.headers().get("idempotency-key").and_then(|value| value.to_str().ok()) {
        let mut keys = shared.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *keys.entry(key.to_owned()).or_default() += 1;
    }
    next.run(request).await
}

async fn delay(Path(ms): Path<u64>) -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({"delayed_ms": ms}))
}

async fn gate(State(shared): State<Arc<Shared>>, Path(ms): Path<u64>) -> Json<Value> {
    shared.at_gate.fetch_add(1, Ordering::SeqCst);
    let mut open = shared.open.subscribe();
    let _ = open.wait_for(|open| *open).await;
    delay(Path(ms)).await
}
