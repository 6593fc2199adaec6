//! Secrets: the server key that seals them at rest (`key.rs`), the requests in flight sealed
//! in stored run states (`sealed_state.rs`), and the workspace secret store behind
//! `/api/v1/secrets` and `$secrets` (`vault.rs`).
//!
//! Invariant: no secret value is written to the store, a log or an API answer in the clear.
//! Values are decrypted only in memory, for the step that reads them.

mod key;
mod sealed_state;
mod vault;

pub use key::{KEY_LEN, SecretKey, SecretKeyError, key_file_beside};
pub use sealed_state::{SealError, open_state, seal_state};
pub use vault::{MAX_NAME_LEN, MAX_VALUE_LEN, VaultError, list_secrets, put_secret, run_secrets, valid_name};
