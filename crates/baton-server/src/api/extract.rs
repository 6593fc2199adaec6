//! Extractors whose rejections are our problem details instead of axum's plain-text ones.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::api::error::ApiError;
use crate::auth::media;
use crate::inbound::BodyTimeout;

/// A JSON request body that is an object (every request body type of the API is a struct).
/// A `Content-Type` other than `application/json` (or none) is `unsupported-media-type`
/// ([`crate::auth::media`]), syntax errors are `malformed-json`, a body of the wrong shape is
/// `invalid-request` (also a top-level array or scalar: serde's derived `Deserialize` would
/// take `[a, b]` for a struct of two fields, which the document's `type: object` forbids), a
/// body over the limit is `payload-too-large`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        let value = parse_json::<T>(&bytes)?;
        match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
            Some(b'{') => Ok(ApiJson(value)),
            _ => Err(ApiError::InvalidRequest("the request body must be a JSON object".into())),
        }
    }
}

/// A JSON request body that may be any JSON value (a secret's value); otherwise as [`ApiJson`].
#[derive(Debug)]
pub struct ApiJsonValue(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for ApiJsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = json_body(req, state).await?;
        parse_json(&bytes).map(ApiJsonValue)
    }
}

/// The body of a request that must be `application/json`.
async fn json_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    media::require(req.headers(), media::JSON)?;
    Bytes::from_request(req, state).await.map_err(body_rejection)
}

/// `bytes` as a `T`: syntax errors are `malformed-json`, the wrong shape `invalid-request`.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| match err.is_data() {
        true => ApiError::InvalidRequest(err.to_string()),
        false => ApiError::MalformedJson(err.to_string()),
    })
}

/// A workflow definition: UTF-8 text sent as YAML or JSON ([`crate::auth::media::DEFINITION`]).
#[derive(Debug)]
pub struct ApiText(pub String);

impl<S: Send + Sync> FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        media::require(req.headers(), media::DEFINITION)?;
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        String::from_utf8(bytes.to_vec())
            .map(ApiText)
            .map_err(|_| ApiError::InvalidRequest("the request body is not UTF-8 text".into()))
    }
}

/// A raw request body (CloudEvents in binary mode may carry any bytes); over the limit is
/// `payload-too-large`.
#[derive(Debug)]
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state).await.map(ApiBytes).map_err(body_rejection)
    }
}

/// Query parameters; a parameter of the wrong type is `invalid-request`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection: QueryRejection| ApiError::InvalidRequest(rejection.body_text()))
    }
}

/// Path parameters; a segment that does not decode is `invalid-request`.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection: PathRejection| ApiError::InvalidRequest(rejection.body_text()))
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge
    } else if caused_by_body_timeout(&rejection) {
        ApiError::RequestTimeout
    } else {
        ApiError::InvalidRequest(rejection.body_text())
    }
}

/// Whether the body failed because its read deadline passed (`inbound/body_timeout.rs`).
fn caused_by_body_timeout(rejection: &BytesRejection) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(err) = source {
        if err.is::<BodyTimeout>() {
            return true;
        }
        source = err.source();
    }
    false
}
