-- 007: what reports need of each record, kept in its index row
-- (store/reports.rs writes these columns with the rest of the row).
--
-- Rows indexed before this migration have `report_version = 0`; the store
-- fills their columns from their documents the first time a report runs
-- (the partial index finds them without a scan).
ALTER TABLE records ADD COLUMN stage_log TEXT;
ALTER TABLE records ADD COLUMN closed_at INTEGER;
ALTER TABLE records ADD COLUMN completed_at INTEGER;
ALTER TABLE records ADD COLUMN check_in_at INTEGER;
ALTER TABLE records ADD COLUMN check_out_at INTEGER;
ALTER TABLE records ADD COLUMN check_in_lat REAL;
ALTER TABLE records ADD COLUMN check_in_lon REAL;
ALTER TABLE records ADD COLUMN check_out_lat REAL;
ALTER TABLE records ADD COLUMN check_out_lon REAL;
ALTER TABLE records ADD COLUMN report_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX records_report_stale ON records(rid) WHERE report_version = 0;
-- Reports read every unarchived record of a kind: in rowid order through
-- this index, so the table is read page after page, not at random.
CREATE INDEX records_by_kind ON records(kind, archived);
