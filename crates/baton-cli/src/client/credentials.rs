//! Which API key a client command sends: `--api-key`, else `BATON_API_KEY` (both through clap),
//! else, for a server on this machine, the admin key file that `baton serve` wrote beside its
//! database on the first start (`<database>.admin-key`, the database being `BATON_DB` or
//! `baton.db`).

use std::net::IpAddr;
use std::path::PathBuf;

use reqwest::Url;

/// Suffix of the admin key file beside a SQLite database.
const KEY_FILE_SUFFIX: &str = ".admin-key";

/// The key to send to `server`: `explicit` when given, else the local admin key file's content
/// when `server` is a loopback address and the file exists.
pub fn api_key(server: &str, explicit: Option<&str>) -> Option<String> {
    if let Some(key) = explicit.map(str::trim).filter(|key| !key.is_empty()) {
        return Some(key.to_owned());
    }
    if !is_local(server) {
        return None;
    }
    let db = std::env::var("BATON_DB").ok().filter(|db| !db.is_empty()).unwrap_or_else(|| "baton.db".to_owned());
    let text = std::fs::read_to_string(key_file(&db)).ok()?;
    Some(text.trim().to_owned()).filter(|key| !key.is_empty())
}

fn key_file(db: &str) -> PathBuf {
    PathBuf::from(format!("{db}{KEY_FILE_SUFFIX}"))
}

/// Whether `server`'s host is this machine (`localhost` or a loopback address).
fn is_local(server: &str) -> bool {
    let Ok(url) = Url::parse(server) else { return false };
    let Some(host) = url.host_str() else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_servers_are_local() {
        for local in ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080/x", "http://127.3.0.1"] {
            assert!(is_local(local), "{local}");
        }
        for remote in ["http://10.0.0.1:8080", "https://baton.example.com", "not a url"] {
            assert!(!is_local(remote), "{remote}");
        }
        assert_eq!(api_key("https://baton.example.com", Some(" k ")), Some("k".to_owned()));
        assert_eq!(api_key("https://baton.example.com", None), None);
    }
}
