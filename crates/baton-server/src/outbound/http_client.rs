//! Executes the interpreter's HTTP effects ([`Effect::Http`](baton_core::effects::Effect) and
//! `FetchDocument`) through the SSRF guard.
//!
//! Transport failures become communication errors (the spec's type for call failures) with a
//! status that says what went wrong:
//! - 503: no connection (refused, reset, name resolution failed);
//! - 504: the connect (5 s) or total (30 s) timeout expired;
//! - 502: anything else on the wire (protocol errors, a body over 16 MiB, more than 5 redirects);
//!
//! Redirects are followed hop by hop (`redirect.rs`): a hop to another origin carries none of
//! the workflow's headers, and no hop carries `Referer`.
//! - 403: the egress policy refused the destination (also after a redirect or DNS lookup);
//! - 400 (configuration): the request itself cannot be sent (bad URI, header or method).
//!
//! Titles name the method and the URI as the workflow wrote it (before rewrites, without
//! userinfo), never header values or credentials.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use url::Url;

use baton_core::effects::{EffectResult, HttpRequest, HttpResponse};
use baton_core::error::WorkflowError;
use baton_core::http::{display_uri, read_response};
use baton_model::error_types::StandardError;
use baton_model::types::OutputFormat;

use crate::outbound::egress::{EgressError, EgressPolicy, MAX_REDIRECTS, find_egress_error, guarded_client};
use crate::outbound::redirect;

/// The largest response body read; a larger one fails the call.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Sends outbound requests; cheap to clone (the clients share their connection pools).
#[derive(Clone)]
pub struct HttpExecutor {
    policy: EgressPolicy,
    /// `(prefix, replacement)` pairs, e.g. `https://petstore.swagger.io` → `http://127.0.0.1:PORT`.
    rewrites: Arc<Vec<(String, String)>>,
    /// Follows no redirect itself: [`HttpExecutor::send_following`] does, hop by hop.
    direct: reqwest::Client,
}

impl std::fmt::Debug for HttpExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpExecutor").field("policy", &self.policy).field("rewrites", &self.rewrites).finish()
    }
}

impl HttpExecutor {
    /// Rewrites apply to the start of a URI when the prefix ends there or is followed by `/`, `?`
    /// or `#` (so `https://petstore.swagger.io` does not match `https://petstore.swagger.io.evil`).
    /// Rewritten URIs still go through the egress policy, so pointing them at 127.0.0.1 needs
    /// `allow_loopback`.
    pub fn new(policy: EgressPolicy, rewrites: Vec<(String, String)>) -> HttpExecutor {
        HttpExecutor { policy, rewrites: Arc::new(rewrites), direct: guarded_client(policy, false) }
    }

