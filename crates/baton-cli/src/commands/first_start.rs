//! `baton serve`'s first start on an empty database: the `default` workspace, its admin and
//! the admin key, shown once on stderr (with `BATON_BOOTSTRAP_API_KEY`, that key; a generated
//! key is also written to `<database>.admin-key`, mode 0600, for SQLite).

use std::path::Path;

use anyhow::Context as _;

use baton_server::auth::bootstrap::{self, BOOTSTRAP_KEY_ENV, FirstStart};
use baton_server::engine::now_ms;
use baton_store::AuthStore;

use crate::commands::UsageError;

/// The admin key as the banner's curl line shows it.
#[derive(Debug, Clone)]
pub enum AdminKey {
    /// Just created: shown as it is, this once.
    Created(String),
    /// From an earlier start: read from its file by the shell.
    InFile(String),
    /// `BATON_BOOTSTRAP_API_KEY`: named, not shown.
    FromEnvironment,
    /// From an earlier start, no file (PostgreSQL, or a key that came from the environment).
    Elsewhere,
    /// `--auth none`.
    NotNeeded,
}

impl AdminKey {
    /// The text after `Bearer ` in the banner's curl line.
    pub fn shell_text(&self) -> Option<String> {
        match self {
            AdminKey::Created(key) => Some(key.clone()),
            AdminKey::InFile(path) => Some(format!("$(cat {path})")),
            AdminKey::FromEnvironment => Some(format!("${BOOTSTRAP_KEY_ENV}")),
            AdminKey::Elsewhere => Some("$BATON_API_KEY".to_owned()),
            AdminKey::NotNeeded => None,
        }
    }
}

/// Creates the default workspace on a fresh database and says what the admin key is.
/// `key_file`: where a generated key is written (`None` for PostgreSQL: printed only).
pub async fn first_start(store: &impl AuthStore, key_file: Option<&Path>) -> anyhow::Result<AdminKey> {
    let bootstrap_key = std::env::var(BOOTSTRAP_KEY_ENV).ok().filter(|key| !key.is_empty());
    let started = bootstrap::first_start(store, bootstrap_key, now_ms()).await.map_err(|err| match err {
        bootstrap::BootstrapError::MalformedKey => anyhow::Error::from(UsageError(err.to_string())),
        other => anyhow::Error::from(other),
    })?;
    match started {
        FirstStart::Created { key, generated: true } => {
            match key_file {
                Some(path) => {
                    bootstrap::write_key_file(path, &key)
                        .with_context(|| format!("cannot write the admin key to {}", path.display()))?;
                    eprintln!(
                        "first start: created workspace `default` and its admin key (shown this once; also in {}, mode 0600):",
                        path.display()
                    );
                }
                None => eprintln!("first start: created workspace `default` and its admin key (shown this once):"),
            }
            eprintln!("  {key}");
            Ok(AdminKey::Created(key))
        }
        FirstStart::Created { generated: false, .. } => {
            eprintln!("first start: created workspace `default` with the admin key from {BOOTSTRAP_KEY_ENV}");
            Ok(AdminKey::FromEnvironment)
        }
        FirstStart::AlreadyDone => match key_file.filter(|path| path.exists()) {
            Some(path) => Ok(AdminKey::InFile(path.display().to_string())),
            None => Ok(AdminKey::Elsewhere),
        },
    }
}
