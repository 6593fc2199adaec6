-- An event answering one run's human-input item (the inbox) is delivered to that run only: it
-- is never offered to other runs' listens as an event received before them.
ALTER TABLE events ADD COLUMN target_run_id TEXT;
