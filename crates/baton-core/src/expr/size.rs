//! The value-size bound: no value an expression builds may exceed the evaluation's limit
//! (`max_value_bytes`, [`DEFAULT_MAX_VALUE_BYTES`] unless the driver sets another), measured as
//! an estimate of the value's compact JSON text (see [`fits`]).
//!
//! jaq values share their parts (`[., .]` holds one array twice), so a value can be far larger
//! as JSON than in memory, and a single native operation can allocate without bound
//! (`"x" * 20000000000`). Two kinds of check keep both in bounds:
//! - Before the operations whose result can be much larger than their operands, the operands
//!   are measured and the operation is refused when its result would not fit: `+` (strings,
//!   arrays, objects; also `+=` and the concatenations behind string interpolation, `join`,
//!   `add`, `sub`/`gsub`), `*` (string repetition), `/` (string splitting), `tostring` and
//!   interpolation (which print a value), the natives listed in
//!   `crate::expr::sandbox::PRE_CHECKED` (printing, escaping, encoding), and array indices
//!   (assigning `.[n]` pads an array with `n` nulls).
//! - After array and object construction, assignments and updates (the `__shallow` points of
//!   `crate::expr::instrument`), after the natives whose output is at most a small multiple of
//!   their input (`crate::expr::sandbox::POST_CHECKED`), and on every output of an evaluation,
//!   the value is measured with a walk that stops as soon as the limit is passed, so the check
//!   costs at most O(limit) even for a value that would be exponentially large as JSON.
//!
//! Exceeding the limit raises the same uncatchable `halt` as the step budget, with its own code,
//! so `try`/`catch` cannot swallow it; evaluation then fails with
//! `crate::expr::ExpressionError::TooLarge`.
//!
//! Not exact: strings count their bytes plus quotes (escapes such as `\u0000` can make the
//! printed text up to 6 times longer), floats count 8 bytes. The bound is on what an expression
//! builds, not on the inputs it is given.

use jaq_core::box_iter::box_once;
use jaq_core::ops::Math;
use jaq_core::{Bind, Exn, Native, ValT};
use jaq_json::{Num, Val};
use serde_json::Value;

use crate::expr::budget::{self, NativeDef};

/// The limit when the driver sets none: 16 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// Stack that must remain before descending one level (else a new segment is allocated).
const RED_ZONE: usize = 64 * 1024;

/// Size of a stack segment allocated when the red zone is reached.
const SEGMENT: usize = 1024 * 1024;

/// Whether `val`, printed as compact JSON, takes at most `limit` bytes (estimated as the module
/// docs say). Visits at most `limit / 2` nodes.
pub(crate) fn fits(val: &Val, limit: usize) -> bool {
    let mut left = limit;
    charge(val, &mut left)
}

/// The estimated JSON size of `val`, or `None` when it exceeds `limit`.
fn measure(val: &Val, limit: usize) -> Option<usize> {
    remaining(val, limit).map(|left| limit - left)
}

/// What remains of `left` bytes once `val` is counted, or `None` when it does not fit.
pub(crate) fn remaining(val: &Val, mut left: usize) -> Option<usize> {
    charge(val, &mut left).then_some(left)
}

/// Takes the estimated size of `val` from `left`; false (with `left` unspecified) once it does
/// not fit.
fn charge(val: &Val, left: &mut usize) -> bool {
    let own = match val {
        Val::Null => 4,
        Val::Bool(_) => 5,
        Val::Num(num) => number_size(num),
        Val::TStr(bytes) | Val::BStr(bytes) => bytes.len().saturating_add(2),
        Val::Arr(items) => 2 + items.len().saturating_sub(1),
        // Braces, and per entry a colon and a comma.
        Val::Obj(entries) => 2 + 2 * entries.len(),
    };
    if own > *left {
        return false;
    }
    *left -= own;
    let nested = |item: &Val, left: &mut usize| stacker::maybe_grow(RED_ZONE, SEGMENT, || charge(item, left));
    match val {
        Val::Arr(items) => items.iter().all(|item| nested(item, left)),
        Val::Obj(entries) => entries.iter().all(|(key, value)| nested(key, left) && nested(value, left)),
        _ => true,
    }
}

