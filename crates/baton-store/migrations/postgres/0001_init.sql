-- Baton store, PostgreSQL schema version 1 (the SQLite schema versions 1 and 2 in one step).
--
-- Timestamps are BIGINT unix milliseconds, as on SQLite. Documents are `json`, not `jsonb`:
-- `json` keeps the text exactly as written (object key order, which the interpreter preserves
-- and users see in outputs), while `jsonb` would reorder keys. No query looks inside documents.
-- Key and name columns use the "C" collation so ordering and cursor comparisons are bytewise,
-- exactly like SQLite's default BINARY collation, whatever the database's locale.
-- Every top-level row carries a `workspace` (tenant); timers and history hang off runs.

CREATE TABLE workflows (
    workspace       TEXT COLLATE "C" NOT NULL,
    namespace       TEXT COLLATE "C" NOT NULL,
    name            TEXT COLLATE "C" NOT NULL,
    version         TEXT COLLATE "C" NOT NULL,
    definition      TEXT             NOT NULL,
    max_concurrency BIGINT,
    created_at      BIGINT           NOT NULL,
    PRIMARY KEY (workspace, namespace, name, version)
);

-- Runs are updated at every checkpoint; free space per page lets most updates stay HOT
-- (no index changes) as long as the status does not change.
CREATE TABLE runs (
    id               TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    workspace        TEXT COLLATE "C" NOT NULL,
    namespace        TEXT COLLATE "C" NOT NULL,
    name             TEXT COLLATE "C" NOT NULL,
    version          TEXT COLLATE "C" NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    input            JSON             NOT NULL,
    output           JSON,
    error            JSON,
    state            JSON             NOT NULL,
    state_version    BIGINT           NOT NULL,
    last_seq         BIGINT           NOT NULL,
    parent_run_id    TEXT COLLATE "C",
    parent_effect_id TEXT COLLATE "C",
    created_at       BIGINT           NOT NULL,
    updated_at       BIGINT           NOT NULL,
    idempotency_key  TEXT COLLATE "C",
    CHECK ((parent_run_id IS NULL) = (parent_effect_id IS NULL))
) WITH (fillfactor = 80);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_workspace_created ON runs (workspace, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
-- Two runs with the same key in one workspace are impossible, also under concurrent requests
-- from several nodes; runs without a key (most of them) do not enter the index.
CREATE UNIQUE INDEX runs_idempotency_key ON runs (workspace, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE history (
    run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    BIGINT           NOT NULL,
    at     BIGINT           NOT NULL,
    kind   TEXT COLLATE "C" NOT NULL,
    task   TEXT COLLATE "C",
    data   JSON             NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE timers (
    run_id   TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    timer_id TEXT COLLATE "C" NOT NULL,
    due_at   BIGINT           NOT NULL,
    PRIMARY KEY (run_id, timer_id)
);
-- In the order `due_timers` reads (SQLite's WITHOUT ROWID index carries the key implicitly).
CREATE INDEX timers_due ON timers (due_at, run_id, timer_id);

CREATE TABLE events (
    workspace TEXT COLLATE "C" NOT NULL,
    source    TEXT COLLATE "C" NOT NULL,
    id        TEXT COLLATE "C" NOT NULL,
    type      TEXT COLLATE "C" NOT NULL,
    time      BIGINT           NOT NULL,
    event     JSON             NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX events_workspace_type_time ON events (workspace, type, time);
