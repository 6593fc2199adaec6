//! The pure half of `call: http`: URI template expansion, building an [`HttpRequest`] from
//! evaluated arguments, and turning an [`HttpResponse`] into the task's raw output
//! (`dsl-reference.md#http-call`, `#http-response`, `#uri-template`).
//!
//! Credentials end up in request headers only. Error titles and details name the method and the
//! URI (without userinfo), never a header value.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Value};
use url::Url;

use baton_model::error_types::StandardError;
use baton_model::types::OutputFormat;

use crate::effects::{HttpRequest, HttpResponse};
use crate::error::WorkflowError;

/// How much of a failed response's body goes into the error's `detail`.
const ERROR_DETAIL_LIMIT: usize = 1024;

/// Credentials for the `Authorization` header, already resolved (secrets expanded).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic { username: String, password: String },
    Bearer { token: String },
}

impl std::fmt::Debug for Credentials {
    // Never print secrets, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).field("password", &"***").finish()
            }
            Credentials::Bearer { .. } => f.debug_struct("Bearer").field("token", &"***").finish(),
        }
    }
}

/// The arguments of an HTTP call after every expression has been evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    pub method: String,
    /// The endpoint, URI template already expanded.
    pub uri: String,
    /// An object of header names to values; `null` values are skipped.
    pub headers: Option<Value>,
    /// An object of query parameter names to values, appended to the URI's query.
    pub query: Option<Value>,
    pub body: Option<Value>,
    pub redirect: bool,
    pub credentials: Option<Credentials>,
}

/// Expands RFC 6570 level-1 `{var}` expressions with the top-level keys of `data`.
///
/// `{pet.id}` reads the key `"pet.id"`. A missing or `null` value expands to `""`; strings,
/// numbers and booleans are percent-encoded (unreserved characters kept); arrays and objects
/// are an expression error (400). Text outside braces, and an unclosed `{`, is kept as-is.
pub fn expand_uri_template(template: &str, data: &Value) -> Result<String, WorkflowError> {
    substitute_braces(template, |name, res| {
        match data.get(name) {
            None | Some(Value::Null) => {}
            Some(Value::String(text)) => percent_encode_into(res, text),
            Some(Value::Number(number)) => percent_encode_into(res, &number.to_string()),
            Some(Value::Bool(flag)) => res.push_str(if *flag { "true" } else { "false" }),
            Some(Value::Array(_) | Value::Object(_)) => {
                return Err(WorkflowError::standard(
                    StandardError::Expression,
                    format!("URI template variable \"{name}\" is not a string, number, boolean or null"),
                ));
            }
        }
        Ok(())
    })
}

/// Replaces each `{name}` of `template` with what `expand` writes for `name`. Text outside
/// braces, and an unclosed `{`, is kept as-is. Errors: the first error of `expand`.
pub(crate) fn substitute_braces<E>(
    template: &str,
    mut expand: impl FnMut(&str, &mut String) -> Result<(), E>,
) -> Result<String, E> {
    let mut res = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        res.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            res.push_str(&rest[open..]);
            return Ok(res);
        };
        expand(&after[..close], &mut res)?;
        rest = &after[close + 1..];
    }
    res.push_str(rest);
    Ok(res)
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut res = String::with_capacity(text.len());
    percent_encode_into(&mut res, text);
    res
}

fn percent_encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

