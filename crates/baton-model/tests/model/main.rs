//! Integration tests of `baton-model`, in one test binary: the specification examples parse,
//! durations are bounded at 100 years,
//! and every definition in `tests/data/invalid/` is refused with exactly the diagnostics its
//! sibling `.diagnostics` file lists.

mod durations;
mod examples;
mod expect;
mod invalid;
