//! `baton runs list|show|cancel|suspend|resume`: runs of a server (`--server`, `BATON_SERVER`)
//! or, for `list` and `show` without one, of a local database (`--db`, `BATON_DB`).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use baton_store::prelude::*;
use baton_store::{RunFilter, RunSummary};

use crate::cli::{ListArgs, ShowArgs, SignalArgs, SourceArgs};
use crate::client::{Client, RunQuery, Signal, cli_error};
use crate::commands::{UsageError, open_store, print_data};
use baton_store::WorkspaceId;

/// Most history entries `runs show` prints.
const HISTORY_LIMIT: u32 = 10_000;
/// Page sizes when reading from a server (its largest).
const HISTORY_PAGE: u32 = 1_000;
const RUNS_PAGE: u32 = 500;

/// Where runs are read from.
enum Source {
    Server(Client),
    Db(PathBuf),
}

/// `--server` beats `--db` on the command line (clap refuses both); without either,
/// `BATON_SERVER` then `BATON_DB` then `baton.db`.
fn source(args: &SourceArgs) -> anyhow::Result<Source> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let server = match (&args.server, &args.db) {
        (Some(server), _) => Some(server.clone()),
        (None, Some(db)) => return Ok(Source::Db(db.clone())),
        (None, None) => env("BATON_SERVER"),
    };
    match server {
        Some(server) => {
            let client = Client::new(&server).map_err(cli_error)?;
            let api_key = crate::client::credentials::api_key(&server, args.api_key.as_deref());
            Ok(Source::Server(client.with_api_key(api_key)))
        }
        None => Ok(Source::Db(env("BATON_DB").map_or_else(|| PathBuf::from("baton.db"), PathBuf::from))),
    }
}

/// `--workflow ns/name[:version]`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WorkflowFilter {
    namespace: String,
    name: String,
    version: Option<String>,
}

fn parse_workflow(text: &str) -> Result<WorkflowFilter, UsageError> {
    let usage = || UsageError(format!("--workflow {text:?} must be NAMESPACE/NAME or NAMESPACE/NAME:VERSION"));
    let (namespace, rest) = text.split_once('/').ok_or_else(usage)?;
    let (name, version) = match rest.split_once(':') {
        Some((name, version)) => (name, Some(version)),
        None => (rest, None),
    };
    if namespace.is_empty() || name.is_empty() || version.is_some_and(str::is_empty) {
        return Err(usage());
    }
    Ok(WorkflowFilter { namespace: namespace.to_owned(), name: name.to_owned(), version: version.map(str::to_owned) })
}

/// Runs newest first: one per line (`id  status  namespace/name:version  createdAt`, tab
/// separated) or, with `--json`, a JSON array of `{id, workflow, status, createdAt, updatedAt}`.
pub async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let workflow = args.workflow.as_deref().map(parse_workflow).transpose()?;
    let runs = match source(&args.source)? {
        Source::Server(client) => list_server(&client, &args, workflow.as_ref()).await?,
        Source::Db(db) => list_local(&db, &args, workflow.as_ref()).await?,
    };
    if args.json {
        print_data(&serde_json::to_string_pretty(&runs)?);
    } else {
        for run in &runs {
            let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
            let workflow = &run["workflow"];
            print_data(&format!(
                "{}\t{}\t{}/{}:{}\t{}",
                text(&run["id"]),
                text(&run["status"]),
                text(&workflow["namespace"]),
                text(&workflow["name"]),
                text(&workflow["version"]),
                text(&run["createdAt"]),
            ));
        }
    }
    if runs.is_empty() {
        eprintln!("no runs");
    }
    Ok(ExitCode::SUCCESS)
}

async fn list_server(
    client: &Client,
    args: &ListArgs,
    workflow: Option<&WorkflowFilter>,
) -> anyhow::Result<Vec<Value>> {
    let mut query = RunQuery {
        status: args.status.clone(),
        namespace: workflow.map(|w| w.namespace.clone()),
        name: workflow.map(|w| w.name.clone()),
        version: workflow.and_then(|w| w.version.clone()),
        ..RunQuery::default()
    };
    let limit = args.limit as usize;
    let mut runs = Vec::new();
    loop {
        query.limit = Some(u32::try_from(limit - runs.len()).unwrap_or(u32::MAX).min(RUNS_PAGE));
        let page = client.list_runs(&query).await.map_err(cli_error)?;
        let (cursor, empty) = (page.next_cursor_text(), page.items.is_empty());
        runs.extend(page.items.into_iter().take(limit - runs.len()));
        match cursor {
            Some(cursor) if runs.len() < limit && !empty => query.cursor = Some(cursor),
            _ => return Ok(runs),
        }
    }
}

