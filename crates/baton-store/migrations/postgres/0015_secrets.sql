-- The workspace secret store: one value per workspace and name, sealed by the server (an AEAD
-- ciphertext with its nonce; the store never sees a plain value).
CREATE TABLE secrets (
    workspace  TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    sealed     BYTEA  NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, name)
);
