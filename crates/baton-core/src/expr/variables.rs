//! The variable bindings and the current time for one evaluation.

use std::sync::Arc;

use jaq_json::Val;
use serde_json::Value;

use crate::expr::DEFAULT_MAX_VALUE_BYTES;
use crate::expr::convert::{self, TooDeep};

/// Bindings for one evaluation. Unbound declared names evaluate to null.
///
/// Values are converted to jaq's representation when bound, so evaluating many expressions
/// against the same bindings (e.g. a large `$workflow`) converts them once.
#[derive(Clone, Debug)]
pub struct Variables {
    now_ms: i64,
    /// The size limit of values built by expressions evaluated with these bindings.
    max_value_bytes: usize,
    bindings: Vec<Binding>,
}

#[derive(Clone, Debug)]
struct Binding {
    name: String,
    bound: SharedValue,
}

/// A value converted for jaq once and bound cheaply many times ([`Variables::set_shared`]):
/// for values that stay the same across many evaluations, such as a run's `$context` during a
/// long `for`. Cloning shares it.
#[derive(Clone, Debug)]
pub struct SharedValue(Arc<Bound>);

#[derive(Debug)]
struct Bound {
    value: Value,
    /// `Err` when the value nests too deeply; evaluating then fails with a budget error.
    val: Result<Val, TooDeep>,
}

impl SharedValue {
    /// Converts `value` once.
    pub fn new(value: Value) -> SharedValue {
        let val = convert::to_val(&value);
        SharedValue(Arc::new(Bound { value, val }))
    }
}

impl Variables {
    /// No bindings; `now_ms` is the interpreter's current time in unix milliseconds, which jq's
    /// `now` returns (as seconds, a float). The system clock is never read.
    pub fn new(now_ms: i64) -> Variables {
        Variables { now_ms, max_value_bytes: DEFAULT_MAX_VALUE_BYTES, bindings: Vec::new() }
    }

    /// The same bindings, with `max_value_bytes` (estimated bytes of compact JSON, see
    /// [`crate::expr::ExpressionError::TooLarge`]) as the size limit of every value an
    /// expression evaluated with them builds, instead of [`DEFAULT_MAX_VALUE_BYTES`].
    pub fn with_max_value_bytes(self, max_value_bytes: usize) -> Variables {
        Variables { max_value_bytes, ..self }
    }

    /// The size limit of values built by expressions, in estimated bytes.
    pub(crate) fn max_value_bytes(&self) -> usize {
        self.max_value_bytes
    }

    /// Binds `name` (without `$`). Later binding of the same name replaces the earlier one.
    pub fn set(&mut self, name: &str, value: Value) {
        self.set_shared(name, &SharedValue::new(value));
    }

    /// Binds `name` (without `$`) to a value converted before, without copying it.
    pub fn set_shared(&mut self, name: &str, value: &SharedValue) {
        let binding = Binding { name: name.to_owned(), bound: value.clone() };
        match self.bindings.iter_mut().find(|b| b.name == name) {
            Some(existing) => *existing = binding,
            None => self.bindings.push(binding),
        }
    }

    /// The value bound to `name` (without `$`), if any.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.binding(name).map(|b| &b.bound.0.value)
    }

    /// The time `now` returns: unix seconds.
    pub(crate) fn now_seconds(&self) -> f64 {
        self.now_ms as f64 / 1000.0
    }

    /// The jaq value for `name`: `null` when unbound.
    pub(crate) fn val(&self, name: &str) -> Result<Val, TooDeep> {
        self.binding(name).map_or(Ok(Val::Null), |b| b.bound.0.val.clone())
    }

    fn binding(&self, name: &str) -> Option<&Binding> {
        self.bindings.iter().find(|b| b.name == name)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn later_binding_replaces_earlier() {
        let mut variables = Variables::new(0);
        variables.set("item", json!(1));
        variables.set("index", json!(0));
        variables.set("item", json!(2));
        assert_eq!(variables.get("item"), Some(&json!(2)));
        assert_eq!(variables.get("index"), Some(&json!(0)));
        assert_eq!(variables.get("other"), None);
        assert_eq!(variables.val("other"), Ok(Val::Null));
    }
}
