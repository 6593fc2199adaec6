//! Wording of schema diagnostics: one message per validator error kind, summaries for the
//! schema's `oneOf`/`anyOf` choices, and what the schema declares (for "unknown property").

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{JsonType, ReferencingError, ValidationError};
use serde_json::Value;

use crate::diagnostic::describe_json_type;
use crate::types::TASK_KEYWORDS;
use crate::validate::schema::{Problem, Shape};

/// A message when `document` is not a workflow at all (not an object), checked before the schema.
pub(crate) fn not_a_workflow(document: &Value) -> Option<String> {
    match document {
        Value::Object(_) => None,
        Value::Null => Some("the definition is empty: expected a workflow with document and do".into()),
        other => Some(format!(
            "a workflow definition must be an object with document and do, found {}",
            describe_json_type(other)
        )),
    }
}

/// The property names a schema node declares, through `properties` and, recursively, the
/// applicators that apply to the same value (`allOf`, `anyOf`, `oneOf`, `then`, `else`, `$ref`).
pub(crate) fn declared_properties(schema: Option<&Value>, location: &str) -> Vec<String> {
    let mut names = Vec::new();
    if let Some((schema, node)) = schema.and_then(|schema| Some((schema, schema.pointer(location)?))) {
        collect_declared(schema, node, 0, &mut names);
    }
    names
}

fn collect_declared(schema: &Value, node: &Value, depth: usize, names: &mut Vec<String>) {
    if depth > 16 {
        return;
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        names.extend(properties.keys().filter(|name| !names.contains(name)).cloned().collect::<Vec<_>>());
    }
    for applicator in ["allOf", "anyOf", "oneOf"] {
        for item in node.get(applicator).and_then(Value::as_array).into_iter().flatten() {
            collect_declared(schema, item, depth + 1, names);
        }
    }
    for applicator in ["then", "else"] {
        if let Some(item) = node.get(applicator) {
            collect_declared(schema, item, depth + 1, names);
        }
    }
    let target = node.get("$ref").and_then(Value::as_str).and_then(|reference| reference.strip_prefix('#'));
    if let Some(target) = target.and_then(|pointer| schema.pointer(pointer)) {
        collect_declared(schema, target, depth + 1, names);
    }
}

/// `unknown property "x"`, with a suggestion when a declared name is a small typo away.
pub(crate) fn unknown_property(name: &str, declared: &[String]) -> String {
    let suggestion = declared
        .iter()
        .map(|candidate| (edit_distance(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2 && *distance < name.len().max(candidate.len()))
        .min_by_key(|(distance, _)| *distance);
    match suggestion {
        Some((_, candidate)) => format!("unknown property {}: did you mean {}?", quote(name), quote(candidate)),
        None => format!("unknown property {}", quote(name)),
    }
}

/// The problem for an error that is not a `oneOf`/`anyOf` choice.
pub(crate) fn single(error: &ValidationError<'_>) -> Problem {
    let path = error.instance_path().as_str();
    let location = error.schema_path().as_str();
    let instance: &Value = error.instance();
    let found = short(instance);
    let (shape, message) = match error.kind() {
        ValidationErrorKind::Required { property } => (Shape::Required, missing_property(path, property)),
        ValidationErrorKind::Type { kind } => {
            (Shape::WrongType, format!("expected {}, found {}", expected_type(kind), describe_json_type(instance)))
        }
        ValidationErrorKind::Constant { expected_value } => {
            (Shape::Constant, format!("expected {}, found {found}", short(expected_value)))
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options.as_array().into_iter().flatten().map(short).collect();
            (Shape::Enum, format!("expected one of {}, found {found}", options.join(", ")))
        }
        ValidationErrorKind::Not { .. } => (Shape::Constant, format!("{found} is not allowed here")),
        ValidationErrorKind::Referencing(ReferencingError::Unretrievable { uri, .. }) => {
            (Shape::Detail, format!("cannot resolve {}: only references inside the document are supported", quote(uri)))
        }
        ValidationErrorKind::Referencing(ReferencingError::UnknownSpecification { specification }) => (
            Shape::Detail,
            format!("unknown $schema {}: expected a JSON Schema draft such as 2020-12", quote(specification)),
        ),
        ValidationErrorKind::Pattern { pattern } => (Shape::Detail, pattern_message(location, pattern, &found)),
        ValidationErrorKind::MaxProperties { limit } => {
            (Shape::Detail, too_many_properties(location, *limit, instance))
        }
        ValidationErrorKind::MinProperties { limit: 1 } => (Shape::Detail, "must not be empty".into()),
        ValidationErrorKind::MinProperties { limit } => {
            (Shape::Detail, format!("must have at least {limit} properties"))
        }
        ValidationErrorKind::MinItems { limit } => (Shape::Detail, format!("must have at least {limit} item(s)")),
        ValidationErrorKind::MaxItems { limit } => (Shape::Detail, format!("must have at most {limit} item(s)")),
        ValidationErrorKind::MinLength { limit: 1 } => (Shape::Detail, "must not be empty".into()),
        ValidationErrorKind::MinLength { limit } => {
            (Shape::Detail, format!("must be at least {limit} characters long"))
        }
        ValidationErrorKind::MaxLength { limit } => (Shape::Detail, format!("must be at most {limit} characters long")),
        ValidationErrorKind::Minimum { limit } => (Shape::Detail, format!("must be at least {limit}, found {found}")),
        ValidationErrorKind::Maximum { limit } => (Shape::Detail, format!("must be at most {limit}, found {found}")),
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            (Shape::Detail, format!("must be greater than {limit}, found {found}"))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            (Shape::Detail, format!("must be less than {limit}, found {found}"))
        }
        ValidationErrorKind::Format { format } => (Shape::Detail, format!("{found} is not a valid {format}")),
        ValidationErrorKind::FalseSchema => (Shape::Detail, "is not allowed here".into()),
        ValidationErrorKind::UniqueItems => (Shape::Detail, "items must be unique".into()),
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            (Shape::Detail, "matches more than one of the allowed forms: keep the properties of only one".into())
        }
        _ => (Shape::Detail, sentence_fragment(&error.to_string())),
    };
    Problem::new(path, shape, message)
}

