-- 009: what the targets report reads, from the index.
--
-- Done activities by the instant a target counts them at, for the
-- targets report (store/reports.rs, `target_sql`, names it with INDEXED BY).
--
-- A target counts a done visit at its check-in, else completion, else due
-- time, and any other done activity at its completion, else due time
-- (core/src/report/targets.rs). Indexed by that instant, the periods a
-- targets report shows are one range scan over the done activities in
-- them, whatever the size of the store; without it every activity was
-- read. The expression is repeated verbatim in `COUNTED_AT`
-- (store/reports.rs): SQLite uses an expression index only for the same
-- expression. Kept in step by SQLite itself; no fill needed.
CREATE INDEX records_done_activities ON records(
    archived,
    (CASE WHEN type = 'visit' THEN COALESCE(check_in_at, completed_at, due_at)
          ELSE COALESCE(completed_at, due_at) END),
    owner, assignee, territory, type, due_at, completed_at, check_in_at, record_id
) WHERE kind = 'activity' AND status = 'done';

-- Each target's definition (`report::Target` as JSON), written with the
-- other report columns (store/index.rs), so that the report reads its
-- targets from one query instead of opening each target's documents.
-- Targets indexed before this migration are filled on the next report.
ALTER TABLE records ADD COLUMN target_spec TEXT;
UPDATE records SET report_version = 0 WHERE kind = 'target';
