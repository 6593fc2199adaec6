//! `POST /api/v1/events`: CloudEvents 1.0 into the engine, in the HTTP structured, binary and
//! batch modes. The engine stores each event once per `source` + `id` (a duplicate is
//! acknowledged and ignored) and delivers it at once to the runs waiting for it; an event no
//! run waits for yet is kept for the retention window.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use baton_core::events::{binary_mode_event, validate_cloud_event};

use crate::api::AppState;
use crate::api::dto::{CloudEventDoc, EventsAccepted};
use crate::api::error::{ApiError, Problem};
use crate::api::extract::ApiBytes;
use crate::api::inbox::authorize_event_answer;
use crate::auth::access::Member;
use crate::engine::EngineError;

/// Media type of one event in the structured mode.
pub(crate) const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";
/// Media type of the batch mode: a JSON array of events.
pub(crate) const CLOUDEVENTS_BATCH: &str = "application/cloudevents-batch+json";

/// Send CloudEvents
///
/// Structured mode: `Content-Type: application/cloudevents+json` (or `application/json`) and
/// the event as a JSON object. Binary mode: `ce-*` headers for the attributes and the body as
/// `data` (`Content-Type` becomes `datacontenttype`). Batch mode: `Content-Type:
/// application/cloudevents-batch+json` (or `application/json`) and a JSON array of events.
/// Every event is checked before any is accepted: one invalid event refuses the whole request.
///
/// The binary mode is not among this operation's parameters: its `ce-*` headers change what the
/// body is (the event's `data`), which a parameter list cannot state.
#[utoipa::path(
    post,
    path = "/api/v1/events",
    tag = "events",
    request_body(
        description = "One event (structured or binary mode) or an array of events (batch mode)",
        content(
            (CloudEventDoc = "application/cloudevents+json"),
            (Vec<CloudEventDoc> = "application/cloudevents-batch+json"),
            (CloudEventDoc = "application/json"),
        )
    ),
    responses(
        (status = 202, description = "Accepted: new events delivered, duplicates ignored", body = EventsAccepted),
        (status = 400, description = "`invalid-event` (`problems` lists every missing or invalid attribute; \
            `[i] ` prefixes those of the i-th event of a batch) or `malformed-json`; nothing is accepted",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload-too-large`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub(crate) async fn send_events(
    State(state): State<AppState>,
    Member(caller): Member,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Response, ApiError> {
    crate::auth::media::require_event_type(&headers)?;
    let mut events = parse_events(&headers, &body)?;
    for event in &mut events {
        authorize_event_answer(&state, &caller, event).await?;
    }
    // Publishing must not stop halfway because the client went away: the whole batch is
    // published in a task of its own.
    let engine = state.engine.clone();
    let workspace = caller.workspace.clone();
    let published = tokio::spawn(async move {
        let (mut accepted, mut duplicates) = (0, 0);
        for event in events {
            match engine.publish_event_in(&workspace, event).await? {
                true => accepted += 1,
                false => duplicates += 1,
            }
        }
        Ok::<_, EngineError>(EventsAccepted { accepted, duplicates })
    })
    .await
    .map_err(|err| ApiError::Internal(format!("event intake task failed: {err}")))??;
    tracing::debug!(accepted = published.accepted, duplicates = published.duplicates, "events received");
    Ok((StatusCode::ACCEPTED, Json(published)).into_response())
}

/// The events of a request, each valid. Errors: `invalid-event` with every problem of every
/// event, `malformed-json` when a JSON body does not parse.
fn parse_events(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Value>, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let binary = headers.keys().any(|name| name.as_str().starts_with("ce-"));
    match media_type.as_deref() {
        Some(CLOUDEVENTS_BATCH) => match parse_json(body)? {
            Value::Array(events) => batch(events),
            _ => Err(ApiError::InvalidEvent(vec![format!("a {CLOUDEVENTS_BATCH} body must be a JSON array")])),
        },
        Some(CLOUDEVENTS_JSON) => single(parse_json(body)?),
        _ if binary => {
            let headers: Vec<(String, String)> = headers
                .iter()
                .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
                .collect();
            Ok(vec![binary_mode_event(&headers, body).map_err(ApiError::InvalidEvent)?])
        }
        _ => match parse_json(body)? {
            Value::Array(events) => batch(events),
            event => single(event),
        },
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson("the request body is empty".into()));
    }
    serde_json::from_slice(body).map_err(|err| ApiError::MalformedJson(err.to_string()))
}

fn single(event: Value) -> Result<Vec<Value>, ApiError> {
    validate_cloud_event(&event).map_err(ApiError::InvalidEvent)?;
    Ok(vec![event])
}

/// Every event of a batch, or every problem of every invalid one (`[index] problem`).
fn batch(events: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    let problems: Vec<String> = events
        .iter()
        .enumerate()
        .filter_map(|(index, event)| validate_cloud_event(event).err().map(|problems| (index, problems)))
        .flat_map(|(index, problems)| problems.into_iter().map(move |problem| format!("[{index}] {problem}")))
        .collect();
    if problems.is_empty() { Ok(events) } else { Err(ApiError::InvalidEvent(problems)) }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde_json::json;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn problems(err: ApiError) -> Vec<String> {
        match err {
            ApiError::InvalidEvent(problems) => problems,
            other => panic!("expected invalid-event, got {other:?}"),
        }
    }

    #[test]
    fn modes_are_told_apart() {
        let event = json!({"specversion": "1.0", "id": "1", "source": "s", "type": "t"});
        let body = event.to_string();
        for content_type in [CLOUDEVENTS_JSON, "application/json; charset=utf-8"] {
            let parsed = parse_events(&headers(&[("content-type", content_type)]), body.as_bytes()).unwrap();
            assert_eq!(parsed, vec![event.clone()]);
        }
        let batch_body = json!([event, event]).to_string();
        assert_eq!(
            parse_events(&headers(&[("content-type", CLOUDEVENTS_BATCH)]), batch_body.as_bytes()).unwrap().len(),
            2
        );
        let binary = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-id", "2"),
            ("ce-source", "s"),
            ("ce-type", "t"),
            ("content-type", "application/json"),
        ]);
        let parsed = parse_events(&binary, br#"{"a":1}"#).unwrap();
        assert_eq!(parsed[0]["data"], json!({"a": 1}));
        assert_eq!(parsed[0]["id"], "2");
    }

    #[test]
    fn every_problem_of_every_event_is_listed() {
        let body = json!([{"specversion": "1.0", "id": "1", "source": "s", "type": "t"}, {"specversion": "1.0"}]);
        let found = problems(
            parse_events(&headers(&[("content-type", CLOUDEVENTS_BATCH)]), body.to_string().as_bytes()).unwrap_err(),
        );
        assert_eq!(found, vec!["[1] id: required", "[1] source: required", "[1] type: required"]);
        let found = problems(parse_events(&HeaderMap::new(), b"{}").unwrap_err());
        assert_eq!(found, vec!["specversion: required", "id: required", "source: required", "type: required"]);
        assert!(matches!(parse_events(&HeaderMap::new(), b"{").unwrap_err(), ApiError::MalformedJson(_)));
        assert!(matches!(parse_events(&HeaderMap::new(), b"").unwrap_err(), ApiError::MalformedJson(_)));
    }
}
