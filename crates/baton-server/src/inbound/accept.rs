//! The accept loop: hyper's HTTP/1 server per connection (axum::serve has no header timeout),
//! with TCP_NODELAY, the per-client connection limit and graceful shutdown.

use std::io;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::inbound::InboundLimits;
use crate::inbound::body_timeout::limit_body_time;
use crate::inbound::per_client::{ConnectionCounts, ConnectionSlot};

/// Serves `router` on `listener` until `shutdown` is cancelled, then stops accepting and waits
/// for the connections in flight to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: InboundLimits,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let body_read_timeout = limits.body_read_timeout;
    let router =
        router.layer(axum::middleware::from_fn(move |request, next| limit_body_time(body_read_timeout, request, next)));
    let counts = ConnectionCounts::default();
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, client) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    pause_after_accept_error(err).await;
                    continue;
                }
            },
        };
        let Some(slot) = counts.admit(client.ip(), limits.max_connections_per_client) else {
            tracing::debug!(client = %client.ip(), limit = limits.max_connections_per_client,
                "closing a connection beyond the per-client limit");
            drop(stream);
            continue;
        };
        serve_connection(stream, slot, router.clone(), &limits, &graceful);
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one connection in a task of its own; the connection's slot is freed when it ends.
fn serve_connection(
    stream: TcpStream,
    slot: ConnectionSlot,
    router: Router,
    limits: &InboundLimits,
    graceful: &GracefulShutdown,
) {
    // Small responses and SSE events leave at once instead of waiting on Nagle's algorithm
    // for the client's delayed ACK (about 40 ms on Linux).
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
    }
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %err, "connection ended with an error");
        }
        drop(slot);
    });
}

/// After a failed `accept`: a client's aborted connection is nothing; running out of file
/// descriptors or memory passes after a while, so wait instead of spinning.
async fn pause_after_accept_error(err: io::Error) {
    if matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %err, "cannot accept a connection; pausing");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
