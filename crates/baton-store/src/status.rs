//! [`RunStatus`]: a run's status as the store keeps it (text in `runs.status`), parsed once
//! when a row is read.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::error::StoreError;

/// Where a run is in its lifecycle. Stored as its lowercase name; a stored text that is none
/// of these is a [`StoreError::Encoding`], never a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Created, not started (or waiting behind a concurrency limit).
    Pending,
    /// Has work in flight.
    Running,
    /// Waits on timers or events only.
    Waiting,
    /// Suspended by a signal.
    Suspended,
    /// Ended by a cancel signal.
    Cancelled,
    /// Ended with an error.
    Faulted,
    /// Ended with an output.
    Completed,
}

impl RunStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Waiting,
        RunStatus::Suspended,
        RunStatus::Cancelled,
        RunStatus::Faulted,
        RunStatus::Completed,
    ];

    /// The statuses after which a run never changes again; all others are unfinished. The one
    /// list: the SQL uses [`terminal_sql_list`], generated from it.
    pub const TERMINAL: [RunStatus; 3] = [RunStatus::Completed, RunStatus::Faulted, RunStatus::Cancelled];

    /// The stored name (`pending`, `running`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Suspended => "suspended",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Faulted => "faulted",
            RunStatus::Completed => "completed",
        }
    }

    /// Whether the status is one of [`RunStatus::TERMINAL`].
    pub fn is_terminal(self) -> bool {
        RunStatus::TERMINAL.contains(&self)
    }

    /// Parses a stored status.
    ///
    /// # Errors
    /// [`StoreError::Encoding`] for a text that is no status.
    pub fn parse(text: &str) -> Result<RunStatus, StoreError> {
        RunStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| StoreError::Encoding(format!("unknown run status {text:?}")))
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<RunStatus, StoreError> {
        RunStatus::parse(text)
    }
}

/// `'completed', 'faulted', 'cancelled'`: [`RunStatus::TERMINAL`] as an SQL list, for
/// `status IN (…)` / `status NOT IN (…)` in the statements of both backends.
pub(crate) fn terminal_sql_list() -> &'static str {
    static LIST: LazyLock<String> = LazyLock::new(|| {
        RunStatus::TERMINAL.iter().map(|status| format!("'{}'", status.as_str())).collect::<Vec<_>>().join(", ")
    });
    &LIST
}

/// Compares with a stored name, so `status == "running"` reads as the column does.
impl PartialEq<str> for RunStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
