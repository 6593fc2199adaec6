-- The crash-loop quarantine (issue 13, item 1): how many times a node began to step a run from
-- state version `crash_version` after taking the run up from a process that had died (a
-- restart, or an adoption from a dead node). A step that commits moves the run to a newer
-- version, which resets the count.
ALTER TABLE runs ADD COLUMN crash_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN crash_version BIGINT;
