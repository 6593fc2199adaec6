//! One module per subcommand.

pub mod conformance;
pub mod deploy;
pub mod run;
pub mod runs;
pub mod serve;
pub mod validate;
pub mod watch;

use std::path::Path;

use baton_store::{SqliteOptions, SqliteStore};

/// A usage error or an invalid definition: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Opens (creating when missing) the SQLite database at `path`.
pub async fn open_store(path: &Path) -> anyhow::Result<SqliteStore> {
    use anyhow::Context as _;
    SqliteStore::open(SqliteOptions::new(path))
        .await
        .with_context(|| format!("cannot open database {}", path.display()))
}

/// Writes one line of data to stdout. A closed pipe (`baton runs list | head`) is not an error.
pub fn print_data(line: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = writeln!(stdout, "{line}")
        && err.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write to stdout: {err}");
    }
}
