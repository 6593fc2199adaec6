//! `baton inbox list|respond`: the human-input items of a server.

use std::process::ExitCode;

use serde_json::Value;

use crate::cli::{InboxListArgs, RespondArgs};
use crate::client::{ClientError, InboxQuery, cli_error};
use crate::commands::events::json_argument;
use crate::commands::{UsageError, print_data};

/// Largest page the server gives.
const PAGE: u32 = 500;

/// Open items oldest first: one per line (`id  namespace/name:version  title  deadline`, tab
/// separated; `-` without a deadline) or, with `--json`, a JSON array of the API's items.
pub async fn list(args: InboxListArgs) -> anyhow::Result<ExitCode> {
    if let Some(workflow) = &args.workflow
        && !matches!(workflow.split_once('/'), Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/'))
    {
        return Err(UsageError(format!("--workflow {workflow:?} must be NAMESPACE/NAME")).into());
    }
    let client = crate::commands::connect(&args.server)?;
    let mut query = InboxQuery {
        workflow: args.workflow.clone(),
        assignee: args.assignee.clone(),
        overdue: args.overdue,
        ..InboxQuery::default()
    };
    let limit = args.limit as usize;
    let mut items: Vec<Value> = Vec::new();
    loop {
        query.limit = Some(u32::try_from(limit - items.len()).unwrap_or(u32::MAX).min(PAGE));
        let page = client.list_inbox(&query).await.map_err(cli_error)?;
        let (cursor, empty) = (page.next_cursor_text(), page.items.is_empty());
        items.extend(page.items.into_iter().take(limit - items.len()));
        match cursor {
            Some(cursor) if items.len() < limit && !empty => query.cursor = Some(cursor),
            _ => break,
        }
    }
    if args.json {
        print_data(&serde_json::to_string_pretty(&items)?);
    } else {
        for item in &items {
            print_data(&line(item));
        }
    }
    if items.is_empty() {
        eprintln!("no open items");
    }
    Ok(ExitCode::SUCCESS)
}

fn line(item: &Value) -> String {
    let text = |value: &Value| value.as_str().unwrap_or("").replace(['\t', '\n'], " ");
    let workflow = &item["workflow"];
    format!(
        "{}\t{}/{}:{}\t{}\t{}",
        text(&item["id"]),
        text(&workflow["namespace"]),
        text(&workflow["name"]),
        text(&workflow["version"]),
        text(&item["title"]),
        item["deadline"].as_str().unwrap_or("-"),
    )
}

/// Answers an item; prints `item  runId  accepted|already answered` (tab separated). A
/// response that does not match the form lists every problem (stderr) and exits 2; a closed
/// item exits 1.
pub async fn respond(args: RespondArgs) -> anyhow::Result<ExitCode> {
    let data = json_argument("--data", &args.data)?;
    let client = crate::commands::connect(&args.server)?;
    let answer = match client.respond(&args.item, &data).await {
        Ok(answer) => answer,
        Err(ClientError::Problem(problem)) => {
            for line in problem.problems() {
                eprintln!("  {line}");
            }
            return Err(cli_error(ClientError::Problem(problem)));
        }
        Err(err) => return Err(cli_error(err)),
    };
    let outcome = if answer["accepted"] == true { "accepted" } else { "already answered" };
    let text = |key: &str| answer[key].as_str().unwrap_or("").to_owned();
    print_data(&format!("{}\t{}\t{outcome}", text("item"), text("runId")));
    Ok(ExitCode::SUCCESS)
}
