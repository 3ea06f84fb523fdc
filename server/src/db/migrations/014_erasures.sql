-- 014: the erasure log (GDPR right to erasure, docs/GDPR.md).
--
-- One row per erasure carried out: which contact, who asked, when, and how
-- much was removed. Never the values erased: the log proves that the
-- erasure happened, not what the person's data was. A contact with a row
-- here is erased: the push path refuses writes of its personal fields
-- (code `erased`). erased_at is milliseconds since the Unix epoch.
CREATE TABLE erasures (
    id                  INTEGER PRIMARY KEY,
    contact_id          TEXT NOT NULL,
    erased_by           TEXT NOT NULL,
    erased_at           INTEGER NOT NULL,
    documents_rewritten INTEGER NOT NULL,
    rows_purged         INTEGER NOT NULL
);

CREATE INDEX erasures_by_contact ON erasures(contact_id);