/// What remains of `left` bytes once the JSON value `value` is counted (estimated as for jaq
/// values), or `None` when it does not fit.
pub(crate) fn json_remaining(value: &Value, mut left: usize) -> Option<usize> {
    fn charge_json(value: &Value, left: &mut usize) -> bool {
        let own = match value {
            Value::Null => 4,
            Value::Bool(_) => 5,
            Value::Number(number) => number.as_i64().map_or(8, |i| number_size(&Num::Int(i as isize))),
            Value::String(text) => text.len().saturating_add(2),
            Value::Array(items) => 2 + items.len().saturating_sub(1),
            Value::Object(entries) => 2 + 2 * entries.len(),
        };
        if own > *left {
            return false;
        }
        *left -= own;
        let nested =
            |item: &Value, left: &mut usize| stacker::maybe_grow(RED_ZONE, SEGMENT, || charge_json(item, left));
        match value {
            Value::Array(items) => items.iter().all(|item| nested(item, left)),
            Value::Object(entries) => entries.iter().all(|(key, value)| {
                let key_fits = key.len() + 2 <= *left;
                *left = left.saturating_sub(key.len() + 2);
                key_fits && nested(value, left)
            }),
            _ => true,
        }
    }
    charge_json(value, &mut left).then_some(left)
}

fn number_size(num: &Num) -> usize {
    match num {
        Num::Int(i) => i.unsigned_abs().checked_ilog10().map_or(1, |digits| digits as usize + 1) + usize::from(*i < 0),
        Num::BigInt(_) => 20,
        Num::Float(_) => 8,
        Num::Dec(text) => text.len(),
    }
}

/// Passes `val` through if it fits the evaluation's limit, else fails the evaluation.
pub(crate) fn checked<'a>(val: Val) -> Result<Val, Exn<'a, Val>> {
    if fits(&val, budget::max_value_bytes()) { Ok(val) } else { Err(budget::too_large()) }
}

/// Fails the evaluation unless a result of `bytes` estimated bytes fits its limit.
fn admit<'a>(bytes: usize) -> Result<(), Exn<'a, Val>> {
    if bytes <= budget::max_value_bytes() { Ok(()) } else { Err(budget::too_large()) }
}

/// The estimated size of `val` under the evaluation's limit; fails the evaluation beyond it.
fn measured<'a>(val: &Val) -> Result<usize, Exn<'a, Val>> {
    measure(val, budget::max_value_bytes()).ok_or_else(budget::too_large)
}

/// Size of a string's bytes, or `None` for other values.
fn text_len(val: &Val) -> Option<usize> {
    match val {
        Val::TStr(bytes) | Val::BStr(bytes) => Some(bytes.len()),
        _ => None,
    }
}

/// `l + r`, refused before it is computed when the result would not fit. Strings are measured
/// exactly; arrays and objects by their element count (their elements are shared, not copied).
fn add<'a>(l: Val, r: Val) -> Result<Val, Exn<'a, Val>> {
    match (&l, &r) {
        (Val::TStr(a) | Val::BStr(a), Val::TStr(b) | Val::BStr(b)) => admit(a.len().saturating_add(b.len()) + 2)?,
        (Val::Arr(a), Val::Arr(b)) => admit(2 * a.len().saturating_add(b.len()))?,
        (Val::Obj(a), Val::Obj(b)) => admit(2 * a.len().saturating_add(b.len()))?,
        _ => {}
    }
    Ok(Math::Add.run(l, r)?)
}

/// `l * r`, refusing a string repetition whose result would not fit.
fn mul<'a>(l: Val, r: Val) -> Result<Val, Exn<'a, Val>> {
    let repeated = match (&l, &r) {
        (text, Val::Num(times)) | (Val::Num(times), text) => text_len(text).map(|len| (len, times)),
        _ => None,
    };
    if let Some((len, times)) = repeated {
        let times = match times {
            Num::Int(i) => usize::try_from(*i).unwrap_or(0),
            Num::BigInt(_) => usize::MAX,
            // jaq refuses to repeat by a float or a decimal: let it say so.
            Num::Float(_) | Num::Dec(_) => 0,
        };
        admit(len.saturating_mul(times).saturating_add(2))?;
    }
    Ok(Math::Mul.run(l, r)?)
}

