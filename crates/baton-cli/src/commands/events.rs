//! `baton events send`: post a CloudEvent (or a batch) to a server.

use std::io::Read as _;
use std::process::ExitCode;

use serde_json::{Map, Value};

use crate::cli::SendEventArgs;
use crate::client::{ClientError, cli_error};
use crate::commands::{UsageError, print_data};

/// Sends the event built from the flags, or the event(s) of `--file`; prints the server's
/// answer `{"accepted": N, "duplicates": M}` (stdout) and the id of a single event (stderr).
/// An invalid event lists every problem (stderr) and exits 2.
pub async fn send(args: SendEventArgs) -> anyhow::Result<ExitCode> {
    let client = crate::commands::connect(&args.server)?;
    let events = match &args.file {
        Some(path) => read_events(path)?,
        None => event_from_flags(&args)?,
    };
    let answer = match client.send_events(&events).await {
        Ok(answer) => answer,
        Err(ClientError::Problem(problem)) => {
            for line in problem.problems() {
                eprintln!("  {line}");
            }
            return Err(cli_error(ClientError::Problem(problem)));
        }
        Err(err) => return Err(cli_error(err)),
    };
    if let Some(id) = events.get("id").and_then(Value::as_str) {
        let outcome = if answer["accepted"].as_u64() == Some(1) { "accepted" } else { "duplicate, ignored" };
        eprintln!("event {id}: {outcome}");
    }
    print_data(&answer.to_string());
    Ok(ExitCode::SUCCESS)
}

fn event_from_flags(args: &SendEventArgs) -> anyhow::Result<Value> {
    let kind = args.kind.clone().ok_or_else(|| UsageError("--type or --file is required".into()))?;
    let mut event = Map::new();
    event.insert("specversion".into(), "1.0".into());
    event.insert("id".into(), args.id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().to_string()).into());
    event.insert("source".into(), args.source.clone().into());
    event.insert("type".into(), kind.into());
    if let Some(subject) = &args.subject {
        event.insert("subject".into(), subject.clone().into());
    }
    if let Some(data) = &args.data {
        event.insert("datacontenttype".into(), "application/json".into());
        event.insert("data".into(), json_argument("--data", data)?);
    }
    Ok(Value::Object(event))
}

/// The JSON of `--file` (`-`: standard input).
fn read_events(path: &std::path::Path) -> anyhow::Result<Value> {
    let shown = path.display();
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|err| UsageError(format!("cannot read stdin: {err}")))?;
        text
    } else {
        std::fs::read_to_string(path).map_err(|err| UsageError(format!("cannot read {shown}: {err}")))?
    };
    serde_json::from_str(&text).map_err(|err| UsageError(format!("{shown} is not valid JSON: {err}")).into())
}

/// A JSON flag value: JSON text, or `@FILE` (JSON or YAML).
pub fn json_argument(flag: &str, text: &str) -> anyhow::Result<Value> {
    match text.strip_prefix('@') {
        Some(path) => {
            let content =
                std::fs::read_to_string(path).map_err(|err| UsageError(format!("cannot read {flag} {path}: {err}")))?;
            serde_saphyr::from_str(&content)
                .map_err(|err| UsageError(format!("{flag} {path} is not JSON or YAML: {err}")).into())
        }
        None => serde_json::from_str(text).map_err(|err| UsageError(format!("{flag} is not valid JSON: {err}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arguments() {
        assert_eq!(json_argument("--data", r#"{"a": 1}"#).unwrap(), serde_json::json!({"a": 1}));
        assert!(json_argument("--data", "{").unwrap_err().downcast_ref::<UsageError>().is_some());
        assert!(json_argument("--data", "@/no/such/file").unwrap_err().downcast_ref::<UsageError>().is_some());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.yaml");
        std::fs::write(&path, "approved: true\n").unwrap();
        let value = json_argument("--data", &format!("@{}", path.display())).unwrap();
        assert_eq!(value, serde_json::json!({"approved": true}));
    }
}
