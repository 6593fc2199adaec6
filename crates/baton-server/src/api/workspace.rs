//! The workspace a request acts in, taken from one place: handlers extract [`CallerWorkspace`]
//! instead of naming a workspace themselves. Until callers are identified (API keys) every
//! request acts in the `default` workspace; the identity extractor replaces this one.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use baton_store::WorkspaceId;

use crate::api::error::ApiError;
use crate::engine::DEFAULT_WORKSPACE;

/// The caller's workspace id.
#[derive(Debug, Clone)]
pub(crate) struct CallerWorkspace(pub(crate) WorkspaceId);

impl<S: Send + Sync> FromRequestParts<S> for CallerWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(CallerWorkspace(DEFAULT_WORKSPACE.clone()))
    }
}