/// `l / r`, refusing a string split whose pieces would not fit.
fn div<'a>(l: Val, r: Val) -> Result<Val, Exn<'a, Val>> {
    if let (Some(len), Some(sep)) = (text_len(&l), text_len(&r)) {
        let pieces = len / sep.max(1) + 1;
        admit(len.saturating_add(pieces.saturating_mul(3)))?;
    }
    Ok(Math::Div.run(l, r)?)
}

/// `tostring`: strings as they are, any other value printed as JSON once it is known to fit.
fn to_string<'a>(val: Val) -> Result<Val, Exn<'a, Val>> {
    if text_len(&val).is_none() {
        measured(&val)?;
    }
    Ok(val.into_string())
}

/// Passes the input through once its size times `factor` fits: the check before a native whose
/// output is at most `factor` times the size of its input.
pub(crate) fn admit_scaled<'a>(val: &Val, factor: usize) -> Result<(), Exn<'a, Val>> {
    let limit = budget::max_value_bytes();
    match measure(val, limit / factor.max(1)) {
        Some(_) => Ok(()),
        None => Err(budget::too_large()),
    }
}

/// Pops the two value arguments `(l; r)` of a binary native.
macro_rules! binary {
    ($op:ident) => {
        Native::new(|mut cv| {
            let r = cv.0.pop_var();
            let l = cv.0.pop_var();
            box_once($op(l, r))
        })
    };
}

