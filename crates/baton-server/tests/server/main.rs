//! baton-server integration tests: one binary, one module per area. Everything runs against
//! servers on 127.0.0.1; nothing touches the network.

mod api_events;
mod api_history;
mod api_inbox;
mod api_limits;
mod api_ops;
mod api_runs;
mod api_secrets;
mod api_support;
mod api_sweeper;
mod api_workflows;
mod auth_support;
mod authz;
mod disk_faults;
mod durations;
mod egress;
mod engine;
mod examples;
mod heavy_steps;
mod http;
mod inbound;
mod isolation;
mod openapi;
mod redirects;
mod schedules;
mod sinks;
mod spec_examples;
mod support;