/// Builds the request for an HTTP call.
///
/// The method is upper-cased; the URI must be an absolute `http`/`https` URL (a configuration
/// error otherwise); query entries are appended (arrays repeat the name, `null` is skipped);
/// header values are stringified; credentials become the `Authorization` header, replacing one
/// given in `headers`.
pub fn build_request(call: HttpCall) -> Result<HttpRequest, WorkflowError> {
    let method = call.method.trim().to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(WorkflowError::standard(
            StandardError::Configuration,
            format!("invalid HTTP method \"{}\"", call.method),
        ));
    }

    let mut url = match Url::parse(&call.uri) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => url,
        Ok(url) => {
            return Err(WorkflowError::standard(
                StandardError::Configuration,
                format!("endpoint \"{}\" is not an http or https URL", display_uri(url.as_str())),
            ));
        }
        Err(err) => {
            return Err(WorkflowError::standard(
                StandardError::Configuration,
                format!("endpoint \"{}\" is not an absolute URI: {err}", call.uri),
            ));
        }
    };

    if let Some(query) = &call.query {
        let entries = as_object(query, "query")?;
        if !entries.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in entries {
                match value {
                    Value::Null => {}
                    Value::Array(items) => {
                        for item in items.iter().filter(|item| !item.is_null()) {
                            pairs.append_pair(name, &stringify(item));
                        }
                    }
                    _ => {
                        pairs.append_pair(name, &stringify(value));
                    }
                }
            }
        }
    }

    let mut headers = Vec::new();
    if let Some(header_values) = &call.headers {
        for (name, value) in as_object(header_values, "headers")? {
            if value.is_null() {
                continue;
            }
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(WorkflowError::standard(
                    StandardError::Configuration,
                    format!("invalid HTTP header name \"{name}\""),
                ));
            }
            headers.push((name.clone(), stringify(value)));
        }
    }
    if let Some(credentials) = &call.credentials {
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        let value = match credentials {
            Credentials::Basic { username, password } => {
                format!("Basic {}", BASE64.encode(format!("{username}:{password}")))
            }
            Credentials::Bearer { token } => format!("Bearer {token}"),
        };
        headers.push(("Authorization".to_owned(), value));
    }

    Ok(HttpRequest {
        method,
        uri: url.to_string(),
        headers,
        body: call.body.filter(|body| !body.is_null()),
        redirect: call.redirect,
    })
}

/// Turns a response into the task's raw output according to `format`.
///
/// Status check first: without `redirect` any non-2xx status fails, with `redirect` any status
/// outside 200–399. The failure is a communication error whose `status` is the HTTP status.
///
/// Content: JSON when the content type says JSON or the body parses as JSON; otherwise text when
/// the body is UTF-8 (or the content type is textual, decoded lossily); otherwise base64, as the
/// spec asks for undecodable content. An empty body is `null`.
pub fn read_response(
    request: &HttpRequest,
    response: &HttpResponse,
    format: OutputFormat,
) -> Result<Value, WorkflowError> {
    let body = BASE64.decode(response.body_base64.as_bytes()).map_err(|err| {
        WorkflowError::standard(StandardError::Runtime, "stored HTTP response body is not valid base64")
            .with_detail(err.to_string())
    })?;

    let status_ok =
        if request.redirect { (200..400).contains(&response.status) } else { (200..300).contains(&response.status) };
    if !status_ok {
        let reason = reason_phrase(response.status);
        let title = if reason.is_empty() {
            format!("HTTP {} from {} {}", response.status, request.method, display_uri(&request.uri))
        } else {
            format!("HTTP {} {reason} from {} {}", response.status, request.method, display_uri(&request.uri))
        };
        let mut err = WorkflowError::standard(StandardError::Communication, title).with_status(response.status);
        if !body.is_empty() {
            err = err.with_detail(truncate_text(&body, ERROR_DETAIL_LIMIT));
        }
        return Err(err);
    }

    match format {
        OutputFormat::Raw => Ok(Value::String(response.body_base64.clone())),
        OutputFormat::Content => Ok(decode_content(&response.headers, &body)),
        OutputFormat::Response => {
            let mut request_headers = Map::new();
            for (name, value) in &request.headers {
                let shown = if is_sensitive_header(name) { "***".to_owned() } else { value.clone() };
                request_headers.insert(name.clone(), Value::String(shown));
            }
            let mut response_headers = Map::new();
            for (name, value) in &response.headers {
                let name = name.to_ascii_lowercase();
                match response_headers.get_mut(&name) {
                    Some(Value::String(existing)) => {
                        existing.push_str(", ");
                        existing.push_str(value);
                    }
                    _ => {
                        response_headers.insert(name, Value::String(value.clone()));
                    }
                }
            }
            let mut request_object = Map::new();
            request_object.insert("method".to_owned(), Value::String(request.method.clone()));
            request_object.insert("uri".to_owned(), Value::String(display_uri(&request.uri)));
            request_object.insert("headers".to_owned(), Value::Object(request_headers));
            let mut res = Map::new();
            res.insert("request".to_owned(), Value::Object(request_object));
            res.insert("statusCode".to_owned(), Value::from(response.status));
            res.insert("headers".to_owned(), Value::Object(response_headers));
            res.insert("content".to_owned(), decode_content(&response.headers, &body));
            Ok(Value::Object(res))
        }
    }
}

