//! The evaluation budget: jaq has no fuel, so runaway expressions are stopped here.
//!
//! How it works:
//! - Steps. `crate::expr::instrument` makes every definition body (the user's and the standard
//!   library's, including the local `def rec` behind `repeat`, `recurse`, `while`, `until`...)
//!   and every `reduce`/`foreach` update start with the native filter `__tick`, and every output
//!   of `.[]` and `..` pass through it; the sandbox wraps the native generator `range/3` in
//!   `__counted`, which ticks once per output. A tick adds one step to a per-thread meter (reset
//!   by [`run_metered`]); more than [`MAX_STEPS`] steps exhaust it.
//! - Stack. A tick also exhausts the meter when less than [`STACK_RED_ZONE`] bytes of stack
//!   remain (`stacker::remaining_stack`), which stops deep non-tail recursion (`def f: 1 + f`)
//!   before it overflows. [`run_metered`] runs the evaluation on at least [`EVAL_STACK`] bytes
//!   (switching to a fresh heap-allocated segment when the calling thread has less), so the
//!   outcome does not depend on the caller's thread.
//! - Nesting. jaq recurses over value nesting when dropping, comparing or printing values, and
//!   `..` is quadratic in it, so values may nest at most `convert::MAX_DEPTH` levels: inputs and
//!   outputs are checked on conversion, and `__shallow` checks values built by array/object
//!   construction, assignments and updates, `group_by`, `key_values` and `path_value`.
//! - Outputs. One evaluation may produce at most [`MAX_OUTPUTS`] outputs.
//! - Once exhausted, every later tick fails too, with a `halt` exception: `try`/`catch` and `?`
//!   cannot catch it (they only catch errors), so evaluation unwinds promptly. The caller also
//!   checks [`Exhausted`] after the run, so a swallowed failure still yields a budget error.
//!
//! - Size. Values are bounded in bytes by `crate::expr::size`, whose failures stop the
//!   evaluation through the same meter.
//!
//! Not bounded: work inside one native filter call (`sort`, `group_by`, `tostring`, `tojson`,
//! `indices`, `test`/`match` and the other regex filters...), and wall-clock time as such. What the steps bound (definition calls, fold
//! iterations, `range` outputs, `.[]` and `..` outputs) is what jq loops are made of, so the
//! remaining work is at most polynomial in the size of the input and program.

use std::cell::Cell;

use jaq_core::box_iter::box_once;
use jaq_core::{Bind, Exn, Native, data::JustLut};
use jaq_json::Val;

use crate::expr::convert;
use crate::expr::size::{self, DEFAULT_MAX_VALUE_BYTES};

/// Jaq's data kind for our filters: only the lookup table, values are `jaq_json::Val`.
pub(crate) type Data = JustLut<Val>;

/// Native filter definition as jaq's compiler takes it.
pub(crate) type NativeDef = (&'static str, Box<[Bind]>, Native<Data>);

/// Most ticks (definition calls, fold iterations, `range` outputs) one evaluation may take.
const MAX_STEPS: u64 = 1_000_000;

/// Most outputs one evaluation may produce.
pub(crate) const MAX_OUTPUTS: usize = 100_000;

/// A tick fails when less stack than this remains.
const STACK_RED_ZONE: usize = 256 * 1024;

/// Stack guaranteed to an evaluation (see [`run_metered`]).
const EVAL_STACK: usize = 8 * 1024 * 1024;

/// Exit code carried by the `halt` exception a failing tick raises.
const BUDGET_HALT: i32 = -0xBA7;

/// Exit code carried by the `halt` exception a value over the size limit raises.
const SIZE_HALT: i32 = -0xB16;

/// Why a [`run_metered`] call was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The step meter ran out (or the stack, or the nesting depth).
    Exhausted,
    /// A value exceeded the evaluation's `max_value_bytes` (see `crate::expr::size`).
    TooLarge,
}

#[derive(Clone, Copy)]
struct Meter {
    steps: u64,
    stop: Option<Stop>,
    /// The value-size limit of the running evaluation, in estimated JSON bytes.
    max_value_bytes: usize,
}

