-- Identity: workspaces, their members, API keys (only the SHA-256 of a key is stored) and the
-- append-only audit log. The tables that hold tenant data already carry `workspace`; the
-- `default` workspace row is created by the server's first start, with its admin and key.
CREATE TABLE workspaces (
    id         TEXT    NOT NULL PRIMARY KEY,
    slug       TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE members (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace    TEXT    NOT NULL REFERENCES workspaces (id),
    name         TEXT    NOT NULL,
    email        TEXT,
    role         TEXT    NOT NULL,
    server_admin INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX members_email ON members (workspace, email);
CREATE INDEX members_workspace ON members (workspace, created_at, id);

CREATE TABLE api_keys (
    id           TEXT    NOT NULL PRIMARY KEY,
    workspace    TEXT    NOT NULL REFERENCES workspaces (id),
    member_id    TEXT    NOT NULL REFERENCES members (id),
    name         TEXT    NOT NULL,
    prefix       TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    role         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_keys_workspace ON api_keys (workspace, created_at);

CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    actor     TEXT,
    action    TEXT    NOT NULL,
    target    TEXT,
    detail    TEXT    NOT NULL
);
CREATE INDEX audit_log_workspace ON audit_log (workspace, seq);
