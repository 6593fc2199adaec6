//! [`Expression`]: compiling a jq filter once and evaluating it under the sandbox and budget.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jaq_core::compile::Undefined;
use jaq_core::load::{Arena, File, Lexer, Loader, Parser, lex, parse};
use jaq_core::{Compiler, Ctx, Exn, Filter, Vars};
use jaq_json::Val;
use serde_json::Value;

use crate::expr::budget::{self, Data, MAX_OUTPUTS, Stop};
use crate::expr::nesting::{self, MAX_NESTING};
use crate::expr::sandbox::{self, NOW_VAR, REMOVED};
use crate::expr::{ExpressionError, RUNTIME_ARGUMENTS, Variables, convert, size};

/// Stack guaranteed while parsing and compiling (jaq's parser recurses over nesting).
const COMPILE_STACK: usize = 8 * 1024 * 1024;

/// Sources longer than this are refused.
const MAX_SOURCE_LEN: usize = 64 * 1024;

/// Longest error message kept from jq (messages quote values, which can be large).
const MAX_MESSAGE_LEN: usize = 1_000;

/// A compiled jq filter. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Expression {
    compiled: Arc<Compiled>,
}

struct Compiled {
    source: String,
    /// Declared variable names without `$`, in the order their values are passed to jaq.
    names: Vec<String>,
    filter: Filter<Data>,
}

impl Expression {
    /// Compiles bare jq (no `${ }`). `scope` lists extra variable names (without `$`) visible
    /// besides [`RUNTIME_ARGUMENTS`], e.g. `["item", "index"]` or `["err"]`.
    ///
    /// Errors: [`ExpressionError::Compile`] for syntax errors, undefined variables or filters,
    /// and filters removed by the sandbox (`env`, `input`, `debug`, `halt`...), whose message
    /// names them.
    pub fn compile(source: &str, scope: &[&str]) -> Result<Expression, ExpressionError> {
        let names: Vec<&str> = RUNTIME_ARGUMENTS.iter().copied().chain(scope.iter().copied()).collect();
        Self::compile_isolated(source, &names)
    }

    /// Compiles bare jq that sees only the variables in `names` (without `$`), none of the
    /// [`RUNTIME_ARGUMENTS`]: for expressions evaluated outside a run, such as event filters.
    ///
    /// Errors: as [`Expression::compile`]; using any other variable is an undefined variable.
    pub fn compile_isolated(source: &str, names: &[&str]) -> Result<Expression, ExpressionError> {
        let mut declared: Vec<String> = Vec::new();
        for name in names {
            if !declared.iter().any(|n| n == name) {
                declared.push((*name).to_owned());
            }
        }
        let names = declared;
        let compiled = stacker::maybe_grow(COMPILE_STACK, COMPILE_STACK, || compile_filter(source, &names));
        let filter = compiled.map_err(|message| ExpressionError::Compile { source: source.to_owned(), message })?;
        let compiled = Compiled { source: source.to_owned(), names, filter };
        Ok(Expression { compiled: Arc::new(compiled) })
    }

    /// The jq source this expression was compiled from.
    pub fn source(&self) -> &str {
        &self.compiled.source
    }

    /// Evaluates with `input` as `.`: 0 outputs is [`ExpressionError::NoOutput`], 1 output is the
    /// result, 2 or more outputs are collected into a JSON array.
    ///
    /// Errors: [`ExpressionError::Runtime`] for jq errors, [`ExpressionError::Budget`] when the
    /// evaluation exceeds its budget (or the input or a variable nests too deeply),
    /// [`ExpressionError::TooLarge`] when a value it builds (or its result) exceeds the
    /// variables' `max_value_bytes`.
    pub fn evaluate(&self, input: &Value, variables: &Variables) -> Result<Value, ExpressionError> {
        let mut outputs = self.run(input, variables, Wanted::All)?;
        match outputs.len() {
            0 => Err(ExpressionError::NoOutput { source: self.compiled.source.clone() }),
            1 => Ok(outputs.remove(0)),
            _ => Ok(Value::Array(outputs)),
        }
    }

