//! [`Template`]: a JSON value from a workflow definition with its runtime expressions compiled.
//!
//! Value positions (`set`, `with`, `body`, headers...) evaluate only strings of the form
//! `${ <jq> }` (the schema's `runtimeExpression` pattern `^\s*\$\{.+\}\s*$`, here also across
//! lines); `.customer` or `$error` stay literal strings. Expression fields (`if`, `input.from`,
//! `switch.when`...) take a string as bare jq, with an optional `${ }` wrapper.

use serde_json::{Map, Value};

use crate::expr::{Expression, ExpressionError, Variables, size};

/// A value with `${ }` leaves compiled. Cheap to clone, `Send + Sync`.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value without expressions, returned as is.
    Literal(Value),
    /// An expression whose result is the value.
    Expression(Expression),
    /// An array with at least one expression among its items.
    Array(Vec<Template>),
    /// An object with at least one expression among its values (keys are literal), in order.
    Object(Vec<(String, Template)>),
}

/// Compilation errors, each with the JSON pointer of the failing leaf relative to the compiled
/// value (`""` for the value itself, `"/body/name"`, `"/items/0"`).
pub type TemplateErrors = Vec<(String, ExpressionError)>;

impl Template {
    /// Compiles a value position: a string matching `^\s*\$\{.+\}\s*$` is an expression (the
    /// source between `${` and `}`); other strings and scalars are literals; arrays and objects
    /// recurse (keys are literal). `scope` is as in [`Expression::compile`].
    ///
    /// Errors: every failing leaf, with its JSON pointer (see [`TemplateErrors`]).
    pub fn compile_value(value: &Value, scope: &[&str]) -> Result<Template, TemplateErrors> {
        let mut errors = Vec::new();
        let template = compile_at(value, scope, &mut String::new(), &mut errors);
        if errors.is_empty() { Ok(template) } else { Err(errors) }
    }

    /// Compiles an expression field: a string is bare jq (a `${ }` wrapper is accepted and
    /// stripped); an object or array is a value template as in [`Template::compile_value`];
    /// other scalars are literals.
    ///
    /// Errors: as [`Template::compile_value`]; a failing string has the pointer `""`.
    pub fn compile_expression_field(value: &Value, scope: &[&str]) -> Result<Template, TemplateErrors> {
        match value {
            Value::String(text) => {
                let source = strip_runtime_expression(text).unwrap_or(text);
                Expression::compile(source, scope).map(Template::Expression).map_err(|e| vec![(String::new(), e)])
            }
            _ => Template::compile_value(value, scope),
        }
    }

    /// Evaluates every expression against `input` and `variables` and assembles the value.
    ///
    /// Errors: the first failing expression's error (see [`Expression::evaluate`]).
    pub fn evaluate(&self, input: &Value, variables: &Variables) -> Result<Value, ExpressionError> {
        let mut left = variables.max_value_bytes();
        self.evaluate_within(input, variables, &mut left)
    }

    /// Evaluates with `left` bytes of the size limit remaining for the whole value: each
    /// expression's result is within the limit by itself, and their sum must be too.
    fn evaluate_within(
        &self,
        input: &Value,
        variables: &Variables,
        left: &mut usize,
    ) -> Result<Value, ExpressionError> {
        match self {
            Template::Literal(value) => Ok(value.clone()),
            Template::Expression(expression) => {
                let value = expression.evaluate(input, variables)?;
                match size::json_remaining(&value, *left) {
                    Some(remaining) => *left = remaining,
                    None => {
                        let source = expression.source().to_owned();
                        return Err(ExpressionError::TooLarge { source, limit_bytes: variables.max_value_bytes() });
                    }
                }
                Ok(value)
            }
            Template::Array(items) => items
                .iter()
                .map(|item| item.evaluate_within(input, variables, left))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Object(entries) => {
                let mut map = Map::with_capacity(entries.len());
                for (key, template) in entries {
                    map.insert(key.clone(), template.evaluate_within(input, variables, left)?);
                }
                Ok(Value::Object(map))
            }
        }
    }

    /// True when the template contains no expression (a constant).
    pub fn is_constant(&self) -> bool {
        matches!(self, Template::Literal(_))
    }
}

/// The source between `${` and `}` if `text` is a value-position runtime expression, i.e.
/// matches `^\s*\$\{.+\}\s*$`. `"${ .a }"` gives `Some(" .a ")`; `".a"` and `"${}"` give `None`.
pub fn strip_runtime_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?;
    (!inner.is_empty()).then_some(inner)
}

