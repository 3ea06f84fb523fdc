-- 013: which record each imported row became (`fieldwork-server import`).
--
-- A row's id in the system it came from (`external_id`) is kept here, not
-- in a field of the record: importing the same file again updates the
-- records it made instead of making new ones, and the schema (which is
-- code) does not grow a field only imports use. imported_at is RFC 3339.
CREATE TABLE import_keys (
    kind        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (kind, external_id)
) WITHOUT ROWID;
