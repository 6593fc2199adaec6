//! Events for `listen` tasks: what a waiting task subscribes to, matching a CloudEvent against
//! it, and checking CloudEvents received from outside.
//!
//! A `listen` task issues [`crate::state::Command::Subscribe`] with a [`Subscription`]: plain
//! data (filters as written in the definition, correlation values resolved so far) that the
//! engine stores and indexes by [`Subscription::types`]. For each candidate event the engine
//! calls [`matches`] and, when it is true, feeds back
//! [`crate::state::StepInput::EventReceived`]. The interpreter checks the event again against
//! its own copy, so an engine that delivers too much is harmless: a delivered event that no
//! longer matches is ignored. When the subscription changes (a correlation value was
//! established by the first event, a filter of an `all` was satisfied) the interpreter issues
//! `Subscribe` again with the same id: the engine replaces the stored subscription.
//!
//! Matching rules (the same in [`matches`] and in the interpreter):
//! - An event matches a subscription when it matches one of its open filters (not yet
//!   `satisfied`).
//! - A filter matches when every attribute of `with` matches and every correlation key agrees.
//!   A filter without attributes (`any: []`) matches every event.
//! - An attribute missing from the event never matches. A `${ }` string is a jq condition with
//!   the attribute as `.` and the whole event as `$event` (no other variable: filters are
//!   evaluated outside the run). Another string matches the attribute's text (numbers and
//!   booleans as JSON text) when equal, or, when it contains a regular-expression
//!   metacharacter (`* + ? ( ) [ ] { } | ^ $ \`; a dot alone does not count), when the pattern
//!   matches the whole text. An object matches an object that has every listed key matching
//!   (other keys are ignored); an array matches an array of the same length item by item; any
//!   other value matches an equal value.
//! - A correlation key's `from` is jq on the event (`.` and `$event`); a null result, an error
//!   or no output never matches. The value must equal the key's `expect` when set, else the
//!   value established for that key name by the first consumed event of the same listen
//!   ([`Subscription::correlation`]), else anything goes. Values compare as JSON, or as text
//!   when both are scalars (`"42"` equals `42`).
//! - A filter expression that fails on an event does not match it.

mod cloudevent;
mod matching;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::state::Millis;

pub use cloudevent::{binary_mode_event, event_key, validate_cloud_event};
pub(crate) use matching::compile_filter_expression;
pub use matching::{MatchError, Matched, correlation_group, first_match, match_filter, matches};

/// What a waiting `listen` task wants: everything needed to select candidate events without
/// the workflow definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    /// When the task started listening (unix ms).
    pub created_at: Millis,
    /// JSON pointer of the `listen` task, e.g. `/do/1/waitForApproval`.
    pub task: String,
    /// The literal event types the open filters can match (sorted, without duplicates), for
    /// indexing; `None` when an open filter accepts any type (no `type`, or a pattern or
    /// expression as `type`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub types: Option<Vec<String>>,
    /// The filters, those that consume events first, then those of `until`.
    pub filters: Vec<Filter>,
    /// Correlation values established by consumed events, by key name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub correlation: BTreeMap<String, Value>,
    /// The human-input item this wait shows in the inbox: the task's `metadata.inbox` with its
    /// `${ }` values evaluated when listening started. `None`: not human input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<Value>,
    /// When the task's own `timeout` expires (unix ms), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_at: Option<Millis>,
}

/// One event filter (`dsl-reference.md#event-filter`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub role: FilterRole,
    /// A filter of an `all` strategy that already consumed its event; it matches nothing more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub satisfied: bool,
    /// Attribute name → literal, pattern or `${ }` condition, as written in the definition.
    #[serde(default, rename = "with")]
    pub with: Map<String, Value>,
    /// Correlation keys by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub correlate: BTreeMap<String, CorrelationKey>,
}

/// Whether an event matched by a filter is output by the task or only ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterRole {
    /// `listen.to.one|all|any`: the event is consumed into the task's output.
    Consume,
    /// `listen.to.until` as a strategy: the event ends the listening and is not output.
    Until,
}

/// `correlate.<key>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationKey {
    /// jq on the event, as written (a `${ }` wrapper is allowed).
    pub from: String,
    /// The required value: the constant, or the result of the `expect` expression evaluated on
    /// the task input when the task started listening. `None`: the first consumed value
    /// becomes the expectation (see [`Subscription::correlation`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Value>,
}

impl Subscription {
    /// Recomputes [`Subscription::types`] from the open filters.
    pub fn refresh_types(&mut self) {
        let mut types = Vec::new();
        for filter in self.filters.iter().filter(|filter| !filter.satisfied) {
            match filter.with.get("type") {
                Some(Value::String(text)) if !matching::is_expression(text) && !matching::is_pattern(text) => {
                    types.push(text.clone())
                }
                _ => {
                    self.types = None;
                    return;
                }
            }
        }
        types.sort();
        types.dedup();
        self.types = Some(types);
    }

    /// The correlation values that must hold for the filter at `index`: its `expect`s, and the
    /// values established for its other keys.
    pub fn expected_correlation(&self, index: usize) -> BTreeMap<String, Value> {
        let Some(filter) = self.filters.get(index) else { return BTreeMap::new() };
        filter
            .correlate
            .iter()
            .filter_map(|(key, correlation)| {
                let value = correlation.expect.as_ref().or_else(|| self.correlation.get(key))?;
                Some((key.clone(), value.clone()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
