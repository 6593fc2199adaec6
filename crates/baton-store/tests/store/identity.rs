//! The identity area: workspaces with their first admin and key, members and the "one admin
//! remains" rule, key revocation, and the audit log's pages.

use serde_json::json;

use baton_store::{
    AuthStore, KeyRecord, MemberRecord, MemberUpdate, NewAuditEntry, NewWorkspace, StoreError, WorkspaceRecord,
};

backend_tests!(
    workspace_with_admin_and_key,
    slug_and_email_conflicts,
    last_admin_stays,
    revocation_is_per_workspace,
    audit_pages_newest_first
);

fn audit(workspace: &str, action: &str, at: i64) -> NewAuditEntry {
    NewAuditEntry {
        workspace: workspace.into(),
        at,
        actor: None,
        action: action.into(),
        target: Some(format!("{action}-target")),
        detail: json!({"at": at}),
    }
}

fn member(workspace: &str, id: &str, role: &str) -> MemberRecord {
    MemberRecord {
        id: id.into(),
        workspace: workspace.into(),
        name: format!("{id} name"),
        email: Some(format!("{id}@example.com")),
        role: role.into(),
        server_admin: false,
        created_at: 1,
    }
}

fn key(workspace: &str, id: &str, member_id: &str, role: &str) -> KeyRecord {
    KeyRecord {
        id: id.into(),
        workspace: workspace.into(),
        member_id: member_id.into(),
        name: format!("{id} key"),
        prefix: "bk_abc".into(),
        hash: format!("hash-of-{id}"),
        role: role.into(),
        created_at: 2,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

/// Workspace `id` (slug `id`) with admin `{id}-admin` and key `{id}-key`.
fn new_workspace(id: &str) -> NewWorkspace {
    let admin = MemberRecord { server_admin: id == "default", ..member(id, &format!("{id}-admin"), "admin") };
    NewWorkspace {
        workspace: WorkspaceRecord {
            id: id.into(),
            slug: id.into(),
            name: format!("Workspace {id}"),
            state: "active".into(),
            created_at: 1,
        },
        key: key(id, &format!("{id}-key"), &admin.id, "admin"),
        admin,
        audit: audit(id, "workspace.created", 1),
    }
}

async fn workspace_with_admin_and_key(store: &impl AuthStore) {
    assert!(store.workspaces().await.unwrap().is_empty());
    store.create_workspace(new_workspace("default")).await.unwrap();
    store.create_workspace(new_workspace("acme")).await.unwrap();
    let slugs: Vec<String> = store.workspaces().await.unwrap().into_iter().map(|it| it.slug).collect();
    assert_eq!(slugs, ["acme", "default"]);
    let grant = store.key_grant("hash-of-acme-key").await.unwrap().unwrap();
    assert_eq!(grant.workspace.id, "acme");
    assert_eq!(grant.member.id, "acme-admin");
    assert_eq!(grant.member.email.as_deref(), Some("acme-admin@example.com"));
    assert!(!grant.member.server_admin);
    assert_eq!(grant.key.role, "admin");
    assert_eq!(grant.key.revoked_at, None);
    assert!(store.key_grant("hash-of-nothing").await.unwrap().is_none());
    store.touch_key("acme-key", 99).await.unwrap();
    assert_eq!(store.keys("acme").await.unwrap()[0].last_used_at, Some(99));
    assert!(store.member("default", "acme-admin").await.unwrap().is_none(), "a member of another workspace");
}

async fn slug_and_email_conflicts(store: &impl AuthStore) {
    store.create_workspace(new_workspace("acme")).await.unwrap();
    let mut again = new_workspace("acme");
    again.workspace.id = "other-id".into();
    again.admin.id = "other-admin".into();
    again.key = key("other-id", "other-key", "other-admin", "admin");
    assert!(matches!(store.create_workspace(again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.workspaces().await.unwrap().len(), 1, "nothing of the refused workspace is written");
    assert!(store.member("other-id", "other-admin").await.unwrap().is_none());

    let mut twin = member("acme", "twin", "member");
    twin.email = Some("acme-admin@example.com".into());
    let refused = store.add_member(twin, audit("acme", "member.added", 2)).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    store.add_member(member("acme", "bob", "viewer"), audit("acme", "member.added", 3)).await.unwrap();
    let ids: Vec<String> = store.members("acme").await.unwrap().into_iter().map(|it| it.id).collect();
    assert_eq!(ids, ["acme-admin", "bob"]);
}

async fn last_admin_stays(store: &impl AuthStore) {
    store.create_workspace(new_workspace("acme")).await.unwrap();
    let demote = |id: &str, role: &str| MemberUpdate {
        workspace: "acme".into(),
        member_id: id.into(),
        role: Some(role.into()),
        server_admin: None,
        audit: audit("acme", "member.role-changed", 5),
    };
    let refused = store.update_member(demote("acme-admin", "member")).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    store.add_member(member("acme", "bob", "member"), audit("acme", "member.added", 3)).await.unwrap();
    let bob = store.update_member(demote("bob", "admin")).await.unwrap().unwrap();
    assert_eq!(bob.role, "admin");
    let admin = store.update_member(demote("acme-admin", "viewer")).await.unwrap().unwrap();
    assert_eq!(admin.role, "viewer");
    assert!(matches!(store.update_member(demote("bob", "viewer")).await, Err(StoreError::Conflict(_))));
    assert!(store.update_member(demote("nobody", "viewer")).await.unwrap().is_none());
    let promoted = MemberUpdate { role: None, server_admin: Some(true), ..demote("bob", "admin") };
    let bob = store.update_member(promoted).await.unwrap().unwrap();
    assert!(bob.server_admin);
    assert_eq!(bob.role, "admin");
}

async fn revocation_is_per_workspace(store: &impl AuthStore) {
    store.create_workspace(new_workspace("acme")).await.unwrap();
    store.create_workspace(new_workspace("other")).await.unwrap();
    let k2 = KeyRecord { created_at: 4, ..key("acme", "k2", "acme-admin", "viewer") };
    store.create_key(k2, audit("acme", "key.created", 4)).await.unwrap();
    assert!(!store.revoke_key("other", "k2", audit("other", "key.revoked", 5)).await.unwrap());
    assert!(store.revoke_key("acme", "k2", audit("acme", "key.revoked", 5)).await.unwrap());
    assert!(store.revoke_key("acme", "k2", audit("acme", "key.revoked", 6)).await.unwrap(), "idempotent");
    let grant = store.key_grant("hash-of-k2").await.unwrap().unwrap();
    assert_eq!(grant.key.revoked_at, Some(5));
    let ids: Vec<String> = store.keys("acme").await.unwrap().into_iter().map(|it| it.id).collect();
    assert_eq!(ids, ["k2", "acme-key"], "newest first");
    let actions: Vec<String> =
        store.audit("acme", None, 10).await.unwrap().into_iter().map(|it| it.entry.action).collect();
    assert_eq!(actions, ["key.revoked", "key.created", "workspace.created"], "one entry per revocation");
}

async fn audit_pages_newest_first(store: &impl AuthStore) {
    store.create_workspace(new_workspace("acme")).await.unwrap();
    store.create_workspace(new_workspace("other")).await.unwrap();
    for at in 10..15 {
        store.append_audit(audit("acme", "inbox.answered", at)).await.unwrap();
        store.append_audit(audit("other", "inbox.answered", at)).await.unwrap();
    }
    let first = store.audit("acme", None, 4).await.unwrap();
    let ats: Vec<i64> = first.iter().map(|it| it.entry.at).collect();
    assert_eq!(ats, [14, 13, 12, 11]);
    assert!(first.iter().all(|it| it.entry.workspace == "acme"));
    assert_eq!(first[0].entry.detail, json!({"at": 14}));
    let rest = store.audit("acme", Some(first[3].seq), 4).await.unwrap();
    let ats: Vec<i64> = rest.iter().map(|it| it.entry.at).collect();
    assert_eq!(ats, [10, 1]);
}
