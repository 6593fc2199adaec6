//! The API key format and its hash.
//!
//! A key is `bk_` followed by 32 random bytes in unpadded base64url (46 characters, 256 bits of
//! entropy). Only its SHA-256 is stored. A slow password hash (argon2, bcrypt) is not needed:
//! those slow down guessing of low-entropy secrets, while a 256-bit random key cannot be guessed
//! or inverted from its hash at any speed; a fast hash keeps the per-request check cheap.

use axum::http::HeaderValue;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// What every generated key starts with (recognisable in logs and secret scanners).
pub const KEY_PREFIX: &str = "bk_";

/// Characters of a key shown in listings (`bk_` and 8 more of a generated key).
const SHOWN_PREFIX_CHARS: usize = 11;

/// Shortest key accepted from `BATON_BOOTSTRAP_API_KEY`.
pub const MIN_KEY_LEN: usize = 16;

/// Longest bearer token considered at all; longer ones are malformed.
const MAX_KEY_LEN: usize = 512;

/// A new random key.
///
/// Errors: the operating system's random source failed.
pub fn generate_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{KEY_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a key: lowercase hex SHA-256 of its text.
pub fn hash_key(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The start of a key shown in listings: enough to recognise it, far too little to use it.
pub fn shown_prefix(key: &str) -> String {
    let n_chars = SHOWN_PREFIX_CHARS.min(key.chars().count() / 3);
    key.chars().take(n_chars).collect()
}

/// Whether `key` can be an API key: 16 to 512 visible ASCII characters.
pub fn is_well_formed(key: &str) -> bool {
    (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|byte| byte.is_ascii_graphic())
}

/// The key of an `Authorization: Bearer <key>` header (scheme case-insensitive), if well formed.
pub fn bearer_token(header: &HeaderValue) -> Option<&str> {
    let text = header.to_str().ok()?;
    let (scheme, key) = text.trim().split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && is_well_formed(key)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_well_formed() {
        let (a, b) = (generate_key().unwrap(), generate_key().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 46);
        assert!(a.starts_with(KEY_PREFIX) && is_well_formed(&a));
        assert_eq!(shown_prefix(&a).len(), 11);
        assert!(a.starts_with(&shown_prefix(&a)));
    }

    #[test]
    fn hashes_are_sha256_hex() {
        assert_eq!(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn bearer_headers() {
        let key = "bk_0123456789abcdefghij";
        for text in [format!("Bearer {key}"), format!("bearer  {key} "), format!("BEARER {key}")] {
            assert_eq!(bearer_token(&HeaderValue::from_str(&text).unwrap()), Some(key), "{text}");
        }
        for text in ["Bearer", "Bearer ", "Basic abcdefghijklmnopqrstuvwxyz", "Bearer short", "bk_0123456789abcdefghij"]
        {
            assert_eq!(bearer_token(&HeaderValue::from_str(text).unwrap()), None, "{text}");
        }
        assert_eq!(shown_prefix("0123456789abcdef"), "01234");
    }
}
