//! The workspace secret store: upsert keeps `created_at`, lists carry no value, reads and
//! deletes stay inside their workspace.

use baton_store::{SecretRecord, SecretStore, WorkspaceId};

backend_tests!(secrets_upsert_list_get_delete, secrets_stay_in_their_workspace);

fn record(workspace: &str, name: &str, sealed: &[u8], at: i64) -> SecretRecord {
    SecretRecord {
        workspace: workspace.into(),
        name: name.into(),
        sealed: sealed.to_vec(),
        created_at: at,
        updated_at: at,
    }
}

async fn secrets_upsert_list_get_delete(store: &impl SecretStore) {
    assert!(store.put_secret(record("default", "token", b"\x00one", 10)).await.unwrap());
    assert!(store.put_secret(record("default", "api", b"two", 11)).await.unwrap());
    // Replacing a value keeps the creation time.
    assert!(!store.put_secret(record("default", "token", b"\x01three", 20)).await.unwrap());

    let listed = store.list_secrets(&WorkspaceId::new("default")).await.unwrap();
    let listed: Vec<(&str, i64, i64)> =
        listed.iter().map(|secret| (secret.name.as_str(), secret.created_at, secret.updated_at)).collect();
    assert_eq!(listed, [("api", 11, 11), ("token", 10, 20)]);

    let wanted = ["token".to_owned(), "missing".to_owned()];
    let found = store.get_secrets(&WorkspaceId::new("default"), &wanted).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].name.as_str(), found[0].sealed.as_slice()), ("token", b"\x01three".as_slice()));

    assert!(store.delete_secret(&WorkspaceId::new("default"), "token").await.unwrap());
    assert!(!store.delete_secret(&WorkspaceId::new("default"), "token").await.unwrap());
    assert!(store.get_secrets(&WorkspaceId::new("default"), &wanted).await.unwrap().is_empty());
}

async fn secrets_stay_in_their_workspace(store: &impl SecretStore) {
    store.put_secret(record("a", "token", b"from a", 1)).await.unwrap();
    store.put_secret(record("b", "token", b"from b", 2)).await.unwrap();
    let names = ["token".to_owned()];
    assert_eq!(store.get_secrets(&WorkspaceId::new("b"), &names).await.unwrap()[0].sealed, b"from b");
    assert!(store.delete_secret(&WorkspaceId::new("a"), "token").await.unwrap());
    assert!(store.list_secrets(&WorkspaceId::new("a")).await.unwrap().is_empty());
    assert_eq!(store.list_secrets(&WorkspaceId::new("b")).await.unwrap().len(), 1);
}
