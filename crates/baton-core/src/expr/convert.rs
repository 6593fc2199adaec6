//! Conversion between `serde_json::Value` and jaq's value type `jaq_json::Val`.
//!
//! Both directions are exact for `i64` integers, finite floats, strings, arrays and objects, and
//! keep object key order (jaq uses an `IndexMap`; serde_json is built with `preserve_order`).
//! Values jaq can hold but JSON cannot are mapped as follows when leaving jaq:
//! NaN and ±Infinity become `null`, byte strings become strings (lossy UTF-8), non-string object
//! keys are stringified (`{(1): 2}` gives `{"1": 2}`), big integers become `i64`/`u64` when they
//! fit and floats otherwise.
//!
//! Both directions refuse values nested deeper than [`MAX_DEPTH`], so that jaq (which recurses
//! over nesting when comparing, printing or dropping values) never receives or returns a value
//! deep enough to exhaust the stack. The recursion here grows the stack when needed
//! (`stacker::maybe_grow`), so conversion is safe on any thread.

use jaq_json::{Num, Val};
use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays/objects accepted in either direction (the top-level value is depth 1).
pub(crate) const MAX_DEPTH: usize = 1_000;

/// Stack that must remain before descending one level (else a new segment is allocated).
const RED_ZONE: usize = 64 * 1024;

/// Size of a stack segment allocated when the red zone is reached.
const SEGMENT: usize = 1024 * 1024;

/// A value nested deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// Converts a JSON value to a jaq value.
///
/// Errors: [`TooDeep`] when `value` nests deeper than [`MAX_DEPTH`].
pub(crate) fn to_val(value: &Value) -> Result<Val, TooDeep> {
    to_val_at(value, 1)
}

fn to_val_at(value: &Value, depth: usize) -> Result<Val, TooDeep> {
    if depth > MAX_DEPTH {
        return Err(TooDeep);
    }
    stacker::maybe_grow(RED_ZONE, SEGMENT, || to_val_here(value, depth))
}

fn to_val_here(value: &Value, depth: usize) -> Result<Val, TooDeep> {
    Ok(match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(number_to_num(n)),
        Value::String(s) => Val::utf8_str(s.clone()),
        Value::Array(items) => items.iter().map(|item| to_val_at(item, depth + 1)).collect::<Result<Val, TooDeep>>()?,
        Value::Object(entries) => {
            let map = entries
                .iter()
                .map(|(k, v)| Ok((Val::utf8_str(k.clone()), to_val_at(v, depth + 1)?)))
                .collect::<Result<jaq_json::Map, TooDeep>>()?;
            Val::obj(map)
        }
    })
}

fn number_to_num(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::from_integral(i)
    } else if let Some(u) = n.as_u64() {
        Num::from_integral(u)
    } else {
        // serde_json (without arbitrary_precision) holds only finite f64 otherwise.
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Whether `val` nests at most [`MAX_DEPTH`] levels, the value itself being level 1 (visits
/// every node up to that depth).
pub(crate) fn within_max_depth(val: &Val) -> bool {
    within_depth(val, MAX_DEPTH)
}

/// Whether `val`, placed where `levels` more levels are allowed, stays within them.
fn within_depth(val: &Val, levels: usize) -> bool {
    let within = |item| stacker::maybe_grow(RED_ZONE, SEGMENT, || within_depth(item, levels - 1));
    levels > 0
        && match val {
            Val::Arr(items) => items.iter().all(within),
            Val::Obj(entries) => entries.values().all(within),
            _ => true,
        }
}

/// Converts a jaq value to a JSON value (see the module docs for the lossy cases).
///
/// Errors: [`TooDeep`] when `val` nests deeper than [`MAX_DEPTH`].
pub(crate) fn to_value(val: &Val) -> Result<Value, TooDeep> {
    to_value_at(val, 1)
}

fn to_value_at(val: &Val, depth: usize) -> Result<Value, TooDeep> {
    if depth > MAX_DEPTH {
        return Err(TooDeep);
    }
    stacker::maybe_grow(RED_ZONE, SEGMENT, || to_value_here(val, depth))
}

fn to_value_here(val: &Val, depth: usize) -> Result<Value, TooDeep> {
    Ok(match val {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => to_json_number(n).map_or(Value::Null, Value::Number),
        Val::TStr(bytes) | Val::BStr(bytes) => Value::String(lossy_string(bytes)),
        Val::Arr(items) => {
            Value::Array(items.iter().map(|item| to_value_at(item, depth + 1)).collect::<Result<_, _>>()?)
        }
        Val::Obj(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, v) in entries.iter() {
                map.insert(key_string(k), to_value_at(v, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

fn lossy_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Object keys: strings as they are, anything else as its compact JSON text.
fn key_string(key: &Val) -> String {
    match key {
        Val::TStr(bytes) | Val::BStr(bytes) => lossy_string(bytes),
        other => other.to_string(),
    }
}

/// `None` for NaN and ±Infinity (they have no JSON form).
fn to_json_number(n: &Num) -> Option<Number> {
    match n {
        Num::Int(i) => Some(Number::from(*i as i64)),
        Num::BigInt(big) => {
            let text = big.to_string();
            text.parse::<i64>()
                .map(Number::from)
                .or_else(|_| text.parse::<u64>().map(Number::from))
                .ok()
                .or_else(|| text.parse::<f64>().ok().and_then(Number::from_f64))
        }
        Num::Float(f) => Number::from_f64(*f),
        // Decimal literals such as `1.5` keep their source text until used in arithmetic.
        Num::Dec(text) => text.parse::<f64>().ok().and_then(Number::from_f64),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip(value: Value) {
        let val = to_val(&value).unwrap();
        assert_eq!(to_value(&val).unwrap(), value);
    }

    #[test]
    fn round_trips_exactly() {
        round_trip(json!(null));
        round_trip(json!(true));
        round_trip(json!(i64::MAX));
        round_trip(json!(i64::MIN));
        round_trip(json!(u64::MAX));
        round_trip(json!(1.5));
        round_trip(json!(-0.25e-10));
        round_trip(json!("héllo"));
        round_trip(json!([1, [2, [3]], {"a": []}]));
    }

    #[test]
    fn keeps_key_order() {
        let value: Value = serde_json::from_str(r#"{"z":1,"a":2,"m":{"y":3,"b":4}}"#).unwrap();
        let back = to_value(&to_val(&value).unwrap()).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), r#"{"z":1,"a":2,"m":{"y":3,"b":4}}"#);
    }

    #[test]
    fn maps_non_json_values() {
        assert_eq!(to_value(&Val::from(f64::NAN)).unwrap(), json!(null));
        assert_eq!(to_value(&Val::from(f64::INFINITY)).unwrap(), json!(null));
        assert_eq!(to_value(&Val::byte_str(vec![b'h', 0xff])).unwrap(), json!("h\u{fffd}"));
        let obj: jaq_json::Map = [(Val::from(1isize), Val::Bool(true))].into_iter().collect();
        assert_eq!(to_value(&Val::obj(obj)).unwrap(), json!({"1": true}));
    }

    #[test]
    fn refuses_deep_values() {
        let mut value = json!(0);
        for _ in 0..MAX_DEPTH {
            value = json!([value]);
        }
        assert_eq!(to_val(&value), Err(TooDeep));
        let mut val = Val::from(0isize);
        for _ in 0..MAX_DEPTH {
            val = [val].into_iter().collect();
        }
        assert_eq!(to_value(&val), Err(TooDeep));
        assert!(!within_max_depth(&val));
        let Val::Arr(items) = val else { unreachable!() };
        assert!(within_max_depth(&items[0]));
    }
}