    /// `uri` with the first matching rewrite applied.
    pub fn rewrite(&self, uri: &str) -> String {
        for (prefix, replacement) in self.rewrites.iter() {
            let Some(rest) = uri.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#']) {
                return format!("{replacement}{rest}");
            }
        }
        uri.to_owned()
    }

    /// Sends `request` with an `Idempotency-Key` header; redirects are followed only when
    /// `request.redirect` is set. The response is returned whatever its status: judging the
    /// status is [`read_response`]'s job.
    pub async fn send(&self, request: &HttpRequest, idempotency_key: &str) -> EffectResult {
        match self.execute(request, Some(idempotency_key)).await {
            Ok(response) => EffectResult::Http { response },
            Err(error) => EffectResult::Failed { error },
        }
    }

    /// Fetches a JSON or YAML document (an OpenAPI description) with GET, following redirects.
    pub async fn fetch_document(&self, uri: &str, headers: &[(String, String)]) -> EffectResult {
        let mut headers = headers.to_vec();
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("accept")) {
            headers.push((
                "Accept".to_owned(),
                "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.8".to_owned(),
            ));
        }
        let request =
            HttpRequest { method: "GET".to_owned(), uri: uri.to_owned(), headers, body: None, redirect: true };
        let response = match self.execute(&request, None).await {
            Ok(response) => response,
            Err(error) => return EffectResult::Failed { error },
        };
        let content = match read_response(&request, &response, OutputFormat::Content) {
            Ok(content) => content,
            Err(error) => return EffectResult::Failed { error },
        };
        let document = match content {
            Value::String(text) => match serde_saphyr::from_str::<Value>(&text) {
                Ok(document) => document,
                Err(err) => {
                    let error = WorkflowError::standard(
                        StandardError::Communication,
                        format!("document from {} is neither JSON nor YAML", display_uri(uri)),
                    )
                    .with_status(502)
                    .with_detail(err.to_string());
                    return EffectResult::Failed { error };
                }
            },
            other => other,
        };
        if !document.is_object() {
            let error = WorkflowError::standard(
                StandardError::Communication,
                format!("document from {} is not an object", display_uri(uri)),
            )
            .with_status(502);
            return EffectResult::Failed { error };
        }
        EffectResult::Document { document }
    }

    async fn execute(
        &self,
        request: &HttpRequest,
        idempotency_key: Option<&str>,
    ) -> Result<HttpResponse, WorkflowError> {
        let shown = format!("{} {}", request.method, display_uri(&request.uri));
        let invalid = |what: String| WorkflowError::standard(StandardError::Configuration, format!("{shown}: {what}"));

        let target = self.rewrite(&request.uri);
        let url = Url::parse(&target).map_err(|err| invalid(format!("invalid URI: {err}")))?;
        if let Err(err) = self.policy.check_url(&url) {
            return Err(WorkflowError::standard(StandardError::Communication, format!("{shown} refused: {err}"))
                .with_status(403));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| invalid("invalid HTTP method".to_owned()))?;

        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("invalid header name \"{name}\"")))?;
            let header_value =
                HeaderValue::from_str(value).map_err(|_| invalid(format!("invalid value for header \"{name}\"")))?;
            headers.append(header_name, header_value);
        }
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key).map_err(|_| invalid("invalid idempotency key".to_owned()))?;
            headers.insert(HeaderName::from_static("idempotency-key"), value);
        }
        let body = request.body.as_ref().map(|body| encode_body(body, &mut headers));

        tracing::debug!(method = %request.method, uri = %display_uri(&request.uri), "sending outbound request");
        let mut response = self.send_following(&shown, request.redirect, method, url, headers, body).await?;

        let status = response.status().as_u16();
        let response_headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let too_large = || {
            WorkflowError::standard(
                StandardError::Communication,
                format!("{shown}: response body exceeds {MAX_BODY_BYTES} bytes"),
            )
            .with_status(502)
        };
        if response.content_length().is_some_and(|length| length > MAX_BODY_BYTES as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|err| transport_error(&shown, err))? {
            if bytes.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let body_base64 = BASE64.encode(&bytes);
        Ok(HttpResponse { status, headers: response_headers, body_base64 })
    }
}

