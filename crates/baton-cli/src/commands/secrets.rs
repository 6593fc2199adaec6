//! Where `baton run` and `baton serve` get their secrets and their secret key.
//!
//! Secrets (`$secrets`), lowest precedence first: `BATON_SECRET_<NAME>` environment variables,
//! then `--secret-file FILE` (a JSON object, or `.env` lines `NAME=VALUE`), then
//! `--secret NAME=VALUE` flags. A value is JSON when it parses as JSON, text otherwise.
//! `--secret` puts the value on the command line, where other users of the machine can read
//! it (`ps`); the file and the environment do not.
//!
//! The secret key (which seals secrets at rest): `BATON_SECRET_KEY` (64 hex digits or base64
//! of 32 bytes), else `--secret-key-file FILE` (must exist), else for SQLite the file
//! `<database>.secret-key`, created on first start with mode 0600. PostgreSQL needs one of the
//! first two, so that every node shares the key.

use std::path::Path;

use serde_json::{Map, Value};

use baton_server::secrets::SecretKey;

use crate::commands::UsageError;

/// Prefix of the environment variables that carry secrets.
pub const SECRET_ENV_PREFIX: &str = "BATON_SECRET_";

/// The environment variable holding the secret key (not a secret named `KEY`).
pub const SECRET_KEY_ENV: &str = "BATON_SECRET_KEY";

/// Every secret given to this process: environment, file, flags (later ones win).
pub fn collect_secrets(pairs: &[String], file: Option<&Path>) -> anyhow::Result<Value> {
    let mut secrets = Map::new();
    for (name, value) in std::env::vars_os() {
        let (Some(name), Some(value)) = (name.to_str(), value.to_str()) else { continue };
        if let Some(secret) = name.strip_prefix(SECRET_ENV_PREFIX)
            && name != SECRET_KEY_ENV
            && !secret.is_empty()
        {
            secrets.insert(secret.to_owned(), parse_value(value));
        }
    }
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|err| UsageError(format!("cannot read --secret-file {}: {err}", file.display())))?;
        secrets.extend(
            parse_secret_file(&text)
                .map_err(|message| UsageError(format!("--secret-file {}: {message}", file.display())))?,
        );
    }
    if let Value::Object(flags) = parse_secrets(pairs)? {
        secrets.extend(flags);
    }
    Ok(Value::Object(secrets))
}

/// `--secret NAME=VALUE` pairs as the `$secrets` object.
pub fn parse_secrets(pairs: &[String]) -> anyhow::Result<Value> {
    let mut secrets = Map::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| {
            UsageError(format!("--secret {name:?} must be NAME=VALUE", name = pair.split('=').next().unwrap_or("")))
        })?;
        secrets.insert(name.to_owned(), parse_value(value));
    }
    Ok(Value::Object(secrets))
}

fn parse_value(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// A secret file: a JSON object, or `.env` lines (`NAME=VALUE`, optionally `export NAME=...`;
/// blank lines and `#` comments skipped; a value in single quotes is taken literally).
/// Errors never quote a value, only line numbers.
pub fn parse_secret_file(text: &str) -> Result<Map<String, Value>, String> {
    if text.trim_start().starts_with('{') {
        return match serde_json::from_str(text) {
            Ok(Value::Object(secrets)) => Ok(secrets),
            Ok(_) | Err(_) => Err("not a JSON object".to_owned()),
        };
    }
    let mut secrets = Map::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {} is not NAME=VALUE", index + 1));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("line {} has no name", index + 1));
        }
        let value = value.trim();
        let value = match value.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')) {
            Some(literal) => Value::String(literal.to_owned()),
            None => parse_value(value),
        };
        secrets.insert(name.to_owned(), value);
    }
    Ok(secrets)
}

/// The secret key given to this process: `BATON_SECRET_KEY`, else `key_file`; `None` lets
/// the server use the key file beside a SQLite database (PostgreSQL refuses to start then).
pub fn secret_key(key_file: Option<&Path>) -> anyhow::Result<Option<SecretKey>> {
    if let Ok(text) = std::env::var(SECRET_KEY_ENV) {
        let key = SecretKey::from_text(&text).map_err(|err| UsageError(format!("{SECRET_KEY_ENV}: {err}")))?;
        return Ok(Some(key));
    }
    match key_file {
        Some(file) => {
            let key = SecretKey::load(file).map_err(|err| UsageError(format!("--secret-key-file: {err:#}")))?;
            Ok(Some(key))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: #11
    #[test]
    fn issue_11_secret_files_are_json_or_env_lines() {
        let json = parse_secret_file(r#"{"api": {"token": "t"}, "pin": 42}"#).unwrap();
        assert_eq!(json["api"]["token"], "t");
        let env = parse_secret_file(
            "# comment\n\nexport TOKEN=abc def\nOBJ={\"k\": 1}\nQUOTED=\"x y\"\nLITERAL='{\"not\": \"json\"}'\n",
        )
        .unwrap();
        assert_eq!(env["TOKEN"], "abc def");
        assert_eq!(env["OBJ"]["k"], 1);
        assert_eq!(env["QUOTED"], "x y");
        assert_eq!(env["LITERAL"], r#"{"not": "json"}"#);
        assert_eq!(parse_secret_file("oops s3cr3t").unwrap_err(), "line 1 is not NAME=VALUE");
        assert!(parse_secret_file("[1]").is_err());
    }
}