async fn list_local(
    db: &std::path::Path,
    args: &ListArgs,
    workflow: Option<&WorkflowFilter>,
) -> anyhow::Result<Vec<Value>> {
    let store = open_store(db).await?;
    let filter = RunFilter {
        status: args.status.as_deref().map(baton_store::RunStatus::parse).transpose()?,
        namespace: workflow.map(|w| w.namespace.clone()),
        name: workflow.map(|w| w.name.clone()),
        version: workflow.and_then(|w| w.version.clone()),
        limit: args.limit,
        ..RunFilter::default()
    };
    let runs = store.list_runs(&WorkspaceId::DEFAULT, filter).await?;
    store.close().await;
    Ok(runs.iter().map(summary_json).collect())
}

/// A stored run in the shape of the API's run listing.
fn summary_json(run: &RunSummary) -> Value {
    json!({
        "id": run.id,
        "workflow": {"namespace": run.namespace, "name": run.name, "version": run.version},
        "status": run.status,
        "createdAt": timestamp(run.created_at),
        "updatedAt": timestamp(run.updated_at),
    })
}

fn timestamp(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis).map(|t| t.to_string()).unwrap_or_default()
}

/// The run as JSON on stdout: identity, status, input, metadata, output or error, and its history
/// (`--json` is the only format; the flag exists for symmetry with `runs list`).
pub async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let shown = match source(&args.source)? {
        Source::Server(client) => show_server(&client, &args.id).await?,
        Source::Db(db) => show_local(&db, &args.id).await?,
    };
    print_data(&serde_json::to_string_pretty(&shown)?);
    Ok(ExitCode::SUCCESS)
}

async fn show_server(client: &Client, id: &str) -> anyhow::Result<Value> {
    let mut run = client.get_run(id).await.map_err(cli_error)?;
    let mut history = Vec::new();
    let mut after = 0;
    while history.len() < HISTORY_LIMIT as usize {
        let page = client.history(id, after, HISTORY_PAGE).await.map_err(cli_error)?;
        let Some(last) = page.items.last().and_then(|entry| entry["seq"].as_u64()) else {
            history.extend(page.items);
            break;
        };
        after = last;
        let more = page.next_cursor_text().is_some();
        history.extend(page.items);
        if !more {
            break;
        }
    }
    history.truncate(HISTORY_LIMIT as usize);
    if let Value::Object(fields) = &mut run {
        fields.insert("history".to_owned(), Value::Array(history));
    }
    Ok(run)
}

async fn show_local(db: &std::path::Path, id: &str) -> anyhow::Result<Value> {
    let store = open_store(db).await?;
    let run = store.get_run(&WorkspaceId::DEFAULT, id).await?.ok_or_else(|| UsageError(format!("no run {id}")))?;
    let history = store.history(&WorkspaceId::DEFAULT, id, 0, HISTORY_LIMIT).await?;
    let history: Vec<_> = history
        .iter()
        .map(|entry| json!({"seq": entry.seq, "at": timestamp(entry.at), "type": entry.kind, "task": entry.task, "data": entry.data}))
        .collect();
    let shown = json!({
        "id": run.id,
        "workflow": {"namespace": run.namespace, "name": run.name, "version": run.version},
        "status": run.status,
        "input": run.input,
        "metadata": run.state.get("metadata").cloned().unwrap_or_else(|| json!({})),
        "output": run.output,
        "error": run.error,
        "createdAt": timestamp(run.created_at),
        "updatedAt": timestamp(run.updated_at),
        "history": history,
    });
    store.close().await;
    Ok(shown)
}

/// `runs cancel|suspend|resume ID`: sends the signal; prints `ID  status` (tab separated).
pub async fn signal(args: SignalArgs, signal: Signal) -> anyhow::Result<ExitCode> {
    let client = crate::commands::connect(&args.server)?;
    let answer = client.signal(&args.id, signal).await.map_err(cli_error)?;
    let status = answer["status"].as_str().unwrap_or("unknown");
    print_data(&format!("{}\t{status}", answer["id"].as_str().unwrap_or(&args.id)));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_filters() {
        let filter = parse_workflow("ns/name:1.0.0").unwrap();
        assert_eq!(
            (filter.namespace.as_str(), filter.name.as_str(), filter.version.as_deref()),
            ("ns", "name", Some("1.0.0"))
        );
        assert_eq!(parse_workflow("ns/name").unwrap().version, None);
        for bad in ["name", "/name", "ns/", "ns/name:", ""] {
            assert!(parse_workflow(bad).is_err(), "{bad}");
        }
    }
}
