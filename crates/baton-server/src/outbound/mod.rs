//! The one outbound HTTP path: the SSRF guard (`egress.rs`) and the client that performs the
//! interpreter's HTTP effects through it (`http_client.rs`). Every request Baton sends to the
//! outside world (calls, OpenAPI documents, lifecycle sinks) is built on these two modules.

pub mod egress;
pub mod http_client;
pub mod redirect;
