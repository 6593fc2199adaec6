-- Baton store, SQLite schema version 3: event intake, subscriptions and the inbox.

-- When Baton stored each event; retention and `retained_events` go by it. Arrival order is
-- (received_at, rowid): the implicit rowid grows with every insert.
ALTER TABLE events ADD COLUMN received_at INTEGER NOT NULL DEFAULT 0;
UPDATE events SET received_at = time;
DROP INDEX events_workspace_type_time;
CREATE INDEX events_workspace_type_received ON events (workspace, type, received_at);
CREATE INDEX events_workspace_received ON events (workspace, received_at);
CREATE INDEX events_received ON events (received_at);

-- Events a run consumed: `retained_events` leaves them out for that run. No reference to
-- `events`: a purged event may have been consumed; the purge deletes these rows with it.
CREATE TABLE event_consumptions (
    source TEXT NOT NULL,
    id     TEXT NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    PRIMARY KEY (source, id, run_id)
) WITHOUT ROWID;
CREATE INDEX event_consumptions_run ON event_consumptions (run_id);

-- What waiting runs listen for. `subscription` is the engine's opaque document; `types` a JSON
-- array of event types (NULL: any); `inbox` the human-input item (NULL: none).
CREATE TABLE subscriptions (
    run_id          TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    subscription_id TEXT    NOT NULL,
    workspace       TEXT    NOT NULL,
    types           TEXT,
    subscription    TEXT    NOT NULL,
    inbox           TEXT,
    deadline_at     INTEGER,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (run_id, subscription_id)
) WITHOUT ROWID;
-- The inbox listing, in its order.
CREATE INDEX subscriptions_inbox ON subscriptions (workspace, created_at, run_id, subscription_id)
    WHERE inbox IS NOT NULL;
-- The stale-wait sweeper: overdue inbox items, oldest deadline first.
CREATE INDEX subscriptions_deadline ON subscriptions (deadline_at, run_id, subscription_id)
    WHERE inbox IS NOT NULL AND deadline_at IS NOT NULL;

-- The index of subscriptions by event type: one row per listed type, or one row with type ''
-- for a subscription of any type (CloudEvents require a non-empty type).
CREATE TABLE subscription_types (
    workspace       TEXT NOT NULL,
    type            TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    PRIMARY KEY (workspace, type, run_id, subscription_id),
    FOREIGN KEY (run_id, subscription_id) REFERENCES subscriptions (run_id, subscription_id)
        ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX subscription_types_subscription ON subscription_types (run_id, subscription_id);
