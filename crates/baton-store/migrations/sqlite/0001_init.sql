-- Baton store, SQLite schema version 1.
-- Timestamps are INTEGER unix milliseconds; JSON documents are TEXT.
-- Every top-level row carries a `workspace` (tenant); timers and history hang off runs.

CREATE TABLE workflows (
    workspace  TEXT    NOT NULL,
    namespace  TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    definition TEXT    NOT NULL,
    max_concurrency INTEGER,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, namespace, name, version)
);

CREATE TABLE runs (
    id               TEXT    NOT NULL PRIMARY KEY,
    workspace        TEXT    NOT NULL,
    namespace        TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    version          TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    input            TEXT    NOT NULL,
    output           TEXT,
    error            TEXT,
    state            TEXT    NOT NULL,
    state_version    INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    parent_run_id    TEXT,
    parent_effect_id TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    CHECK ((parent_run_id IS NULL) = (parent_effect_id IS NULL))
);
CREATE INDEX runs_status ON runs (status);
CREATE INDEX runs_workspace_created ON runs (workspace, created_at, id);
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;

CREATE TABLE history (
    run_id TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    task   TEXT,
    data   TEXT    NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE timers (
    run_id   TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    timer_id TEXT    NOT NULL,
    due_at   INTEGER NOT NULL,
    PRIMARY KEY (run_id, timer_id)
) WITHOUT ROWID;
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE events (
    workspace TEXT    NOT NULL,
    source    TEXT    NOT NULL,
    id        TEXT    NOT NULL,
    type      TEXT    NOT NULL,
    time      INTEGER NOT NULL,
    event     TEXT    NOT NULL,
    PRIMARY KEY (source, id)
);
CREATE INDEX events_workspace_type_time ON events (workspace, type, time);
