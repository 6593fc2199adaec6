//! `baton keys create|list|revoke` and `baton workspaces create|list`: the identity endpoints
//! of a running server. A new key is data (stdout); what it is, is said on stderr.

use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::{JsonListArgs, KeyCreateArgs, KeyRevokeArgs, WorkspaceCreateArgs};
use crate::client::cli_error;
use crate::commands::{connect, print_data};

/// `baton keys create`: prints the new key.
pub async fn create_key(args: KeyCreateArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.server)?;
    let mut body = json!({"name": args.name});
    for (field, value) in [("role", &args.role), ("memberId", &args.member), ("expiresAt", &args.expires_at)] {
        if let Some(value) = value {
            body[field] = Value::String(value.clone());
        }
    }
    let created = client.create_key(&body).await.map_err(cli_error)?;
    eprintln!(
        "created key {} (prefix {}, role {}); it is shown only this once",
        text(&created, "id"),
        text(&created, "prefix"),
        text(&created, "role")
    );
    print_data(&text(&created, "key"));
    Ok(ExitCode::SUCCESS)
}

/// `baton keys list`: `id prefix name role created lastUsed revoked` per key.
pub async fn list_keys(args: JsonListArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.server)?;
    let page = client.list_keys().await.map_err(cli_error)?;
    print_items(&page, args.json, &["id", "prefix", "name", "role", "createdAt", "lastUsedAt", "revokedAt"]);
    Ok(ExitCode::SUCCESS)
}

/// `baton keys revoke ID`.
pub async fn revoke_key(args: KeyRevokeArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.server)?;
    client.revoke_key(&args.id).await.map_err(cli_error)?;
    eprintln!("revoked key {}", args.id);
    Ok(ExitCode::SUCCESS)
}

/// `baton workspaces create`: prints the new workspace's admin key.
pub async fn create_workspace(args: WorkspaceCreateArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.server)?;
    let created = client.create_workspace(&json!({"name": args.name, "slug": args.slug})).await.map_err(cli_error)?;
    let workspace = &created["workspace"];
    eprintln!(
        "created workspace {} ({}); its admin key is shown only this once",
        text(workspace, "slug"),
        text(workspace, "id")
    );
    print_data(&text(&created, "adminKey"));
    Ok(ExitCode::SUCCESS)
}

/// `baton workspaces list`: `id slug name state created` per workspace.
pub async fn list_workspaces(args: JsonListArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&args.server)?;
    let page = client.list_workspaces().await.map_err(cli_error)?;
    print_items(&page, args.json, &["id", "slug", "name", "state", "createdAt"]);
    Ok(ExitCode::SUCCESS)
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// A page's `items` as a JSON array, or one tab-separated line of `columns` per item.
fn print_items(page: &Value, json: bool, columns: &[&str]) {
    let items = page.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
    if json {
        print_data(&Value::Array(items).to_string());
        return;
    }
    for item in &items {
        let line: Vec<String> = columns.iter().map(|column| text(item, column)).collect();
        print_data(&line.join("\t"));
    }
}
