-- 010: which record an instance waits to see change.
--
-- A `wait` step on a condition ("the deal's stage becomes replied") is
-- left when the record satisfies it; the instance is run again after each
-- write of that record, found here (store/engine_runs.rs).
ALTER TABLE process_wakeups ADD COLUMN watch TEXT;
CREATE INDEX process_wakeups_watch ON process_wakeups(watch) WHERE watch IS NOT NULL;