/// The URI for titles, logs and outputs: any `user:password@` removed and every query value
/// shown as `***` (query strings often carry keys and tokens), names kept.
pub fn display_uri(uri: &str) -> String {
    let Ok(mut url) = Url::parse(uri) else { return uri.to_owned() };
    if !url.username().is_empty() || url.password().is_some() {
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    if let Some(query) = url.query().filter(|query| !query.is_empty()) {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{name}=***"),
                None => pair.to_owned(),
            })
            .collect();
        url.set_query(Some(&masked.join("&")));
    }
    url.to_string()
}

/// Headers whose values are secrets and are shown as `***`: `Authorization`,
/// `Proxy-Authorization`, `Cookie`, `Set-Cookie`, and any name ending in `-key`, `-token` or
/// `-secret` (`X-Api-Key`, `X-Auth-Token`), or named `api-key`/`apikey`.
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(name.as_str(), "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "apikey" | "api-key")
        || name.ends_with("-key")
        || name.ends_with("-token")
        || name.ends_with("-secret")
        || name.ends_with("_key")
        || name.ends_with("_token")
}

fn decode_content(headers: &[(String, String)], body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let content_type = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.to_ascii_lowercase())
        .unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    // JSON content types and bodies that happen to be JSON both deserialize.
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        return value;
    }
    match std::str::from_utf8(body) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) if is_textual(mime) => Value::String(String::from_utf8_lossy(body).into_owned()),
        Err(_) => Value::String(BASE64.encode(body)),
    }
}

fn is_textual(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime.ends_with("xml")
        || mime == "application/x-www-form-urlencoded"
}

fn truncate_text(body: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(limit)]).into_owned();
    // A cut in the middle of a character leaves one replacement character at the end; drop it.
    if body.len() > limit { text.trim_end_matches('\u{FFFD}').to_owned() } else { text }
}

fn as_object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, WorkflowError> {
    match value {
        Value::Object(entries) => Ok(entries),
        _ => Err(WorkflowError::standard(StandardError::Validation, format!("HTTP call {what} must be an object"))),
    }
}

