-- Several nodes on one database: a run belongs to the node that created or claimed it (`owner`,
-- the node's lease holder) until it ends or that node's lease `node/<owner>` expires.
-- `owner_epoch` is the run's fencing token: it grows each time the run changes owner, and every
-- checkpoint is conditional on it, so a node that lost a run can no longer write it.
ALTER TABLE runs ADD COLUMN owner TEXT COLLATE "C";
ALTER TABLE runs ADD COLUMN owner_epoch BIGINT NOT NULL DEFAULT 0;
CREATE INDEX runs_unfinished_owner ON runs (owner) WHERE status NOT IN ('completed', 'faulted', 'cancelled');

-- Inputs for a run that another node owns (events, inbox answers, signals, child results): kept
-- until the owner's checkpoint that applies them deletes them. Inserting one notifies channel
-- `baton_inputs` with the owner as payload.
CREATE TABLE run_inputs (
    id         BIGSERIAL        PRIMARY KEY,
    run_id     TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    input      JSON             NOT NULL,
    created_at BIGINT           NOT NULL
);
CREATE INDEX run_inputs_run ON run_inputs (run_id, id);
