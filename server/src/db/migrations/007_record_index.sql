-- 007_record_index: the office API's index of record fields, search text
-- and phone numbers (server/src/db/record_index.rs), kept per class
-- document so that every query can leave out the classes a caller may not
-- read. Derived data: rebuilt from the stored documents by
-- `record_index::ensure_built` (the meta key `record_index_version` says
-- which indexing the rows were made with; none yet here).

-- One row per class document the index has seen. `rid` is the rowid of its
-- search row.
CREATE TABLE record_docs (
    rid       INTEGER PRIMARY KEY,
    doc_id    TEXT NOT NULL UNIQUE,
    record_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    class     TEXT NOT NULL
);
CREATE INDEX record_docs_by_kind ON record_docs(kind, record_id, class);
CREATE INDEX record_docs_by_record ON record_docs(record_id);

-- One row per field set in a class document: the value as JSON and its sort
-- key (folded text, order-preserving hex for numbers, UTC ISO text for
-- instants; NULL for values that do not sort: stage logs, entries).
CREATE TABLE record_fields (
    doc_id     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    class      TEXT NOT NULL,
    field      TEXT NOT NULL,
    value_json TEXT NOT NULL,
    sort_key   TEXT,
    PRIMARY KEY (doc_id, field)
) WITHOUT ROWID;
CREATE INDEX record_fields_sorted ON record_fields(kind, field, sort_key, record_id);
CREATE INDEX record_fields_by_record ON record_fields(record_id, field);

-- Search text per class document (rowid = record_docs.rid), accent- and
-- case-insensitive like the device's index.
CREATE VIRTUAL TABLE record_search USING fts5(
    name, emails, phones, body,
    tokenize = "unicode61 remove_diacritics 2",
    prefix = '2 3'
);

-- The E.164 form of every phone-typed field that has one.
CREATE TABLE record_phones (
    doc_id    TEXT NOT NULL,
    field     TEXT NOT NULL,
    e164      TEXT NOT NULL,
    record_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    class     TEXT NOT NULL,
    PRIMARY KEY (doc_id, field)
) WITHOUT ROWID;
CREATE INDEX record_phones_by_number ON record_phones(e164);
