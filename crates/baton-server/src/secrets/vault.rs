//! The workspace secret store as the server uses it: names checked, values sealed with the
//! server key bound to the workspace and the name, and the `$secrets` of a run assembled from
//! the secrets its workflow declares (decrypted in memory for one step, never kept).

use serde_json::{Map, Value};

use baton_store::{SecretRecord, SecretStore, SecretSummary, StoreError, WorkspaceId};

use crate::secrets::key::{SecretKey, SecretKeyError};

/// Longest secret name (bytes).
pub const MAX_NAME_LEN: usize = 128;

/// Largest secret value, as JSON text (bytes).
pub const MAX_VALUE_LEN: usize = 64 * 1024;

/// Why a secret could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The name is empty, too long, or has characters other than ASCII letters, digits, `_`
    /// and `-` (or does not start with a letter or `_`).
    #[error(
        "secret name \"{0}\" must start with a letter or '_' and hold only letters, digits, '_' and '-' (at most 128)"
    )]
    InvalidName(String),
    /// The value's JSON text is longer than [`MAX_VALUE_LEN`].
    #[error("secret value is {0} bytes, more than the 65536 allowed")]
    TooLarge(usize),
    #[error(transparent)]
    Key(#[from] SecretKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn aad(workspace: &str, name: &str) -> Vec<u8> {
    format!("baton/secret\0{workspace}\0{name}").into_bytes()
}

/// Whether `name` can name a secret (and be read as `$secrets.name` or `$secrets["name"]`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Stores `value` as the secret `name` of `workspace`, sealed; returns whether it is new.
///
/// # Errors
/// [`VaultError::InvalidName`], [`VaultError::TooLarge`], or the key's or store's error.
pub async fn put_secret(
    store: &impl SecretStore,
    key: &SecretKey,
    workspace: &WorkspaceId,
    name: &str,
    value: &Value,
    now: i64,
) -> Result<bool, VaultError> {
    if !valid_name(name) {
        return Err(VaultError::InvalidName(name.to_owned()));
    }
    let text = value.to_string();
    if text.len() > MAX_VALUE_LEN {
        return Err(VaultError::TooLarge(text.len()));
    }
    let sealed = key.seal(text.as_bytes(), &aad(workspace.as_str(), name))?;
    let record = SecretRecord {
        workspace: workspace.as_str().to_owned(),
        name: name.to_owned(),
        sealed,
        created_at: now,
        updated_at: now,
    };
    Ok(store.put_secret(record).await?)
}

/// The secrets of `workspace`, names and times only.
///
/// # Errors
/// The store's error.
pub async fn list_secrets(store: &impl SecretStore, workspace: &WorkspaceId) -> Result<Vec<SecretSummary>, VaultError> {
    Ok(store.list_secrets(workspace).await?)
}

/// `$secrets` for a step of a workflow declaring `declared` in `workspace`: each declared name
/// from the workspace's store, else from `fallback` (the process's `--secret` values); names
/// that are not declared are never included.
///
/// # Errors
/// The store's error, or [`SecretKeyError::Open`] for a value sealed with another key.
pub async fn run_secrets(
    store: &impl SecretStore,
    key: &SecretKey,
    workspace: &WorkspaceId,
    declared: &[String],
    fallback: &Value,
) -> Result<Value, VaultError> {
    let mut secrets = Map::new();
    if declared.is_empty() {
        return Ok(Value::Object(secrets));
    }
    for name in declared {
        if let Some(value) = fallback.get(name) {
            secrets.insert(name.clone(), value.clone());
        }
    }
    for record in store.get_secrets(workspace, declared).await? {
        let plain = key.open(&record.sealed, &aad(workspace.as_str(), &record.name))?;
        // A value that does not parse was not written by `put_secret`: treat it as text.
        let value = serde_json::from_slice(&plain)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&plain).into_owned()));
        secrets.insert(record.name, value);
    }
    Ok(Value::Object(secrets))
}
