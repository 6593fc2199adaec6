//! The jq library available to workflow expressions: jaq's core, std and JSON libraries minus
//! everything that touches the environment, plus the budget's metering filters.
//!
//! Removed ([`REMOVED`]): reading the environment (`env`, `$ENV`, `localtime` and
//! `strflocaltime`, which read the system time zone), input (`input`, `inputs`,
//! `input_filename`...), output and process control (`debug`, `stderr`, `halt`, `halt_error`).
//! Using one is a compile error that names it.
//!
//! Size-checked: the natives of [`SIZED_NATIVES`] run only on inputs that fit the size limit
//! divided by how much larger their output can be (see `crate::expr::size`).
//!
//! Replaced: `now` returns the interpreter's time (the hidden global `$__now`, see
//! `crate::expr::Variables::new`) instead of reading the clock; `range/3` ticks once per output;
//! `group_by`, `key_values` and `path_value` check the nesting depth of their output;
//! `fromjson` parses with serde_json, whose nesting limit (128) keeps hostile strings from
//! overflowing the stack (jaq's own parser recurses without limit). Consequently `fromjson`
//! parses exactly one value and rejects `NaN`/`Infinity`.

use std::sync::LazyLock;

use jaq_core::box_iter::box_once;
use jaq_core::load::parse::{Def, Term};
use jaq_core::{Error, Native, native::v};
use jaq_json::Val;

use crate::expr::budget::{self, NativeDef};
use crate::expr::instrument::instrument_def;
use crate::expr::{convert, size};

/// Names (filters and variables) workflow expressions cannot use.
pub(crate) const REMOVED: [&str; 15] = [
    "env",
    "$ENV",
    "input",
    "inputs",
    "input_filename",
    "input_line_number",
    "$__loc__",
    "$__prog_args",
    "get_search_list",
    "halt",
    "halt_error",
    "debug",
    "stderr",
    "localtime",
    "strflocaltime",
];

/// Hidden global variable holding the evaluation time in unix seconds.
pub(crate) const NOW_VAR: &str = "$__now";

/// Name of the definition that holds the user's program inside the prelude.
pub(crate) const MAIN: &str = "__baton_main";

/// Native filters dropped from jaq's libraries (`fromjson` comes back replaced).
const DROPPED_NATIVES: [&str; 8] =
    ["env", "now", "halt", "debug_empty", "stderr_empty", "localtime", "strflocaltime", "fromjson"];

/// Native filters kept under a hidden name and wrapped by [`EARLY_DEFS`] (and, for the size
/// checks, by the definitions made from [`SIZED_NATIVES`]).
const WRAPPED_NATIVES: [(&str, &str); 4] =
    [("range", "__range"), ("group_by", "__group_by"), ("key_values", "__key_values"), ("path_value", "__path_value")];

/// Natives whose output can be several times larger than their input, with their hidden name,
/// their arguments and the factor: the input must fit `max_value_bytes / factor` before they
/// run, and their output must fit the limit too (see `crate::expr::size`). The
/// regular-expression natives build one match object (about 50 bytes) per match, and an empty
/// pattern matches at every position.
pub(crate) const SIZED_NATIVES: [(&str, &str, &str, usize); 11] = [
    ("tojson", "__tojson", "", 1),
    ("tobytes", "__tobytes", "", 1),
    ("escape_html", "__escape_html", "", 6),
    ("encode_uri", "__encode_uri", "", 3),
    ("encode_base64", "__encode_base64", "", 2),
    ("escape_sh", "__escape_sh", "", 4),
    ("explode", "__explode", "", 4),
    ("implode", "__implode", "", 2),
    ("matches", "__matches", "(re; flags)", 16),
    ("split_matches", "__split_matches", "(re; flags)", 16),
    ("split_", "__split_", "(re; flags)", 16),
];

/// Definitions dropped from jaq's libraries.
const DROPPED_DEFS: [&str; 4] = ["debug", "stderr", "halt", "halt_error"];

/// Definitions placed before jaq's libraries (they may only use natives): `range` ticks per
/// output; the natives that wrap their input in new arrays check the nesting depth.
const EARLY_DEFS: &str = "
def range($from; $upto; $by): __counted(__range($from; $upto; $by));
def group_by(f): __group_by(f) | __shallow;
def key_values: __key_values | __shallow;
def path_value(f): __path_value(f) | __shallow;
";

/// Definitions placed after jaq's libraries.
const LATE_DEFS: &str = "def now: $__now;";

/// `def tojson: __admit(1) | __tojson | __shallow;`... for every native of [`SIZED_NATIVES`].
static SIZE_DEFS: LazyLock<String> = LazyLock::new(|| {
    let mut defs = String::new();
    for (name, hidden, args, factor) in SIZED_NATIVES {
        defs.push_str(&format!("def {name}{args}: __admit({factor}) | {hidden}{args} | __shallow;\n"));
    }
    defs
});

