-- The workspace secret store: one value per workspace and name, sealed by the server (an AEAD
-- ciphertext with its nonce; the store never sees a plain value).
CREATE TABLE secrets (
    workspace  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, name)
);
