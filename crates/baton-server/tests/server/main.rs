//! baton-server integration tests: one binary, one module per area. Everything runs against
//! servers on 127.0.0.1; nothing touches the network.

mod egress;
mod engine;
mod http;
mod openapi;
mod support;