static PRELUDE: LazyLock<Vec<Def<&'static str>>> = LazyLock::new(|| {
    let size_defs: &'static str = SIZE_DEFS.as_str();
    let early = jaq_core::load::parse(EARLY_DEFS, |p| p.defs()).expect("early defs parse");
    let sized = jaq_core::load::parse(size_defs, |p| p.defs()).expect("size defs parse");
    let early: Vec<_> = early.into_iter().chain(sized).collect();
    let late = jaq_core::load::parse(LATE_DEFS, |p| p.defs()).expect("late defs parse");
    let libraries = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
    let libraries = libraries.filter(|def| !DROPPED_DEFS.contains(&def.name));
    early.into_iter().chain(libraries).chain(late).map(instrument_def).collect()
});

/// All definitions, instrumented, followed by `def __baton_main: <main>;` (instrumented too).
pub(crate) fn prelude<'s>(main: Term<&'s str>) -> Vec<Def<&'s str>> {
    let main = Def { name: MAIN, args: Vec::new(), body: main };
    let mut defs: Vec<Def<&'s str>> = PRELUDE.clone();
    defs.push(instrument_def(main));
    defs
}

/// All native filters: jaq's minus the dropped ones, plus ours.
pub(crate) fn natives() -> Vec<NativeDef> {
    let libraries = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
    let mut natives: Vec<NativeDef> = Vec::new();
    for (name, args, native) in libraries {
        if DROPPED_NATIVES.contains(&name) {
            continue;
        }
        let wrapped = WRAPPED_NATIVES.iter().find(|(original, _)| *original == name);
        let sized = SIZED_NATIVES.iter().find(|(original, ..)| *original == name);
        let name = match (wrapped, sized) {
            (Some((_, hidden)), _) | (None, Some((_, hidden, ..))) => hidden,
            (None, None) => name,
        };
        natives.push((name, args, native));
    }
    natives.push(("fromjson", v(0), Native::new(|cv| box_once(from_json(&cv.1).map_err(Into::into)))));
    natives.extend(budget::natives());
    natives.extend(size::natives());
    natives.push((
        "__admit",
        v(1),
        Native::new(|mut cv| {
            let factor = cv.0.pop_var();
            box_once(admit(&factor, cv.1))
        }),
    ));
    natives
}

/// `__admit($factor)`: identity once the input fits `max_value_bytes / factor`.
fn admit<'a>(factor: &Val, input: Val) -> Result<Val, jaq_core::Exn<'a, Val>> {
    let factor = match factor {
        Val::Num(jaq_json::Num::Int(i)) => usize::try_from(*i).unwrap_or(1),
        _ => 1,
    };
    size::admit_scaled(&input, factor).map(|()| input)
}

fn from_json(input: &Val) -> Result<Val, Error<Val>> {
    let Val::TStr(bytes) = input else {
        return Err(Error::typ(input.clone(), "string"));
    };
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::str(format!("cannot parse as JSON: {e}")))?;
    convert::to_val(&value).map_err(|_| Error::str("cannot parse JSON: nested too deeply"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::expr::{Expression, ExpressionError, Variables};

    #[test]
    fn removed_names_are_compile_errors_naming_them() {
        for (source, name) in [
            ("env", "env"),
            ("$ENV.HOME", "$ENV"),
            ("input", "input"),
            ("[inputs]", "inputs"),
            ("input_filename", "input_filename"),
            ("debug", "debug"),
            (r#"debug("x")"#, "debug"),
            ("stderr", "stderr"),
            ("halt", "halt"),
            (r#"halt_error"#, "halt_error"),
            ("halt_error(1)", "halt_error"),
            ("localtime", "localtime"),
            (r#"strflocaltime("%H")"#, "strflocaltime"),
            ("$__loc__", "$__loc__"),
        ] {
            match Expression::compile(source, &[]) {
                Err(ExpressionError::Compile { message, .. }) => {
                    assert_eq!(message, format!("`{name}` is not available in workflow expressions"));
                }
                other => panic!("{source}: expected a compile error, got {other:?}"),
            }
        }
        // A user definition may reuse a removed name.
        let own = Expression::compile("def debug: 1; debug", &[]).unwrap();
        assert_eq!(own.evaluate(&json!(null), &Variables::new(0)), Ok(json!(1)));
    }

    #[test]
    fn pure_time_functions_remain() {
        let expression = Expression::compile(r#"0 | gmtime | mktime, (1 | strftime("%Y"))"#, &[]).unwrap();
        assert_eq!(expression.evaluate(&json!(null), &Variables::new(0)), Ok(json!([0, "1970"])));
    }

    #[test]
    fn fromjson_parses_one_value() {
        let expression = Expression::compile("fromjson", &[]).unwrap();
        let variables = Variables::new(0);
        assert_eq!(
            expression.evaluate(&json!(r#"{"b": [1, 2.5], "a": null}"#), &variables),
            Ok(json!({"b": [1, 2.5], "a": null}))
        );
        assert!(matches!(expression.evaluate(&json!("1 2"), &variables), Err(ExpressionError::Runtime { .. })));
        assert!(matches!(expression.evaluate(&json!(1), &variables), Err(ExpressionError::Runtime { .. })));
    }
}