/// Whether a choice's summary says more than the errors of any of its choices: true for choices
/// between plain strings, such as flow directives.
pub(crate) fn always_summarized(location: &str) -> bool {
    location == "/$defs/flowDirective/anyOf"
}

/// One problem for a value that matches none of the choices of a `oneOf`/`anyOf`, worded after
/// the schema definition the choice belongs to.
pub(crate) fn summary(schema: Option<&Value>, error: &ValidationError<'_>) -> Problem {
    let path = error.instance_path().as_str();
    let location = error.schema_path().as_str();
    let owner = location.rsplit_once('/').map_or("", |(owner, _)| owner);
    let Some(schema) = schema else {
        return Problem::new(path, Shape::Summary, "does not match any of the allowed forms");
    };
    if owner == "/$defs/task" {
        // Reported even next to more specific problems: it says what the task is missing.
        return Problem::new(path, Shape::Detail, task_summary(error.instance()));
    }
    let message = match owner {
        "/$defs/duration" => {
            "invalid duration: expected an ISO 8601 duration such as \"PT5M\", an object such as {minutes: 5}, \
             or a ${ } expression"
                .to_owned()
        }
        "/$defs/endpoint" => "invalid endpoint: expected a URI such as \"https://example.com/pets/{id}\", \
                              a ${ } expression, or {uri, authentication}"
            .to_owned(),
        "/$defs/uriTemplate" => {
            format!(
                "expected an absolute URI such as \"https://example.com/pets/{{id}}\", found {}",
                short(error.instance())
            )
        }
        "/$defs/flowDirective" => "invalid flow directive: expected continue, exit, end or a task name".to_owned(),
        "/properties/timeout" | "/$defs/taskBase/properties/timeout" => {
            "invalid timeout: expected {after: <duration>} or the name of a timeout in use.timeouts".to_owned()
        }
        "/$defs/authenticationPolicy" => {
            "invalid authentication policy: expected exactly one of basic, bearer, digest, oauth2, oidc".to_owned()
        }
        "/$defs/referenceableAuthenticationPolicy" => "invalid authentication: expected {use: <policy name>} \
                                                       or exactly one of basic, bearer, digest, oauth2, oidc"
            .to_owned(),
        "/$defs/schema" => {
            "invalid schema: expected exactly one of document (an inline JSON schema) or resource".to_owned()
        }
        "/$defs/eventConsumptionStrategy" => {
            "invalid event consumption strategy: expected exactly one of all, any, one".to_owned()
        }
        _ => generic_summary(schema, location),
    };
    Problem::new(path, Shape::Summary, message)
}

fn task_summary(task: &Value) -> String {
    let present: Vec<&str> = TASK_KEYWORDS.iter().copied().filter(|keyword| task.get(keyword).is_some()).collect();
    match present.as_slice() {
        [] => {
            let mut keywords = TASK_KEYWORDS;
            keywords.sort_unstable();
            format!("unknown task type: a task needs one of the keys {}", keywords.join(", "))
        }
        [keyword] => format!("invalid {keyword} task"),
        several => format!("a task has exactly one type, found {}", several.join(", ")),
    }
}