    /// Evaluates as a condition: `false` without outputs, else the truthiness of the first
    /// output (`null` and `false` are false). Later outputs are not computed.
    ///
    /// Errors: as [`Expression::evaluate`], except that no output is not an error.
    pub fn evaluate_condition(&self, input: &Value, variables: &Variables) -> Result<bool, ExpressionError> {
        let outputs = self.run(input, variables, Wanted::First)?;
        Ok(outputs.first().is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false))))
    }

    /// Runs the filter and converts the wanted outputs; more than [`MAX_OUTPUTS`] outputs
    /// exceed the budget.
    fn run(&self, input: &Value, variables: &Variables, wanted: Wanted) -> Result<Vec<Value>, ExpressionError> {
        let limit_bytes = variables.max_value_bytes();
        let (result, meter) = budget::run_metered(limit_bytes, || {
            catch_unwind(AssertUnwindSafe(|| self.run_unmetered(input, variables, wanted)))
        });
        let source = || self.compiled.source.clone();
        match meter {
            Err(Stop::Exhausted) => return Err(ExpressionError::Budget { source: source() }),
            Err(Stop::TooLarge) => return Err(ExpressionError::TooLarge { source: source(), limit_bytes }),
            Ok(()) => {}
        }
        match result {
            Ok(Ok(outputs)) => Ok(outputs),
            Ok(Err(Failure::Budget)) => Err(ExpressionError::Budget { source: source() }),
            Ok(Err(Failure::TooLarge)) => Err(ExpressionError::TooLarge { source: source(), limit_bytes }),
            Ok(Err(Failure::Jq(message))) => Err(ExpressionError::Runtime { source: source(), message }),
            Err(_panic) => Err(ExpressionError::Runtime {
                source: source(),
                message: "internal error in the jq engine".to_owned(),
            }),
        }
    }

    fn run_unmetered(&self, input: &Value, variables: &Variables, wanted: Wanted) -> Result<Vec<Value>, Failure> {
        let input = convert::to_val(input).map_err(|_| Failure::Budget)?;
        let mut vals = Vec::with_capacity(self.compiled.names.len() + 1);
        for name in &self.compiled.names {
            vals.push(variables.val(name).map_err(|_| Failure::Budget)?);
        }
        vals.push(Val::from(variables.now_seconds()));

        let filter = &self.compiled.filter;
        let ctx = Ctx::<Data>::new(&filter.lut, Vars::new(vals));
        let mut outputs = Vec::new();
        // All outputs together are one value (an array of them when there are several).
        let mut left = variables.max_value_bytes();
        for output in filter.id.run((ctx, input)) {
            let val = output.map_err(failure)?;
            if outputs.len() == MAX_OUTPUTS {
                return Err(Failure::Budget);
            }
            left = size::remaining(&val, left).ok_or(Failure::TooLarge)?;
            outputs.push(convert::to_value(&val).map_err(|_| Failure::Budget)?);
            if wanted == Wanted::First {
                break;
            }
        }
        Ok(outputs)
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.compiled.source).finish()
    }
}

/// Which outputs a run computes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wanted {
    First,
    All,
}

/// How a run failed, before the source is attached.
enum Failure {
    Budget,
    TooLarge,
    Jq(String),
}

fn failure(exn: Exn<'_, Val>) -> Failure {
    match exn.get_err() {
        Ok(err) => Failure::Jq(truncate(match err.into_val() {
            Val::TStr(text) => String::from_utf8_lossy(&text).into_owned(),
            other => other.to_string(),
        })),
        // Only the budget raises `halt` (the `halt` filters are removed); break and tail-call
        // exceptions never escape a compiled main filter.
        Err(exn) => match budget::halt_reason(exn) {
            Some(Stop::Exhausted) => Failure::Budget,
            Some(Stop::TooLarge) => Failure::TooLarge,
            None => Failure::Jq("unexpected jq exception".to_owned()),
        },
    }
}