impl Meter {
    const fn fresh(max_value_bytes: usize) -> Meter {
        Meter { steps: 0, stop: None, max_value_bytes }
    }
}

thread_local! {
    static METER: Cell<Meter> = const { Cell::new(Meter::fresh(DEFAULT_MAX_VALUE_BYTES)) };
}

/// Runs `f` with a fresh meter and the value-size limit `max_value_bytes` on a stack of at
/// least [`EVAL_STACK`] bytes.
///
/// Returns `f`'s result and whether the meter stopped it meanwhile. Values created by jaq must
/// be dropped inside `f`, because dropping deeply nested values recurses.
pub(crate) fn run_metered<R>(max_value_bytes: usize, f: impl FnOnce() -> R) -> (R, Result<(), Stop>) {
    let outer = METER.replace(Meter::fresh(max_value_bytes));
    let out = stacker::maybe_grow(EVAL_STACK, EVAL_STACK, f);
    let meter = METER.replace(outer);
    (out, meter.stop.map_or(Ok(()), Err))
}

/// The value-size limit of the running evaluation.
pub(crate) fn max_value_bytes() -> usize {
    METER.get().max_value_bytes
}

/// Stops the running evaluation because a value exceeds its size limit.
pub(crate) fn too_large<'a>() -> Exn<'a, Val> {
    let meter = METER.get();
    METER.set(Meter { stop: Some(meter.stop.unwrap_or(Stop::TooLarge)), ..meter });
    Exn::halt(SIZE_HALT)
}

/// Why an exception raised during evaluation stopped it, if the meter raised it.
pub(crate) fn halt_reason(exn: Exn<'_, Val>) -> Option<Stop> {
    match exn.get_halt() {
        Ok(BUDGET_HALT) => Some(Stop::Exhausted),
        Ok(SIZE_HALT) => Some(Stop::TooLarge),
        _ => None,
    }
}

/// Takes one step; fails once the meter is exhausted.
fn tick<'a>() -> Result<(), Exn<'a, Val>> {
    let mut meter = METER.get();
    meter.steps += 1;
    let low_stack = stacker::remaining_stack().is_some_and(|left| left < STACK_RED_ZONE);
    if meter.steps > MAX_STEPS || low_stack {
        meter.stop = Some(meter.stop.unwrap_or(Stop::Exhausted));
    }
    METER.set(meter);
    match meter.stop {
        None => Ok(()),
        Some(Stop::Exhausted) => Err(Exn::halt(BUDGET_HALT)),
        Some(Stop::TooLarge) => Err(Exn::halt(SIZE_HALT)),
    }
}

/// Passes `val` through if it nests at most `MAX_DEPTH` levels (else exhausts the meter) and
/// fits the value-size limit (see `crate::expr::size`).
fn shallow<'a>(val: Val) -> Result<Val, Exn<'a, Val>> {
    if !convert::within_max_depth(&val) {
        let meter = METER.get();
        METER.set(Meter { stop: Some(meter.stop.unwrap_or(Stop::Exhausted)), ..meter });
        return Err(Exn::halt(BUDGET_HALT));
    }
    size::checked(val)
}

