//! The first start: on a database without workspaces the server creates the `default`
//! workspace, its admin member (a server admin) and that member's key, and shows the key once.
//! `BATON_BOOTSTRAP_API_KEY` supplies the key instead (scripts, containers); a generated key is
//! also written to `<database file>.admin-key`, readable by its owner only.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use baton_store::{AuthStore, KeyRecord, MemberRecord, NewAuditEntry, NewWorkspace, StoreError, WorkspaceRecord};

use crate::auth::Role;
use crate::auth::keys;

/// Id (and slug) of the workspace every existing resource belongs to.
pub const DEFAULT_WORKSPACE_ID: &str = "default";

/// Member id of the `default` workspace's first admin.
pub const DEFAULT_ADMIN_ID: &str = "default-admin";

/// Environment variable whose value becomes the first admin key.
pub const BOOTSTRAP_KEY_ENV: &str = "BATON_BOOTSTRAP_API_KEY";

/// Why the first start failed.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("cannot create the default workspace")]
    Store(#[from] StoreError),
    #[error("the operating system's random source failed: {0}")]
    Random(getrandom::Error),
    #[error("{BOOTSTRAP_KEY_ENV} must be {min} to 512 visible ASCII characters", min = keys::MIN_KEY_LEN)]
    MalformedKey,
}

/// What the first start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstStart {
    /// The `default` workspace was created with this admin key; `generated`: not the one from
    /// [`BOOTSTRAP_KEY_ENV`].
    Created { key: String, generated: bool },
    /// The database had been started before: nothing was created.
    AlreadyDone,
}

/// A new workspace with its first admin member (`admin`) and that member's admin key (`key`),
/// created at `now` by `actor` (`None`: the server itself).
pub fn new_workspace(
    workspace: WorkspaceRecord,
    admin: MemberRecord,
    key: &str,
    key_id: String,
    actor: Option<String>,
) -> NewWorkspace {
    let now = workspace.created_at;
    let key = KeyRecord {
        id: key_id,
        workspace: workspace.id.clone(),
        member_id: admin.id.clone(),
        name: "first admin key".into(),
        prefix: keys::shown_prefix(key),
        hash: keys::hash_key(key),
        role: Role::Admin.as_str().into(),
        created_at: now,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    let audit = NewAuditEntry {
        workspace: workspace.id.clone(),
        at: now,
        actor,
        action: "workspace.created".into(),
        target: Some(workspace.id.clone()),
        detail: json!({"slug": workspace.slug, "admin": admin.id, "keyPrefix": key.prefix}),
    };
    NewWorkspace { workspace, admin, key, audit }
}

/// Creates the `default` workspace with its admin and key unless it exists. Several nodes
/// starting together on one database: one creates it, the others find it done.
///
/// Errors: [`BootstrapError::MalformedKey`] for a bootstrap key that is too short or not
/// printable, store errors.
pub async fn first_start(
    store: &impl AuthStore,
    bootstrap_key: Option<String>,
    now: i64,
) -> Result<FirstStart, BootstrapError> {
    if store.workspace(DEFAULT_WORKSPACE_ID).await?.is_some() {
        return Ok(FirstStart::AlreadyDone);
    }
    let (key, generated) = match bootstrap_key {
        Some(key) if keys::is_well_formed(&key) => (key, false),
        Some(_) => return Err(BootstrapError::MalformedKey),
        None => (keys::generate_key().map_err(BootstrapError::Random)?, true),
    };
    let workspace = WorkspaceRecord {
        id: DEFAULT_WORKSPACE_ID.into(),
        slug: DEFAULT_WORKSPACE_ID.into(),
        name: "Default".into(),
        state: "active".into(),
        created_at: now,
    };
    let admin = MemberRecord {
        id: DEFAULT_ADMIN_ID.into(),
        workspace: DEFAULT_WORKSPACE_ID.into(),
        name: "admin".into(),
        email: None,
        role: Role::Admin.as_str().into(),
        server_admin: true,
        created_at: now,
    };
    let new = new_workspace(workspace, admin, &key, uuid::Uuid::new_v4().to_string(), None);
    match store.create_workspace(new).await {
        Ok(()) => Ok(FirstStart::Created { key, generated }),
        Err(StoreError::Conflict(_)) => Ok(FirstStart::AlreadyDone),
        Err(err) => Err(err.into()),
    }
}

/// The file a generated admin key is written to: `<database file>.admin-key`.
pub fn key_file_for(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".admin-key");
    PathBuf::from(name)
}

/// Writes `key` (and a newline) to `path`, readable and writable by its owner only (0600).
///
/// Errors: the file cannot be created or written.
pub fn write_key_file(path: &Path, key: &str) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // An existing file keeps its mode on open: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    writeln!(file, "{key}")?;
    file.sync_all()
}
