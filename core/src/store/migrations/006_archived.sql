-- 006: archived records, left out of lists and search unless asked for.
--
-- `archived` mirrors the record's `archived` field (schema::ARCHIVED); it is
-- 0 for every record indexed before the field existed, which is right: no
-- record could be archived then.
ALTER TABLE records ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
