//! The one clock of the server: every read of the wall clock by the engine, the API, the
//! leases and the schedules goes through [`now_ms`], so there is one place to replace it.
//! (`baton-core` never reads a clock: its callers pass the time in.)

/// Current time, unix ms.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