fn truncate(mut message: String) -> String {
    if message.len() > MAX_MESSAGE_LEN {
        let mut end = MAX_MESSAGE_LEN;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// Parses, instruments and compiles `source`; the error is a message for users.
fn compile_filter(source: &str, names: &[String]) -> Result<Filter<Data>, String> {
    if source.len() > MAX_SOURCE_LEN {
        return Err(format!("expression longer than {MAX_SOURCE_LEN} bytes"));
    }
    if !nesting::within_max_nesting(source) {
        return Err(format!("expression nests deeper than {MAX_NESTING} levels"));
    }
    let tokens = Lexer::new(source).lex().map_err(|errs| lex_message(source, &errs))?;
    let main = Parser::new(&tokens).parse(|p| p.term()).map_err(|errs| parse_message(source, &errs))?;

    let arena = Arena::default();
    let main_file = File { code: sandbox::MAIN, path: () };
    let modules = Loader::new(sandbox::prelude(main))
        .load(&arena, main_file)
        .map_err(|errs| format!("cannot load the program ({} errors)", errs.len()))?;

    let globals: Vec<String> = names.iter().map(|name| format!("${name}")).collect();
    let globals = globals.iter().map(String::as_str).chain([NOW_VAR]);
    Compiler::default().with_funs(sandbox::natives()).with_global_vars(globals).compile(modules).map_err(|errs| {
        let undefined = errs.iter().flat_map(|(_file, undefined)| undefined);
        let messages: Vec<String> = undefined.map(|(name, kind)| undefined_message(name, kind)).collect();
        messages.join("; ")
    })
}

fn undefined_message(name: &str, kind: &Undefined) -> String {
    if REMOVED.contains(&name) {
        return format!("`{name}` is not available in workflow expressions");
    }
    match kind {
        Undefined::Filter(arity) => format!("undefined filter `{name}/{arity}`"),
        other => format!("undefined {} `{name}`", other.as_str()),
    }
}

fn lex_message(source: &str, errs: &[lex::Error<&str>]) -> String {
    let messages = errs.iter().map(|(expected, found)| {
        let offset = jaq_core::load::span(source, found).start;
        format!("expected {} at byte {offset}", expected.as_str())
    });
    messages.collect::<Vec<_>>().join("; ")
}

fn parse_message(source: &str, errs: &[parse::TError<'_, &str>]) -> String {
    let messages = errs.iter().map(|(expected, found)| {
        let found = match found {
            Some(token) => {
                let text = token.as_str();
                let offset = jaq_core::load::span(source, text).start;
                let text: String = text.chars().take(20).collect();
                format!("`{text}` at byte {offset}")
            }
            None => "end of input".to_owned(),
        };
        format!("expected {}, found {found}", expected.as_str())
    });
    messages.collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn variables() -> Variables {
        let mut variables = Variables::new(1_700_000_000_250);
        variables.set("context", json!({"user": "ada"}));
        variables.set("input", json!({"color": "red"}));
        variables.set("workflow", json!({"input": {"n": 3}, "id": "w-1"}));
        variables.set("task", json!({"name": "getPet", "reference": "/do/0/getPet"}));
        variables
    }

    fn eval_in(source: &str, scope: &[&str], input: Value, variables: &Variables) -> Result<Value, ExpressionError> {
        Expression::compile(source, scope).unwrap().evaluate(&input, variables)
    }

    fn eval(source: &str, input: Value) -> Value {
        eval_in(source, &[], input, &variables()).unwrap()
    }

    fn condition(source: &str, input: Value) -> bool {
        let expression = Expression::compile(source, &[]).unwrap();
        expression.evaluate_condition(&input, &variables()).unwrap()
    }

    fn compile_message(source: &str) -> String {
        match Expression::compile(source, &[]) {
            Err(ExpressionError::Compile { source: s, message }) => {
                assert_eq!(s, source);
                message
            }
            other => panic!("{source}: expected a compile error, got {other:?}"),
        }
    }

    #[test]
    fn runtime_arguments_are_visible() {
        assert_eq!(eval("$input.color", json!(null)), json!("red"));
        assert_eq!(eval("$context.user", json!(null)), json!("ada"));
        assert_eq!(eval("$workflow.input.n + .", json!(2)), json!(5));
        assert_eq!(eval("$task.name", json!(null)), json!("getPet"));
        // Declared but unbound: null.
        assert_eq!(eval("[$output, $secrets, $runtime, $authorization]", json!(null)), json!([null, null, null, null]));
    }

    #[test]
    fn scope_variables_are_visible() {
        let mut variables = variables();
        variables.set("item", json!({"id": 7}));
        variables.set("index", json!(2));
        let value = eval_in("{id: $item.id, at: $index}", &["item", "index"], json!(null), &variables);
        assert_eq!(value, Ok(json!({"id": 7, "at": 2})));
        variables.set("err", json!({"status": 503}));
        assert_eq!(eval_in("$err.status", &["err"], json!(null), &variables), Ok(json!(503)));
        // Declared in scope, not bound: null.
        assert_eq!(eval_in("$item", &["item"], json!(null), &Variables::new(0)), Ok(json!(null)));
    }

    #[test]
    fn undefined_variables_and_filters_do_not_compile() {
        assert_eq!(compile_message("$item"), "undefined variable `$item`");
        assert_eq!(compile_message("nosuchfilter(1)"), "undefined filter `nosuchfilter/1`");
        assert_eq!(compile_message(".a |"), "expected term, found end of input");
        assert!(compile_message("{a: }").starts_with("expected term, found `}`"));
        assert!(compile_message(r#""abc"#).contains("closing quote"));
        let error = Expression::compile(".a |", &[]).unwrap_err();
        assert_eq!(error.to_string(), "cannot compile `.a |`: expected term, found end of input");
    }

    #[test]
    fn outputs_map_to_values() {
        assert_eq!(eval(".[]", json!([1])), json!(1));
        assert_eq!(eval(".[]", json!([1, 2, 3])), json!([1, 2, 3]));
        assert_eq!(eval("1, 2", json!(null)), json!([1, 2]));
        let none = eval_in("empty", &[], json!(null), &variables());
        assert_eq!(none, Err(ExpressionError::NoOutput { source: "empty".to_owned() }));
    }

    #[test]
    fn conditions_use_the_first_output() {
        assert!(!condition("empty", json!(null)));
        assert!(!condition(".a", json!({})));
        assert!(!condition("false", json!(null)));
        assert!(condition("0", json!(null)));
        assert!(condition(r#""""#, json!(null)));
        assert!(condition(".n > 2", json!({"n": 3})));
        // Later outputs are not computed.
        assert!(condition(r#"true, error("not reached")"#, json!(null)));
        assert!(!condition("false, true", json!(null)));
    }

    #[test]
    fn jq_features_workflows_use() {
        assert_eq!(eval(r#""\(.a)-x""#, json!({"a": 1})), json!("1-x"));
        assert_eq!(eval(r#".missing // "default""#, json!({})), json!("default"));
        assert_eq!(eval(r#".name | test("^pet-[0-9]+$")"#, json!({"name": "pet-42"})), json!(true));
        assert_eq!(eval(r#"[.[] | select(.ok)] | length"#, json!([{"ok": true}, {"ok": false}])), json!(1));
        assert_eq!(eval(r#"split(",") | map(ascii_upcase) | join("-")"#, json!("a,b")), json!("A-B"));
        assert_eq!(eval(r#"ltrimstr("x") | tonumber"#, json!("x12")), json!(12));
        assert_eq!(eval("to_entries | from_entries", json!({"b": 1, "a": 2})), json!({"b": 1, "a": 2}));
        assert_eq!(eval("with_entries(.value += 1)", json!({"a": 1})), json!({"a": 2}));
        assert_eq!(eval("[paths]", json!({"a": [1]})), json!([["a"], ["a", 0]]));
        assert_eq!(eval("getpath([\"a\", 0])", json!({"a": [5]})), json!(5));
        assert_eq!(eval(".a |= . + 1 | del(.b)", json!({"a": 1, "b": 2})), json!({"a": 2}));
        assert_eq!(eval("walk(if type == \"number\" then . * 2 end)", json!([1, {"a": 2}])), json!([2, {"a": 4}]));
        assert_eq!(eval("[recurse | numbers]", json!([1, [2]])), json!([1, 2]));
        assert_eq!(eval("group_by(.k) | map(length)", json!([{"k": 1}, {"k": 2}, {"k": 1}])), json!([2, 1]));
        assert_eq!(eval("[limit(3; range(10))], first(range(5; 10))", json!(null)), json!([[0, 1, 2], 5]));
        assert_eq!(eval(r#""2024-01-02T03:04:05Z" | fromdateiso8601"#, json!(null)), json!(1704164645));
        assert_eq!(eval(r#"tojson | fromjson"#, json!({"a": [1, 2.5]})), json!({"a": [1, 2.5]}));
        assert_eq!(eval("@base64", json!("hi")), json!("aGk="));
        assert_eq!(eval("try error(\"x\") catch .", json!(null)), json!("x"));
    }

    #[test]
    fn definitions_still_work_as_paths_and_in_updates() {
        assert_eq!(eval("def f: .a; path(f)", json!({"a": 1})), json!(["a"]));
        assert_eq!(eval("def f: .a; f |= 5", json!({"a": 1})), json!({"a": 5}));
        assert_eq!(eval("def f: .a[]; [f] | add", json!({"a": [1, 2]})), json!(3));
        assert_eq!(eval("def fact: if . <= 1 then 1 else . * (. - 1 | fact) end; fact", json!(10)), json!(3628800));
        assert_eq!(eval("first(.[] | select(. > 1))", json!([1, 2, 3])), json!(2));
        assert_eq!(eval("last(.[])", json!([1, 2, 3])), json!(3));
        assert_eq!(eval("[.[] | until(. > 100; . * 2)]", json!([1, 3])), json!([128, 192]));
    }

    #[test]
    fn iteration_keeps_its_meaning() {
        let input = json!({"k": "x", "a": [{"x": 1, "b": 3}, {"x": 2, "b": 4}]});
        assert_eq!(eval("[.a[][.k]]", input.clone()), json!([1, 2]));
        assert_eq!(eval("[path(.a[].b)]", input.clone()), json!([["a", 0, "b"], ["a", 1, "b"]]));
        assert_eq!(eval(".a[].b |= . * 10 | [.a[].b]", input.clone()), json!([30, 40]));
        assert_eq!(eval("[.a[]?.b?]", input.clone()), json!([3, 4]));
        assert_eq!(eval("[.k[]?]", input.clone()), json!([]));
        assert_eq!(eval("[.. | numbers]", input.clone()), json!([1, 3, 2, 4]));
        assert_eq!(eval("(.. | numbers) |= . + 1 | [.a[].x]", input), json!([2, 3]));
        assert_eq!(eval(".[1:] | .[]", json!([1, 2, 3])), json!([2, 3]));
    }

    #[test]
    fn runtime_errors_carry_the_message() {
        let error = eval_in(r#"error("boom")"#, &[], json!(null), &variables()).unwrap_err();
        let ExpressionError::Runtime { message, .. } = &error else { panic!("{error:?}") };
        assert_eq!(message, "boom");
        assert!(error.to_string().contains("boom"));
        let error = eval_in("error({code: 1})", &[], json!(null), &variables()).unwrap_err();
        assert!(matches!(&error, ExpressionError::Runtime { message, .. } if message == r#"{"code":1}"#));
        let error = eval_in(".a.b", &[], json!({"a": 3}), &variables()).unwrap_err();
        assert!(matches!(&error, ExpressionError::Runtime { message, .. } if message.contains("cannot index")));
    }

    #[test]
    fn numbers_and_key_order_are_kept() {
        let input: Value = serde_json::from_str(r#"{"z": 1, "a": {"y": 2, "b": 3}, "m": 9007199254740993}"#).unwrap();
        let output = eval(".", input.clone());
        assert_eq!(serde_json::to_string(&output).unwrap(), serde_json::to_string(&input).unwrap());
        let built = eval("{z: 1, a: 2, m: .m}", input);
        assert_eq!(serde_json::to_string(&built).unwrap(), r#"{"z":1,"a":2,"m":9007199254740993}"#);
        assert_eq!(eval(". + 1", json!(i64::MAX - 1)), json!(i64::MAX));
        assert_eq!(eval("1 / 2", json!(null)), json!(0.5));
        assert_eq!(eval("[1.5, 1e2, nan, infinite]", json!(null)), json!([1.5, 100.0, null, null]));
    }

    #[test]
    fn now_is_the_injected_time() {
        assert_eq!(eval("now", json!(null)), json!(1_700_000_000.25));
        assert_eq!(eval("now | todate", json!(null)), json!("2023-11-14T22:13:20.25Z"));
    }

    #[test]
    fn expressions_are_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Expression>();
        assert_shareable::<Variables>();
        let expression = Expression::compile("$input.color", &[]).unwrap();
        let copy = expression.clone();
        let handle = std::thread::spawn(move || copy.evaluate(&json!(null), &variables()));
        assert_eq!(handle.join().unwrap(), Ok(json!("red")));
        assert_eq!(expression.source(), "$input.color");
        assert_eq!(format!("{expression:?}"), r#"Expression("$input.color")"#);
    }
}
