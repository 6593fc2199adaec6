//! Baton's engine driver and server parts: drives runs of the interpreter against the store,
//! performs effects (outbound HTTP through the SSRF guard), and the built-in stand-in services.

pub mod api;
pub mod auth;
pub mod egress;
pub mod engine;
pub mod http_client;
pub mod lease;
pub mod sinks;
pub mod standin;