impl HttpExecutor {
    /// Sends the request and, with `follow`, up to [`MAX_REDIRECTS`] redirects after it: each
    /// hop's URL is checked by the egress policy, and a hop to another origin drops every
    /// header the workflow set (`redirect.rs`).
    async fn send_following(
        &self,
        shown: &str,
        follow: bool,
        mut method: reqwest::Method,
        mut url: Url,
        mut headers: HeaderMap,
        mut body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, WorkflowError> {
        let mut n_redirects = 0;
        loop {
            let mut builder = self.direct.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let response = builder.send().await.map_err(|err| transport_error(shown, err))?;
            let hop = match follow {
                true => redirect::next_hop(&url, &method, response.status(), response.headers()),
                false => None,
            };
            let Some(hop) = hop else { return Ok(response) };
            if n_redirects == MAX_REDIRECTS {
                return Err(egress_refusal(shown, &EgressError::TooManyRedirects));
            }
            n_redirects += 1;
            if let Err(err) = self.policy.check_url(&hop.url) {
                return Err(egress_refusal(shown, &err));
            }
            if !redirect::same_origin(&url, &hop.url) {
                redirect::strip_workflow_headers(&mut headers);
            }
            if !hop.keep_body {
                body = None;
                redirect::strip_body_headers(&mut headers);
            }
            (method, url) = (hop.method, hop.url);
        }
    }
}

/// The call failure for a request the egress guard refused: 502 for too many redirects,
/// 403 for a forbidden destination.
fn egress_refusal(shown: &str, egress: &EgressError) -> WorkflowError {
    let status = if *egress == EgressError::TooManyRedirects { 502 } else { 403 };
    WorkflowError::standard(StandardError::Communication, format!("{shown} refused: {egress}")).with_status(status)
}

/// Strings go as text, objects with a form content type as a form, everything else as JSON.
fn encode_body(body: &Value, headers: &mut HeaderMap) -> Vec<u8> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_ascii_lowercase);
    match (body, content_type.as_deref()) {
        (Value::String(text), None) => {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
            text.clone().into_bytes()
        }
        (Value::String(text), Some(_)) => text.clone().into_bytes(),
        (Value::Object(entries), Some(mime)) if mime.starts_with("application/x-www-form-urlencoded") => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in entries {
                match value {
                    Value::Null => {}
                    Value::String(text) => {
                        form.append_pair(name, text);
                    }
                    other => {
                        form.append_pair(name, &other.to_string());
                    }
                }
            }
            form.finish().into_bytes()
        }
        (other, content_type) => {
            if content_type.is_none() {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            serde_json::to_vec(other).unwrap_or_default()
        }
    }
}

fn transport_error(shown: &str, err: reqwest::Error) -> WorkflowError {
    if let Some(egress) = find_egress_error(&err) {
        return egress_refusal(shown, egress);
    }
    let (status, what) = if err.is_timeout() {
        (504, "timed out")
    } else if err.is_connect() {
        (503, "connection failed")
    } else {
        (502, "failed")
    };
    // The chain below reqwest's own message; reqwest's message would repeat the (rewritten) URL.
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let detail = if causes.is_empty() { err.without_url().to_string() } else { causes.join(": ") };
    WorkflowError::standard(StandardError::Communication, format!("{shown} {what}"))
        .with_status(status)
        .with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_match_whole_origins_only() {
        let executor = HttpExecutor::new(
            EgressPolicy { allow_loopback: true, allow_private: false },
            vec![("https://petstore.swagger.io".to_owned(), "http://127.0.0.1:9".to_owned())],
        );
        assert_eq!(executor.rewrite("https://petstore.swagger.io/v2/pet/1"), "http://127.0.0.1:9/v2/pet/1");
        assert_eq!(executor.rewrite("https://petstore.swagger.io"), "http://127.0.0.1:9");
        assert_eq!(executor.rewrite("https://petstore.swagger.io?x=1"), "http://127.0.0.1:9?x=1");
        assert_eq!(executor.rewrite("https://petstore.swagger.io.evil/x"), "https://petstore.swagger.io.evil/x");
        assert_eq!(executor.rewrite("https://petstore.swagger.io:8443/x"), "https://petstore.swagger.io:8443/x");
        assert_eq!(executor.rewrite("http://petstore.swagger.io/x"), "http://petstore.swagger.io/x");
    }

    #[test]
    fn bodies_are_encoded_by_type() {
        let mut headers = HeaderMap::new();
        assert_eq!(encode_body(&serde_json::json!({"a": 1}), &mut headers), br#"{"a":1}"#);
        assert_eq!(headers[CONTENT_TYPE], "application/json");

        let mut headers = HeaderMap::new();
        assert_eq!(encode_body(&Value::String("hi".into()), &mut headers), b"hi");
        assert_eq!(headers[CONTENT_TYPE], "text/plain; charset=utf-8");

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        let form = encode_body(&serde_json::json!({"a": "x y", "b": 2, "c": null}), &mut headers);
        assert_eq!(form, b"a=x+y&b=2");
    }
}
