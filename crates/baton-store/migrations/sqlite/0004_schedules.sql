-- Baton store, SQLite schema version 4: workflow schedules.

-- One row per deployed workflow version with a `schedule`. `next_due_at` advances by
-- compare-and-set in the writer, so one due time fires once.
CREATE TABLE schedules (
    workspace     TEXT    NOT NULL,
    namespace     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    spec          TEXT    NOT NULL,
    next_due_at   INTEGER,
    last_fired_at INTEGER,
    last_run_id   TEXT,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (workspace, namespace, name, version)
) WITHOUT ROWID;
CREATE INDEX schedules_due ON schedules (next_due_at);
CREATE INDEX schedules_kind ON schedules (kind);
