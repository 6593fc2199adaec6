//! Baton's interpreter: a pure, deterministic state machine over Serverless Workflow 1.0.3
//! definitions (`step(state, input, now) -> commands`), plus the jq expression engine and the
//! pure halves of effects (building HTTP requests, reading responses, OpenAPI operations) and
//! of events (matching CloudEvents against the subscriptions of `listen` tasks).
//!
//! Architecture invariant: no I/O, no tokio/sqlx/reqwest, no clock reads and no randomness.
//! Time and ids come in as arguments.

pub mod compile;
pub mod definition;
pub mod effects;
pub mod error;
pub mod events;
pub mod expr;
pub mod http;
pub mod interpreter;
pub mod openapi;
pub mod redact;
pub mod state;
pub mod support;

pub use interpreter::{MAX_WORK_PER_STEP, StepContext, in_flight, new_run, step};
