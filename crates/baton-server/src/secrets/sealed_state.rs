//! Requests in flight, sealed in the stored run state.
//!
//! A run's state keeps the HTTP requests it has in flight so a recovering node can issue them
//! again; those requests carry what the step built from secrets (an `Authorization` header, a
//! key in the query string, a body). Before a state is stored, the `uri`, `headers` and `body`
//! of every `http` and `fetch_document` effect are sealed with the server key (bound to the run
//! and the effect id) and replaced by `"***"`, `[]` and nothing, beside a `sealed` field; the
//! actor opens them when it loads the state. Other readers of the state (the API's current
//! task, a parent looking at a child) still parse it and never see a request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};

use crate::secrets::key::{SecretKey, SecretKeyError};

/// The fields of an effect that are sealed.
const SEALED_FIELDS: [&str; 3] = ["uri", "headers", "body"];

/// What a sealed `uri` reads as.
const MASKED_URI: &str = "***";

/// Why a stored state could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(transparent)]
    Key(#[from] SecretKeyError),
    /// A sealed field is not base64, or opens to something that is not a JSON object.
    #[error("a sealed request of the run state is malformed")]
    Malformed,
}

fn aad(run_id: &str, effect_id: &str) -> Vec<u8> {
    format!("baton/run-effect\0{run_id}\0{effect_id}").into_bytes()
}

/// The effect object of each effect in flight of a state's JSON, by effect id.
fn effects_mut(state: &mut Value) -> impl Iterator<Item = (&String, &mut Map<String, Value>)> {
    state
        .get_mut("effects")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|effects| effects.iter_mut())
        .filter_map(|(effect_id, pending)| Some((effect_id, pending.get_mut("effect")?.as_object_mut()?)))
}

/// The object holding a request's fields: `request` of an `http` effect, the effect itself for
/// `fetch_document`; `None` for effects that carry no request (subflows).
fn request_mut(effect: &mut Map<String, Value>) -> Option<&mut Map<String, Value>> {
    match effect.get("kind").and_then(Value::as_str) {
        Some("http") => effect.get_mut("request")?.as_object_mut(),
        Some("fetch_document") => Some(effect),
        _ => None,
    }
}

/// Seals the requests in flight of `state` (a serialized `RunState`) for the run `run_id`.
///
/// # Errors
/// [`SecretKeyError::Random`] when no nonce can be drawn.
pub fn seal_state(key: &SecretKey, run_id: &str, mut state: Value) -> Result<Value, SealError> {
    for (effect_id, effect) in effects_mut(&mut state) {
        let Some(request) = request_mut(effect) else { continue };
        if request.contains_key("sealed") {
            continue;
        }
        let mut plain = Map::new();
        for field in SEALED_FIELDS {
            if let Some(value) = request.remove(field) {
                plain.insert(field.to_owned(), value);
            }
        }
        let sealed = key.seal(Value::Object(plain).to_string().as_bytes(), &aad(run_id, effect_id))?;
        request.insert("uri".to_owned(), Value::from(MASKED_URI));
        request.insert("headers".to_owned(), Value::Array(Vec::new()));
        request.insert("sealed".to_owned(), Value::from(BASE64.encode(sealed)));
    }
    Ok(state)
}

/// Opens what [`seal_state`] sealed; a state without sealed requests comes back unchanged.
///
/// # Errors
/// [`SealError`] when a sealed request does not open with `key` for this run.
pub fn open_state(key: &SecretKey, run_id: &str, mut state: Value) -> Result<Value, SealError> {
    for (effect_id, effect) in effects_mut(&mut state) {
        let Some(request) = request_mut(effect) else { continue };
        let Some(Value::String(sealed)) = request.remove("sealed") else { continue };
        let sealed = BASE64.decode(sealed.as_bytes()).map_err(|_| SealError::Malformed)?;
        let plain = key.open(&sealed, &aad(run_id, effect_id))?;
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&plain) else {
            return Err(SealError::Malformed);
        };
        request.extend(fields);
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_in_flight_are_sealed_and_open_again() {
        let key = SecretKey::generate().unwrap();
        let state = json!({"run_id": "r1", "effects": {
            "e1": {"frame": 1, "idempotency_key": "k", "effect": {"kind": "http", "request": {
                "method": "GET", "uri": "http://h/?key=tok3n", "headers": [["Authorization", "Bearer tok3n"]],
                "body": {"t": "tok3n"}, "redirect": false}}},
            "e2": {"frame": 2, "idempotency_key": "k2", "effect": {"kind": "fetch_document",
                "uri": "http://h/doc?key=tok3n", "headers": []}},
            "e3": {"frame": 3, "idempotency_key": "k3", "effect": {"kind": "subflow", "namespace": "n",
                "name": "c", "version": "1", "input": {}}}
        }});
        let sealed = seal_state(&key, "r1", state.clone()).unwrap();
        assert!(!sealed.to_string().contains("tok3n"), "{sealed}");
        assert_eq!(sealed["effects"]["e1"]["effect"]["request"]["method"], "GET");
        assert_eq!(sealed["effects"]["e3"], state["effects"]["e3"]);
        assert_eq!(open_state(&key, "r1", sealed.clone()).unwrap(), state);
        assert!(open_state(&key, "r2", sealed).is_err(), "bound to its run");
    }
}
