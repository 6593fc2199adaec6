//! What Baton tells the outside world about runs: today the lifecycle-event sinks
//! (`sinks.rs`, `baton serve --sink URL`). Failure notifications and the outbox that will
//! deliver them belong here too; the transport underneath is [`crate::outbound`].

pub mod sinks;
