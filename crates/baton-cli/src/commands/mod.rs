//! One module per subcommand.

pub mod conformance;
pub mod deploy;
pub mod events;
pub mod identity;
pub mod inbox;
pub mod run;
pub mod runs;
pub mod secrets;
pub mod serve;
pub mod validate;
pub mod watch;

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use baton_server::server::{Refusal, ServerError, WorkflowSource};
use baton_store::{SqliteOptions, SqliteStore};

/// A usage error or an invalid definition: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// A client of the server `args` names, with the API key from `--api-key`, `BATON_API_KEY` or,
/// for a local server, the admin key file ([`crate::client::credentials`]).
pub fn connect(args: &crate::cli::ServerArgs) -> anyhow::Result<crate::client::Client> {
    let client = crate::client::Client::new(&args.server).map_err(crate::client::cli_error)?;
    Ok(client.with_api_key(crate::client::credentials::api_key(&args.server, args.api_key.as_deref())))
}

/// Opens (creating when missing) the SQLite database at `path`. A PostgreSQL URL is a usage
/// error here: only `baton serve` drives a PostgreSQL database.
pub async fn open_store(path: &Path) -> anyhow::Result<SqliteStore> {
    sqlite_only(path)?;
    SqliteStore::open(SqliteOptions::new(path))
        .await
        .with_context(|| format!("cannot open database {}", path.display()))
}

/// Refuses a PostgreSQL URL where a command needs a SQLite file.
pub fn sqlite_only(path: &Path) -> anyhow::Result<()> {
    if path.to_str().is_some_and(|db| db.starts_with("postgres://") || db.starts_with("postgresql://")) {
        return Err(UsageError(
            "this command reads a SQLite file; for PostgreSQL start `baton serve --db URL` and use --server URL".into(),
        )
        .into());
    }
    Ok(())
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

/// Every `.yaml`, `.yml` and `.json` file of `dir`, sorted by name, to deploy at start.
pub fn read_folder(dir: &Path) -> anyhow::Result<Vec<WorkflowSource>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|file| {
            let label = file.display().to_string();
            let text =
                std::fs::read_to_string(file).map_err(|err| UsageError(format!("cannot read {label}: {err}")))?;
            Ok(WorkflowSource { label, text })
        })
        .collect()
}

/// A failed start as the CLI reports it: every refused definition (stderr) and a usage error
/// (exit 2) for what the user can fix, the error with its causes otherwise.
pub fn server_error(err: ServerError, workflows: Option<&Path>) -> anyhow::Error {
    match err {
        ServerError::Refused(refused) => {
            for workflow in &refused {
                match &workflow.reason {
                    Refusal::Invalid(err) => {
                        for diagnostic in err.diagnostics() {
                            eprintln!("{}:{diagnostic}", workflow.label);
                        }
                    }
                    Refusal::Conflict(message) => eprintln!("{}: {message}", workflow.label),
                }
            }
            let place = workflows.map(|dir| format!(" in {}", dir.display())).unwrap_or_default();
            UsageError(format!("{} definition(s){place} cannot be deployed", refused.len())).into()
        }
        ServerError::Lease(err @ baton_server::lease::LeaseError::Held { .. }) => UsageError(err.to_string()).into(),
        ServerError::Lease(err) => anyhow::Error::new(err).context("cannot take the database lease"),
        err @ ServerError::NoSecretKey => UsageError(err.to_string()).into(),
        err @ (ServerError::Sinks(_)
        | ServerError::Listen { .. }
        | ServerError::OpenOffLoopback { .. }
        | ServerError::Bootstrap(baton_server::auth::bootstrap::BootstrapError::MalformedKey)) => {
            UsageError(format!("{:#}", anyhow::Error::new(err))).into()
        }
        err => err.into(),
    }
}
