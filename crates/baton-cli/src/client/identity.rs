//! The identity endpoints of the client: workspaces and API keys.

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;

use crate::client::{Client, ClientError, REQUEST_TIMEOUT, segment};

impl Client {
    /// `POST /api/v1/keys` → `{key, id, prefix, role, ...}` (the key is shown this once).
    pub async fn create_key(&self, body: &Value) -> Result<Value, ClientError> {
        self.post_json("api/v1/keys", body).await
    }

    /// `GET /api/v1/keys` → `{items}`.
    pub async fn list_keys(&self) -> Result<Value, ClientError> {
        self.get_json("api/v1/keys").await
    }

    /// `DELETE /api/v1/keys/{id}`.
    pub async fn revoke_key(&self, id: &str) -> Result<(), ClientError> {
        let request = self.request(Method::DELETE, &format!("api/v1/keys/{}", segment(id)))?;
        self.send(request.timeout(REQUEST_TIMEOUT)).await.map(drop)
    }

    /// `POST /api/v1/workspaces` → `{workspace, admin, adminKey}`.
    pub async fn create_workspace(&self, body: &Value) -> Result<Value, ClientError> {
        self.post_json("api/v1/workspaces", body).await
    }

    /// `GET /api/v1/workspaces` → `{items}`.
    pub async fn list_workspaces(&self) -> Result<Value, ClientError> {
        self.get_json("api/v1/workspaces").await
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let request = self.request(Method::POST, path)?.header(CONTENT_TYPE, "application/json").body(body.to_string());
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }

    async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let request = self.request(Method::GET, path)?;
        self.json(self.send(request.timeout(REQUEST_TIMEOUT)).await?).await
    }
}
