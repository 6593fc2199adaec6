-- Events matched by the filters of a `schedule.on.all` and not used by a fire yet. A correlation
-- group holds at most one event per filter (`schedule_matches_slot`), and an event is recorded at
-- most once per workflow version (`schedule_matches_event`); concurrent inserts from several
-- nodes are decided by these unique indexes. `seq` is the arrival order.
CREATE TABLE schedule_matches (
    seq          BIGSERIAL        PRIMARY KEY,
    workspace    TEXT COLLATE "C" NOT NULL,
    namespace    TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    version      TEXT COLLATE "C" NOT NULL,
    group_key    TEXT COLLATE "C" NOT NULL,
    filter_index BIGINT           NOT NULL,
    event_key    TEXT COLLATE "C" NOT NULL,
    event        JSON             NOT NULL,
    received_at  BIGINT           NOT NULL
);
CREATE UNIQUE INDEX schedule_matches_slot
    ON schedule_matches (workspace, namespace, name, version, group_key, filter_index);
CREATE UNIQUE INDEX schedule_matches_event ON schedule_matches (workspace, namespace, name, version, event_key);
