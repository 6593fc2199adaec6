//! Matching an event against a [`Subscription`] (rules in the module documentation of
//! [`crate::events`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{LazyLock, Mutex};

use serde_json::Value;

use crate::events::{Filter, FilterRole, Subscription};
use crate::expr::{Expression, ExpressionError, Variables, strip_runtime_expression};
use crate::state::Millis;

/// The only variable filter expressions see besides `.`.
pub(crate) const EVENT_VARIABLE: &str = "event";

/// Compiled filter expressions kept by source; cleared when it grows past this.
const CACHE_CAPACITY: usize = 4096;

/// Characters that make a filter string a pattern as well as a literal.
const PATTERN_CHARACTERS: &str = "*+?()[]{}|^$\\";

/// Why a subscription cannot be matched at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MatchError {
    /// A filter expression does not compile (a subscription not made by this interpreter).
    #[error("invalid filter expression: {0}")]
    Expression(#[from] ExpressionError),
}

/// A filter an event matched, and the correlation values extracted from the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// Index in [`Subscription::filters`].
    pub filter: usize,
    pub correlation: BTreeMap<String, Value>,
}

/// Whether `event` (a CloudEvent as JSON) matches an open filter of `subscription`. `now_ms` is
/// what jq's `now` returns. Never panics; an event that is not an object matches nothing.
///
/// Errors: [`MatchError::Expression`] when a filter expression does not compile.
pub fn matches(subscription: &Subscription, event: &Value, now_ms: Millis) -> Result<bool, MatchError> {
    Ok(first_match(subscription, event, now_ms)?.is_some())
}

/// The filter that consumes `event`: the first open `until` filter it matches (an event that
/// ends the listening is not output), else the first open filter that consumes events, in
/// declaration order.
///
/// Errors: as [`matches`].
pub fn first_match(subscription: &Subscription, event: &Value, now_ms: Millis) -> Result<Option<Matched>, MatchError> {
    if !event.is_object() {
        return Ok(None);
    }
    let mut context = EventContext { event, now_ms, variables: None };
    for role in [FilterRole::Until, FilterRole::Consume] {
        for (index, filter) in subscription.filters.iter().enumerate() {
            if filter.role != role || filter.satisfied {
                continue;
            }
            if let Some(correlation) = filter_matches(subscription, filter, &mut context)? {
                return Ok(Some(Matched { filter: index, correlation }));
            }
        }
    }
    Ok(None)
}

/// Whether `event` matches the filter at `index` of `subscription`, satisfied or not (a
/// schedule keeps its own per-group state), with the correlation values it extracts; `None`
/// when it does not match or there is no such filter.
///
/// Errors: as [`matches`].
pub fn match_filter(
    subscription: &Subscription,
    index: usize,
    event: &Value,
    now_ms: Millis,
) -> Result<Option<BTreeMap<String, Value>>, MatchError> {
    let Some(filter) = subscription.filters.get(index).filter(|_| event.is_object()) else { return Ok(None) };
    let mut context = EventContext { event, now_ms, variables: None };
    filter_matches(subscription, filter, &mut context)
}

/// The correlation values of a match as one text, for grouping: keys in order, each value as
/// text when a scalar (so values that [`same_value`] holds equal give the same text), else as
/// JSON. Empty without correlation.
pub fn correlation_group(values: &BTreeMap<String, Value>) -> String {
    if values.is_empty() {
        return String::new();
    }
    let texts: BTreeMap<&str, String> = values
        .iter()
        .map(|(key, value)| (key.as_str(), scalar_text(value).unwrap_or_else(|| value.to_string())))
        .collect();
    serde_json::to_string(&texts).unwrap_or_default()
}

/// The event under test and the bindings for its expressions, built on first use.
struct EventContext<'a> {
    event: &'a Value,
    now_ms: Millis,
    variables: Option<Variables>,
}

impl EventContext<'_> {
    fn variables(&mut self) -> &Variables {
        self.variables.get_or_insert_with(|| {
            let mut variables = Variables::new(self.now_ms);
            variables.set(EVENT_VARIABLE, self.event.clone());
            variables
        })
    }
}

