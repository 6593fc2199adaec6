-- Named leases: the node that holds "engine" owns the database's runs (one baton process per
-- SQLite file). The epoch grows each time the lease changes hands.
CREATE TABLE leases (
    name       TEXT   NOT NULL PRIMARY KEY,
    holder     TEXT   NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
