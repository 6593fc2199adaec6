//! Following redirects of outbound calls by hand, so that what the workflow sent never leaks
//! to another origin (issue 13, item 9; what browsers and curl do).
//!
//! reqwest's own redirect policy strips only `Authorization`, `Cookie`, `Proxy-Authorization`
//! and `WWW-Authenticate` on a cross-host hop, keeps every other header (`X-Api-Key: ${
//! $secrets.key }`) and adds `Referer`. Here, a hop to another origin (scheme, host or port)
//! drops **every header the workflow set** (its own headers and those built from its
//! credentials), keeping only Baton's `Idempotency-Key`; no hop ever carries `Referer`. Once
//! dropped, the headers stay dropped for the rest of the chain, also when it returns to the
//! first origin.

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, LOCATION, TRANSFER_ENCODING};
use reqwest::{Method, StatusCode};
use url::Url;

/// The header Baton adds to every call; it is not the workflow's and survives every hop.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Where a redirect response sends the request next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub url: Url,
    pub method: Method,
    /// Whether the body is sent again (307 and 308 keep method and body).
    pub keep_body: bool,
}

/// The next request after a response with `status` and `headers` to `method current`, or
/// `None` when the response is not a redirect to follow: not 301/302/303/307/308, without a
/// `Location`, or to a scheme other than `http`/`https` (the 3xx is then returned as it is).
pub fn next_hop(current: &Url, method: &Method, status: StatusCode, headers: &HeaderMap) -> Option<Hop> {
    let (method, keep_body) = match status.as_u16() {
        // As browsers do: a POST answered 301/302 is repeated as a GET, any 303 as a GET.
        301 | 302 if *method == Method::POST => (Method::GET, false),
        301 | 302 => (method.clone(), true),
        303 if *method == Method::HEAD => (Method::HEAD, false),
        303 => (Method::GET, false),
        307 | 308 => (method.clone(), true),
        _ => return None,
    };
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let url = current.join(location).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(Hop { url, method, keep_body })
}

/// Whether `a` and `b` have the same origin (scheme, host, port).
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// Drops every header the workflow set, keeping Baton's own `Idempotency-Key`.
pub fn strip_workflow_headers(headers: &mut HeaderMap) {
    let key = headers.remove(IDEMPOTENCY_KEY);
    headers.clear();
    if let Some(key) = key {
        headers.insert(IDEMPOTENCY_KEY, key);
    }
}

/// Drops the headers that describe a body, for a hop that does not send it again.
pub fn strip_body_headers(headers: &mut HeaderMap) {
    for name in [CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING] {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::{AUTHORIZATION, COOKIE, HeaderValue};

    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn location(to: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(LOCATION, HeaderValue::from_str(to).unwrap());
        headers
    }

    #[test]
    fn methods_and_bodies_follow_the_status() {
        let from = url("http://a.test/x");
        let hop = |method: Method, status: u16| {
            next_hop(&from, &method, StatusCode::from_u16(status).unwrap(), &location("/y")).map(|hop| {
                assert_eq!(hop.url, url("http://a.test/y"));
                (hop.method, hop.keep_body)
            })
        };
        assert_eq!(hop(Method::POST, 302), Some((Method::GET, false)));
        assert_eq!(hop(Method::PUT, 301), Some((Method::PUT, true)));
        assert_eq!(hop(Method::PUT, 303), Some((Method::GET, false)));
        assert_eq!(hop(Method::POST, 307), Some((Method::POST, true)));
        assert_eq!(hop(Method::POST, 308), Some((Method::POST, true)));
        assert_eq!(hop(Method::GET, 304), None);
        assert_eq!(hop(Method::GET, 200), None);
    }

    #[test]
    fn only_http_locations_are_followed() {
        let from = url("http://a.test/x");
        assert_eq!(next_hop(&from, &Method::GET, StatusCode::FOUND, &location("file:///etc/passwd")), None);
        assert_eq!(next_hop(&from, &Method::GET, StatusCode::FOUND, &HeaderMap::new()), None);
    }

    #[test]
    fn origins_differ_by_scheme_host_or_port() {
        assert!(same_origin(&url("http://a.test/x"), &url("http://a.test:80/y?z")));
        assert!(!same_origin(&url("http://a.test/"), &url("https://a.test/")));
        assert!(!same_origin(&url("http://a.test/"), &url("http://b.test/")));
        assert!(!same_origin(&url("http://127.0.0.1:1/"), &url("http://127.0.0.1:2/")));
    }

    #[test]
    fn stripping_keeps_only_the_idempotency_key() {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s"));
        headers.insert(COOKIE, HeaderValue::from_static("a=b"));
        headers.insert("x-api-key", HeaderValue::from_static("s"));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("k"));
        strip_workflow_headers(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[IDEMPOTENCY_KEY], "k");
    }
}
