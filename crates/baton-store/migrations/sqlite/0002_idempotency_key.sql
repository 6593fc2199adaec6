-- Baton store, SQLite schema version 2: idempotency keys of API-created runs.
-- The partial unique index makes two runs with the same key in one workspace impossible, also
-- under concurrent requests; runs without a key (most of them) do not enter the index.

ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX runs_idempotency_key ON runs (workspace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
