//! The extractors that resolve and check the caller, one per level of access. Every route
//! takes exactly one of them (the authorization-matrix test holds every route to it):
//! [`Viewer`] reads, [`Member`] writes, [`Admin`] administers the workspace, [`ServerAdmin`]
//! administers the server, [`MetricsReader`] is `/metrics` (open with `--metrics-public`).
//!
//! A key that resolves but lacks the role is `403 forbidden` naming the role needed; the
//! caller is resolved once per request (kept in the request's extensions).

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::api::ApiError;
use crate::auth::{Auth, Caller, Role};

/// Resolves the request's caller, once.
async fn caller(parts: &mut Parts, auth: &Auth) -> Result<Caller, ApiError> {
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(caller.clone());
    }
    let caller = auth.authenticate(parts.headers.get(AUTHORIZATION)).await?;
    parts.extensions.insert(caller.clone());
    Ok(caller)
}

/// Defines an extractor that admits callers with at least `$role` (and, when `$server_admin`,
/// only server admins).
macro_rules! access {
    ($(#[$doc:meta])* $name:ident, $role:expr, $role_name:literal, $server_admin:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl<S: Send + Sync> FromRequestParts<S> for $name
        where
            Arc<Auth>: FromRef<S>,
        {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
                let auth = Arc::<Auth>::from_ref(state);
                let caller = caller(parts, &auth).await?;
                if caller.role < $role {
                    return Err(ApiError::Forbidden(concat!("this request needs the ", $role_name, " role")));
                }
                if $server_admin && !caller.server_admin {
                    return Err(ApiError::Forbidden("this request needs a server admin"));
                }
                Ok($name(caller))
            }
        }
    };
}

access!(
    /// Any valid key of the workspace: reads.
    Viewer,
    Role::Viewer,
    "viewer",
    false
);
access!(
    /// `member` or `admin`: deploys, runs, signals, events, inbox answers.
    Member,
    Role::Member,
    "member",
    false
);
access!(
    /// `admin`: members, keys, audit (later settings, secrets, danger zone).
    Admin,
    Role::Admin,
    "admin",
    false
);
access!(
    /// A server admin (with an admin key): creates workspaces.
    ServerAdmin,
    Role::Admin,
    "admin",
    true
);

/// `/metrics`: any valid key, or nobody at all with `--metrics-public`.
#[derive(Debug, Clone)]
pub struct MetricsReader;

impl<S: Send + Sync> FromRequestParts<S> for MetricsReader
where
    Arc<Auth>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<Auth>::from_ref(state);
        if !auth.config().metrics_public {
            caller(parts, &auth).await?;
        }
        Ok(MetricsReader)
    }
}
