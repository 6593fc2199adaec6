//! Redaction of secret values: any text of a secret that shows up in an error's title or
//! detail (a server echoing a token, a URL built from a key) is replaced with `***` before the
//! error reaches the run's state, its history or a caller.
//!
//! Matching is by value: every string leaf of `$secrets` (and its percent-encoded form) that is
//! at least [`MIN_REDACTED_LEN`] bytes long. Shorter values are left alone, since replacing
//! every `a` or `1` would make errors unreadable while protecting nothing.

use serde_json::Value;

use crate::error::WorkflowError;
use crate::http::percent_encode;

/// Shortest secret text that is redacted (bytes).
pub const MIN_REDACTED_LEN: usize = 4;

/// What a redacted value is shown as.
pub const MASK: &str = "***";

/// The texts to hide for `secrets` (an object of name → value), longest first so a secret that
/// contains another is replaced whole.
pub fn secret_texts(secrets: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    collect(secrets, &mut texts);
    let encoded: Vec<String> = texts.iter().map(|text| percent_encode(text)).collect();
    texts.extend(encoded);
    texts.retain(|text| text.len() >= MIN_REDACTED_LEN);
    texts.sort_by_key(|text| std::cmp::Reverse(text.len()));
    texts.dedup();
    texts
}

fn collect(value: &Value, texts: &mut Vec<String>) {
    match value {
        Value::String(text) => texts.push(text.clone()),
        Value::Number(number) => texts.push(number.to_string()),
        Value::Array(items) => items.iter().for_each(|item| collect(item, texts)),
        Value::Object(entries) => entries.values().for_each(|item| collect(item, texts)),
        Value::Bool(_) | Value::Null => {}
    }
}

/// `text` with every occurrence of each of `texts` replaced by [`MASK`].
pub fn redact_text(text: &str, texts: &[String]) -> String {
    let mut res = text.to_owned();
    for secret in texts {
        if res.contains(secret.as_str()) {
            res = res.replace(secret.as_str(), MASK);
        }
    }
    res
}

/// `error` with the secret texts of `secrets` hidden in its title, detail and instance.
pub fn redact_error(mut error: WorkflowError, secrets: &Value) -> WorkflowError {
    let texts = secret_texts(secrets);
    if texts.is_empty() {
        return error;
    }
    error.title = error.title.map(|title| redact_text(&title, &texts));
    error.detail = error.detail.map(|detail| redact_text(&detail, &texts));
    error.instance = redact_text(&error.instance, &texts);
    error
}

#[cfg(test)]
mod tests {
    use baton_model::error_types::StandardError;
    use serde_json::json;

    use super::*;

    // See: #11
    #[test]
    fn issue_11_secret_values_in_errors_are_masked() {
        let secrets = json!({"api": {"token": "tok/en 42"}, "short": "ab", "pin": 123456});
        let error = WorkflowError::standard(StandardError::Communication, "GET http://h/?t=tok%2Fen%2042 failed")
            .with_detail("server said: bad token tok/en 42 (ab) for 123456");
        let error = redact_error(error, &secrets);
        assert_eq!(error.title.as_deref(), Some("GET http://h/?t=*** failed"));
        assert_eq!(error.detail.as_deref(), Some("server said: bad token *** (ab) for ***"));
    }
}