/// The size-checking natives: `__add(l; r)`, `__mul(l; r)`, `__div(l; r)` (the operators,
/// which `crate::expr::instrument` rewrites into them) and `__tostring`.
pub(crate) fn natives() -> [NativeDef; 4] {
    let two = || -> Box<[Bind]> { Box::new([Bind::Var(()), Bind::Var(())]) };
    [
        ("__add", two(), binary!(add)),
        ("__mul", two(), binary!(mul)),
        ("__div", two(), binary!(div)),
        ("__tostring", Box::new([]), Native::new(|cv| box_once(to_string(cv.1)))),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::expr::{Expression, ExpressionError, Template, Variables};

    /// A limit small enough that the bombs below hit it at once.
    const LIMIT: usize = 64 * 1024;

    fn evaluate(source: &str, input: Value) -> Result<Value, ExpressionError> {
        let expression = Expression::compile(source, &["big"]).unwrap();
        let mut variables = Variables::new(0).with_max_value_bytes(LIMIT);
        variables.set("big", json!("x".repeat(LIMIT / 2)));
        expression.evaluate(&input, &variables)
    }

    fn assert_too_large(source: &str) {
        match evaluate(source, json!(null)) {
            Err(ExpressionError::TooLarge { source: s, limit_bytes }) => {
                assert_eq!(s, source);
                assert_eq!(limit_bytes, LIMIT);
            }
            other => panic!("{source}: expected a size error, got {other:?}"),
        }
    }

    // See: #13
    #[test]
    fn issue_13_memory_bombs_are_refused_before_they_allocate() {
        assert_too_large(r#""x" * 20000000000"#);
        assert_too_large(r#"20000000000 * "x""#);
        assert_too_large(r#""x" * 100000000000000000000000"#);
        assert_too_large(r#"reduce range(64) as $i ("x"; . + .)"#);
        assert_too_large(r#"reduce range(64) as $i ("x"; . += .)"#);
        assert_too_large(r#"reduce range(64) as $i ({a: "x"}; .a += .a)"#);
        assert_too_large(r#"reduce range(64) as $i ("x"; "\(.)\(.)")"#);
        assert_too_large("reduce range(64) as $i ([1]; . + .)");
        assert_too_large("reduce range(64) as $i (1; [., .]) | length");
        assert_too_large("reduce range(64) as $i (1; {a: ., b: .}) | length");
        assert_too_large("reduce range(40) as $i (1; [., .]) as $d | 1 | $d | tostring | length");
        assert_too_large("[range(100000)] | length");
        assert_too_large("[range(1000) | [range(100)]] | length");
        assert_too_large("[$big, $big] | length");
        assert_too_large("$big + $big");
        assert_too_large(r#"[$big, $big] | join("")"#);
        assert_too_large(r#"[range(100)] | join($big)"#);
        assert_too_large(r#"$big | gsub("x"; "yy")"#);
        assert_too_large(r#"$big | [match(""; "g")] | length"#);
        assert_too_large(r#"$big | . / "" | length"#);
        assert_too_large(r#"$big | explode | length"#);
        assert_too_large(r#"$big | @html "\(.)\(.)""#);
        assert_too_large(r#""\"" * 20000 | tojson | tojson | tojson | length"#);
        assert_too_large(r#"$big | ascii_downcase * 3"#);
        // Outputs count together, and so do the expressions of one template.
        assert_too_large("$big, $big");
        let template = Template::compile_value(&json!({"a": "${ $big }", "b": ["${ $big }"]}), &["big"]).unwrap();
        let mut variables = Variables::new(0).with_max_value_bytes(LIMIT);
        variables.set("big", json!("x".repeat(LIMIT / 2)));
        let error = template.evaluate(&json!(null), &variables).unwrap_err();
        assert!(matches!(error, ExpressionError::TooLarge { limit_bytes: LIMIT, .. }), "{error:?}");
    }

    #[test]
    fn the_size_limit_cannot_be_caught() {
        assert_too_large(r#"try ("x" * 20000000000) catch "caught""#);
        assert_too_large(r#"("x" * 20000000000)? // "fallback""#);
        assert_too_large(r#"first(("x" * 20000000000), 1)"#);
    }

    #[test]
    fn values_within_the_limit_are_built_as_before() {
        let within =
            |source: &str, expected: Value| assert_eq!(evaluate(source, json!(null)), Ok(expected), "{source}");
        within(r#""ab" * 3"#, json!("ababab"));
        within(r#""ab" * 0"#, json!(null));
        within(r#"[(1,2) + (10,20)]"#, json!([11, 21, 12, 22]));
        within(r#"[(1,2) * (10,20)]"#, json!([10, 20, 20, 40]));
        within(r#"[(10,20) / (2,5)]"#, json!([5.0, 2.0, 10.0, 4.0]));
        within(r#""a,b" / ",""#, json!(["a", "b"]));
        within(r#"{a: 1} + {b: 2}"#, json!({"a": 1, "b": 2}));
        within(r#"{a: {b: 1}} * {a: {c: 2}}"#, json!({"a": {"b": 1, "c": 2}}));
        within(r#"[1] + [2]"#, json!([1, 2]));
        within(r#"null + 1"#, json!(1));
        within(r#"{a: 1} | .a += 2 | .a *= 3 | .a /= 3"#, json!({"a": 3.0}));
        within(r#"[1, 2] | .[] += 1"#, json!([2, 3]));
        within(r#""\(1)-\("x")-\([1])-\(null)""#, json!("1-x-[1]-null"));
        within(r#"[(1,2) | "<\(., 10)>"]"#, json!(["<1>", "<10>", "<2>", "<10>"]));
        within(r#"@base64 "x\("hi")""#, json!("xaGk="));
        within(r#"[1, [2]] | tostring"#, json!("[1,[2]]"));
        within(r#"["a", "b"] | join("-")"#, json!("a-b"));
        within(r#""aXbX" | gsub("X"; "-")"#, json!("a-b-"));
        within(r#"[3, 1] | .[1]"#, json!(1));
        within(r#"{"k": 1} | .["k"]"#, json!(1));
        within(r#"[range(1000)] | length"#, json!(1000));
        within("$big | length", json!(LIMIT / 2));
        within(r#"reduce range(12) as $i ("x"; . + .) | length"#, json!(4096));
    }

    #[test]
    fn the_default_limit_is_16_mib() {
        let expression = Expression::compile(r#""x" * (16 * 1024 * 1024 - 2) | length"#, &[]).unwrap();
        assert_eq!(expression.evaluate(&json!(null), &Variables::new(0)), Ok(json!(16 * 1024 * 1024 - 2)));
        let expression = Expression::compile(r#""x" * (16 * 1024 * 1024) | length"#, &[]).unwrap();
        let error = expression.evaluate(&json!(null), &Variables::new(0)).unwrap_err();
        assert!(error.to_string().contains("16777216 bytes"), "{error}");
    }
}
