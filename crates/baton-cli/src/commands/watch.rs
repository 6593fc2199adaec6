//! `baton runs watch ID`: follow a run's history stream until it ends.
//!
//! Progress goes to stderr (`  ▶ /do/0/x`, `  ✓ /do/0/x`, `  ✗ /do/0/x`); the output of a completed
//! run goes to stdout. A dropped connection is re-attached with `Last-Event-ID`, so no entry is
//! shown twice or skipped.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::WatchArgs;
use crate::client::{Client, ClientError, cli_error};
use crate::commands::print_data;

/// The server sends a keep-alive every 15 s; this much silence means the connection is dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// First and longest pause before re-attaching.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long re-attaching may keep failing before `watch` gives up.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Completed,
    Faulted,
    Cancelled,
}

pub async fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let client = crate::commands::connect(&args.server)?;
    let mut last_seq: Option<u64> = None;
    let mut attached = false;
    let mut failing_since: Option<Instant> = None;
    let mut retry = FIRST_RETRY;
    loop {
        match client.history_events(&args.id, last_seq).await {
            Ok(mut stream) => {
                attached = true;
                failing_since = None;
                retry = FIRST_RETRY;
                loop {
                    let event = match tokio::time::timeout(IDLE_TIMEOUT, stream.next()).await {
                        Err(_) => {
                            eprintln!("no event nor keep-alive for {}s; re-attaching", IDLE_TIMEOUT.as_secs());
                            break;
                        }
                        Ok(Err(err)) => {
                            eprintln!("connection lost ({err}); re-attaching");
                            break;
                        }
                        Ok(Ok(None)) => {
                            // The stream ended without the run's terminal entry (a server
                            // restart, a proxy): ask the run itself before re-attaching.
                            if let Some(code) = finish_from_run(&client, &args.id).await? {
                                return Ok(code);
                            }
                            break;
                        }
                        Ok(Ok(Some(event))) => event,
                    };
                    let Ok(entry) = serde_json::from_str::<Value>(&event.data) else {
                        eprintln!("warning: ignoring an event whose data is not JSON: {}", event.data);
                        continue;
                    };
                    let seq = entry["seq"].as_u64().or_else(|| event.id.as_deref().and_then(|id| id.parse().ok()));
                    if let (Some(seq), Some(last)) = (seq, last_seq)
                        && seq <= last
                    {
                        continue;
                    }
                    if seq.is_some() {
                        last_seq = seq;
                    }
                    let kind = entry["type"].as_str().unwrap_or(&event.event);
                    if let Some(end) = render(kind, &entry) {
                        return finish(&client, &args.id, end, &entry["data"]).await;
                    }
                }
            }
            Err(ClientError::Problem(problem)) if problem.status < 500 => {
                return Err(cli_error(ClientError::Problem(problem)));
            }
            Err(err) if !attached => return Err(cli_error(err)),
            Err(err) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= GIVE_UP_AFTER {
                    return Err(cli_error(err));
                }
                eprintln!("cannot re-attach ({err}); retrying in {} ms", retry.as_millis());
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

/// Prints one history entry's progress line on stderr; returns how the run ended when the
/// entry is terminal.
fn render(kind: &str, entry: &Value) -> Option<End> {
    let kind = kind.trim_start_matches("io.serverlessworkflow.").trim_end_matches(".v1");
    let task = entry["task"].as_str().unwrap_or("");
    let (line, end) = match kind {
        "task.started" => (format!("  ▶ {task}"), None),
        "task.completed" => (format!("  ✓ {task}"), None),
        "task.faulted" => (format!("  ✗ {task}"), None),
        "task.cancelled" => (format!("  ⊘ {task}"), None),
        "task.retried" => match entry["data"]["attempt"].as_u64() {
            Some(attempt) => (format!("  ↻ {task} (retry {attempt})"), None),
            None => (format!("  ↻ {task} (retry)"), None),
        },
        "workflow.started" => ("▶ run started".to_owned(), None),
        "workflow.suspended" => ("‖ run suspended".to_owned(), None),
        "workflow.resumed" => ("▶ run resumed".to_owned(), None),
        "workflow.completed" => ("✓ run completed".to_owned(), Some(End::Completed)),
        "workflow.faulted" => ("✗ run faulted".to_owned(), Some(End::Faulted)),
        "workflow.cancelled" => ("⊘ run cancelled".to_owned(), Some(End::Cancelled)),
        _ => return None,
    };
    eprintln!("{line}");
    end
}

/// Output on stdout (exit 0) or the error on stderr (exit 1). `data` is the terminal entry's
/// data; the run resource fills in what it lacks.
async fn finish(client: &Client, id: &str, end: End, data: &Value) -> anyhow::Result<ExitCode> {
    let field = match end {
        End::Completed => "output",
        End::Faulted => "error",
        End::Cancelled => return Ok(ExitCode::FAILURE),
    };
    let value = match data.get(field) {
        Some(value) => value.clone(),
        None => client.get_run(id).await.map_err(cli_error)?.get(field).cloned().unwrap_or(Value::Null),
    };
    let text = serde_json::to_string_pretty(&value)?;
    if end == End::Completed {
        print_data(&text);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("{text}");
        Ok(ExitCode::FAILURE)
    }
}

/// When the run has ended, finishes from the run resource; `None` while it goes on.
async fn finish_from_run(client: &Client, id: &str) -> anyhow::Result<Option<ExitCode>> {
    let run = match client.get_run(id).await {
        Ok(run) => run,
        Err(ClientError::Problem(problem)) if problem.status < 500 => {
            return Err(cli_error(ClientError::Problem(problem)));
        }
        Err(_) => return Ok(None),
    };
    let end = match run["status"].as_str() {
        Some("completed") => End::Completed,
        Some("faulted") => End::Faulted,
        Some("cancelled") => End::Cancelled,
        _ => return Ok(None),
    };
    eprintln!("run {id} {}", run["status"].as_str().unwrap_or(""));
    finish(client, id, end, &run).await.map(Some)
}