/// The metering natives: `__tick` (identity that ticks, also in path and update mode),
/// `__counted(f)` (outputs of `f`, one tick each) and `__shallow` (identity that checks the
/// nesting depth and the size).
pub(crate) fn natives() -> [NativeDef; 3] {
    let tick_native = Native::new(|cv| box_once(tick().map(|()| cv.1)))
        .with_paths(|cv| box_once(tick().map(|()| cv.1)))
        .with_update(|cv, f| match tick() {
            Ok(()) => f(cv.1),
            Err(exn) => box_once(Err(exn)),
        });
    let counted = Native::new(|mut cv| {
        let (f, f_ctx) = cv.0.pop_fun();
        Box::new(f.run((f_ctx, cv.1)).map(|out| tick().and(out)))
    });
    let shallow_native = Native::new(|cv| box_once(shallow(cv.1)));
    [
        ("__tick", Box::new([]), tick_native),
        ("__counted", Box::new([Bind::Fun(())]), counted),
        ("__shallow", Box::new([]), shallow_native),
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::expr::{Expression, ExpressionError, Variables};

    fn evaluate(source: &str, input: Value) -> Result<Value, ExpressionError> {
        let expression = Expression::compile(source, &[]).unwrap();
        expression.evaluate(&input, &Variables::new(0))
    }

    fn assert_budget(source: &str, input: Value) {
        match evaluate(source, input) {
            Err(ExpressionError::Budget { source: s }) => assert_eq!(s, source),
            other => panic!("{source}: expected a budget error, got {other:?}"),
        }
    }

    #[test]
    fn runaway_recursion_is_a_budget_error() {
        assert_budget("def f: 1 + f; f", json!(null)); // deep: the stack check
        assert_budget("def f: f; f", json!(null)); // tail call: the step count
        assert_budget("def f: [f]; f", json!(null));
        assert_budget("[recurse(. + 1)]", json!(0));
        assert_budget("last(repeat(1))", json!(null));
        assert_budget("[.[] | until(false; .)]", json!([1]));
    }

    #[test]
    fn runaway_loops_are_a_budget_error() {
        assert_budget("[range(1e9)] | length", json!(null));
        assert_budget("reduce range(1e9) as $i (0; . + $i)", json!(null));
        assert_budget("[limit(2000000; repeat(1))] | length", json!(null));
        assert_budget("range(200000)", json!(null)); // too many outputs
        assert_budget("[range(2000)] as $a | [$a[] as $x | $a[]] | length", json!(null));
        assert_budget("[range(2000)] as $a | [$a[] as $x | $a | ..] | length", json!(null));
    }

    #[test]
    fn the_budget_cannot_be_caught() {
        assert_budget("try (def f: 1 + f; f) catch 0", json!(null));
        assert_budget("(def f: f; f)? // 0", json!(null));
        assert_budget("first((def f: 1 + f; f), 1)", json!(null));
    }

    #[test]
    fn deep_values_are_a_budget_error() {
        assert_budget("reduce range(100000) as $i (null; [.]) | 1", json!(null));
        assert_budget("reduce range(100000) as $i (null; {a: .}) | 1", json!(null));
        assert_budget("reduce range(100000) as $i ({}; .a = .) | 1", json!(null));
        assert_budget("reduce range(100000) as $i ([1]; key_values) | 1", json!(null));
        assert_budget("def f: if length > 5000 then . else [.] | f end; [] | f | 1", json!(null));
        let mut deep = json!(1);
        for _ in 0..1_100 {
            deep = json!([deep]);
        }
        assert_budget(".", deep);
        // jaq's own parser would recurse 100000 levels; ours stops at serde_json's limit.
        let Err(ExpressionError::Runtime { message, .. }) = evaluate(r#""[" * 100000 | fromjson"#, json!(null)) else {
            panic!("fromjson of deep text should be a runtime error");
        };
        assert!(message.contains("recursion limit"), "{message}");
    }

    #[test]
    fn the_stack_check_works_on_a_small_thread() {
        let worker = std::thread::Builder::new().stack_size(2 * 1024 * 1024);
        let handle = worker.spawn(|| evaluate("def f: 1 + f; f", json!(null))).unwrap();
        assert!(matches!(handle.join().unwrap(), Err(ExpressionError::Budget { .. })));
    }

    #[test]
    fn ordinary_work_fits_the_budget_and_the_meter_resets() {
        assert_budget("def f: f; f", json!(null));
        assert_eq!(evaluate("[range(100000)] | length", json!(null)), Ok(json!(100000)));
        let build = "reduce range(10000) as $i ({}; .[$i | tostring] = $i) | length";
        assert_eq!(evaluate(build, json!(null)), Ok(json!(10000)));
        let nested = "reduce range(900) as $i (0; [.]) | [..] | length";
        assert_eq!(evaluate(nested, json!(null)), Ok(json!(901)));
        assert_eq!(evaluate("[limit(5; repeat(1))]", json!(null)), Ok(json!([1, 1, 1, 1, 1])));
    }
}
