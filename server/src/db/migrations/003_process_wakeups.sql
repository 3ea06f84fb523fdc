-- 003: when the server's process engine runs each instance next.
--
-- One row per instance the server has run. `active` is 0 once the instance
-- completed or was stopped; `wake_at` (Unix seconds) is its next timer or
-- deadline, NULL while it waits for a person. A scheduler pass reads only
-- the due rows, so its cost follows what is due, not how many instances run.
CREATE TABLE process_wakeups (
    instance TEXT PRIMARY KEY,
    wake_at  INTEGER,
    active   INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE INDEX process_wakeups_due ON process_wakeups(active, wake_at);
