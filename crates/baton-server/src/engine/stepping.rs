//! Interpreter steps off the async workers (issue 13, item 2).
//!
//! A step evaluates every jq expression of the pure tasks it reaches, which can take seconds of
//! CPU within the evaluation budget. Run on an async worker, a few such steps stop every other
//! task of the node (`/healthz`, the accept loop, other runs' commits). So each step runs on
//! Tokio's blocking pool instead, behind a semaphore: at most [`MAX_STEP_THREADS`] steps compute
//! at once and further ones wait their turn without holding a thread. The bound is well above
//! the number of cores on purpose: the operating system shares the cores between the threads,
//! so a light step next to a few heavy ones still finishes in milliseconds instead of queueing
//! behind them.

use tokio::sync::Semaphore;

/// Most interpreter steps computing at once on one node (threads of the blocking pool). Each
/// thread has the runtime's stack size (16 MiB in `baton serve`; the evaluation budget asks for
/// 8 MiB, see `baton_core::expr::budget`).
pub const MAX_STEP_THREADS: usize = 32;

/// Why a step gave no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepFailed {
    /// The step panicked: a bug in the interpreter, not in the workflow.
    #[error("the interpreter panicked")]
    Panicked,
    /// The runtime shut down before the step ran.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// The bounded pool steps run on.
pub(crate) struct StepPool {
    /// Invariant: one permit per step thread in use.
    permits: Semaphore,
}

impl Default for StepPool {
    fn default() -> Self {
        StepPool { permits: Semaphore::new(MAX_STEP_THREADS) }
    }
}

impl StepPool {
    /// Runs `job` on the blocking pool once a permit is free and waits for its result without
    /// blocking the async worker. A panic in `job` comes back as [`StepFailed::Panicked`] (the
    /// panic message went to the panic hook, i.e. the log).
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, StepFailed>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // The semaphore is never closed, so `acquire` cannot fail; without a permit the step
        // would still run, only unbounded.
        let _permit = self.permits.acquire().await.ok();
        let span = tracing::Span::current();
        match tokio::task::spawn_blocking(move || span.in_scope(job)).await {
            Ok(output) => Ok(output),
            Err(err) if err.is_panic() => Err(StepFailed::Panicked),
            Err(_) => Err(StepFailed::ShuttingDown),
        }
    }
}
