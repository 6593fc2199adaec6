//! JSON pointers (RFC 6901) naming the place of a problem in a definition.

use serde_json::Value;

/// A JSON pointer under construction, e.g. `/do/2/notify`. The root is `""`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pointer(String);

impl Pointer {
    /// The pointer one level down, escaping `~` and `/` in `segment`.
    pub(crate) fn join(&self, segment: impl ToString) -> Pointer {
        let segment = segment.to_string().replace('~', "~0").replace('/', "~1");
        Pointer(format!("{}/{segment}", self.0))
    }

    /// The pointer as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Pointer {
    fn from(text: &str) -> Self {
        Pointer(text.to_owned())
    }
}

/// The unescaped segments of a pointer (`""` has none).
pub(crate) fn segments(pointer: &str) -> impl Iterator<Item = String> + '_ {
    pointer.split('/').skip(1).map(|segment| segment.replace("~1", "/").replace("~0", "~"))
}

/// A key that sorts pointers into `document` in the order their nodes appear in it: each
/// segment becomes the position of the child in its parent (index in an array, key order in an
/// object). Segments that name no existing node sort after the existing ones.
pub(crate) fn document_order(document: &Value, pointer: &str) -> Vec<usize> {
    let mut node = Some(document);
    segments(pointer)
        .map(|segment| {
            let (position, child) = match node {
                Some(Value::Array(items)) => match segment.parse::<usize>() {
                    Ok(index) if index < items.len() => (index, items.get(index)),
                    _ => (usize::MAX, None),
                },
                Some(Value::Object(object)) => match object.keys().position(|key| *key == segment) {
                    Some(position) => (position, object.get(&segment)),
                    None => (usize::MAX, None),
                },
                _ => (usize::MAX, None),
            };
            node = child;
            position
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_and_sort_in_document_order() {
        let pointer = Pointer::default().join("do").join(0).join("a/b~c");
        assert_eq!(pointer.as_str(), "/do/0/a~1b~0c");
        assert_eq!(segments(pointer.as_str()).collect::<Vec<_>>(), ["do", "0", "a/b~c"]);

        let document = serde_json::json!({"document": {}, "do": [{"b": {}}, {"a": {}}]});
        assert_eq!(document_order(&document, "/do/1/a"), [1, 1, 0]);
        assert!(document_order(&document, "/do/0/b") < document_order(&document, "/do/1/a"));
        assert_eq!(document_order(&document, "/use"), [usize::MAX]);
    }
}
