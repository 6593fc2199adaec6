//! Finding where the typed deserialization of a schema-valid document failed.
//!
//! `serde_json::from_value` reports what went wrong but not where. The schema gate catches
//! almost everything first; what remains (a negative number where the model wants an unsigned
//! one, say) is located here by deserializing the document piece by piece, innermost first.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::types::{
    AuthenticationPolicy, Catalog, Catch, Document, Duration, ErrorDefinition, Evaluate, Export, Extension,
    InlineDuration, Input, Output, RetryPolicy, Schedule, Task, TimeoutRef,
};
use crate::validate::pointer::Pointer;

/// The diagnostic for a failed deserialization of `document`, at the innermost piece that
/// fails on its own, or at the root with `error` when no piece does.
pub(crate) fn locate(document: &Value, error: &serde_json::Error) -> Diagnostic {
    let root = Pointer::default();
    let found = [
        piece::<Document>(document, &root, "document"),
        piece::<Input>(document, &root, "input"),
        document.get("use").and_then(|uses| walk_use(uses, &root.join("use"))),
        document.get("do").and_then(|tasks| walk_list(tasks, &root.join("do"))),
        piece::<TimeoutRef>(document, &root, "timeout"),
        piece::<Output>(document, &root, "output"),
        piece::<Schedule>(document, &root, "schedule"),
        piece::<Evaluate>(document, &root, "evaluate"),
    ];
    found.into_iter().flatten().next().unwrap_or_else(|| Diagnostic::new("", error.to_string()))
}

fn walk_use(uses: &Value, path: &Pointer) -> Option<Diagnostic> {
    let extensions = uses.get("extensions").and_then(Value::as_array).into_iter().flatten().enumerate();
    extensions
        .flat_map(|(index, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(name, extension)| (path.join("extensions").join(index).join(name), extension))
        })
        .find_map(|(path, extension)| {
            let lists =
                ["before", "after"].into_iter().filter_map(|key| walk_list(extension.get(key)?, &path.join(key)));
            lists.chain(check::<Extension>(extension, &path)).next()
        })
        .or_else(|| entries(uses, path, "functions").find_map(|(path, task)| walk_task(task, &path)))
        .or_else(|| {
            entries(uses, path, "authentications").find_map(|(path, value)| check::<AuthenticationPolicy>(value, &path))
        })
        .or_else(|| entries(uses, path, "errors").find_map(|(path, value)| check::<ErrorDefinition>(value, &path)))
        .or_else(|| entries(uses, path, "retries").find_map(|(path, value)| walk_retry(value, &path)))
        .or_else(|| entries(uses, path, "timeouts").find_map(|(path, value)| walk_timeout(value, &path)))
        .or_else(|| entries(uses, path, "catalogs").find_map(|(path, value)| check::<Catalog>(value, &path)))
}

/// The named entries of the map `uses.<key>`, with their paths.
fn entries<'a>(uses: &'a Value, path: &'a Pointer, key: &'static str) -> impl Iterator<Item = (Pointer, &'a Value)> {
    let map = uses.get(key).and_then(Value::as_object).into_iter().flatten();
    map.map(move |(name, value)| (path.join(key).join(name), value))
}

fn walk_list(tasks: &Value, path: &Pointer) -> Option<Diagnostic> {
    let items = tasks.as_array()?.iter().enumerate();
    items
        .flat_map(|(index, item)| {
            item.as_object().into_iter().flatten().map(move |(name, task)| (path.join(index).join(name), task))
        })
        .find_map(|(path, task)| walk_task(task, &path))
}

fn walk_task(task: &Value, path: &Pointer) -> Option<Diagnostic> {
    let nested = [&["do"][..], &["try"], &["fork", "branches"], &["catch", "do"], &["foreach", "do"]];
    nested
        .iter()
        .find_map(|keys| {
            let (list, list_path) = keys
                .iter()
                .try_fold((task, path.clone()), |(node, path), key| Some((node.get(key)?, path.join(key))))?;
            walk_list(list, &list_path)
        })
        .or_else(|| task.get("timeout").and_then(|timeout| walk_timeout(timeout, &path.join("timeout"))))
        .or_else(|| task.get("wait").and_then(|duration| walk_duration(duration, &path.join("wait"))))
        .or_else(|| task.get("catch").and_then(|catch| walk_catch(catch, &path.join("catch"))))
        .or_else(|| piece::<Input>(task, path, "input"))
        .or_else(|| piece::<Output>(task, path, "output"))
        .or_else(|| piece::<Export>(task, path, "export"))
        .or_else(|| check::<Task>(task, path))
}

fn walk_catch(catch: &Value, path: &Pointer) -> Option<Diagnostic> {
    let retry = catch.get("retry").filter(|retry| retry.is_object());
    retry.and_then(|retry| walk_retry(retry, &path.join("retry"))).or_else(|| check::<Catch>(catch, path))
}

fn walk_retry(retry: &Value, path: &Pointer) -> Option<Diagnostic> {
    let durations = [
        &["delay"][..],
        &["limit", "duration"],
        &["limit", "attempt", "duration"],
        &["jitter", "from"],
        &["jitter", "to"],
    ];
    durations
        .iter()
        .find_map(|keys| {
            let (duration, duration_path) = keys
                .iter()
                .try_fold((retry, path.clone()), |(node, path), key| Some((node.get(key)?, path.join(key))))?;
            walk_duration(duration, &duration_path)
        })
        .or_else(|| check::<RetryPolicy>(retry, path))
}

fn walk_timeout(timeout: &Value, path: &Pointer) -> Option<Diagnostic> {
    let after = timeout.get("after");
    after.and_then(|after| walk_duration(after, &path.join("after"))).or_else(|| check::<TimeoutRef>(timeout, path))
}

/// An inline duration is checked as such: the untagged `Duration` error says nothing useful.
fn walk_duration(duration: &Value, path: &Pointer) -> Option<Diagnostic> {
    match duration {
        Value::Object(_) => check::<InlineDuration>(duration, path),
        _ => check::<Duration>(duration, path),
    }
}

fn piece<T: DeserializeOwned>(parent: &Value, path: &Pointer, key: &str) -> Option<Diagnostic> {
    check::<T>(parent.get(key)?, &path.join(key))
}

fn check<T: DeserializeOwned>(value: &Value, path: &Pointer) -> Option<Diagnostic> {
    let error = T::deserialize(value).err()?;
    Some(Diagnostic::new(path.as_str(), error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_located_at_the_innermost_piece() {
        let document = serde_json::json!({
            "document": {"dsl": "1.0.3", "namespace": "n", "name": "w", "version": "1.0.0"},
            "do": [{"outer": {"do": [{"pause": {"wait": {"seconds": -5}}}]}}]
        });
        let error = serde_json::from_value::<crate::types::Workflow>(document.clone()).unwrap_err();
        let diagnostic = locate(&document, &error);
        assert_eq!(diagnostic.path, "/do/0/outer/do/0/pause/wait");
        assert!(diagnostic.message.contains("-5"), "{}", diagnostic.message);
    }
}