pub(crate) fn stringify(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn get(uri: &str) -> HttpCall {
        HttpCall {
            method: "get".to_owned(),
            uri: uri.to_owned(),
            headers: None,
            query: None,
            body: None,
            redirect: false,
            credentials: None,
        }
    }

    fn response(status: u16, content_type: &str, body: &[u8]) -> HttpResponse {
        HttpResponse {
            status,
            headers: vec![("content-type".to_owned(), content_type.to_owned())],
            body_base64: BASE64.encode(body),
        }
    }

    #[test]
    fn uri_template_expands_top_level_scalars() {
        let data = json!({"petId": 1, "pet.id": "a b/c", "flag": true, "none": null, "pet": {"id": 3}});
        let res = expand_uri_template("https://x/v2/pet/{petId}?q={pet.id}&f={flag}&n={none}&m={missing}", &data);
        assert_eq!(res.unwrap(), "https://x/v2/pet/1?q=a%20b%2Fc&f=true&n=&m=");
        assert_eq!(expand_uri_template("https://x/{unclosed", &data).unwrap(), "https://x/{unclosed");
        assert_eq!(expand_uri_template("no vars", &json!(null)).unwrap(), "no vars");
        assert_eq!(expand_uri_template("/{a}-{b}", &json!({"a": "é~", "b": 1.5})).unwrap(), "/%C3%A9~-1.5");
    }

    #[test]
    fn uri_template_rejects_arrays_and_objects() {
        let err = expand_uri_template("https://x/{pet}", &json!({"pet": {"id": 3}})).unwrap_err();
        assert!(err.is(StandardError::Expression));
        assert_eq!(err.status, 400);
        assert!(err.title.unwrap().contains("\"pet\""));
        let err = expand_uri_template("https://x/{ids}", &json!({"ids": [1]})).unwrap_err();
        assert!(err.is(StandardError::Expression));
    }

    #[test]
    fn build_request_appends_query_headers_and_credentials() {
        let mut call = get("https://petstore.swagger.io/v2/pet/findByStatus?status=available");
        call.query = Some(json!({"limit": 10, "tags": ["a", "b"], "skip": null, "q": "x y"}));
        call.headers = Some(json!({"X-Num": 5, "Accept": "application/json", "Authorization": "old", "N": null}));
        call.credentials = Some(Credentials::Basic { username: "user".into(), password: "pa:ss".into() });
        call.body = Some(json!({"a": 1}));
        let request = build_request(call).unwrap();
        assert_eq!(request.method, "GET");
        assert_eq!(
            request.uri,
            "https://petstore.swagger.io/v2/pet/findByStatus?status=available&limit=10&tags=a&tags=b&q=x+y"
        );
        assert_eq!(
            request.headers,
            vec![
                ("X-Num".to_owned(), "5".to_owned()),
                ("Accept".to_owned(), "application/json".to_owned()),
                ("Authorization".to_owned(), format!("Basic {}", BASE64.encode("user:pa:ss"))),
            ]
        );
        assert_eq!(request.body, Some(json!({"a": 1})));

        let mut call = get("http://h/x");
        call.method = "post".into();
        call.credentials = Some(Credentials::Bearer { token: "t0k".into() });
        call.body = Some(Value::Null);
        call.redirect = true;
        let request = build_request(call).unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.headers, vec![("Authorization".to_owned(), "Bearer t0k".to_owned())]);
        assert_eq!(request.body, None);
        assert!(request.redirect);
    }

    #[test]
    fn build_request_rejects_bad_uris_methods_and_shapes() {
        for uri in ["/relative/path", "ftp://host/file", "mailto:a@b.c", ""] {
            let err = build_request(get(uri)).unwrap_err();
            assert!(err.is(StandardError::Configuration), "{uri}");
            assert!(err.title.as_deref().unwrap().contains(uri), "{uri}");
        }
        let mut call = get("http://h/");
        call.method = "GE T".into();
        assert!(build_request(call).unwrap_err().is(StandardError::Configuration));
        let mut call = get("http://h/");
        call.headers = Some(json!(["x"]));
        assert!(build_request(call).unwrap_err().is(StandardError::Validation));
        let mut call = get("http://h/");
        call.headers = Some(json!({"bad name": "x"}));
        assert!(build_request(call).unwrap_err().is(StandardError::Configuration));
    }

    // See: #11
    #[test]
    fn issue_11_display_uri_hides_query_values_and_userinfo() {
        assert_eq!(
            display_uri("https://u:p@h.example/a?api_key=s3cr3t&flag&page=2#top"),
            "https://h.example/a?api_key=***&flag&page=***#top"
        );
        assert_eq!(display_uri("http://h/plain"), "http://h/plain");
        for name in ["Authorization", "cookie", "X-Api-Key", "x-auth-token", "Client-Secret", "apikey"] {
            assert!(is_sensitive_header(name), "{name}");
        }
        for name in ["Accept", "Content-Type", "X-Request-Id", "Keyboard"] {
            assert!(!is_sensitive_header(name), "{name}");
        }
    }

    #[test]
    fn non_success_status_is_a_communication_error() {
        let request = build_request(get("https://user:secret@petstore.swagger.io/v2/pet/getPetByName/x")).unwrap();
        let err = read_response(
            &request,
            &response(404, "application/json", br#"{"message":"Pet not found"}"#),
            OutputFormat::Content,
        )
        .unwrap_err();
        assert!(err.is(StandardError::Communication));
        assert_eq!(err.status, 404);
        let title = err.title.unwrap();
        assert_eq!(title, "HTTP 404 Not Found from GET https://petstore.swagger.io/v2/pet/getPetByName/x");
        assert!(!title.contains("secret"));
        assert_eq!(err.detail.as_deref(), Some(r#"{"message":"Pet not found"}"#));

        let long = vec![b'x'; 5000];
        let err = read_response(&request, &response(500, "text/plain", &long), OutputFormat::Raw).unwrap_err();
        assert_eq!(err.detail.unwrap().len(), ERROR_DETAIL_LIMIT);
        assert_eq!(err.status, 500);

        let err = read_response(&request, &response(302, "text/plain", b""), OutputFormat::Content).unwrap_err();
        assert_eq!((err.status, err.detail), (302, None));
        let mut redirecting = request.clone();
        redirecting.redirect = true;
        assert_eq!(
            read_response(&redirecting, &response(302, "text/plain", b""), OutputFormat::Content).unwrap(),
            Value::Null
        );
        assert_eq!(
            read_response(&redirecting, &response(400, "", b""), OutputFormat::Content).unwrap_err().status,
            400
        );
        let err = read_response(&request, &response(599, "", b""), OutputFormat::Content).unwrap_err();
        assert_eq!(err.title.unwrap(), "HTTP 599 from GET https://petstore.swagger.io/v2/pet/getPetByName/x");
    }

    #[test]
    fn content_is_decoded_by_type_and_shape() {
        let request = build_request(get("http://h/")).unwrap();
        let read = |content_type: &str, body: &[u8]| {
            read_response(&request, &response(200, content_type, body), OutputFormat::Content).unwrap()
        };
        assert_eq!(read("application/json; charset=utf-8", br#"{"id":1}"#), json!({"id": 1}));
        assert_eq!(read("application/problem+json", br#"[1]"#), json!([1]));
        assert_eq!(read("text/plain", b"42"), json!(42));
        assert_eq!(read("text/plain", b"hello"), json!("hello"));
        assert_eq!(read("application/json", b"{broken"), json!("{broken"));
        assert_eq!(read("application/json", b""), Value::Null);
        assert_eq!(read("text/plain", &[0x68, 0xff]), json!("h\u{FFFD}"));
        assert_eq!(read("application/octet-stream", &[0xff, 0x00]), json!(BASE64.encode([0xff, 0x00])));
        let raw = read_response(&request, &response(200, "application/json", b"{}"), OutputFormat::Raw).unwrap();
        assert_eq!(raw, json!(BASE64.encode(b"{}")));
    }

    #[test]
    fn response_format_redacts_authorization() {
        let mut call = get("https://petstore.swagger.io/v2/pet/1");
        call.headers = Some(json!({"Accept": "application/json"}));
        call.credentials = Some(Credentials::Bearer { token: "secret".into() });
        let request = build_request(call).unwrap();
        let response = HttpResponse {
            status: 200,
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("x-multi".to_owned(), "a".to_owned()),
                ("x-multi".to_owned(), "b".to_owned()),
            ],
            body_base64: BASE64.encode(br#"{"id":1,"name":"doggie","status":"available"}"#),
        };
        let output = read_response(&request, &response, OutputFormat::Response).unwrap();
        assert_eq!(
            output,
            json!({
                "request": {
                    "method": "GET",
                    "uri": "https://petstore.swagger.io/v2/pet/1",
                    "headers": {"Accept": "application/json", "Authorization": "***"},
                },
                "statusCode": 200,
                "headers": {"content-type": "application/json", "x-multi": "a, b"},
                "content": {"id": 1, "name": "doggie", "status": "available"},
            })
        );
        assert!(!output.to_string().contains("secret"));
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let basic = Credentials::Basic { username: "u".into(), password: "hunter2".into() };
        let bearer = Credentials::Bearer { token: "s3cr3t".into() };
        assert!(!format!("{basic:?}").contains("hunter2"));
        assert!(!format!("{bearer:?}").contains("s3cr3t"));
    }
}
