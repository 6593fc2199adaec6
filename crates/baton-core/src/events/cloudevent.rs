//! CloudEvents 1.0 received from outside: checking a structured (JSON) event, building one from
//! the HTTP binary mode, and the idempotency key.

use std::sync::LazyLock;

use base64::Engine as _;
use serde_json::{Map, Value, json};

/// Attributes every CloudEvent must have, besides `specversion`.
const REQUIRED: [&str; 3] = ["id", "source", "type"];

/// Optional context attributes that must be strings when present.
const STRING_ATTRIBUTES: [&str; 3] = ["datacontenttype", "dataschema", "subject"];

/// JSON Schema's `format: uri` (RFC 3986 absolute URI) and `format: date-time` (RFC 3339), as
/// the `jsonschema` crate checks them: the API's OpenAPI document declares these formats, so
/// the server accepts exactly what a JSON Schema validator of that document accepts.
static URI_FORMAT: LazyLock<Option<jsonschema::Validator>> = LazyLock::new(|| format_validator("uri"));
static DATE_TIME_FORMAT: LazyLock<Option<jsonschema::Validator>> = LazyLock::new(|| format_validator("date-time"));

fn format_validator(format: &str) -> Option<jsonschema::Validator> {
    jsonschema::options().should_validate_formats(true).build(&json!({"format": format})).ok()
}

/// Whether `text` has `format` (`None`: the validator did not build, so only the other checks
/// apply).
fn has_format(validator: &LazyLock<Option<jsonschema::Validator>>, text: &str) -> bool {
    validator.as_ref().is_none_or(|validator| validator.is_valid(&Value::String(text.to_owned())))
}

/// Checks a CloudEvent in the JSON format. Errors: every problem, one message each, starting
/// with the attribute name (`"id: required"`, `"specversion: must be \"1.0\""`...): the required
/// attributes (`specversion` 1.0, non-empty string `id`, `source` and `type`), `time` as an RFC
/// 3339 timestamp, `dataschema` as an absolute URI (RFC 3986; CloudEvents 1.0 §3.1.1), string
/// `datacontenttype`/`subject`, `data` and `data_base64` not both (and the latter valid
/// base64), and attribute names of lowercase ASCII letters and digits with scalar values. A
/// `null` attribute counts as absent, except `data`.
pub fn validate_cloud_event(event: &Value) -> Result<(), Vec<String>> {
    let Value::Object(attributes) = event else {
        return Err(vec!["the event must be a JSON object".to_owned()]);
    };
    let mut problems = Vec::new();
    match attributes.get("specversion") {
        None | Some(Value::Null) => problems.push("specversion: required".to_owned()),
        Some(Value::String(version)) if version == "1.0" => {}
        Some(_) => problems.push("specversion: must be \"1.0\"".to_owned()),
    }
    for name in REQUIRED {
        match attributes.get(name) {
            None | Some(Value::Null) => problems.push(format!("{name}: required")),
            Some(Value::String(text)) if !text.is_empty() => {}
            Some(_) => problems.push(format!("{name}: must be a non-empty string")),
        }
    }
    match attributes.get("time") {
        None | Some(Value::Null) => {}
        Some(Value::String(time)) if has_format(&DATE_TIME_FORMAT, time) && time.parse::<jiff::Timestamp>().is_ok() => {
        }
        Some(_) => problems.push("time: must be an RFC 3339 timestamp".to_owned()),
    }
    if let Some(Value::String(uri)) = attributes.get("dataschema")
        && (uri.is_empty() || !has_format(&URI_FORMAT, uri))
    {
        problems.push("dataschema: must be an absolute URI (RFC 3986)".to_owned());
    }
    for name in STRING_ATTRIBUTES {
        if attributes.get(name).is_some_and(|value| !value.is_string() && !value.is_null()) {
            problems.push(format!("{name}: must be a string"));
        }
    }
    match (attributes.get("data"), attributes.get("data_base64")) {
        (Some(_), Some(encoded)) if !encoded.is_null() => {
            problems.push("data_base64: not allowed together with data".to_owned())
        }
        (None, Some(Value::String(encoded)))
            if base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).is_err() =>
        {
            problems.push("data_base64: must be base64".to_owned())
        }
        (None, Some(value)) if !value.is_string() && !value.is_null() => {
            problems.push("data_base64: must be a string".to_owned())
        }
        _ => {}
    }
    for (name, value) in attributes {
        if name == "data" || name == "data_base64" {
            continue;
        }
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            problems.push(format!("{name}: attribute names must be lowercase ASCII letters and digits"));
        } else if value.is_object() || value.is_array() {
            problems.push(format!("{name}: an attribute value must be a string, number or boolean"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// The idempotency key of an event: its `(source, id)`, when both are strings.
pub fn event_key(event: &Value) -> Option<(String, String)> {
    let source = event.get("source")?.as_str()?;
    let id = event.get("id")?.as_str()?;
    Some((source.to_owned(), id.to_owned()))
}

/// Builds the JSON form of an event received in the HTTP binary mode: each `ce-<name>` header
/// is the attribute `<name>` (percent-decoded), `content-type` is `datacontenttype`, and the
/// body is `data`: parsed when the content type is JSON (`application/json`, `text/json` or
/// `…+json`), text when it is UTF-8, else `data_base64`. An empty body has no data. Header
/// names are case-insensitive.
///
/// Errors: a body that should be JSON and is not, then every problem of
/// [`validate_cloud_event`].
pub fn binary_mode_event(headers: &[(String, String)], body: &[u8]) -> Result<Value, Vec<String>> {
    let mut event = Map::new();
    let mut content_type = None;
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if name == "content-type" {
            content_type = Some(value.clone());
            event.insert("datacontenttype".into(), Value::String(value.clone()));
        } else if let Some(attribute) = name.strip_prefix("ce-") {
            event.insert(attribute.to_owned(), Value::String(percent_decode(value)));
        }
    }
    if !body.is_empty() {
        let json = content_type.as_deref().is_some_and(is_json_media_type);
        let data = if json {
            match serde_json::from_slice::<Value>(body) {
                Ok(data) => ("data", data),
                Err(err) => return Err(vec![format!("data: the body is not valid JSON ({err})")]),
            }
        } else {
            match std::str::from_utf8(body) {
                Ok(text) => ("data", Value::String(text.to_owned())),
                Err(_) => ("data_base64", Value::String(base64::engine::general_purpose::STANDARD.encode(body))),
            }
        };
        event.insert(data.0.into(), data.1);
    }
    let event = Value::Object(event);
    validate_cloud_event(&event)?;
    Ok(event)
}

/// `application/json`, `text/json` or any `…+json`, parameters ignored.
fn is_json_media_type(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    media_type == "application/json" || media_type == "text/json" || media_type.ends_with("+json")
}

/// Decodes `%XX` escapes (CloudEvents HTTP binding, header values); invalid escapes stay as
/// they are, invalid UTF-8 is replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let (Some(high), Some(low)) = (hex(bytes[index + 1]), hex(bytes[index + 2]))
        {
            decoded.push((high * 16 + low) as u8);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
