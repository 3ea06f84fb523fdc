-- 008: covering indexes for the two reports that read every activity
-- (store/reports.rs names them with INDEXED BY).
--
-- The activities and visits reports read a few narrow columns of up to
-- hundreds of thousands of rows. Read from the table, every wide row (title,
-- sort key, report columns) is decoded; from these indexes only what the
-- report reads is, in a fraction of the pages. SQLite keeps them in step
-- with `records` itself, in the same transaction as every write, so no
-- fill is needed for rows stored before this migration.
--
-- Activities: filed by due time, else completion time (`kind, archived,
-- due_at, completed_at` lead, so that a period is a range scan).
CREATE INDEX records_activity_facts ON records(
    kind, archived, due_at, completed_at, owner, assignee, territory, status, type, record_id
);
-- Visits: only activities of type `visit`, with what the visit list shows.
CREATE INDEX records_visit_facts ON records(
    kind, archived, check_in_at, due_at, owner, assignee, territory, status, type, record_id,
    title, account_id, completed_at, check_out_at, check_in_lat, check_in_lon, check_out_lat,
    check_out_lon
) WHERE type = 'visit';
