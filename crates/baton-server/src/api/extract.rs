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

/// A JSON request body. A `Content-Type` other than `application/json` (or none) is
/// `unsupported-media-type` ([`crate::auth::media`]), syntax errors are `malformed-json`, a body
/// of the wrong shape is `invalid-request`, a body over the limit is `payload-too-large`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        media::require(req.headers(), media::JSON)?;
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(ApiJson(value)),
            Err(err) if err.is_data() => Err(ApiError::InvalidRequest(err.to_string())),
            Err(err) => Err(ApiError::MalformedJson(err.to_string())),
        }
    }
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
