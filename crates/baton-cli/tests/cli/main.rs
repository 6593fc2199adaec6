//! End-to-end tests of the `baton` binary: real processes, real SQLite files, a real HTTP
//! stand-in on 127.0.0.1.

mod client;
mod cluster;
mod conformance;
mod crash;
mod outage;
mod quarantine;
mod run;
mod secrets;
mod server_crash;
mod support;
