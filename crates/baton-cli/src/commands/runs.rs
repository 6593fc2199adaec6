//! `baton runs list|show`: read runs from the database.

use std::process::ExitCode;

use serde_json::json;

use baton_store::{RunFilter, Store};

use crate::cli::{ListArgs, ShowArgs};
use crate::commands::{UsageError, open_store, print_data};

/// Most history entries `runs show` prints.
const HISTORY_LIMIT: u32 = 10_000;

/// One run per line on stdout: id, status, workflow, created time.
pub async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.db.db).await?;
    let filter = RunFilter { workspace: None, status: args.status.clone(), limit: args.limit, before: None };
    let runs = store.list_runs(filter).await?;
    for run in &runs {
        let created = jiff::Timestamp::from_millisecond(run.created_at).map(|t| t.to_string()).unwrap_or_default();
        print_data(&format!("{}\t{}\t{}/{}:{}\t{created}", run.id, run.status, run.namespace, run.name, run.version));
    }
    if runs.is_empty() {
        eprintln!("no runs");
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// The run as JSON on stdout: identity, status, input, output or error, and its history.
pub async fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.db.db).await?;
    let run = store.get_run(&args.id).await?.ok_or_else(|| UsageError(format!("no run {}", args.id)))?;
    let history = store.history(&args.id, 0, HISTORY_LIMIT).await?;
    let history: Vec<_> = history
        .iter()
        .map(|entry| {
            let at = jiff::Timestamp::from_millisecond(entry.at).map(|t| t.to_string()).unwrap_or_default();
            json!({"seq": entry.seq, "at": at, "type": entry.kind, "task": entry.task, "data": entry.data})
        })
        .collect();
    let shown = json!({
        "id": run.id,
        "workflow": {"namespace": run.namespace, "name": run.name, "version": run.version},
        "status": run.status,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "createdAt": jiff::Timestamp::from_millisecond(run.created_at).map(|t| t.to_string()).unwrap_or_default(),
        "updatedAt": jiff::Timestamp::from_millisecond(run.updated_at).map(|t| t.to_string()).unwrap_or_default(),
        "history": history,
    });
    print_data(&serde_json::to_string_pretty(&shown)?);
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
