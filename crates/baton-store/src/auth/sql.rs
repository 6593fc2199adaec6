//! The identity area's SQL, once for both backends: [`auth_statements!`] expands to the same
//! functions over SQLite's and PostgreSQL's connection and pool types (the statements use `$n`
//! placeholders, which both understand). Only the row-lock clause differs: the SQLite writer
//! serializes writes already, PostgreSQL locks the workspace row so two concurrent demotions
//! cannot both pass the "one admin remains" check.

/// Columns of a key, then of its member, then of its workspace, in the order the row readers
/// of [`auth_statements!`] expect.
macro_rules! key_columns {
    () => {
        "k.id, k.workspace, k.member_id, k.name, k.prefix, k.hash, k.role, k.created_at, k.expires_at, \
         k.revoked_at, k.last_used_at"
    };
}
macro_rules! member_columns {
    () => {
        "m.id, m.workspace, m.name, m.email, m.role, m.server_admin, m.created_at"
    };
}
macro_rules! workspace_columns {
    () => {
        "w.id, w.slug, w.name, w.state, w.created_at"
    };
}

/// Expands to the identity area's functions for one backend: `$conn` is the connection writes
/// run on (inside a transaction the caller opened), `$pool` the pool reads run on, `$lock` the
/// clause that locks a selected row for the rest of the transaction.
macro_rules! auth_statements {
    ($conn:ty, $pool:ty, $row:ty, $lock:literal) => {
        use sqlx::Row as _;

        use crate::auth::records::{
            ADMIN_ROLE, AuditEntry, KeyGrant, KeyRecord, MemberRecord, MemberUpdate, NewAuditEntry, NewWorkspace,
            WorkspaceRecord,
        };
        use crate::auth::sql::{key_columns, member_columns, workspace_columns};
        use crate::error::StoreError;
        use crate::records::Millis;

        /// A unique violation is a conflict; anything else stays a database error.
        fn conflict_on_unique(err: sqlx::Error, what: &str) -> StoreError {
            match &err {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::Conflict(crate::error::ConflictKind::IdentityTaken { what: what.to_owned() })
                }
                _ => StoreError::Database(err),
            }
        }

        fn workspace_at(row: &$row, at: usize) -> Result<WorkspaceRecord, sqlx::Error> {
            Ok(WorkspaceRecord {
                id: row.try_get(at)?,
                slug: row.try_get(at + 1)?,
                name: row.try_get(at + 2)?,
                state: row.try_get(at + 3)?,
                created_at: row.try_get(at + 4)?,
            })
        }

        fn member_at(row: &$row, at: usize) -> Result<MemberRecord, sqlx::Error> {
            Ok(MemberRecord {
                id: row.try_get(at)?,
                workspace: row.try_get(at + 1)?,
                name: row.try_get(at + 2)?,
                email: row.try_get(at + 3)?,
                role: row.try_get(at + 4)?,
                server_admin: row.try_get(at + 5)?,
                created_at: row.try_get(at + 6)?,
            })
        }

        fn key_at(row: &$row, at: usize) -> Result<KeyRecord, sqlx::Error> {
            Ok(KeyRecord {
                id: row.try_get(at)?,
                workspace: row.try_get(at + 1)?,
                member_id: row.try_get(at + 2)?,
                name: row.try_get(at + 3)?,
                prefix: row.try_get(at + 4)?,
                hash: row.try_get(at + 5)?,
                role: row.try_get(at + 6)?,
                created_at: row.try_get(at + 7)?,
                expires_at: row.try_get(at + 8)?,
                revoked_at: row.try_get(at + 9)?,
                last_used_at: row.try_get(at + 10)?,
            })
        }

        fn audit_at(row: &$row) -> Result<AuditEntry, StoreError> {
            let detail: String = row.try_get(6)?;
            Ok(AuditEntry {
                seq: row.try_get(0)?,
                entry: NewAuditEntry {
                    workspace: row.try_get(1)?,
                    at: row.try_get(2)?,
                    actor: row.try_get(3)?,
                    action: row.try_get(4)?,
                    target: row.try_get(5)?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|err| StoreError::Encoding(format!("audit detail: {err}")))?,
                },
            })
        }

        async fn insert_audit(conn: &mut $conn, entry: &NewAuditEntry) -> Result<(), StoreError> {
            let detail = serde_json::to_string(&entry.detail)
                .map_err(|err| StoreError::Encoding(format!("audit detail: {err}")))?;
            sqlx::query(
                "INSERT INTO audit_log (workspace, at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&entry.workspace)
            .bind(entry.at)
            .bind(entry.actor.as_deref())
            .bind(&entry.action)
            .bind(entry.target.as_deref())
            .bind(detail)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn insert_member(conn: &mut $conn, member: &MemberRecord) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO members (id, workspace, name, email, role, server_admin, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&member.id)
            .bind(&member.workspace)
            .bind(&member.name)
            .bind(member.email.as_deref())
            .bind(&member.role)
            .bind(member.server_admin)
            .bind(member.created_at)
            .execute(&mut *conn)
            .await
            .map_err(|err| conflict_on_unique(err, "the member's id or email"))?;
            Ok(())
        }

        async fn insert_key(conn: &mut $conn, key: &KeyRecord) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO api_keys (id, workspace, member_id, name, prefix, hash, role, created_at, expires_at, \
                 revoked_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&key.id)
            .bind(&key.workspace)
            .bind(&key.member_id)
            .bind(&key.name)
            .bind(&key.prefix)
            .bind(&key.hash)
            .bind(&key.role)
            .bind(key.created_at)
            .bind(key.expires_at)
            .bind(key.revoked_at)
            .bind(key.last_used_at)
            .execute(&mut *conn)
            .await
            .map_err(|err| conflict_on_unique(err, "the key"))?;
            Ok(())
        }

        pub(crate) async fn create_workspace(conn: &mut $conn, new: &NewWorkspace) -> Result<(), StoreError> {
            let workspace = &new.workspace;
            sqlx::query("INSERT INTO workspaces (id, slug, name, state, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&workspace.id)
                .bind(&workspace.slug)
                .bind(&workspace.name)
                .bind(&workspace.state)
                .bind(workspace.created_at)
                .execute(&mut *conn)
                .await
                .map_err(|err| conflict_on_unique(err, "the workspace id or slug"))?;
            insert_member(conn, &new.admin).await?;
            insert_key(conn, &new.key).await?;
            insert_audit(conn, &new.audit).await
        }

        pub(crate) async fn add_member(
            conn: &mut $conn,
            member: &MemberRecord,
            audit: &NewAuditEntry,
        ) -> Result<(), StoreError> {
            insert_member(conn, member).await?;
            insert_audit(conn, audit).await
        }

        pub(crate) async fn update_member(
            conn: &mut $conn,
            update: &MemberUpdate,
        ) -> Result<Option<MemberRecord>, StoreError> {
            // Locks the workspace (PostgreSQL) so the admin count below stays true until commit.
            let locked = sqlx::query(concat!("SELECT id FROM workspaces WHERE id = $1 ", $lock))
                .bind(&update.workspace)
                .fetch_optional(&mut *conn)
                .await?;
            if locked.is_none() {
                return Ok(None);
            }
            let select_member =
                concat!("SELECT ", member_columns!(), " FROM members m WHERE m.workspace = $1 AND m.id = $2");
            let Some(row) = sqlx::query(select_member)
                .bind(&update.workspace)
                .bind(&update.member_id)
                .fetch_optional(&mut *conn)
                .await?
            else {
                return Ok(None);
            };
            let current = member_at(&row, 0)?;
            let demoted = current.role == ADMIN_ROLE && update.role.as_deref().is_some_and(|role| role != ADMIN_ROLE);
            if demoted {
                let other_admins: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM members WHERE workspace = $1 AND role = $2 AND id <> $3")
                        .bind(&update.workspace)
                        .bind(ADMIN_ROLE)
                        .bind(&update.member_id)
                        .fetch_one(&mut *conn)
                        .await?;
                if other_admins == 0 {
                    return Err(StoreError::Conflict(crate::error::ConflictKind::LastAdmin {
                        workspace: update.workspace.clone(),
                        member_id: update.member_id.clone(),
                    }));
                }
            }
            let changed = MemberRecord {
                role: update.role.clone().unwrap_or(current.role),
                server_admin: update.server_admin.unwrap_or(current.server_admin),
                ..current
            };
            sqlx::query("UPDATE members SET role = $3, server_admin = $4 WHERE workspace = $1 AND id = $2")
                .bind(&update.workspace)
                .bind(&update.member_id)
                .bind(&changed.role)
                .bind(changed.server_admin)
                .execute(&mut *conn)
                .await?;
            insert_audit(conn, &update.audit).await?;
            Ok(Some(changed))
        }

        pub(crate) async fn create_key(
            conn: &mut $conn,
            key: &KeyRecord,
            audit: &NewAuditEntry,
        ) -> Result<(), StoreError> {
            insert_key(conn, key).await?;
            insert_audit(conn, audit).await
        }

        pub(crate) async fn revoke_key(
            conn: &mut $conn,
            workspace: &str,
            id: &str,
            audit: &NewAuditEntry,
        ) -> Result<bool, StoreError> {
            let revoked: Option<Option<Millis>> =
                sqlx::query_scalar("SELECT revoked_at FROM api_keys WHERE workspace = $1 AND id = $2")
                    .bind(workspace)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?;
            match revoked {
                None => Ok(false),
                Some(Some(_)) => Ok(true),
                Some(None) => {
                    sqlx::query(
                        "UPDATE api_keys SET revoked_at = $3 WHERE workspace = $1 AND id = $2 AND revoked_at IS NULL",
                    )
                    .bind(workspace)
                    .bind(id)
                    .bind(audit.at)
                    .execute(&mut *conn)
                    .await?;
                    insert_audit(conn, audit).await?;
                    Ok(true)
                }
            }
        }

        pub(crate) async fn touch_key(conn: &mut $conn, id: &str, now: Millis) -> Result<(), StoreError> {
            sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        pub(crate) async fn append_audit(conn: &mut $conn, entry: &NewAuditEntry) -> Result<(), StoreError> {
            insert_audit(conn, entry).await
        }

        pub(crate) async fn workspaces(pool: &$pool) -> Result<Vec<WorkspaceRecord>, StoreError> {
            let sql = concat!("SELECT ", workspace_columns!(), " FROM workspaces w ORDER BY w.created_at, w.id");
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            Ok(rows.iter().map(|row| workspace_at(row, 0)).collect::<Result<_, _>>()?)
        }

        pub(crate) async fn workspace(pool: &$pool, id: &str) -> Result<Option<WorkspaceRecord>, StoreError> {
            let sql = concat!("SELECT ", workspace_columns!(), " FROM workspaces w WHERE w.id = $1");
            let row = sqlx::query(sql).bind(id).fetch_optional(pool).await?;
            Ok(row.map(|row| workspace_at(&row, 0)).transpose()?)
        }

        pub(crate) async fn members(pool: &$pool, workspace: &str) -> Result<Vec<MemberRecord>, StoreError> {
            let sql = concat!(
                "SELECT ",
                member_columns!(),
                " FROM members m WHERE m.workspace = $1 ORDER BY m.created_at, m.id"
            );
            let rows = sqlx::query(sql).bind(workspace).fetch_all(pool).await?;
            Ok(rows.iter().map(|row| member_at(row, 0)).collect::<Result<_, _>>()?)
        }

        pub(crate) async fn member(
            pool: &$pool,
            workspace: &str,
            id: &str,
        ) -> Result<Option<MemberRecord>, StoreError> {
            let sql = concat!("SELECT ", member_columns!(), " FROM members m WHERE m.workspace = $1 AND m.id = $2");
            let row = sqlx::query(sql).bind(workspace).bind(id).fetch_optional(pool).await?;
            Ok(row.map(|row| member_at(&row, 0)).transpose()?)
        }

        pub(crate) async fn keys(pool: &$pool, workspace: &str) -> Result<Vec<KeyRecord>, StoreError> {
            let sql = concat!(
                "SELECT ",
                key_columns!(),
                " FROM api_keys k WHERE k.workspace = $1 ORDER BY k.created_at DESC, k.id"
            );
            let rows = sqlx::query(sql).bind(workspace).fetch_all(pool).await?;
            Ok(rows.iter().map(|row| key_at(row, 0)).collect::<Result<_, _>>()?)
        }

        pub(crate) async fn key_grant(pool: &$pool, hash: &str) -> Result<Option<KeyGrant>, StoreError> {
            let sql = concat!(
                "SELECT ",
                key_columns!(),
                ", ",
                member_columns!(),
                ", ",
                workspace_columns!(),
                " FROM api_keys k JOIN members m ON m.id = k.member_id JOIN workspaces w ON w.id = k.workspace \
                 WHERE k.hash = $1"
            );
            let Some(row) = sqlx::query(sql).bind(hash).fetch_optional(pool).await? else { return Ok(None) };
            Ok(Some(KeyGrant {
                key: key_at(&row, 0)?,
                member: member_at(&row, 11)?,
                workspace: workspace_at(&row, 18)?,
            }))
        }

        pub(crate) async fn audit(
            pool: &$pool,
            workspace: &str,
            before: Option<i64>,
            limit: u32,
        ) -> Result<Vec<AuditEntry>, StoreError> {
            let rows = sqlx::query(
                "SELECT seq, workspace, at, actor, action, target, detail FROM audit_log \
                 WHERE workspace = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
            )
            .bind(workspace)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            rows.iter().map(audit_at).collect()
        }
    };
}

pub(crate) use {auth_statements, key_columns, member_columns, workspace_columns};
