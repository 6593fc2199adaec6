//! The server's secret key and the AEAD it drives (XChaCha20-Poly1305, RustCrypto's
//! `chacha20poly1305`): every sealed value has a fresh random 24-byte nonce, stored in front
//! of its ciphertext, and is bound to associated data naming what it is (a workspace and a
//! secret name, or a run and an effect), so a sealed value moved elsewhere does not open.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, Key, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Bytes of the nonce in front of every sealed value.
const NONCE_LEN: usize = 24;

/// Why a key could not be had, or a sealed value not opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    /// The key text is neither 64 hex digits nor the base64 of 32 bytes.
    #[error("the secret key must be 32 bytes, written as 64 hex digits or in base64")]
    Malformed,
    /// Reading or creating the key file failed.
    #[error("cannot use the secret key file {path}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The system's random source failed.
    #[error("no randomness available for a key or nonce")]
    Random,
    /// The sealed value was altered, belongs elsewhere, or was sealed with another key.
    #[error("a sealed value does not open with this key")]
    Open,
}

/// The key that seals secret values at rest. Cheap to clone; its `Debug` shows no key.
#[derive(Clone)]
pub struct SecretKey {
    cipher: Arc<XChaCha20Poly1305>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

impl SecretKey {
    /// A new random key (for a key file, or a process that keeps nothing across restarts).
    ///
    /// # Errors
    /// [`SecretKeyError::Random`] when the system's random source fails.
    pub fn generate() -> Result<SecretKey, SecretKeyError> {
        let key = Key::<XChaCha20Poly1305>::try_generate().map_err(|_| SecretKeyError::Random)?;
        Ok(SecretKey { cipher: Arc::new(XChaCha20Poly1305::new(&key)) })
    }

    /// The key written as text: 64 hex digits or the base64 of 32 bytes (surrounding
    /// whitespace ignored), as in `BATON_SECRET_KEY` or a key file.
    ///
    /// # Errors
    /// [`SecretKeyError::Malformed`] otherwise.
    pub fn from_text(text: &str) -> Result<SecretKey, SecretKeyError> {
        let text = text.trim();
        let bytes = decode_hex(text).or_else(|| BASE64.decode(text).ok()).ok_or(SecretKeyError::Malformed)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| SecretKeyError::Malformed)?;
        Ok(SecretKey { cipher: Arc::new(cipher) })
    }

    /// Reads the key file at `path`.
    ///
    /// # Errors
    /// [`SecretKeyError::File`] when it cannot be read, [`SecretKeyError::Malformed`] when it
    /// holds no key.
    pub fn load(path: &Path) -> Result<SecretKey, SecretKeyError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SecretKeyError::File { path: path.to_owned(), source })?;
        SecretKey::from_text(&text)
    }

    /// Reads the key file at `path`, creating it with a new key first when it does not exist
    /// (readable and writable by its owner only, mode 0600 on Unix).
    ///
    /// # Errors
    /// As [`SecretKey::load`] and [`SecretKey::generate`].
    pub fn load_or_create(path: &Path) -> Result<SecretKey, SecretKeyError> {
        let file_error = |source| SecretKeyError::File { path: path.to_owned(), source };
        if path.exists() {
            return SecretKey::load(path);
        }
        let key = Key::<XChaCha20Poly1305>::try_generate().map_err(|_| SecretKeyError::Random)?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                writeln!(file, "{}", BASE64.encode(key.as_slice())).map_err(file_error)?;
                file.sync_all().map_err(file_error)?;
                tracing::info!(path = %path.display(), "created the secret key file");
                Ok(SecretKey { cipher: Arc::new(XChaCha20Poly1305::new(&key)) })
            }
            // Another process created it first: use theirs.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => SecretKey::load(path),
            Err(err) => Err(file_error(err)),
        }
    }

    /// Encrypts `plaintext` bound to `aad`: a fresh nonce followed by the ciphertext and tag.
    ///
    /// # Errors
    /// [`SecretKeyError::Random`] when no nonce can be drawn.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretKeyError> {
        let nonce = XNonce::try_generate().map_err(|_| SecretKeyError::Random)?;
        let ciphertext =
            self.cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).map_err(|_| SecretKeyError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(nonce.as_slice());
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Decrypts what [`SecretKey::seal`] made with the same `aad`.
    ///
    /// # Errors
    /// [`SecretKeyError::Open`] when it was altered, sealed for other `aad` or with another key.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretKeyError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretKeyError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SecretKeyError::Open)?;
        self.cipher.decrypt(&nonce, Payload { msg: ciphertext, aad }).map_err(|_| SecretKeyError::Open)
    }
}

/// The key file beside a SQLite database: `<database>.secret-key`.
pub fn key_file_beside(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".secret-key");
    PathBuf::from(name)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 2 * KEY_LEN || !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|at| u8::from_str_radix(&text[at..at + 2], 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_associated_data() {
        let key = SecretKey::generate().unwrap();
        let sealed = key.seal(b"hunter2", b"default/db").unwrap();
        assert!(!sealed.windows(7).any(|window| window == b"hunter2"));
        assert_ne!(sealed, key.seal(b"hunter2", b"default/db").unwrap(), "a fresh nonce each time");
        assert_eq!(key.open(&sealed, b"default/db").unwrap(), b"hunter2");
        assert!(matches!(key.open(&sealed, b"other/db"), Err(SecretKeyError::Open)));
        assert!(matches!(SecretKey::generate().unwrap().open(&sealed, b"default/db"), Err(SecretKeyError::Open)));
        assert!(matches!(key.open(&sealed[..10], b"default/db"), Err(SecretKeyError::Open)));
    }

    #[test]
    fn keys_are_read_as_hex_or_base64_and_files_are_private() {
        let hex = "00".repeat(KEY_LEN);
        let from_hex = SecretKey::from_text(&hex).unwrap();
        let from_base64 = SecretKey::from_text(&BASE64.encode([0u8; KEY_LEN])).unwrap();
        assert_eq!(from_base64.open(&from_hex.seal(b"x", b"").unwrap(), b"").unwrap(), b"x");
        assert!(matches!(SecretKey::from_text("short"), Err(SecretKeyError::Malformed)));

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baton.db.secret-key");
        let created = SecretKey::load_or_create(&path).unwrap();
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&created.seal(b"y", b"").unwrap(), b"").unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
