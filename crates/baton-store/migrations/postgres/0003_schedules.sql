-- Baton store, PostgreSQL schema version 3 (SQLite schema version 4): workflow schedules.

-- One row per deployed workflow version with a `schedule`. `next_due_at` advances by
-- compare-and-set (`UPDATE … WHERE next_due_at IS NOT DISTINCT FROM $expected`), so one due time
-- fires once even with several nodes.
CREATE TABLE schedules (
    workspace     TEXT COLLATE "C" NOT NULL,
    namespace     TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    version       TEXT COLLATE "C" NOT NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    spec          TEXT NOT NULL,
    next_due_at   BIGINT,
    last_fired_at BIGINT,
    last_run_id   TEXT COLLATE "C",
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (workspace, namespace, name, version)
);
CREATE INDEX schedules_due ON schedules (next_due_at);
CREATE INDEX schedules_kind ON schedules (kind);
