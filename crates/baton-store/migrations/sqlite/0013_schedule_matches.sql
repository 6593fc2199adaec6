-- Events matched by the filters of a `schedule.on.all` and not used by a fire yet. A correlation
-- group holds at most one event per filter (`schedule_matches_slot`), and an event is recorded at
-- most once per workflow version (`schedule_matches_event`). `seq` is the arrival order.
CREATE TABLE schedule_matches (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace    TEXT    NOT NULL,
    namespace    TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    group_key    TEXT    NOT NULL,
    filter_index INTEGER NOT NULL,
    event_key    TEXT    NOT NULL,
    event        TEXT    NOT NULL,
    received_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX schedule_matches_slot
    ON schedule_matches (workspace, namespace, name, version, group_key, filter_index);
CREATE UNIQUE INDEX schedule_matches_event ON schedule_matches (workspace, namespace, name, version, event_key);
