//! Who calls: API keys resolved to a caller (workspace, member, role), once per request, by the
//! extractors of [`access`] that every route takes. This is the one seam of identity: handlers
//! receive a [`Caller`] and never read credentials themselves.
//!
//! Architecture Invariant: no route reads or writes without a resolved workspace. A handler gets
//! its workspace only from the [`Caller`] its extractor resolved; `/healthz` and `/readyz` are the
//! only routes without one (and `/metrics` with `--metrics-public`).

pub mod access;
pub mod bootstrap;
mod cache;
pub mod keys;
pub mod media;

use std::sync::Arc;

use axum::http::HeaderValue;

use baton_store::{AnyStore, KeyGrant, WorkspaceId};

use crate::api::ApiError;
use crate::auth::cache::KeyCache;

/// What a member (and a key) may do, lowest first: each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads everything of the workspace.
    Viewer,
    /// Deploys, starts and signals runs, sends events, answers the inbox.
    Member,
    /// Also manages members, keys, settings and secrets.
    Admin,
}

impl Role {
    /// The role's name as stored and shown: `viewer`, `member` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    /// Parses `viewer`, `member` or `admin`.
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A workspace's lifecycle state. Only `active` exists today; the later danger-zone work makes
/// `paused` refuse new runs (409) and `deleted` refuse every request (410), in the extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceState {
    Active,
    Paused,
    Deleted,
}

impl WorkspaceState {
    fn parse(text: &str) -> WorkspaceState {
        match text {
            "paused" => WorkspaceState::Paused,
            "deleted" => WorkspaceState::Deleted,
            _ => WorkspaceState::Active,
        }
    }
}

/// The resolved caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The workspace every resource of the request belongs to.
    pub workspace: WorkspaceId,
    pub workspace_state: WorkspaceState,
    pub member_id: String,
    pub member_name: String,
    pub member_email: Option<String>,
    /// The key's role, never above the member's current role.
    pub role: Role,
    /// May create workspaces and promote server admins (a server admin's admin key only).
    pub server_admin: bool,
    /// The key used (`None` with `--auth none`).
    pub key_id: Option<String>,
}

impl Caller {
    /// Whether this caller is named by an inbox item's `assignees` (by member id or email).
    pub fn is_named_in(&self, assignees: &[String]) -> bool {
        assignees.iter().any(|it| *it == self.member_id || self.member_email.as_deref() == Some(it.as_str()))
    }

    fn from_grant(grant: KeyGrant) -> Caller {
        let member_role = Role::parse(&grant.member.role).unwrap_or(Role::Viewer);
        let key_role = Role::parse(&grant.key.role).unwrap_or(Role::Viewer);
        let role = member_role.min(key_role);
        Caller {
            workspace: WorkspaceId::from(grant.workspace.id),
            workspace_state: WorkspaceState::parse(&grant.workspace.state),
            member_id: grant.member.id,
            member_name: grant.member.name,
            member_email: grant.member.email,
            role,
            server_admin: grant.member.server_admin && role == Role::Admin,
            key_id: Some(grant.key.id),
        }
    }
}

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// `Authorization: Bearer <key>` on every route but the probes. The default.
    Keys,
    /// `--auth none`: every request acts as the `default` workspace's server admin. Only for a
    /// loopback listen address (checked where the server is configured).
    None,
}

/// The identity settings of the API.
#[derive(Debug, Clone, Copy)]
pub struct AuthConfig {
    pub mode: AuthMode,
    /// `/metrics` without a key (`--metrics-public`).
    pub metrics_public: bool,
}

impl AuthConfig {
    /// Keys required everywhere, `/metrics` included.
    pub const KEYS: AuthConfig = AuthConfig { mode: AuthMode::Keys, metrics_public: false };
}

/// Resolves keys to callers through a short-lived in-memory cache over the store.
pub struct Auth {
    config: AuthConfig,
    store: AnyStore,
    cache: KeyCache,
}

impl Auth {
    pub fn new(store: AnyStore, config: AuthConfig) -> Arc<Auth> {
        Arc::new(Auth { config, store, cache: KeyCache::default() })
    }

    pub fn config(&self) -> AuthConfig {
        self.config
    }

    pub(crate) fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The caller of a request with this `Authorization` header.
    ///
    /// Errors: `unauthenticated` (401) for a missing, malformed, unknown, revoked or expired
    /// key (the key is never part of the problem), `workspace-deleted` (410).
    pub async fn authenticate(&self, authorization: Option<&HeaderValue>) -> Result<Caller, ApiError> {
        if self.config.mode == AuthMode::None {
            return Ok(local_caller());
        }
        let Some(header) = authorization else {
            return Err(ApiError::Unauthenticated("this request needs an `Authorization: Bearer <key>` header"));
        };
        let key = keys::bearer_token(header)
            .ok_or(ApiError::Unauthenticated("the Authorization header is not `Bearer <key>`"))?;
        let now = crate::clock::now_ms();
        let grant = self.cache.grant(&self.store, &keys::hash_key(key), now).await?;
        let Some(grant) = grant else { return Err(ApiError::Unauthenticated("unknown API key")) };
        if grant.key.revoked_at.is_some() {
            return Err(ApiError::Unauthenticated("the API key is revoked"));
        }
        if grant.key.expires_at.is_some_and(|at| at <= now) {
            return Err(ApiError::Unauthenticated("the API key has expired"));
        }
        let caller = Caller::from_grant(grant);
        if caller.workspace_state == WorkspaceState::Deleted {
            return Err(ApiError::WorkspaceDeleted);
        }
        Ok(caller)
    }

    /// Forgets a revoked key on this node at once (other nodes within the cache's lifetime).
    pub(crate) fn forget_key(&self, key_id: &str) {
        self.cache.forget_key(key_id);
    }

    /// Forgets every cached key on this node (after a member's role changed).
    pub(crate) fn forget_all(&self) {
        self.cache.clear();
    }
}

/// The caller under `--auth none`.
fn local_caller() -> Caller {
    Caller {
        workspace: WorkspaceId::DEFAULT,
        workspace_state: WorkspaceState::Active,
        member_id: bootstrap::DEFAULT_ADMIN_ID.into(),
        member_name: "admin".into(),
        member_email: None,
        role: Role::Admin,
        server_admin: true,
        key_id: None,
    }
}