/// Compiles `value` found at JSON pointer `pointer`, pushing failures onto `errors`.
/// Subtrees without expressions collapse into one [`Template::Literal`].
fn compile_at(value: &Value, scope: &[&str], pointer: &mut String, errors: &mut TemplateErrors) -> Template {
    match value {
        Value::String(text) => match strip_runtime_expression(text) {
            Some(source) => match Expression::compile(source, scope) {
                Ok(expression) => Template::Expression(expression),
                Err(e) => {
                    errors.push((pointer.clone(), e));
                    Template::Literal(Value::Null)
                }
            },
            None => Template::Literal(value.clone()),
        },
        Value::Array(items) => {
            let items = items
                .iter()
                .enumerate()
                .map(|(i, item)| with_segment(pointer, &i.to_string(), |p| compile_at(item, scope, p, errors)));
            let items: Vec<Template> = items.collect();
            if items.iter().all(Template::is_constant) {
                Template::Literal(value.clone())
            } else {
                Template::Array(items)
            }
        }
        Value::Object(entries) => {
            let entries = entries.iter().map(|(key, item)| {
                let template = with_segment(pointer, key, |p| compile_at(item, scope, p, errors));
                (key.clone(), template)
            });
            let entries: Vec<(String, Template)> = entries.collect();
            if entries.iter().all(|(_, t)| t.is_constant()) {
                Template::Literal(value.clone())
            } else {
                Template::Object(entries)
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Template::Literal(value.clone()),
    }
}

/// Runs `f` with `/segment` (escaped per RFC 6901) appended to `pointer`.
fn with_segment<T>(pointer: &mut String, segment: &str, f: impl FnOnce(&mut String) -> T) -> T {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    let out = f(pointer);
    pointer.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn variables() -> Variables {
        let mut variables = Variables::new(0);
        variables.set("input", json!({"color": "red"}));
        variables
    }

    fn pointers(errors: &TemplateErrors) -> Vec<&str> {
        errors.iter().map(|(pointer, _)| pointer.as_str()).collect()
    }

    #[test]
    fn strips_runtime_expressions() {
        assert_eq!(strip_runtime_expression("${ .a }"), Some(" .a "));
        assert_eq!(strip_runtime_expression("  ${.a}\n"), Some(".a"));
        assert_eq!(strip_runtime_expression("${ .a |\n .b }"), Some(" .a |\n .b "));
        assert_eq!(strip_runtime_expression("${}"), None);
        assert_eq!(strip_runtime_expression(".customer"), None);
        assert_eq!(strip_runtime_expression("$error"), None);
        assert_eq!(strip_runtime_expression("x ${ .a }"), None);
        assert_eq!(strip_runtime_expression("${ .a } x"), None);
    }

    #[test]
    fn value_templates_evaluate_their_leaves() {
        let value = json!({
            "z": "${ .name }",
            "customer": ".customer",
            "error": "$error",
            "nested": {"color": "${$input.color}", "list": [1, "${ .n + 1 }", "lit"]},
            "a": 1
        });
        let template = Template::compile_value(&value, &[]).unwrap();
        assert!(!template.is_constant());
        let out = template.evaluate(&json!({"name": "Rex", "n": 1}), &variables()).unwrap();
        let expected = json!({
            "z": "Rex",
            "customer": ".customer",
            "error": "$error",
            "nested": {"color": "red", "list": [1, 2, "lit"]},
            "a": 1
        });
        assert_eq!(out, expected);
        let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["z", "customer", "error", "nested", "a"]);
    }

    #[test]
    fn constants_stay_literal() {
        let value = json!({"a": [1, ".b"], "c": {"d": "text"}});
        let template = Template::compile_value(&value, &[]).unwrap();
        assert!(template.is_constant());
        assert_eq!(template.evaluate(&json!(null), &variables()), Ok(value));
        assert!(Template::compile_value(&json!("${ . }"), &[]).is_ok_and(|t| !t.is_constant()));
    }

    #[test]
    fn value_errors_carry_pointers() {
        let value =
            json!({"body": {"name": "${ .a | }", "ok": "${ .b }"}, "items": [1, "${ $nope }"], "a/b": "${ ( }"});
        let errors = Template::compile_value(&value, &[]).unwrap_err();
        assert_eq!(pointers(&errors), ["/body/name", "/items/1", "/a~1b"]);
        assert!(matches!(&errors[1].1, ExpressionError::Compile { source, .. } if source == " $nope "));
        assert!(Template::compile_value(&json!({"x": "${ $item }"}), &["item"]).is_ok());
    }

    #[test]
    fn expression_fields_take_bare_jq() {
        let variables = variables();
        let bare = Template::compile_expression_field(&json!(".n > 1"), &[]).unwrap();
        assert_eq!(bare.evaluate(&json!({"n": 2}), &variables), Ok(json!(true)));
        let wrapped = Template::compile_expression_field(&json!("${ .n > 1 }"), &[]).unwrap();
        assert_eq!(wrapped.evaluate(&json!({"n": 0}), &variables), Ok(json!(false)));
        let object = Template::compile_expression_field(&json!({"c": "${ $input.color }", "lit": ".x"}), &[]).unwrap();
        assert_eq!(object.evaluate(&json!(null), &variables), Ok(json!({"c": "red", "lit": ".x"})));
        let scalar = Template::compile_expression_field(&json!(true), &[]).unwrap();
        assert!(scalar.is_constant());
        assert_eq!(scalar.evaluate(&json!(null), &variables), Ok(json!(true)));
        let errors = Template::compile_expression_field(&json!(".a |"), &[]).unwrap_err();
        assert_eq!(pointers(&errors), [""]);
    }

    #[test]
    fn evaluation_errors_propagate() {
        let template = Template::compile_value(&json!({"a": "${ error(\"boom\") }"}), &[]).unwrap();
        let error = template.evaluate(&json!(null), &variables()).unwrap_err();
        assert!(matches!(error, ExpressionError::Runtime { message, .. } if message == "boom"));
        let template = Template::compile_value(&json!(["${ empty }"]), &[]).unwrap();
        assert!(matches!(template.evaluate(&json!(null), &variables()), Err(ExpressionError::NoOutput { .. })));
    }

    #[test]
    fn templates_are_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Template>();
    }
}
