//! Baton's engine driver and server parts: drives runs of the interpreter against the store,
//! performs effects (outbound HTTP through the SSRF guard), and the built-in stand-in services.
//! [`server`] is the composition root that assembles them.

pub mod api;
pub mod auth;
pub mod clock;
pub mod engine;
pub mod inbound;
pub mod lease;
pub mod notify;
pub mod outbound;
pub mod secrets;
pub mod server;
pub mod standin;
