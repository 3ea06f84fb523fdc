-- 004: when to run each process instance next.
--
-- One row per instance this device has seen. `active` is 0 once the
-- instance completed or was stopped; `wake_at` (Unix seconds) is the next
-- timer or deadline, NULL while it waits for a person.
CREATE TABLE process_wakeups (
    instance TEXT PRIMARY KEY,
    wake_at  INTEGER,
    active   INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE INDEX process_wakeups_due ON process_wakeups(active, wake_at);
