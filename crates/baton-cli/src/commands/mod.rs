//! One module per subcommand.

pub mod conformance;
pub mod deploy;
pub mod events;
pub mod first_start;
pub mod identity;
pub mod inbox;
pub mod run;
pub mod runs;
pub mod serve;
pub mod validate;
pub mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::Value;

use baton_core::compile::CompiledWorkflow;
use baton_server::engine::{Engine, EngineError};
use baton_store::{SqliteOptions, SqliteStore, Store, StoreError};

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
    if path.to_str().is_some_and(|db| db.starts_with("postgres://") || db.starts_with("postgresql://")) {
        return Err(UsageError(
            "this command reads a SQLite file; for PostgreSQL start `baton serve --db URL` and use --server URL".into(),
        )
        .into());
    }
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

/// Deploys every `.yaml`, `.yml` and `.json` file of `dir` (sorted by name) and returns the
/// deployed workflows. Reports every invalid or conflicting file (stderr), then fails with a
/// usage error if there was any.
pub async fn deploy_folder<S: Store + Clone>(
    engine: &Engine<S>,
    dir: &Path,
) -> anyhow::Result<Vec<Arc<CompiledWorkflow>>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|err| UsageError(format!("cannot read {}: {err}", dir.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml" || ext == "json"))
        .collect();
    files.sort();
    let mut deployed = Vec::new();
    let mut n_refused = 0;
    for file in &files {
        let name = file.display();
        let text = std::fs::read_to_string(file).map_err(|err| UsageError(format!("cannot read {name}: {err}")))?;
        match engine.deploy(&text).await {
            Ok(workflow) => deployed.push(workflow),
            Err(EngineError::Definition(err)) => {
                n_refused += 1;
                for diagnostic in err.diagnostics() {
                    eprintln!("{name}:{diagnostic}");
                }
            }
            Err(EngineError::Store(StoreError::Conflict(message))) => {
                n_refused += 1;
                eprintln!("{name}: {message}");
            }
            Err(err) => return Err(err).with_context(|| format!("cannot deploy {name}")),
        }
    }
    if n_refused > 0 {
        return Err(UsageError(format!("{n_refused} definition(s) in {} cannot be deployed", dir.display())).into());
    }
    eprintln!("deployed {} definition(s) from {}", deployed.len(), dir.display());
    Ok(deployed)
}

/// `--secret NAME=VALUE` pairs as the `$secrets` object.
pub fn parse_secrets(pairs: &[String]) -> anyhow::Result<Value> {
    let mut secrets = serde_json::Map::new();
    for pair in pairs {
        let (name, value) = pair.split_once('=').ok_or_else(|| {
            UsageError(format!("--secret {name:?} must be NAME=VALUE", name = pair.split('=').next().unwrap_or("")))
        })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        secrets.insert(name.to_owned(), value);
    }
    Ok(Value::Object(secrets))
}

/// Takes the database lease (one Baton process drives a database's runs at a time); another
/// live process holding it is a usage error.
pub async fn take_lease(store: &SqliteStore) -> anyhow::Result<baton_server::lease::HeldLease> {
    baton_server::lease::acquire(store).await.map_err(|err| match err {
        baton_server::lease::LeaseError::Held { .. } => UsageError(err.to_string()).into(),
        err => anyhow::Error::new(err).context("cannot take the database lease"),
    })
}
