//! The HTTP edge: the accept loop that serves the API (`accept.rs`) with the limits that keep
//! one client from holding the server (issue 13, item 8): a header-read timeout, a body-read
//! timeout (`body_timeout.rs`) and a limit on concurrent connections per client address
//! (`per_client.rs`).

mod accept;
mod body_timeout;
mod per_client;

use std::time::Duration;

pub use accept::serve;
pub use body_timeout::BodyTimeout;

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundLimits {
    /// Time a client has to send a request's complete header, from its first byte (and for
    /// the first request, from the connection); past it the connection is closed without an
    /// answer (`--request-header-timeout`).
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's complete body, from the end of its header; past it
    /// the request is answered `408 /problems/request-timeout` and the connection closed
    /// (`--request-body-timeout`). Responses are not limited: an SSE stream stays open as long
    /// as it sends its keep-alives.
    pub body_read_timeout: Duration,
    /// Concurrent connections from one IP address; a connection beyond it is closed at once,
    /// without reading or answering anything (`--max-connections-per-client`).
    pub max_connections_per_client: usize,
}

impl InboundLimits {
    /// 10 s for a header, 30 s for a body, 256 connections per client address.
    pub const DEFAULT: InboundLimits = InboundLimits {
        header_read_timeout: Duration::from_secs(10),
        body_read_timeout: Duration::from_secs(30),
        max_connections_per_client: 256,
    };
}
