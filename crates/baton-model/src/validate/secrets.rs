//! `$secrets` only for declared secrets (`dsl-reference.md#use`, `use.secrets`): every
//! expression that reads a secret by a name written in it (`$secrets.name`, `$secrets."name"`,
//! `$secrets["name"]`) must name one that `use.secrets` lists, and `$secrets` must not appear
//! at all in a workflow that declares none. Reads by a computed name (`$secrets[$x]`) cannot be
//! checked here; the engine passes a run only its declared secrets, so they find nothing else.

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::validate::pointer::Pointer;

const VARIABLE: &str = "$secrets";

/// Every use of an undeclared secret in `document`, with the path of the string using it.
pub(crate) fn undeclared_secrets(document: &Value, declared: &[String]) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    walk(document, &Pointer::default(), declared, &mut diagnostics);
    diagnostics
}

fn walk(value: &Value, path: &Pointer, declared: &[String], diagnostics: &mut Vec<Diagnostic>) {
    match value {
        Value::String(text) => check_text(text, path, declared, diagnostics),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, &path.join(index), declared, diagnostics);
            }
        }
        Value::Object(entries) => {
            for (key, item) in entries {
                // Free text (`document.summary`...) and the declarations themselves.
                let skipped =
                    (path.as_str().is_empty() && key == "document") || (path.as_str() == "/use" && key == "secrets");
                if !skipped {
                    walk(item, &path.join(key), declared, diagnostics);
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn check_text(text: &str, path: &Pointer, declared: &[String], diagnostics: &mut Vec<Diagnostic>) {
    for name in secret_references(text) {
        match name {
            Some(name) if !declared.contains(&name) => {
                let hint = match declared {
                    [] => "use.secrets declares none".to_owned(),
                    names => {
                        let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
                        format!("declared: {}", names.join(", "))
                    }
                };
                diagnostics.push(Diagnostic::new(
                    path.as_str(),
                    format!("secret \"{name}\" is not declared in use.secrets ({hint})"),
                ));
            }
            None if declared.is_empty() => {
                diagnostics.push(Diagnostic::new(path.as_str(), "$secrets is used but use.secrets declares no secrets"))
            }
            _ => {}
        }
    }
}

/// Each `$secrets` in `text`: the name it reads when it is written there, `None` otherwise.
fn secret_references(text: &str) -> Vec<Option<String>> {
    let mut res = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(VARIABLE) {
        let after = &rest[at + VARIABLE.len()..];
        rest = after;
        if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // `$secretsFoo` is another variable.
        }
        res.push(static_name(after.trim_start()));
    }
    res
}

/// The name read right after `$secrets`: `.name`, `."name"`, `["name"]` or `.["name"]`.
fn static_name(after: &str) -> Option<String> {
    let (after, bracket) = match after.strip_prefix('.') {
        Some(rest) => match rest.strip_prefix('[') {
            Some(rest) => (rest.trim_start(), true),
            None => (rest, false),
        },
        None => (after.strip_prefix('[')?.trim_start(), true),
    };
    if let Some(quoted) = after.strip_prefix('"') {
        let end = quoted.find(['"', '\\'])?;
        let name = &quoted[..end];
        let tail = quoted[end..].strip_prefix('"')?.trim_start();
        return (!bracket || tail.starts_with(']')).then(|| name.to_owned());
    }
    if bracket {
        return None;
    }
    let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
    (end > 0 && !after.starts_with(|c: char| c.is_ascii_digit())).then(|| after[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_are_read_in_every_static_form() {
        let refs = secret_references(r#"${ $secrets.a.b + $secrets."b-c" + $secrets["d"] + $secrets.["e"] }"#);
        assert_eq!(refs, [Some("a".into()), Some("b-c".into()), Some("d".into()), Some("e".into())]);
        assert_eq!(secret_references("${ $secrets[$x] + $secrets }"), [None, None]);
        assert!(secret_references("${ $secretsFoo }").is_empty());
    }

    // See: #11
    #[test]
    fn issue_11_undeclared_secrets_are_reported_with_their_path() {
        let document = json!({
            "document": {"summary": "reads $secrets.anything"},
            "use": {"secrets": ["api"]},
            "do": [{"a": {"set": {"x": "${ $secrets.api.token }", "y": "${ $secrets.other }"}}}]
        });
        let found = undeclared_secrets(&document, &["api".to_owned()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "/do/0/a/set/y");
        assert_eq!(found[0].message, r#"secret "other" is not declared in use.secrets (declared: "api")"#);
        let dynamic = json!({"do": [{"a": {"set": {"x": "${ $secrets[.name] }"}}}]});
        assert_eq!(
            undeclared_secrets(&dynamic, &[])[0].message,
            "$secrets is used but use.secrets declares no secrets"
        );
    }
}