/// The correlation values when `filter` matches, `None` when it does not.
fn filter_matches(
    subscription: &Subscription,
    filter: &Filter,
    context: &mut EventContext,
) -> Result<Option<BTreeMap<String, Value>>, MatchError> {
    let event = context.event;
    for (name, expected) in &filter.with {
        if !value_matches(expected, event.get(name), context)? {
            return Ok(None);
        }
    }
    let mut correlation = BTreeMap::new();
    for (key, correlate) in &filter.correlate {
        let from = expression(&correlate.from)?;
        let value = match from.evaluate(event, context.variables()) {
            Ok(Value::Null) | Err(_) => return Ok(None),
            Ok(value) => value,
        };
        if let Some(expected) = correlate.expect.as_ref().or_else(|| subscription.correlation.get(key))
            && !same_value(expected, &value)
        {
            return Ok(None);
        }
        correlation.insert(key.clone(), value);
    }
    Ok(Some(correlation))
}

/// Whether an attribute value (`None`: absent) matches what the filter expects.
fn value_matches(expected: &Value, actual: Option<&Value>, context: &mut EventContext) -> Result<bool, MatchError> {
    let Some(actual) = actual else { return Ok(false) };
    Ok(match expected {
        Value::String(text) if is_expression(text) => {
            let condition = expression(text)?;
            condition.evaluate_condition(actual, context.variables()).unwrap_or(false)
        }
        Value::String(text) => match scalar_text(actual) {
            Some(actual) if actual == *text => true,
            Some(actual) => is_pattern(text) && pattern_matches(text, &actual, context.now_ms),
            None => false,
        },
        Value::Object(expected) => {
            let Value::Object(actual) = actual else { return Ok(false) };
            for (key, value) in expected {
                if !value_matches(value, actual.get(key), context)? {
                    return Ok(false);
                }
            }
            true
        }
        Value::Array(expected) => {
            let Value::Array(actual) = actual else { return Ok(false) };
            if expected.len() != actual.len() {
                return Ok(false);
            }
            for (value, item) in expected.iter().zip(actual) {
                if !value_matches(value, Some(item), context)? {
                    return Ok(false);
                }
            }
            true
        }
        other => other == actual,
    })
}

/// `${ … }`.
pub(crate) fn is_expression(text: &str) -> bool {
    strip_runtime_expression(text).is_some()
}

/// A string that is also tried as a regular expression.
pub(crate) fn is_pattern(text: &str) -> bool {
    text.contains(|c| PATTERN_CHARACTERS.contains(c))
}

/// A scalar as text: strings as they are, numbers and booleans as JSON.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Equal JSON, or equal text when both are scalars.
pub(crate) fn same_value(expected: &Value, actual: &Value) -> bool {
    expected == actual || matches!((scalar_text(expected), scalar_text(actual)), (Some(a), Some(b)) if a == b)
}

/// The compiled filter expression for `source` (bare jq or `${ }`), cached.
pub(crate) fn expression(source: &str) -> Result<Expression, ExpressionError> {
    static CACHE: LazyLock<Mutex<HashMap<String, Expression>>> = LazyLock::new(Default::default);
    let source = strip_runtime_expression(source).unwrap_or(source);
    if let Some(expression) = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(source) {
        return Ok(expression.clone());
    }
    let expression = compile_filter_expression(source)?;
    let mut cache = CACHE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if cache.len() >= CACHE_CAPACITY {
        cache.clear();
    }
    cache.insert(source.to_owned(), expression.clone());
    Ok(expression)
}

/// Compiles a filter expression: `.` and `$event` only.
pub(crate) fn compile_filter_expression(source: &str) -> Result<Expression, ExpressionError> {
    let source = strip_runtime_expression(source).unwrap_or(source);
    Expression::compile_isolated(source, &[EVENT_VARIABLE])
}

/// Whether the regular expression `pattern` matches all of `text` (jq's `test`, so the dialect
/// of jaq's regex engine). An invalid pattern matches nothing.
fn pattern_matches(pattern: &str, text: &str, now_ms: Millis) -> bool {
    static TEST: LazyLock<Option<Expression>> =
        LazyLock::new(|| Expression::compile_isolated("test($pattern)", &["pattern"]).ok());
    let Some(test) = TEST.as_ref() else { return false };
    let mut variables = Variables::new(now_ms);
    variables.set("pattern", Value::String(format!("^(?:{pattern})$")));
    test.evaluate_condition(&Value::String(text.to_owned()), &variables).unwrap_or(false)
}
