//! A deadline on reading a request body: a client that trickles its body cannot hold a request
//! (and its connection) open beyond [`crate::inbound::InboundLimits::body_read_timeout`].
//! Unlike tower-http's `RequestBodyTimeout`, which limits the wait for each frame, this is one
//! deadline for the whole body, so one byte a second does not keep it alive.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tokio::time::{Instant, Sleep};

/// The error a body yields once its deadline passed; the API answers it with
/// `408 /problems/request-timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body was not received within {} ms", .0.as_millis())]
pub struct BodyTimeout(pub Duration);

/// A request body that fails with [`BodyTimeout`] when it is not complete by its deadline.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(self.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: gives the request body a deadline `timeout` from now (the end of the header).
/// A request without a body is left as it is.
pub(crate) async fn limit_body_time(timeout: Duration, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let deadline = Box::pin(tokio::time::sleep_until(Instant::now() + timeout));
    let body = Body::new(DeadlineBody { inner: body, deadline, timeout });
    next.run(Request::from_parts(parts, body)).await
}
