//! Task-by-task progress on stderr when it is a terminal.

use std::io::IsTerminal;
use std::sync::Arc;

use baton_core::state::HistoryEvent;
use baton_server::engine::Observer;

/// An observer printing task starts, completions and faults; `None` when stderr is not a TTY.
pub fn observer() -> Option<Observer> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    Some(Arc::new(|_run_id: &str, event: &HistoryEvent| {
        let kind = event.kind.trim_start_matches("io.serverlessworkflow.").trim_end_matches(".v1");
        let task = event.task.as_deref().unwrap_or("");
        let line = match kind {
            "task.started" => format!("  ▶ {task}"),
            "task.completed" => format!("  ✓ {task}"),
            "task.faulted" => format!("  ✗ {task}"),
            "task.retried" => format!("  ↻ {task} (retry)"),
            "workflow.started" => "▶ run started".to_owned(),
            "workflow.completed" => "✓ run completed".to_owned(),
            "workflow.faulted" => "✗ run faulted".to_owned(),
            _ => return,
        };
        eprintln!("{line}");
    }))
}