fn generic_summary(schema: &Value, location: &str) -> String {
    let choices = schema.pointer(location).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let titles: Vec<&str> = choices
        .iter()
        .filter_map(|choice| {
            let target = choice.get("$ref").and_then(Value::as_str).and_then(|reference| reference.strip_prefix('#'));
            choice.get("title").or_else(|| target.and_then(|pointer| schema.pointer(pointer))?.get("title"))
        })
        .filter_map(Value::as_str)
        .collect();
    if titles.len() == choices.len() && !titles.is_empty() {
        format!("does not match any of the allowed forms ({})", titles.join(", "))
    } else {
        "does not match any of the allowed forms".to_owned()
    }
}

fn missing_property(path: &str, property: &Value) -> String {
    let name = property.as_str().map_or_else(|| property.to_string(), quote);
    match (path, property.as_str()) {
        ("", Some("do")) => {
            format!("missing required property {name}: the list of tasks the workflow runs")
        }
        ("", Some("document")) => {
            format!("missing required property {name}: the workflow's dsl, namespace, name and version")
        }
        _ => format!("missing required property {name}"),
    }
}

fn pattern_message(location: &str, pattern: &str, found: &str) -> String {
    if location.ends_with("/document/properties/dsl/pattern") {
        format!("invalid DSL version {found}: expected a version such as \"1.0.3\"")
    } else if location.ends_with("/document/properties/version/pattern") {
        format!("invalid version {found}: expected a semantic version such as \"1.0.0\"")
    } else if location.ends_with("/document/properties/name/pattern")
        || location.ends_with("/document/properties/namespace/pattern")
    {
        format!(
            "invalid name {found}: expected 1 to 63 letters, digits or '-', starting and ending with a letter or digit"
        )
    } else if location.starts_with("/$defs/runtimeExpression/") {
        format!("expected a runtime expression such as \"${{ .name }}\", found {found}")
    } else if location.starts_with("/$defs/duration/") {
        format!("invalid ISO 8601 duration {found}")
    } else {
        format!("{found} does not match the pattern {}", quote(pattern))
    }
}

fn too_many_properties(location: &str, limit: u64, instance: &Value) -> String {
    let keys: Vec<String> =
        instance.as_object().into_iter().flat_map(|object| object.keys().map(|key| quote(key))).collect();
    let found = format!("found {}: {}", keys.len(), keys.join(", "));
    if location == "/$defs/taskList/items/maxProperties" {
        format!("a task list item must have exactly one key, the task name; {found}")
    } else if location == "/properties/use/properties/extensions/items/maxProperties" {
        format!("an extension item must have exactly one key, the extension name; {found}")
    } else if limit == 1 {
        format!("must have exactly one key; {found}")
    } else {
        format!("must have at most {limit} properties; {found}")
    }
}

fn expected_type(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(json_type) => with_article(*json_type),
        TypeKind::Multiple(types) => types.iter().map(with_article).collect::<Vec<_>>().join(" or "),
    }
}

fn with_article(json_type: JsonType) -> String {
    match json_type {
        JsonType::Null => "null".to_owned(),
        JsonType::Array | JsonType::Integer | JsonType::Object => format!("an {json_type}"),
        _ => format!("a {json_type}"),
    }
}

/// A value as it appears in a message: scalars as JSON (long strings cut), containers by type.
fn short(value: &Value) -> String {
    match value {
        Value::String(text) => quote(text),
        Value::Array(_) | Value::Object(_) => describe_json_type(value).to_owned(),
        scalar => scalar.to_string(),
    }
}

fn quote(text: &str) -> String {
    const LIMIT: usize = 60;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}...", Value::from(&text[..cut])),
        None => Value::from(text).to_string(),
    }
}

/// Makes a library message fit our style: lowercase start, no final period, bounded length.
fn sentence_fragment(text: &str) -> String {
    let text: String = text.chars().take(300).collect();
    let text = text.trim_end_matches('.');
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Levenshtein distance between two short names.
fn edit_distance(left: &str, right: &str) -> usize {
    let right: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    for (i, left_char) in left.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, right_char) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != *right_char);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[right.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_properties_suggest_close_names() {
        let declared = vec!["call".to_owned(), "with".to_owned(), "then".to_owned()];
        assert_eq!(unknown_property("cal", &declared), r#"unknown property "cal": did you mean "call"?"#);
        assert_eq!(unknown_property("bogus", &declared), r#"unknown property "bogus""#);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn long_strings_are_cut_in_messages() {
        let long = "x".repeat(100);
        assert_eq!(quote(&long), format!("\"{}\"...", "x".repeat(60)));
        assert_eq!(sentence_fragment("Invalid pattern."), "invalid pattern");
    }
}
