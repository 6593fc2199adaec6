//! The content-type guard: a request body must say what it is, in a type its route accepts.
//!
//! A missing type, `text/plain` and the form types are refused with 415: they are what a foreign
//! web page can send without a CORS preflight, so refusing them means no cross-site request can
//! write (a bearer key is not sent by browsers on their own either).

use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;

use crate::api::ApiError;

/// JSON bodies (every route but the two below).
pub const JSON: &[&str] = &["application/json"];

/// Workflow definitions: JSON or YAML.
pub const DEFINITION: &[&str] = &["application/yaml", "text/yaml", "application/x-yaml", "application/json"];

/// CloudEvents in the structured and batch modes (binary mode: see [`require_event_type`]).
pub const EVENTS: &[&str] = &["application/cloudevents+json", "application/cloudevents-batch+json", "application/json"];

/// The media type of a request (lowercase, without parameters), if it has one.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// Accepts the request's body only in one of the `accepted` media types.
///
/// Errors: `unsupported-media-type` (415) naming the types accepted.
pub fn require(headers: &HeaderMap, accepted: &'static [&'static str]) -> Result<(), ApiError> {
    let found = media_type(headers);
    match &found {
        Some(found) if accepted.contains(&found.as_str()) => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType { found: found.map(|it| it.chars().take(100).collect()), accepted }),
    }
}

/// [`require`] for `/events`: a binary-mode event (`ce-specversion` header) may carry data of
/// any type, since a custom header cannot be sent cross-site without a preflight.
pub fn require_event_type(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.contains_key("ce-specversion") {
        true => Ok(()),
        false => require(headers, EVENTS),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_type(value: Option<&'static str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn simple_request_types_are_refused() {
        for refused in [
            None,
            Some("text/plain"),
            Some("text/plain; charset=utf-8"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some(""),
        ] {
            assert!(require(&with_type(refused), JSON).is_err(), "{refused:?}");
            assert!(require(&with_type(refused), DEFINITION).is_err(), "{refused:?}");
            assert!(require_event_type(&with_type(refused)).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn each_route_takes_its_types() {
        assert!(require(&with_type(Some("Application/JSON; charset=utf-8")), JSON).is_ok());
        assert!(require(&with_type(Some("application/yaml")), JSON).is_err());
        assert!(require(&with_type(Some("text/yaml")), DEFINITION).is_ok());
        assert!(require_event_type(&with_type(Some("application/cloudevents-batch+json"))).is_ok());
        let mut binary = with_type(Some("text/plain"));
        binary.insert("ce-specversion", HeaderValue::from_static("1.0"));
        assert!(require_event_type(&binary).is_ok());
    }
}
